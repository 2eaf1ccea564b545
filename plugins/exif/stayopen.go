package exif

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxOutput bounds what one exiftool command may print before the call is
// failed and the process replaced (a payload cannot make stoq buffer
// without limit).
const maxOutput = 64 << 20

// maxStderrLines bounds the stderr lines kept per command.
const maxStderrLines = 100

// stopGrace is how long Close lets an idle exiftool exit by itself before
// killing it.
const stopGrace = 2 * time.Second

var errClosed = errors.New("exif: plugin is closed")

// pool runs at most size exiftool processes in -stay_open mode, one per
// concurrent call. A slot holds an idle process, or nil when its process has
// not been started yet or was discarded (it died, hung or answered
// nonsense): the next call through that slot starts a fresh one.
type pool struct {
	bin        string
	commonArgs []string
	slots      chan *process

	mu     sync.Mutex
	closed bool
	live   map[*process]bool // running processes → busy
}

func newPool(bin string, size int, commonArgs []string) *pool {
	pl := &pool{bin: bin, commonArgs: commonArgs, slots: make(chan *process, size), live: map[*process]bool{}}
	for range size {
		pl.slots <- nil
	}
	return pl
}

// run sends one command (its arguments, one per line) to an exiftool of
// the pool and returns what it printed on stdout and stderr, once check
// accepts it. When ctx ends first, or check rejects the answer, the process
// is killed and replaced at the next call.
func (pl *pool) run(ctx context.Context, check func(stdout []byte, stderr []string) error, args ...string) (stdout []byte, stderr []string, err error) {
	var p *process
	select {
	case p = <-pl.slots:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("exif: waiting for a free exiftool: %w", ctx.Err())
	}
	ok := false
	defer func() { pl.release(p, ok) }()

	if p == nil || p.hasExited() {
		pl.forget(p)
		if p, err = pl.start(); err != nil {
			return nil, nil, err
		}
	}
	if !pl.markBusy(p, true) {
		return nil, nil, errClosed
	}
	type answer struct {
		stdout []byte
		stderr []string
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		out, errLines, err := p.execute(args)
		done <- answer{out, errLines, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			return nil, nil, a.err
		}
		if err := check(a.stdout, a.stderr); err != nil {
			return nil, nil, err
		}
		ok = true
		return a.stdout, a.stderr, nil
	case <-ctx.Done():
		p.kill()
		<-done // kill closed the pipes: execute returns at once
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("exif: exiftool did not answer in time; it was killed and will be restarted: %w", ctx.Err())
		}
		return nil, nil, fmt.Errorf("exif: exiftool call cancelled; it was killed and will be restarted: %w", ctx.Err())
	}
}

// release gives the slot back: with p when it can be used again, empty when
// it must be replaced.
func (pl *pool) release(p *process, ok bool) {
	if p != nil {
		if ok && pl.markBusy(p, false) {
			pl.slots <- p
			return
		}
		p.kill()
		pl.forget(p)
	}
	pl.slots <- nil
}

func (pl *pool) start() (*process, error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return nil, errClosed
	}
	p, err := startProcess(pl.bin, pl.commonArgs)
	if err != nil {
		return nil, err
	}
	pl.live[p] = false
	return p, nil
}

// markBusy records whether p is in a call; false once the pool is closed.
func (pl *pool) markBusy(p *process, busy bool) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return false
	}
	pl.live[p] = busy
	return true
}

func (pl *pool) forget(p *process) {
	if p == nil {
		return
	}
	pl.mu.Lock()
	delete(pl.live, p)
	pl.mu.Unlock()
}

// close stops every process: idle ones are asked to exit (and killed if
// they do not within stopGrace), busy ones are killed, so calls in progress
// fail at once rather than delaying Close.
func (pl *pool) close() {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return
	}
	pl.closed = true
	live := pl.live
	pl.live = map[*process]bool{}
	pl.mu.Unlock()

	var wg sync.WaitGroup
	for p, busy := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if busy {
				p.kill()
			} else {
				p.stop()
			}
		}()
	}
	wg.Wait()
}

// process is one exiftool -stay_open True -@ - process. Its pipes are
// os.Pipe ends owned by stoq, so that killing the process (and closing them)
// always unblocks a read, even when a child of the process kept a copy.
type process struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	out    *bufio.Reader
	stderr *os.File
	seq    int

	exited  chan struct{} // closed when the process has exited
	waitErr error         // why it exited, readable once exited is closed

	errMu      sync.Mutex
	errLines   []string
	errDropped int
	errDoneSeq int           // highest command whose stderr is complete
	errSignal  chan struct{} // poked when errDoneSeq moves or stderr ends
	errEOF     chan struct{} // closed when stderr ends

	killOnce sync.Once
}

func startProcess(bin string, commonArgs []string) (*process, error) {
	args := append([]string{"-stay_open", "True", "-@", "-", "-common_args"}, commonArgs...)
	cmd := exec.Command(bin, args...)
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exif: pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("exif: pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, fmt.Errorf("exif: pipe: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	ownProcessGroup(cmd)
	err = cmd.Start()
	// the child has its copies; stoq keeps only its own ends
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("exif: starting %s: %w", bin, err)
	}
	p := &process{
		cmd: cmd, stdin: inW, stdout: outR, out: bufio.NewReaderSize(outR, 64<<10), stderr: errR,
		exited: make(chan struct{}), errSignal: make(chan struct{}, 1), errEOF: make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	go p.readStderr()
	return p, nil
}

const stderrMarkerPrefix = "{stoq-stderr-done "

// readStderr collects stderr lines until the end marker that -echo4 prints
// after each command.
func (p *process) readStderr() {
	defer close(p.errEOF)
	sc := bufio.NewScanner(p.stderr)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, stderrMarkerPrefix); ok {
			if n, err := strconv.Atoi(strings.TrimSuffix(rest, "}")); err == nil {
				p.errMu.Lock()
				p.errDoneSeq = n
				p.errMu.Unlock()
				p.poke()
				continue
			}
		}
		p.errMu.Lock()
		if len(p.errLines) < maxStderrLines {
			p.errLines = append(p.errLines, line)
		} else {
			p.errDropped++
		}
		p.errMu.Unlock()
	}
}

func (p *process) poke() {
	select {
	case p.errSignal <- struct{}{}:
	default:
	}
}

// execute runs one command and reads its answer: stdout up to the
// {readyN} line and stderr up to the marker -echo4 prints after it.
func (p *process) execute(args []string) ([]byte, []string, error) {
	p.seq++
	seq := p.seq
	var cmd strings.Builder
	fmt.Fprintf(&cmd, "-echo4\n%s%d}\n", stderrMarkerPrefix, seq)
	for _, a := range args {
		cmd.WriteString(a)
		cmd.WriteByte('\n')
	}
	fmt.Fprintf(&cmd, "-execute%d\n", seq)
	if _, err := io.WriteString(p.stdin, cmd.String()); err != nil {
		return nil, nil, p.exitError(fmt.Errorf("writing the command: %w", err))
	}

	ready := fmt.Sprintf("{ready%d}", seq)
	var out []byte
	for {
		line, err := p.out.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, nil, p.exitError(fmt.Errorf("reading its answer: %w", err))
		}
		if err == nil && string(bytes.TrimRight(line, "\r\n")) == ready {
			break
		}
		if len(out)+len(line) > maxOutput {
			return nil, nil, fmt.Errorf("exif: exiftool printed more than %d MiB for one payload", maxOutput>>20)
		}
		out = append(out, line...)
	}

	for {
		p.errMu.Lock()
		if p.errDoneSeq >= seq {
			lines := p.errLines
			if p.errDropped > 0 {
				lines = append(lines, fmt.Sprintf("(%d more lines)", p.errDropped))
			}
			p.errLines, p.errDropped = nil, 0
			p.errMu.Unlock()
			return out, lines, nil
		}
		p.errMu.Unlock()
		select {
		case <-p.errSignal:
		case <-p.errEOF:
			p.errMu.Lock()
			complete := p.errDoneSeq >= seq
			p.errMu.Unlock()
			if !complete {
				return nil, nil, p.exitError(errors.New("its stderr closed"))
			}
		}
	}
}

// exitError explains a failed exchange: the exit status and the last stderr
// lines when the process died.
func (p *process) exitError(cause error) error {
	// give the process a moment to exit and the stderr reader a moment to
	// take its last words, then make sure it and its children are gone
	select {
	case <-p.exited:
	case <-time.After(time.Second):
	}
	select {
	case <-p.errEOF:
	case <-time.After(time.Second):
	}
	p.kill()
	<-p.exited
	<-p.errEOF
	p.errMu.Lock()
	tail := strings.Join(p.errLines, "; ")
	p.errMu.Unlock()
	msg := fmt.Sprintf("exif: exiftool stopped (%v) while %v", p.waitErr, cause)
	if tail != "" {
		msg += ": " + tail
	}
	return errors.New(msg)
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill ends the process and its children and closes stoq's pipe ends, which
// unblocks any read or write in progress.
func (p *process) kill() {
	p.killOnce.Do(func() {
		killProcessGroup(p.cmd)
		p.stdin.Close()
		p.stdout.Close()
		p.stderr.Close()
	})
}

// stop asks an idle exiftool to exit, and kills it if it does not in time.
func (p *process) stop() {
	if _, err := io.WriteString(p.stdin, "-stay_open\nFalse\n"); err == nil {
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
		}
	}
	p.kill()
	<-p.exited
}
