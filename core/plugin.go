package core

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/stoq-go/stoq/core/v3/internal/registry"
)

// The six plugin classes. A plugin type implements one or more of them; the
// engine finds out which by type assertion, so a multiclass plugin (a yara
// Worker that is also a Dispatcher) is one value.

// Worker scans a payload and returns results, extracted payloads and more
// workers to dispatch to. It runs at most once per payload.
type Worker interface {
	Scan(ctx context.Context, payload *Payload, request *Request) (*WorkerResponse, error)
}

// Dispatcher decides which workers a payload is sent to. It runs on every
// scannable payload in every round of a scan.
type Dispatcher interface {
	GetDispatches(ctx context.Context, payload *Payload, request *Request) (*DispatcherResponse, error)
}

// Archiver saves a payload somewhere (a dest archiver, run at the end of a
// scan for payloads with should_archive when the request allows archiving).
type Archiver interface {
	Archive(ctx context.Context, payload *Payload, request *Request) (*ArchiverResponse, error)
}

// SourceArchiver loads a payload back from where an Archiver saved it (a
// source archiver, used for archiver tasks that providers queue). Its task's
// Results is the metadata the provider queued. Plugins implementing either
// Archiver or SourceArchiver are of class Archiver.
type SourceArchiver interface {
	Get(ctx context.Context, task *ArchiverResponse) (*Payload, error)
}

// Connector saves a finished StoqResponse (to disk, a search index, a queue).
type Connector interface {
	Save(ctx context.Context, response *StoqResponse) error
}

// Decorator adds results computed over the whole finished response. It runs
// before connectors.
type Decorator interface {
	Decorate(ctx context.Context, response *StoqResponse) (*DecoratorResponse, error)
}

// Provider feeds run mode: it puts payloads, requests, archiver tasks or
// tasks loaded by reference (Task.Open, so the queue holds references, not
// content) on the queue until it is exhausted (then returns nil) or ctx is
// cancelled.
type Provider interface {
	Ingest(ctx context.Context, queue *Queue) error
}

// Optional abilities, detected by type assertion.

// ContentDispatcher is implemented by dispatchers whose answer depends on
// the payload's content alone (yara rules, magic bytes), not on what
// workers found: the engine asks them once per payload instead of in every
// round, as it must ask other dispatchers. ContentOnly does nothing; it
// marks the type.
type ContentDispatcher interface {
	Dispatcher
	ContentOnly()
}

// Closer is implemented by plugins holding resources (processes, files,
// connections); the engine calls Close once, when it is closed.
type Closer interface {
	Close() error
}

// HealthChecker is implemented by plugins that can say whether what they
// depend on (a server, a helper process) is usable.
type HealthChecker interface {
	HealthCheck(ctx context.Context) error
}

// Unspooled is implemented by connectors whose failed saves must not be
// spooled and re-sent later, such as one printing to a terminal. Without
// it, a response a connector fails to save waits in the engine's result
// spool and is handed to the connector again.
type Unspooled interface {
	Unspooled()
}

// Register makes a plugin available to every engine in the process. Plugin
// packages call it from init(), as database/sql drivers do:
//
//	//go:embed hash.stoq
//	var manifest []byte
//
//	func init() { core.Register("hash", manifest, New) }
//
// T is the constructor's concrete plugin type; its classes are read from it.
// The constructor receives the plugin's merged configuration and a logger
// that names the plugin. Register panics, at init, when the name is
// invalid or taken, the manifest does not parse or names another plugin,
// or T implements no class: a broken plugin fails when the binary starts,
// not at its first scan.
func Register[T any](name string, manifest []byte, constructor func(cfg *Config, log *slog.Logger) (T, error)) {
	if !registry.ValidName(name) {
		panic(fmt.Sprintf("stoq: Register: invalid plugin name %q (lowercase letters, digits, '_' and '-')", name))
	}
	if constructor == nil {
		panic(fmt.Sprintf("stoq: Register %q: nil constructor", name))
	}
	m, err := ParseManifest(manifest)
	if err != nil {
		panic(fmt.Sprintf("stoq: Register %q: embedded manifest: %v", name, err))
	}
	if m.Name != name {
		panic(fmt.Sprintf("stoq: Register %q: embedded manifest names plugin %q", name, m.Name))
	}
	var zero T
	if !implementsAClass(any(zero)) {
		panic(fmt.Sprintf("stoq: Register %q: type %T implements no plugin class", name, zero))
	}
	err = registry.Add(registry.Entry{
		Name:     name,
		Manifest: m,
		Zero:     any(zero),
		New: func(cfg *Config, log *slog.Logger) (any, error) {
			return constructor(cfg, log)
		},
	})
	if err != nil {
		panic("stoq: Register: " + err.Error())
	}
}

func implementsAClass(p any) bool {
	switch p.(type) {
	case Worker, Dispatcher, Archiver, SourceArchiver, Connector, Decorator, Provider:
		return true
	}
	return false
}

// ValidPluginName reports whether name is a safe plugin name: lowercase
// letters, digits, '_' and '-', starting with a letter or digit, at most 64
// bytes. A plugin name is a folder under $STOQ_HOME/plugins and a stoq.cfg
// section; dispatchers that name workers from rules or tables check names
// with it.
func ValidPluginName(name string) bool { return registry.ValidName(name) }
