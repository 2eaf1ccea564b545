// Package core is the stoq plugin contract: what a plugin author imports.
// It holds the six plugin classes and the optional abilities the engine
// detects, Register, the data that flows between plugins (payloads,
// requests, responses, errors), a plugin's Config and Manifest, and the
// Queue a provider writes to. It is small and stable, as database/sql/driver
// is beside database/sql: the engine that programs run (engine.New, Scan,
// Run, the [core] settings, the result spool) lives in package
// github.com/stoq-go/stoq/core/v3/engine and may change without changing
// what plugins build against.
//
// # Writing a plugin
//
// A plugin is a Go type implementing one or more of the classes (Worker,
// Dispatcher, Archiver or SourceArchiver, Connector, Decorator, Provider).
// Its package registers a constructor from init() with Register, together
// with its embedded .stoq manifest; linking the package into a binary is
// what makes the plugin available:
//
//	//go:embed myplugin.stoq
//	var manifest []byte
//
//	func init() { core.Register("myplugin", manifest, New) }
//
//	func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) { ... }
//
//	func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, req *core.Request) (*core.WorkerResponse, error) { ... }
//
//	var _ core.Worker = (*Plugin)(nil)
//
// Optional abilities are small interfaces of their own: Closer (release
// resources when the engine closes), HealthChecker, ContentDispatcher (a
// dispatcher asked once per payload), Unspooled (a connector whose
// failed saves are not re-sent) and MetricsReporter (metrics of the
// plugin's own, served with stoq's).
//
// A provider reading a queue that re-delivers work (Redis Streams, a
// message broker) sets Task.Done to acknowledge a task only once its
// responses are saved, and Task.ScanID so that a task run twice produces
// the same document. A plugin package may add a subcommand to the stoq
// command with RegisterCommand (the redis plugin's stoq submit).
//
// # Configuration
//
// A plugin's Config holds its options merged by precedence, highest
// first: the command line (--plugin-opts NAME:KEY=VALUE), options passed to
// the engine by a program, stoq.cfg section [NAME], the installed manifest
// $STOQ_HOME/plugins/NAME/NAME.stoq, the manifest embedded in the binary.
// The typed getters' errors, and Config.OptionError for checks of a
// plugin's own, name the plugin, the option, the value and where it came
// from. Two options are read by the engine for every plugin: timeout, the
// deadline of each call (seconds or a duration; 60 s by default), which a
// plugin reads from its context (ctx.Deadline), and for workers
// required_workers, the workers that must have run on a payload first.
//
// # What the engine promises a plugin
//
// Every call has a deadline in its context; an error returned, a panic or a
// timeout becomes an Error in the response naming the plugin and the
// payload, and never stops the scan. Payload.Content is shared by every
// plugin that sees the payload and must be treated as read-only; carved
// content may be a subslice of it. Calls of one round run concurrently, so
// a plugin must be safe for concurrent use, and must not write
// PayloadMeta itself while dispatching (DispatcherResponse.ShouldArchive
// exists for that). Results must marshal to JSON.
//
// # Versions
//
// Version is this core's semantic version, the one a manifest's
// min_stoq_version is checked against (Manifest.CheckMinStoqVersion). The
// module path carries the major version, github.com/stoq-go/stoq/core/v3,
// and releases are tagged core/vX.Y.Z, so a plugin module outside this
// repository requires the core from any Go module proxy.
package core
