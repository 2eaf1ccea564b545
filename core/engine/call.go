package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Error says the call panicked, with the panic's value; a memory fault
// says what it most likely means.
func (e *PanicError) Error() string {
	if isFault(e.Value) {
		return fmt.Sprintf("the payload's memory could not be read (%v): its file shrank or vanished while it was mapped", e.Value)
	}
	return fmt.Sprintf("panic: %v", e.Value)
}

// isFault reports whether a panic's value is a memory fault turned into a
// panic by debug.SetPanicOnFault: reading a mapped file past its end after
// it shrank (SIGBUS) is the one stoq expects.
func isFault(v any) bool {
	_, ok := v.(interface{ Addr() uintptr })
	return ok
}

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

// protectFaults runs fn with faults on unexpected addresses turned into
// panics (debug.SetPanicOnFault) on the calling goroutine, and returns such
// a fault as a *PanicError; any other panic goes on. The engine's own reads
// of payload content (sha256 for de-duplication) use it; a mapped payload
// whose file shrank would otherwise kill the process.
func protectFaults(fn func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if !isFault(r) {
				panic(r)
			}
			err = &PanicError{Value: r}
		}
	}()
	fn()
	return nil
}

// call runs fn, a call into plugin p as a plugin of class (reported to
// the Observer; 0 for calls that are not part of scanning, such as health
// checks), with p's timeout as the context deadline. A panic becomes a
// *PanicError, logged with its stack; a plugin
// that ignores its context and outlives the deadline is abandoned (its
// goroutine ends when it returns, its late results are dropped) and the
// call fails with ErrTimeout. fn must only publish results through
// variables read after call returns nil or the plugin's own error: call
// establishes the happens-before edge for them when fn returned in time.
//
// The plugin's goroutine turns memory faults into panics
// (debug.SetPanicOnFault), so a mapped payload whose file shrank under it
// is an Error of that call rather than the end of the process; that covers
// the plugin's Go code on this goroutine, and core/mmapfile's lease guard
// the rest (see its doc).
func (s *Stoq) call(ctx context.Context, p *plugin, class Class, fn func(ctx context.Context) error) (err error) {
	if s.observer != nil {
		defer func(start time.Time) { s.observeCall(p, class, start, err) }(time.Now())
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		done <- protect(func() error { return fn(ctx) })
	}()
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

// logPanic logs a plugin's panic, once, where it happened: its value as an
// error, its stack at debug level only (--log-level debug), so that hostile
// input never puts a Go stack trace on an analyst's terminal. A memory
// fault has no stack worth logging: it is the payload's doing, not a bug.
func logPanic(p *plugin, err error) error {
	reportPanic(p.log, "plugin panicked", err)
	return err
}

// reportPanic logs err when it is a *PanicError, as what panicked (what):
// its value as an error, its stack at debug level only.
func reportPanic(log *slog.Logger, what string, err error) {
	var pe *PanicError
	switch {
	case !errors.As(err, &pe):
	case isFault(pe.Value):
		log.Error("payload memory fault", "error", pe.Error())
	default:
		log.Error(what+" (its stack is logged at debug level)", "panic", fmt.Sprint(pe.Value))
		log.Debug(what+": stack", "stack", string(pe.Stack))
	}
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
