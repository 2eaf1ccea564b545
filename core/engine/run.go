package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/mmapfile"
)

// Run is stoQ's run mode: every provider feeds one bounded queue (max_queue)
// that provider_consumers consumers drain, scanning each task and saving its
// response with the connectors. A task is a payload, a request, or an
// archiver task loaded through the named source archiver's Get.
//
// Run returns once every provider has returned and the queue is drained.
// When ctx is cancelled, providers are told to stop (their ctx is done); the
// tasks already accepted, queued or in flight, are still scanned and saved
// before Run returns: an accepted payload is never dropped. A provider that
// ignores the cancellation for longer than its timeout option is abandoned
// and reported. Provider errors are returned, joined, after the drain,
// with a *LostResultsError (errors.Is ErrNotSaved) when some responses
// were neither saved by every connector nor spooled.
func (s *Stoq) Run(ctx context.Context, requestMeta *core.RequestMeta, startDispatch ...string) error {
	if len(s.providers) == 0 {
		return ErrNoProviders
	}
	if requestMeta == nil {
		requestMeta = core.NewRequestMeta()
	}
	q := core.NewQueue(s.settings.MaxQueue)
	s.observed.queue.Store(q)
	defer s.observed.queue.CompareAndSwap(q, nil)
	scanCtx := context.WithoutCancel(ctx)
	s.resendSpooled(scanCtx)
	defer s.resendSpooled(scanCtx)
	stopResending := s.resendSpooledEvery(scanCtx, s.settings.SpoolRetryInterval)
	defer stopResending()

	var consumers sync.WaitGroup
	var tally resultTally
	for i := 0; i < s.settings.ProviderConsumers; i++ {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			for task := range q.Tasks() {
				taskCtx, endTask := s.beginTask(scanCtx, task)
				s.runTask(taskCtx, task, requestMeta, startDispatch, &tally)
				endTask()
			}
		}()
	}

	var (
		providers sync.WaitGroup
		mu        sync.Mutex
		errs      []error
	)
	for _, p := range s.providers {
		providers.Add(1)
		go func() {
			defer providers.Done()
			err := s.ingest(ctx, p, q)
			if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
				p.log.Error("provider failed", "error", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("provider %s: %w", p.name, err))
				mu.Unlock()
			}
		}()
	}
	s.waitProviders(ctx, &providers, func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	q.Close()
	consumers.Wait()
	mu.Lock()
	defer mu.Unlock()
	if lost, saved := tally.lost.Load(), tally.responses.Load(); lost > 0 {
		errs = append(errs, &LostResultsError{Lost: int(lost), Responses: int(saved)})
	}
	return errors.Join(errs...)
}

// resultTally counts the responses of a run and those lost.
type resultTally struct {
	responses, lost atomic.Int64
}

// count records the outcome of one response's save.
func (t *resultTally) count(err error) {
	t.responses.Add(1)
	if errors.Is(err, ErrNotSaved) {
		t.lost.Add(1)
	}
}

// LostResultsError is returned by Run when some responses were neither
// saved by every connector nor spooled (each is logged with its scan_id
// when it happens); errors.Is(err, ErrNotSaved) is true.
type LostResultsError struct {
	Lost      int // responses that some connector never got
	Responses int // responses of the run
}

func (e *LostResultsError) Error() string {
	return fmt.Sprintf("%d of %d results were neither saved nor spooled (each is logged with its scan_id)", e.Lost, e.Responses)
}

// Is makes errors.Is(err, ErrNotSaved) true.
func (e *LostResultsError) Is(target error) bool { return target == ErrNotSaved }

// waitProviders waits for every provider to return. Once ctx is cancelled,
// a provider gets its timeout option (60 s by default) to notice; one that
// ignores its context longer is abandoned and reported, so a stuck provider
// cannot keep run mode from draining and returning.
func (s *Stoq) waitProviders(ctx context.Context, providers *sync.WaitGroup, report func(error)) {
	done := make(chan struct{})
	go func() { providers.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	var grace time.Duration
	for _, p := range s.providers {
		grace = max(grace, p.timeout)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		err := fmt.Errorf("providers still running %s after the run was stopped: abandoned", grace)
		s.log.Error("provider ignored cancellation", "error", err)
		report(err)
	}
}

// resendSpooled re-sends spooled responses, logging what it could not.
func (s *Stoq) resendSpooled(ctx context.Context) {
	if n, err := s.ResendSpooled(ctx); err != nil {
		s.log.Warn("some spooled results could not be saved yet", "saved", n, "error", err)
	} else if n > 0 {
		s.log.Info("spooled results saved", "count", n)
	}
}

// resendSpooledEvery re-sends spooled responses every interval while a run
// goes on, so a long-running provider (dirmon) recovers from a connector's
// outage without a restart. The returned func stops it and waits.
func (s *Stoq) resendSpooledEvery(ctx context.Context, interval time.Duration) (stop func()) {
	if s.settings.SpoolDir == "" || interval <= 0 || len(s.connectors) == 0 {
		return func() {}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.resendSpooled(ctx)
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// ingest runs a provider; a panic becomes an error, logged with its stack.
func (s *Stoq) ingest(ctx context.Context, p *plugin, q *core.Queue) error {
	return logPanic(p, protect(func() error { return p.instance.(core.Provider).Ingest(ctx, q) }))
}

// runTask scans one task and saves its response (several for an archiver
// task naming several archivers), counting them in tally.
func (s *Stoq) runTask(ctx context.Context, task core.Task, meta *core.RequestMeta, startDispatch []string, tally *resultTally) {
	reqMeta := func() *core.RequestMeta {
		m := *meta
		m.ExtraData = make(map[string]any, len(meta.ExtraData))
		for k, v := range meta.ExtraData {
			m.ExtraData[k] = v
		}
		return &m
	}
	switch {
	case task.Payload != nil:
		s.scanTask(ctx, core.NewRequest([]*core.Payload{task.Payload}, reqMeta()), startDispatch, tally)
	case task.Request != nil:
		if isDefaultRequestMeta(task.Request.RequestMeta) {
			task.Request.RequestMeta = reqMeta()
		}
		s.scanTask(ctx, task.Request, startDispatch, tally)
	case task.Archived != nil:
		for _, name := range slices.Sorted(maps.Keys(task.Archived)) {
			s.runArchived(ctx, name, task.Archived[name], reqMeta(), startDispatch, tally)
		}
	case task.Open != nil:
		s.runOpened(ctx, task.Open, reqMeta(), startDispatch, tally)
	default:
		s.log.Warn("provider queued an empty task")
	}
}

// scanTask scans a request of run mode and counts its response.
func (s *Stoq) scanTask(ctx context.Context, req *core.Request, startDispatch []string, tally *resultTally) {
	resp, err := s.ScanRequest(ctx, req, startDispatch...)
	if resp != nil {
		tally.count(lostUnlessRedelivered(ctx, err))
	}
	if err != nil {
		taskFailed(ctx, err)
		if !errors.Is(err, ErrNotSaved) { // a lost result is logged where it happened
			s.log.Error("scan failed", "error", err)
		}
	}
}

// runArchived loads a payload through a source archiver and scans it. When
// the archiver cannot load it, a response holding only the Error is saved,
// so the failure is recorded where results go.
func (s *Stoq) runArchived(ctx context.Context, name string, meta any, reqMeta *core.RequestMeta, startDispatch []string, tally *resultTally) {
	p, ok := s.sourceArchivers[name]
	var payload *core.Payload
	var err error
	if !ok {
		err = fmt.Errorf("source archiver %q is not configured (choose it with -S/--source-archivers)", name)
	} else {
		err = s.call(ctx, p, ClassArchiver, func(ctx context.Context) error {
			var err error
			payload, err = p.instance.(core.SourceArchiver).Get(ctx, &core.ArchiverResponse{Results: meta})
			return err
		})
		if err == nil && payload == nil {
			err = errors.New("archiver returned no payload")
		}
	}
	if err != nil {
		s.log.Warn("source archiver failed", "archiver", name, "task", fmt.Sprint(meta), "error", err)
		req := core.NewRequest(nil, reqMeta)
		req.Errors = append(req.Errors, core.Error{Message: fmt.Sprintf("archiver:failed to get %v: %v", meta, err), PluginName: name})
		taskFailed(ctx, fmt.Errorf("source archiver %s could not load the payload: %w", name, err))
		s.scanTask(ctx, req, nil, tally) // no payload: the response holds only the Error
		return
	}
	s.scanTask(ctx, core.NewRequest([]*core.Payload{payload}, reqMeta), startDispatch, tally)
}

// runOpened loads the payload of a task queued by reference (core.Task's
// Open), scans it and releases it once the response is saved. When it
// cannot be loaded, a response holding only the Error is saved.
func (s *Stoq) runOpened(ctx context.Context, open func(context.Context, int64) (*core.Payload, func(), error), reqMeta *core.RequestMeta, startDispatch []string, tally *resultTally) {
	p := s.opener()
	// A late answer of an Open abandoned at its deadline is released by
	// whichever of the two sides comes second.
	var (
		mu        sync.Mutex
		payload   *core.Payload
		release   func()
		abandoned bool
	)
	err := s.call(ctx, p, ClassProvider, func(ctx context.Context) error {
		pl, rel, err := open(ctx, s.settings.MaxPayloadSize)
		mu.Lock()
		defer mu.Unlock()
		payload, release = pl, rel
		if abandoned && rel != nil {
			rel()
		}
		return err
	})
	mu.Lock()
	if isCallFailure(err) {
		abandoned = true
		if release != nil {
			release()
		}
		payload, release = nil, nil
	}
	pl, rel := payload, release
	mu.Unlock()
	if err == nil && pl == nil {
		err = errors.New("provider's Open returned no payload")
	}
	if err != nil {
		if rel != nil {
			rel()
		}
		msg := "provider:failed to load task: " + err.Error()
		if errors.Is(err, mmapfile.ErrTooLarge) {
			msg = err.Error() // it names max_payload_size
		}
		s.log.Warn("provider task could not be loaded", "error", err)
		req := core.NewRequest(nil, reqMeta)
		req.Errors = append(req.Errors, core.Error{Message: msg, PluginName: p.name})
		taskFailed(ctx, fmt.Errorf("loading the task's payload: %w", err))
		s.scanTask(ctx, req, nil, tally) // no payload: the response holds only the Error
		return
	}
	if rel != nil {
		defer rel()
	}
	s.scanTask(ctx, core.NewRequest([]*core.Payload{pl}, reqMeta), startDispatch, tally)
}

// opener is the plugin whose timeout and name a task's Open runs under:
// the provider, when there is one; the Task does not say which provider
// queued it.
func (s *Stoq) opener() *plugin {
	if len(s.providers) == 1 {
		return s.providers[0]
	}
	return &plugin{timeout: s.settings.DefaultTimeout, log: s.log}
}

// isDefaultRequestMeta reports whether a provider's request carries no
// request meta of its own (nil, or equal to core.NewRequestMeta()): stoQ
// then gives it the run's.
func isDefaultRequestMeta(m *core.RequestMeta) bool {
	return m == nil || (m.ArchivePayloads && m.Source == "" && len(m.ExtraData) == 0)
}
