package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
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

// ContentDispatcher is implemented by dispatchers whose answer depends on
// the payload's content alone (yara rules, magic bytes), not on what
// workers found: the engine asks them once per payload instead of in every
// round, as it must ask other dispatchers. ContentOnly does nothing; it
// marks the type.
type ContentDispatcher interface {
	Dispatcher
	ContentOnly()
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

// Provider feeds run mode: it puts payloads, requests or archiver tasks on
// the queue until it is exhausted (then returns nil) or ctx is cancelled.
type Provider interface {
	Ingest(ctx context.Context, queue *Queue) error
}

// Optional abilities, detected by type assertion.

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

// Class is a set of plugin classes.
type Class uint8

// The plugin classes, as bits of a Class.
const (
	ClassWorker Class = 1 << iota
	ClassDispatcher
	ClassArchiver
	ClassConnector
	ClassDecorator
	ClassProvider
)

var classNames = []struct {
	c    Class
	name string
}{
	{ClassWorker, "Worker"}, {ClassDispatcher, "Dispatcher"}, {ClassArchiver, "Archiver"},
	{ClassConnector, "Connector"}, {ClassDecorator, "Decorator"}, {ClassProvider, "Provider"},
}

// Has reports whether every class in o is in c.
func (c Class) Has(o Class) bool { return c&o == o && o != 0 }

// Names lists the classes in c, in stoQ's order.
func (c Class) Names() []string {
	var out []string
	for _, cn := range classNames {
		if c&cn.c != 0 {
			out = append(out, cn.name)
		}
	}
	return out
}

// String joins Names with ", ".
func (c Class) String() string { return strings.Join(c.Names(), ", ") }

// ClassesOf returns the classes the plugin value p implements.
func ClassesOf(p any) Class {
	var c Class
	if _, ok := p.(Worker); ok {
		c |= ClassWorker
	}
	if _, ok := p.(Dispatcher); ok {
		c |= ClassDispatcher
	}
	if _, ok := p.(Archiver); ok {
		c |= ClassArchiver
	}
	if _, ok := p.(SourceArchiver); ok {
		c |= ClassArchiver
	}
	if _, ok := p.(Connector); ok {
		c |= ClassConnector
	}
	if _, ok := p.(Decorator); ok {
		c |= ClassDecorator
	}
	if _, ok := p.(Provider); ok {
		c |= ClassProvider
	}
	return c
}

// Factory builds a configured plugin instance.
type Factory func(cfg *Config, log *slog.Logger) (any, error)

// PluginInfo is a registered plugin: its name, its embedded manifest, the
// classes its type implements and its constructor.
type PluginInfo struct {
	Name     string
	Manifest *Manifest
	Classes  Class
	New      Factory
}

var (
	registryMu sync.RWMutex
	registry   = map[string]PluginInfo{}
)

// validName is what a plugin name may look like: it names a folder under
// $STOQ_HOME/plugins and a stoq.cfg section.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidPluginName reports whether name is a safe plugin name: lowercase
// letters, digits, '_' and '-', starting with a letter or digit.
func ValidPluginName(name string) bool { return validName.MatchString(name) }

// Register makes a plugin available to every engine in the process. Plugin
// packages call it from init(), as database/sql drivers do:
//
//	//go:embed hash.stoq
//	var manifest []byte
//
//	func init() { core.Register("hash", manifest, New) }
//
// T is the constructor's concrete plugin type; the classes are read from it.
// Register panics, at init, when the name is invalid or taken, the manifest
// does not parse or names another plugin, or T implements no class.
func Register[T any](name string, manifest []byte, constructor func(cfg *Config, log *slog.Logger) (T, error)) {
	if !ValidPluginName(name) {
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
	classes := ClassesOf(any(zero))
	if classes == 0 {
		panic(fmt.Sprintf("stoq: Register %q: type %T implements no plugin class", name, zero))
	}
	info := PluginInfo{
		Name:     name,
		Manifest: m,
		Classes:  classes,
		New: func(cfg *Config, log *slog.Logger) (any, error) {
			return constructor(cfg, log)
		},
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("stoq: Register: plugin %q registered twice", name))
	}
	registry[name] = info
}

// LookupPlugin returns the registered plugin called name.
func LookupPlugin(name string) (PluginInfo, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	info, ok := registry[name]
	return info, ok
}

// Plugins lists every registered plugin, sorted by name.
func Plugins() []PluginInfo {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]PluginInfo, 0, len(registry))
	for _, info := range registry {
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Task is one unit of run-mode work a Provider queues: exactly one of
// Payload, Request or Archived is set. Archived maps a source archiver's name
// to the metadata its Get loads the payload from, as stoQ's provider tasks.
type Task struct {
	Payload  *Payload
	Request  *Request
	Archived map[string]any
}

// Queue is the bounded queue between providers and the scanning consumers
// of run mode (stoq.cfg max_queue).
type Queue struct {
	mu     sync.RWMutex
	closed bool
	ch     chan Task
}

// NewQueue returns a queue holding at most size tasks (at least 1).
func NewQueue(size int) *Queue {
	if size < 1 {
		size = 1
	}
	return &Queue{ch: make(chan Task, size)}
}

// Put queues a task, waiting while the queue is full; it fails only when ctx
// is done first.
func (q *Queue) Put(ctx context.Context, t Task) error {
	if t.Payload == nil && t.Request == nil && t.Archived == nil {
		return errors.New("stoq: empty task")
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrQueueClosed
	}
	select {
	case q.ch <- t:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PutPayload queues one payload.
func (q *Queue) PutPayload(ctx context.Context, p *Payload) error {
	return q.Put(ctx, Task{Payload: p})
}

// PutRequest queues a request of one or more payloads.
func (q *Queue) PutRequest(ctx context.Context, r *Request) error {
	return q.Put(ctx, Task{Request: r})
}

// PutArchived queues an archiver task: sourceArchiver's Get(meta) loads the
// payload to scan.
func (q *Queue) PutArchived(ctx context.Context, sourceArchiver string, meta any) error {
	return q.Put(ctx, Task{Archived: map[string]any{sourceArchiver: meta}})
}

// close stops accepting tasks once every Put in progress has finished.
func (q *Queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// Tasks is the receiving side of the queue, for engines and test kits
// (stoqtest.Ingest) that consume what providers put; providers only Put.
func (q *Queue) Tasks() <-chan Task { return q.ch }

// Len is the number of tasks waiting.
func (q *Queue) Len() int { return len(q.ch) }
