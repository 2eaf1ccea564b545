package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stoq-go/stoq/core/v3"
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
// and reported. Provider errors are returned, joined, after the drain.
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
	for i := 0; i < s.settings.ProviderConsumers; i++ {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			for task := range q.Tasks() {
				taskCtx, endTask := s.beginTask(scanCtx, task)
				s.runTask(taskCtx, task, requestMeta, startDispatch)
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
	return errors.Join(errs...)
}

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

func (s *Stoq) runTask(ctx context.Context, task core.Task, meta *core.RequestMeta, startDispatch []string) {
	reqMeta := func() *core.RequestMeta {
		m := *meta
		m.ExtraData = make(map[string]any, len(meta.ExtraData))
		for k, v := range meta.ExtraData {
			m.ExtraData[k] = v
		}
		return &m
	}
	var err error
	switch {
	case task.Payload != nil:
		_, err = s.ScanRequest(ctx, core.NewRequest([]*core.Payload{task.Payload}, reqMeta()), startDispatch...)
	case task.Request != nil:
		if isDefaultRequestMeta(task.Request.RequestMeta) {
			task.Request.RequestMeta = reqMeta()
		}
		_, err = s.ScanRequest(ctx, task.Request, startDispatch...)
	case task.Archived != nil:
		for _, name := range slices.Sorted(maps.Keys(task.Archived)) {
			s.runArchived(ctx, name, task.Archived[name], reqMeta(), startDispatch)
		}
	default:
		s.log.Warn("provider queued an empty task")
	}
	if err != nil {
		s.log.Error("scan failed", "error", err)
		taskFailed(ctx, err)
	}
}

// runArchived loads a payload through a source archiver and scans it. When
// the archiver cannot load it, a response holding only the Error is saved,
// so the failure is recorded where results go.
func (s *Stoq) runArchived(ctx context.Context, name string, meta any, reqMeta *core.RequestMeta, startDispatch []string) {
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
		finished := s.scanStarted()
		resp := newResponse(req)
		setTaskScanID(ctx, resp)
		s.decorate(ctx, resp)
		s.save(ctx, resp)
		finished(resp)
		return
	}
	if _, err := s.ScanRequest(ctx, core.NewRequest([]*core.Payload{payload}, reqMeta), startDispatch...); err != nil {
		s.log.Error("scan failed", "error", err)
	}
}

// isDefaultRequestMeta reports whether a provider's request carries no
// request meta of its own (nil, or equal to core.NewRequestMeta()): stoQ
// then gives it the run's.
func isDefaultRequestMeta(m *core.RequestMeta) bool {
	return m == nil || (m.ArchivePayloads && m.Source == "" && len(m.ExtraData) == 0)
}
