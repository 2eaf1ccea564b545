package engine

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/internal/response"
	"github.com/stoq-go/stoq/core/v3/mmapfile"
)

// This file is the scan loop: ScanRequest runs rounds until no worker is
// left to run or max_recursion rounds have passed, and each round reads top
// to bottom as
//
//	dispatch           dispatchers, always_dispatch and the dispatches left from the last round choose workers
//	resolve required   required_workers run first; a worker waits for them
//	run                every runnable worker, concurrently
//	merge              results, errors and extracted payloads, in a fixed order
//
// then extracted payloads join the request (de-duplicated by sha256) and
// the next round begins. After the last round: dest archivers, decorators,
// connectors.

// Scan scans content as one payload: stoQ's scan(). startDispatch names
// workers that run on it in the first round. meta and requestMeta may be
// nil. Its error is ScanRequest's.
func (s *Stoq) Scan(ctx context.Context, content []byte, meta *core.PayloadMeta, requestMeta *core.RequestMeta, startDispatch ...string) (*core.StoqResponse, error) {
	return s.ScanRequest(ctx, core.NewRequest([]*core.Payload{core.NewPayload(content, meta)}, requestMeta), startDispatch...)
}

// scanState is what one ScanRequest keeps between rounds.
type scanState struct {
	req *core.Request
	// hashes maps the sha256 of every payload's content to the indexes of
	// the payloads with that content; built at the first extraction.
	hashes map[[32]byte][]int
	// failed remembers (payload, plugin) pairs already reported as unusable
	// so a plugin that cannot load is reported once per payload.
	failed map[dispatch]struct{}
	// asked remembers (payload, dispatcher) pairs a ContentDispatcher has
	// answered, so it is asked once per payload.
	asked map[dispatch]struct{}
	// limits keeps count of max_payloads, max_extracted_bytes and
	// max_payload_size (limits.go).
	limits requestLimits
}

func (st *scanState) addError(e core.Error) { st.req.Errors = append(st.req.Errors, e) }

// ScanRequest scans every payload of req, then archives, decorates and
// saves the response with every connector: stoQ's scan_request(). It keeps
// stoQ v3.0.0's semantics: start dispatch in the first round for the
// request's payloads, dispatchers and always_dispatch every round,
// dispatch_to from payload meta and worker responses, should_scan,
// required_workers with a depth limit and cycle detection, extracted
// payloads de-duplicated by sha256, max_recursion rounds (a payload left
// unprocessed by the last round gets an Error), errors collected.
//
// The error is about the request, not its payloads (which record their
// own Errors in the response): a malformed request returns no response; a
// response that a connector failed to save and that could not be spooled
// for it returns the response and a *NotSavedError (errors.Is ErrNotSaved).
func (s *Stoq) ScanRequest(ctx context.Context, req *core.Request, startDispatch ...string) (*core.StoqResponse, error) {
	if err := normalizeRequest(req); err != nil {
		return nil, err
	}
	finished := s.scanStarted()
	st := &scanState{req: req, limits: requestLimits{closedBy: numLimits}}
	roots := len(req.Payloads)
	s.refuseOversizedRoots(st)
	pending := firstDispatches(req, startDispatch)
	if s.settings.MaxRecursion == 0 {
		s.noRounds(st, &pending)
	}
	for round := 1; round <= s.settings.MaxRecursion; round++ {
		extracted, next, ran := s.round(ctx, st, &pending)
		if !ran {
			break
		}
		pending = next
		s.addExtracted(st, extracted, round, &pending)
	}
	for _, e := range st.limits.errors(s.settings) {
		st.addError(e)
	}
	noteChangedFiles(st, req.Payloads[:roots])
	s.archive(ctx, st)
	resp := response.New(req)
	setTaskScanID(ctx, resp)
	s.decorate(ctx, resp)
	err := s.save(ctx, resp)
	finished(resp)
	return resp, err
}

// normalizeRequest gives req what the rounds rely on: request meta, an
// error list, and payloads built by NewPayload.
func normalizeRequest(req *core.Request) error {
	if req == nil {
		return fmt.Errorf("scan: nil request")
	}
	if req.RequestMeta == nil {
		req.RequestMeta = core.NewRequestMeta()
	}
	if req.Errors == nil {
		req.Errors = []core.Error{}
	}
	for i, p := range req.Payloads {
		if p == nil {
			return fmt.Errorf("scan: payload %d is nil", i)
		}
		if p.Results == nil {
			req.Payloads[i] = core.NewPayload(p.Content, nil)
			req.Payloads[i].DispatchMeta = p.DispatchMeta
		}
		if req.Payloads[i].DispatchMeta == nil {
			req.Payloads[i].DispatchMeta = map[string]map[string]any{}
		}
	}
	return nil
}

// firstDispatches are the first round's forced dispatches: start dispatch
// and each scannable payload's own dispatch_to.
func firstDispatches(req *core.Request, startDispatch []string) dispatchSet {
	var pending dispatchSet
	for i, p := range req.Payloads {
		if !p.Results.PayloadMeta.ShouldScan {
			continue
		}
		for _, w := range startDispatch {
			pending.add(dispatch{i, w})
		}
		for _, w := range p.Results.PayloadMeta.DispatchTo {
			pending.add(dispatch{i, w})
		}
	}
	return pending
}

// noRounds records, with max_recursion = 0, that the request's payloads
// are left unprocessed: each scannable payload that a worker would have
// seen gets the "Final worker round" Error the last round gives to what it
// cannot reach, rather than a response that looks clean.
func (s *Stoq) noRounds(st *scanState, pending *dispatchSet) {
	anyRole := len(s.dispatchers) > 0 || len(s.settings.AlwaysDispatch) > 0
	for i, p := range st.req.Payloads {
		if !p.Results.PayloadMeta.ShouldScan {
			continue
		}
		if anyRole || slices.ContainsFunc(pending.order, func(d dispatch) bool { return d.payload == i }) {
			st.addError(core.Error{Message: "Final worker round (0) reached, unable to process payload", PayloadID: p.ID()})
		}
	}
}

// round runs one worker round. It returns the payloads extracted in it, the
// dispatches deferred to the next round, and false when nothing could run.
func (s *Stoq) round(ctx context.Context, st *scanState, pending *dispatchSet) ([]*core.Payload, dispatchSet, bool) {
	chosen := s.dispatch(ctx, st, pending)
	runnable, deferred := s.resolveRequired(st, &chosen)
	if len(runnable) == 0 {
		return nil, dispatchSet{}, false
	}
	responses, errs := s.runWorkers(ctx, st, runnable)
	extracted := s.mergeWorkerResults(st, runnable, responses, errs, &deferred)
	return extracted, deferred, true
}

// dispatch is the round's first step: the pending dispatches, plus what
// every dispatcher chooses for every scannable payload, plus
// always_dispatch. Dispatchers run concurrently; their answers merge in a
// fixed order, and should_archive votes apply once all have answered.
func (s *Stoq) dispatch(ctx context.Context, st *scanState, pending *dispatchSet) dispatchSet {
	var chosen dispatchSet
	chosen.addAll(pending)
	type job struct {
		payload int
		p       *plugin
	}
	var targets []int
	var jobs []job
	for i, payload := range st.req.Payloads {
		if !payload.Results.PayloadMeta.ShouldScan {
			continue
		}
		targets = append(targets, i)
		for _, p := range s.dispatchers {
			if s.alreadyAsked(st, i, p) {
				continue // a content-only answer cannot have changed since
			}
			jobs = append(jobs, job{i, p})
		}
	}
	responses := make([]*core.DispatcherResponse, len(jobs))
	errs := make([]error, len(jobs))
	s.parallel(len(jobs), func(k int) {
		j := jobs[k]
		payload := st.req.Payloads[j.payload]
		var resp *core.DispatcherResponse
		errs[k] = s.call(ctx, j.p, ClassDispatcher, func(ctx context.Context) error {
			var err error
			resp, err = j.p.instance.(core.Dispatcher).GetDispatches(ctx, payload, st.req)
			return err
		})
		if errs[k] == nil {
			responses[k] = resp
		}
	})
	var archiveVotes map[int][]bool // should_archive votes by payload index
	for k, j := range jobs {
		payload := st.req.Payloads[j.payload]
		if errs[k] != nil {
			st.addError(core.Error{Message: "dispatcher:failed to dispatch: " + errs[k].Error(), PluginName: j.p.name, PayloadID: payload.ID()})
			continue
		}
		resp := responses[k]
		if resp == nil {
			continue
		}
		for _, e := range resp.Errors {
			st.addError(fill(e, j.p.name, payload.ID()))
		}
		for _, w := range resp.PluginNames {
			chosen.add(dispatch{j.payload, w})
		}
		if resp.Meta != nil {
			payload.DispatchMeta[j.p.name] = resp.Meta
		}
		if resp.ShouldArchive != nil {
			if archiveVotes == nil {
				archiveVotes = map[int][]bool{}
			}
			archiveVotes[j.payload] = append(archiveVotes[j.payload], *resp.ShouldArchive)
		}
	}
	for idx, votes := range archiveVotes {
		st.req.Payloads[idx].Results.PayloadMeta.ShouldArchive = !slices.Contains(votes, false)
	}
	for _, idx := range targets {
		for _, w := range s.settings.AlwaysDispatch {
			chosen.add(dispatch{idx, w})
		}
	}
	return chosen
}

// alreadyAsked reports whether dispatcher p is a core.ContentDispatcher
// that already answered for payload i, and records that it now has.
func (s *Stoq) alreadyAsked(st *scanState, i int, p *plugin) bool {
	if _, contentOnly := p.instance.(core.ContentDispatcher); !contentOnly {
		return false
	}
	d := dispatch{i, p.name}
	if _, done := st.asked[d]; done {
		return true
	}
	if st.asked == nil {
		st.asked = map[dispatch]struct{}{}
	}
	st.asked[d] = struct{}{}
	return false
}

// resolveRequired is the round's second step: it splits the chosen
// dispatches into those that can run now and those deferred until the
// workers they require have run on the payload, adding required workers as
// dispatches of their own.
func (s *Stoq) resolveRequired(st *scanState, chosen *dispatchSet) ([]dispatch, dispatchSet) {
	var runnable, deferred dispatchSet
	for _, d := range chosen.order {
		var run, wait dispatchSet
		if err := s.resolve(st, d.payload, d.worker, nil, 0, &run, &wait); err != nil {
			st.addError(core.Error{Message: err.Error(), PluginName: d.worker, PayloadID: st.req.Payloads[d.payload].ID()})
			continue
		}
		runnable.addAll(&run)
		deferred.addAll(&wait)
	}
	return runnable.order, deferred
}

// resolve places worker on payload idx in run or wait, then its required
// workers, depth-first; chain is the path of requirements that led here.
func (s *Stoq) resolve(st *scanState, idx int, worker string, chain []string, depth int, run, wait *dispatchSet) error {
	if slices.Contains(chain, worker) {
		//lint:ignore ST1005 stoQ's text: consumers grep for "Circular"
		return fmt.Errorf("Circular required plugin dependency found, unable to process plugin %s", worker)
	}
	if depth > s.settings.MaxRequiredWorkerDepth {
		//lint:ignore ST1005 stoQ's text: consumers grep for "Max required plugin depth"
		return fmt.Errorf("Max required plugin depth %d reached, unable to generate additional tasks", s.settings.MaxRequiredWorkerDepth)
	}
	payload := st.req.Payloads[idx]
	p := s.plugins.get(worker)
	if p.err != nil || p.classes&ClassWorker == 0 {
		s.reportUnusableWorker(st, idx, p)
		return nil
	}
	if slices.Contains(payload.Results.PluginsRun.Workers, worker) {
		return nil
	}
	if requiredWorkersReady(payload, p.required) {
		run.add(dispatch{idx, worker})
	} else {
		wait.add(dispatch{idx, worker})
	}
	next := append(slices.Clone(chain), worker)
	for _, req := range p.required {
		if err := s.resolve(st, idx, req, next, depth+1, run, wait); err != nil {
			return err
		}
	}
	return nil
}

// reportUnusableWorker records, once per payload, that a dispatched worker
// cannot load or is not a worker.
func (s *Stoq) reportUnusableWorker(st *scanState, idx int, p *plugin) {
	d := dispatch{idx, p.name}
	if _, reported := st.failed[d]; reported {
		return
	}
	if st.failed == nil {
		st.failed = map[dispatch]struct{}{}
	}
	st.failed[d] = struct{}{}
	msg := "worker:failed to load: "
	if p.err != nil {
		msg += p.err.Error()
	} else {
		msg += fmt.Sprintf("plugin %s is a %s, not a Worker", p.name, p.classes)
	}
	st.addError(core.Error{Message: msg, PluginName: p.name, PayloadID: st.req.Payloads[idx].ID()})
}

// requiredWorkersReady reports whether every required worker already ran on
// the payload.
func requiredWorkersReady(p *core.Payload, required []string) bool {
	for _, r := range required {
		if !slices.Contains(p.Results.PluginsRun.Workers, r) {
			return false
		}
	}
	return true
}

// runWorkers is the round's third step: every runnable worker on its
// payload, concurrently. A call that failed as a call (panic, timeout) has
// no response; a plugin's own error keeps the partial response it returned.
func (s *Stoq) runWorkers(ctx context.Context, st *scanState, runnable []dispatch) ([]*core.WorkerResponse, []error) {
	responses := make([]*core.WorkerResponse, len(runnable))
	errs := make([]error, len(runnable))
	s.parallel(len(runnable), func(i int) {
		d := runnable[i]
		p := s.plugins.get(d.worker)
		payload := st.req.Payloads[d.payload]
		var resp *core.WorkerResponse
		errs[i] = s.call(ctx, p, ClassWorker, func(ctx context.Context) error {
			var err error
			resp, err = p.instance.(core.Worker).Scan(ctx, payload, st.req)
			return err
		})
		if errs[i] == nil || !isCallFailure(errs[i]) {
			responses[i] = resp
		}
	})
	return responses, errs
}

// mergeWorkerResults is the round's last step: in the order the workers
// were chosen, it records each run, its results and errors, the workers it
// dispatches to next round, and the payloads it extracted.
func (s *Stoq) mergeWorkerResults(st *scanState, runnable []dispatch, responses []*core.WorkerResponse, errs []error, deferred *dispatchSet) []*core.Payload {
	var extracted []*core.Payload
	for i, d := range runnable {
		res := st.req.Payloads[d.payload].Results
		res.PluginsRun.Workers = append(res.PluginsRun.Workers, d.worker)
		if errs[i] != nil {
			st.addError(core.Error{Message: "worker:failed to scan: " + errs[i].Error(), PluginName: d.worker, PayloadID: res.PayloadID})
		}
		resp := responses[i]
		if resp == nil {
			continue
		}
		if resp.Results != nil {
			res.Workers[d.worker] = resp.Results
		}
		for _, e := range resp.Errors {
			st.addError(fill(e, d.worker, res.PayloadID))
		}
		for _, w := range resp.DispatchTo {
			deferred.add(dispatch{d.payload, w})
		}
		for _, ex := range resp.Extracted {
			p := core.NewPayload(ex.Content, ex.PayloadMeta)
			p.Results.ExtractedBy = append(p.Results.ExtractedBy, d.worker)
			p.Results.ExtractedFrom = append(p.Results.ExtractedFrom, res.PayloadID)
			extracted = append(extracted, p)
		}
	}
	return extracted
}

// fill names the plugin and payload of an Error a plugin returned without
// them.
func fill(e core.Error, plugin, payloadID string) core.Error {
	if e.PluginName == "" {
		e.PluginName = plugin
	}
	if e.PayloadID == "" {
		e.PayloadID = payloadID
	}
	return e
}

// addExtracted adds the payloads extracted in a round to the request,
// de-duplicated by sha256: a duplicate extends the first one's extracted_by
// and extracted_from instead. The request's limits may drop some (see
// limits.go). Payloads extracted in the last round are recorded with an
// Error, as nothing will scan them.
func (s *Stoq) addExtracted(st *scanState, extracted []*core.Payload, round int, pending *dispatchSet) {
	if len(extracted) == 0 {
		return
	}
	for _, ex := range extracted {
		var h [32]byte
		// duplicate merges ex into the payloads of the same content; an
		// unreadable ex (its mapped file shrank) is dropped with an Error.
		duplicate := func() bool {
			st.indexHashes(s.settings.MaxPayloadSize)
			if err := protectFaults(func() { h = sha256.Sum256(ex.Content) }); err != nil {
				st.addError(core.Error{Message: "extracted payload dropped: " + err.Error(), PluginName: ex.Results.ExtractedBy[0]})
				return true
			}
			firsts, seen := st.hashes[h]
			for _, i := range firsts {
				r := st.req.Payloads[i].Results
				r.ExtractedBy = append(r.ExtractedBy, ex.Results.ExtractedBy...)
				r.ExtractedFrom = append(r.ExtractedFrom, ex.Results.ExtractedFrom...)
			}
			return seen
		}
		if !st.limits.admit(s.settings, len(st.req.Payloads), ex, duplicate) {
			continue
		}
		st.req.Payloads = append(st.req.Payloads, ex)
		idx := len(st.req.Payloads) - 1
		st.hashes[h] = append(st.hashes[h], idx)
		meta := ex.Results.PayloadMeta
		if round >= s.settings.MaxRecursion {
			st.addError(core.Error{Message: fmt.Sprintf("Final worker round (%d) reached, unable to process payload", round), PayloadID: ex.ID()})
		} else if meta.ShouldScan {
			for _, w := range meta.DispatchTo {
				pending.add(dispatch{idx, w})
			}
		}
	}
}

// indexHashes builds, at the first extraction, the index of the sha256 of
// every payload's content (a root over maxSize, which no extracted payload
// can equal, is not read).
func (st *scanState) indexHashes(maxSize int64) {
	if st.hashes != nil {
		return
	}
	st.hashes = make(map[[32]byte][]int, len(st.req.Payloads))
	for i, p := range st.req.Payloads {
		if int64(len(p.Content)) > maxSize {
			continue
		}
		var h [32]byte
		if protectFaults(func() { h = sha256.Sum256(p.Content) }) != nil {
			continue // unreadable: its workers' calls record that
		}
		st.hashes[h] = append(st.hashes[h], i)
	}
}

// noteChangedFiles records an Error for each root payload mapped from a
// file that was opened for writing or truncated during the scan: its
// content was then copied (core/mmapfile), so the results are of what the
// file held when the scan began, not of the file as it is now.
func noteChangedFiles(st *scanState, roots []*core.Payload) {
	for _, p := range roots {
		if mmapfile.Changed(p.Content) {
			st.addError(core.Error{Message: "the payload's file was written to or truncated while it was scanned: the results are of the content it held when the scan began", PayloadID: p.ID()})
		}
	}
}
