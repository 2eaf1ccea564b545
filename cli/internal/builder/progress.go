package builder

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress reports what a long operation is doing, one line per step with
// how long it took. A quiet Progress prints only warnings; a nil one
// prints nothing.
type Progress struct {
	w     io.Writer
	quiet bool
	mu    sync.Mutex
}

// NewProgress reports to w unless quiet.
func NewProgress(w io.Writer, quiet bool) *Progress { return &Progress{w: w, quiet: quiet} }

// printf prints one line of progress.
func (p *Progress) printf(format string, args ...any) {
	if p == nil || p.quiet || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// warnf prints a warning; warnings show even when quiet.
func (p *Progress) warnf(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "warning: "+format+"\n", args...)
}

// step announces a step; the returned func reports its end and how long it
// took. While the step runs, a line every `every` (when > 0) says it still
// does, for steps that can take minutes.
func (p *Progress) step(what string, every time.Duration) (done func(err error)) {
	start := time.Now()
	p.printf("%s ...", what)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if every > 0 && p != nil && !p.quiet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					p.printf("  ... still at it (%s)", roundDuration(time.Since(start)))
				}
			}
		}()
	}
	return func(err error) {
		close(stop)
		wg.Wait()
		if err == nil {
			p.printf("  done in %s", roundDuration(time.Since(start)))
		} else {
			p.printf("  failed after %s", roundDuration(time.Since(start)))
		}
	}
}

func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}
