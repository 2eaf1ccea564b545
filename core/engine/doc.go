// Package engine is stoq's scan engine: what a program runs, as
// database/sql is what a program calls while plugins implement
// database/sql/driver. Plugins import the contract, package core; programs
// (the stoq command, an embedding service, tests) build an engine with New
// and call Scan, ScanRequest or Run.
//
// Where things are:
//
//	settings.go   the [core] settings: every key, its default and range, and the one place their precedence is decided
//	options.go    the Options of New
//	engine.go     New, the plugins of each role, Close, HealthCheck
//	loader.go     where plugins come from: option layers, construction once, failures reported once
//	scan.go       the scan loop: rounds of dispatch → resolve required workers → run → merge
//	limits.go     max_payloads, max_extracted_bytes, max_payload_size: what a request may hold
//	finish.go     after the rounds: dest archivers, the response, decorators, connectors
//	call.go       every call into a plugin: deadline, panic recovery, concurrency bound
//	run.go        run mode: providers, the bounded queue, consumers, draining on stop
//	task.go       a provider's task in run mode: its scan_id and its end reported to the provider (core.Task ScanID, Done)
//	observe.go    what a program learns about the work: Observer events, Stats, PluginMetrics
//	commands.go   the subcommands plugins contribute (core.RegisterCommand)
//	spool.go      the result spool of responses a connector failed to save
//	registry.go   the plugins linked into the binary (Plugins, Lookup) and their classes
//	ini.go, log.go  stoq.cfg parsing and logging
//
// The engine keeps stoQ v3.0.0's semantics (see ScanRequest and Run) and
// adds: every plugin call has a deadline (its timeout option); an error, a
// panic or a timeout becomes an Error in the response naming the plugin and
// the payload and never stops the scan or the process (a plugin that
// ignores its deadline is abandoned); the work of a round runs
// concurrently, bounded by max_concurrency, and results merge in a fixed
// order so the same input gives the same JSON apart from ids and time.
// Where stoQ would repeat an error for a plugin that cannot load in every
// round, the engine records it once per payload; a core.ContentDispatcher
// is asked once per payload rather than every round; a root payload's
// PayloadMeta.DispatchTo is honoured in the first round, as an extracted
// payload's is in the round after it.
//
// Every request is bounded (limits.go): max_recursion rounds,
// max_payloads payloads, max_extracted_bytes of extracted content, and no
// payload over max_payload_size; reaching a limit records one Error naming
// it and what it dropped, and the scan completes with what came before.
// Content may be a mapped file (core/mmapfile): plugin calls turn a memory
// fault into an Error, and a root payload whose file changed during the
// scan gets an Error saying so.
//
// A response a connector fails to save is spooled (spool_dir, one folder
// per connector) and handed to that connector again when Run starts and
// ends and every spool_retry_interval (60 s) while it runs, or when a
// program calls ResendSpooled; a connector implementing core.Unspooled (a
// terminal printer) opts out. A response that a connector failed to save
// and that could not be spooled for it is lost for that connector: Scan and
// ScanRequest then return it with a *NotSavedError, and Run ends with a
// *LostResultsError counting them (errors.Is ErrNotSaved), so the stoq
// command exits non-zero instead of losing a result silently.
package engine
