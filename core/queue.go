package core

import (
	"context"
	"errors"
	"sync"
)

// ErrQueueClosed is returned by Queue.Put once the run that owns the queue
// stopped accepting tasks.
var ErrQueueClosed = errors.New("stoq: queue closed")

// Task is one unit of run-mode work a Provider queues: exactly one of
// Payload, Request, Archived or Open is set. Archived maps a source
// archiver's name to the metadata its Get loads the payload from, as stoQ's
// provider tasks.
type Task struct {
	Payload  *Payload
	Request  *Request
	Archived map[string]any
	// Open loads the task's payload when a consumer takes the task, so that
	// a queued task holds a reference (a path, a key), not the content:
	// run mode's memory then grows with provider_consumers, not with
	// max_queue times the payloads' size. The engine calls it once, within
	// the provider's timeout, with maxSize, its max_payload_size: Open must
	// refuse a larger payload with an error rather than load it. release,
	// when not nil, is called once the response is saved (or the scan
	// failed); the content is not used after it. An error is recorded in a
	// response of its own, as a source archiver's failure is.
	Open func(ctx context.Context, maxSize int64) (payload *Payload, release func(), err error)

	// ScanID, when not empty, is the scan_id of the task's response instead
	// of a random one, so that a task run twice (a queue re-delivering it
	// after a worker died) produces the same document: a provider derives
	// it from the task's identity in its queue. An archiver task naming
	// several archivers gets one response per archiver, in name order: the
	// first has ScanID, the next ScanID-2, ScanID-3 and so on.
	ScanID string
	// Done, when set, is called once by the engine when the task is over:
	// with nil once every response of the task was saved by every
	// connector or taken by the result spool, or with an error saying why
	// the task failed for good (its payload could not be loaded, or a
	// response was neither saved nor spooled). A queue provider
	// acknowledges the task on nil and leaves it to be delivered again on
	// an error; a response of such a task that was neither saved nor
	// spooled is therefore not counted among the run's lost results
	// (engine.LostResultsError). Done runs on the engine's scanning goroutine, possibly
	// after Ingest has returned (while the run drains): it must be quick,
	// safe for concurrent use, and must not use Ingest's context.
	Done func(err error)
}

// Queue is the bounded queue between providers and the scanning consumers
// of run mode (stoq.cfg max_queue). Put blocks while it is full, so a fast
// provider is slowed to the pace of the scans.
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
	if t.Payload == nil && t.Request == nil && t.Archived == nil && t.Open == nil {
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

// The consumer side of the queue, for the engine that owns it and for test
// kits (stoqtest.Ingest): providers only Put.

// Close stops accepting tasks once every Put in progress has finished;
// later Puts fail with ErrQueueClosed, and Tasks ends once drained.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// Tasks is the receiving side of the queue.
func (q *Queue) Tasks() <-chan Task { return q.ch }

// Len is the number of tasks waiting.
func (q *Queue) Len() int { return len(q.ch) }
