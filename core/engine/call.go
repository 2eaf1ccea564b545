package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// ErrTimeout is wrapped by the error of a plugin call that outlived its
// timeout option.
var ErrTimeout = errors.New("timed out")

// PanicError is the error of a plugin call that panicked: the panic's value
// and the stack of the goroutine that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

// Error says the call panicked, with the panic's value.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// protect runs fn and turns a panic into a *PanicError that keeps the
// stack. Every call into plugin code goes through it: constructors,
// provider runs and the calls of call.
func protect(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// call runs fn, a call into plugin p as a plugin of class (reported to
// the Observer; 0 for calls that are not part of scanning, such as health
// checks), with p's timeout as the context deadline. A panic becomes a *PanicError, logged with its stack; a plugin
// that ignores its context and outlives the deadline is abandoned (its
// goroutine ends when it returns, its late results are dropped) and the
// call fails with ErrTimeout. fn must only publish results through
// variables read after call returns nil or the plugin's own error: call
// establishes the happens-before edge for them when fn returned in time.
func (s *Stoq) call(ctx context.Context, p *plugin, class Class, fn func(ctx context.Context) error) (err error) {
	if s.observer != nil {
		defer func(start time.Time) { s.observeCall(p, class, start, err) }(time.Now())
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- protect(func() error { return fn(ctx) }) }()
	select {
	case err := <-done:
		return logPanic(p, err)
	case <-ctx.Done():
		select {
		case err := <-done: // finished at the deadline: keep its answer
			return logPanic(p, err)
		default:
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err := fmt.Errorf("%w after %s", ErrTimeout, p.timeout)
			p.log.Error("plugin call abandoned", "error", err)
			return err
		}
		return ctx.Err()
	}
}

// logPanic logs a plugin's panic with its stack, once, where it happened.
func logPanic(p *plugin, err error) error {
	var pe *PanicError
	if errors.As(err, &pe) {
		p.log.Error("plugin panicked", "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
	return err
}

// isCallFailure reports whether err came from call itself (timeout, panic,
// cancellation) rather than from the plugin, whose partial response is kept.
func isCallFailure(err error) bool {
	var pe *PanicError
	return errors.As(err, &pe) || errors.Is(err, ErrTimeout) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// parallel runs task(i) for i in [0,n), at most max_concurrency plugin
// calls at once across the engine, and waits for all. One task runs on the
// calling goroutine.
func (s *Stoq) parallel(n int, task func(i int)) {
	if n == 1 {
		task(0)
		return
	}
	done := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		s.sem <- struct{}{}
		go func(i int) {
			defer func() { <-s.sem; done <- struct{}{} }()
			task(i)
		}(i)
	}
	for i := 0; i < n; i++ {
		<-done
	}
}
