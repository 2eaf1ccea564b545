package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrTimeout is wrapped by the error of a plugin call that outlived its
// timeout option.
var ErrTimeout = errors.New("timed out")

// PanicError is the error of a plugin call that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

// Error says the call panicked, with the panic's value.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// call runs fn, a call into plugin lp, with lp's timeout as the context
// deadline. A panic becomes a *PanicError; a plugin that ignores its context
// and outlives the deadline is abandoned (its goroutine ends when it
// returns, its late results are dropped) and the call fails with
// ErrTimeout. fn must only publish results through variables read after
// call returns nil or the plugin's own error: call establishes the
// happens-before edge for them when fn returned in time.
func (s *Stoq) call(ctx context.Context, lp *loadedPlugin, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, lp.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- &PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		done <- fn(ctx)
	}()
	select {
	case err := <-done:
		return s.noteFailure(lp, err)
	case <-ctx.Done():
		select {
		case err := <-done: // finished at the deadline: keep its answer
			return s.noteFailure(lp, err)
		default:
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err := fmt.Errorf("%w after %s", ErrTimeout, lp.timeout)
			lp.log.Error("plugin call abandoned", "error", err)
			return err
		}
		return ctx.Err()
	}
}

func (s *Stoq) noteFailure(lp *loadedPlugin, err error) error {
	var pe *PanicError
	if errors.As(err, &pe) {
		lp.log.Error("plugin panicked", "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
	return err
}

// acquire takes a slot of the engine-wide bound on plugin calls in flight.
func (s *Stoq) acquire() { s.sem <- struct{}{} }
func (s *Stoq) release() { <-s.sem }

// parallel runs task(i) for i in [0,n), at most Concurrency at once, and
// waits for all. One task runs on the calling goroutine.
func (s *Stoq) parallel(n int, task func(i int)) {
	if n == 1 {
		task(0)
		return
	}
	done := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		s.acquire()
		go func(i int) {
			defer func() { s.release(); done <- struct{}{} }()
			task(i)
		}(i)
	}
	for i := 0; i < n; i++ {
		<-done
	}
}
