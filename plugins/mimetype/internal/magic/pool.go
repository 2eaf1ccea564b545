package magic

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Pool.Identify after Close.
var ErrClosed = errors.New("magic: pool is closed")

// Pool lends cookies to goroutines, one goroutine per cookie at a time. It
// makes cookies as they are needed, up to a maximum; when every one is
// busy, callers wait for one to come back (or for their context to end).
// libmagic's work is CPU-bound, so more cookies than CPUs would only add
// memory (each holds its own copy of the parsed magic database).
type Pool struct {
	dbPath string
	limit  int

	calls atomic.Int64 // libmagic calls made, for tests and logs

	mu     sync.RWMutex // Identify holds it shared, Close exclusively
	closed bool
	slots  chan struct{} // a token per cookie that exists or is being made
	idle   chan *Cookie
}

// NewPool makes a pool of at most size cookies (at least 1), each opened
// with Open(dbPath, limit). It opens the first cookie at once, so that a
// missing or broken database is reported here rather than at the first
// scan.
func NewPool(dbPath string, limit, size int) (*Pool, error) {
	size = max(size, 1)
	p := &Pool{dbPath: dbPath, limit: limit, slots: make(chan struct{}, size), idle: make(chan *Cookie, size)}
	c, err := Open(dbPath, limit)
	if err != nil {
		return nil, err
	}
	p.slots <- struct{}{}
	p.idle <- c
	return p, nil
}

// Identify runs Cookie.Identify on content with a cookie of the pool.
func (p *Pool) Identify(ctx context.Context, content []byte) (string, error) {
	return p.with(ctx, func(c *Cookie) (string, error) { return c.Identify(content) })
}

// Buffer runs Cookie.Buffer on content with a cookie of the pool.
func (p *Pool) Buffer(ctx context.Context, content []byte) (string, error) {
	return p.with(ctx, func(c *Cookie) (string, error) { return c.Buffer(content) })
}

func (p *Pool) with(ctx context.Context, f func(*Cookie) (string, error)) (string, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return "", ErrClosed
	}
	c, err := p.get(ctx)
	if err != nil {
		return "", err
	}
	defer func() { p.idle <- c }()
	p.calls.Add(1)
	return f(c)
}

// get takes an idle cookie, or makes one while there is room, or waits.
func (p *Pool) get(ctx context.Context) (*Cookie, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}:
		c, err := Open(p.dbPath, p.limit)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Calls is how many times libmagic was asked.
func (p *Pool) Calls() int64 { return p.calls.Load() }

// Size is how many cookies exist now.
func (p *Pool) Size() int { return len(p.slots) }

// Close waits for calls in progress and frees every cookie. Later calls
// return ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for range len(p.slots) {
		(<-p.idle).Close()
	}
}
