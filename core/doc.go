// Package core is stoq's framework: the plugin contract, the data that flows
// between plugins, and the scan engine that orchestrates them.
//
// # Plugins
//
// A plugin is a Go type implementing one or more of the six classes
// (Worker, Dispatcher, Archiver/SourceArchiver, Connector, Decorator,
// Provider). Its package registers a constructor from init() with Register,
// together with its embedded .stoq manifest; linking the package into a
// binary is what makes the plugin available. Optional abilities (Closer,
// HealthChecker) are detected by type assertion.
//
// Options reach a plugin through its Config, merged with this precedence,
// highest first: command line (--plugin-opts), options passed to New by a
// program, stoq.cfg section [NAME], the installed manifest
// $STOQ_HOME/plugins/NAME/NAME.stoq, the manifest embedded in the binary.
// Two options are read by the engine for every plugin: timeout (seconds, or
// a duration such as 1m30s; default 60 s), the deadline of each call, and
// for workers required_workers, the workers that must have run on a payload
// first.
//
// # Scanning
//
// The engine keeps stoQ v3.0.0's semantics (see ScanRequest) and adds:
// every plugin call has a deadline; an error, a panic or a timeout becomes
// an Error in the response naming the plugin and the payload and never
// stops the scan or the process (a plugin that ignores its deadline is
// abandoned); the work of a round runs concurrently, bounded by
// max_concurrency, and results merge in a fixed order so the same input
// gives the same JSON apart from ids and time. Where stoQ would repeat an
// error for a plugin that cannot load in every round, stoq records it once
// per payload; and a ContentDispatcher (its answer depends on the payload's
// content alone) is asked once per payload rather than every round. A root
// payload's PayloadMeta.DispatchTo is honoured in the
// first round, as an extracted payload's is in the round after it.
//
// A response a connector fails to save is spooled (stoq.cfg [core]
// spool_dir, one folder per connector) and handed to that connector again
// when Run starts and ends and every spool_retry_interval (60 s) while it
// runs, or when a program calls ResendSpooled; a
// connector implementing Unspooled (a terminal printer) opts out.
//
// Payload content is shared between plugins, never copied: plugins must
// treat Payload.Content as read-only.
//
// # Module versions
//
// Version is the core's semantic version, the one min_stoq_version is
// checked against. Builds of stoq (make, stoq install, stoq build) link the
// core and plugins from local sources with replace directives, so the Go
// module versions in go.mod files are placeholders.
package core
