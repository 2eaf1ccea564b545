package core

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
)

// Scan scans content as one payload: stoQ's scan(). startDispatch names
// workers that run on it in the first round. meta and requestMeta may be nil.
func (s *Stoq) Scan(ctx context.Context, content []byte, meta *PayloadMeta, requestMeta *RequestMeta, startDispatch ...string) (*StoqResponse, error) {
	return s.ScanRequest(ctx, NewRequest([]*Payload{NewPayload(content, meta)}, requestMeta), startDispatch...)
}

// dispatch is one worker to run on one payload (by index in the request).
type dispatch struct {
	payload int
	worker  string
}

// dispatchSet is an insertion-ordered set of dispatches, so that what runs,
// and the order results merge in, never depends on map iteration. Sets are
// usually tiny: a linear scan serves them until an index pays off.
type dispatchSet struct {
	order []dispatch
	seen  map[dispatch]struct{}
}

const dispatchSetIndexAt = 16

func (d *dispatchSet) has(x dispatch) bool {
	if d.seen != nil {
		_, ok := d.seen[x]
		return ok
	}
	for _, y := range d.order {
		if y == x {
			return true
		}
	}
	return false
}

func (d *dispatchSet) add(x dispatch) {
	if d.has(x) {
		return
	}
	d.order = append(d.order, x)
	switch {
	case d.seen != nil:
		d.seen[x] = struct{}{}
	case len(d.order) > dispatchSetIndexAt:
		d.seen = make(map[dispatch]struct{}, 2*len(d.order))
		for _, y := range d.order {
			d.seen[y] = struct{}{}
		}
	}
}

func (d *dispatchSet) addAll(o *dispatchSet) {
	for _, x := range o.order {
		d.add(x)
	}
}

// scanState is what one ScanRequest keeps between rounds.
type scanState struct {
	req *Request
	// hashes maps the sha256 of every payload's content to the indexes of
	// the payloads with that content; built at the first extraction.
	hashes map[[32]byte][]int
	// failed remembers (payload, plugin) pairs already reported as unusable
	// so a plugin that cannot load is reported once per payload.
	failed map[dispatch]struct{}
	// asked remembers (payload, dispatcher) pairs a ContentDispatcher has
	// answered, so it is asked once per payload.
	asked map[dispatch]struct{}
}

func (st *scanState) addError(e Error) { st.req.Errors = append(st.req.Errors, e) }

// ScanRequest scans every payload of req until no worker is left to run or
// max_recursion rounds have passed, then archives, decorates and saves the
// response with every connector: stoQ's scan_request().
//
// Each round: dispatchers (and always_dispatch) choose workers for every
// scannable payload; required_workers are resolved; every runnable worker
// runs, concurrently; results merge in a fixed order; extracted payloads
// whose content was not seen before join the request (a duplicate only
// extends the first one's extracted_by and extracted_from).
func (s *Stoq) ScanRequest(ctx context.Context, req *Request, startDispatch ...string) (*StoqResponse, error) {
	if req == nil {
		return nil, fmt.Errorf("scan: nil request")
	}
	if req.RequestMeta == nil {
		req.RequestMeta = NewRequestMeta()
	}
	if req.Errors == nil {
		req.Errors = []Error{}
	}
	for i, p := range req.Payloads {
		if p == nil {
			return nil, fmt.Errorf("scan: payload %d is nil", i)
		}
		if p.Results == nil {
			req.Payloads[i] = NewPayload(p.Content, nil)
			req.Payloads[i].DispatchMeta = p.DispatchMeta
		}
		if req.Payloads[i].DispatchMeta == nil {
			req.Payloads[i].DispatchMeta = map[string]map[string]any{}
		}
	}
	st := &scanState{req: req}

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

	for round := 1; round <= s.maxRecursion; round++ {
		extracted, next, more := s.round(ctx, st, &pending)
		if !more {
			break
		}
		pending = next
		s.addExtracted(st, extracted, round, &pending)
	}

	s.archive(ctx, st)
	resp := NewStoqResponse(req)
	s.decorate(ctx, resp)
	s.save(ctx, resp)
	return resp, nil
}

// round runs one worker round. It returns the payloads extracted in it, the
// dispatches deferred to the next round, and false when nothing could run.
func (s *Stoq) round(ctx context.Context, st *scanState, pending *dispatchSet) ([]*Payload, dispatchSet, bool) {
	total := dispatchSet{}
	total.addAll(pending)
	s.runDispatchers(ctx, st, &total)

	canRun, deferred := s.resolveDependencies(st, &total)
	if len(canRun) == 0 {
		return nil, dispatchSet{}, false
	}

	responses := make([]*WorkerResponse, len(canRun))
	errs := make([]error, len(canRun))
	s.parallel(len(canRun), func(i int) {
		d := canRun[i]
		lp := s.plugin(d.worker)
		w := lp.instance.(Worker)
		payload := st.req.Payloads[d.payload]
		var resp *WorkerResponse
		err := s.call(ctx, lp, func(ctx context.Context) error {
			var err error
			resp, err = w.Scan(ctx, payload, st.req)
			return err
		})
		if err == nil || !isCallFailure(err) {
			responses[i] = resp
		}
		errs[i] = err
	})

	var extracted []*Payload
	for i, d := range canRun {
		payload := st.req.Payloads[d.payload]
		res := payload.Results
		res.PluginsRun.Workers = append(res.PluginsRun.Workers, d.worker)
		if errs[i] != nil {
			st.addError(Error{Message: "worker:failed to scan: " + errs[i].Error(), PluginName: d.worker, PayloadID: res.PayloadID})
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
			p := NewPayload(ex.Content, ex.PayloadMeta)
			p.Results.ExtractedBy = append(p.Results.ExtractedBy, d.worker)
			p.Results.ExtractedFrom = append(p.Results.ExtractedFrom, res.PayloadID)
			extracted = append(extracted, p)
		}
	}
	return extracted, deferred, true
}

// isCallFailure reports whether err came from call itself (timeout, panic,
// cancellation) rather than from the plugin, whose partial response is kept.
func isCallFailure(err error) bool {
	switch err.(type) {
	case *PanicError:
		return true
	}
	return errorsIsAny(err, ErrTimeout, context.Canceled, context.DeadlineExceeded)
}

func fill(e Error, plugin, payloadID string) Error {
	if e.PluginName == "" {
		e.PluginName = plugin
	}
	if e.PayloadID == "" {
		e.PayloadID = payloadID
	}
	return e
}

// runDispatchers runs every dispatcher on every scannable payload and adds
// their choices, with always_dispatch, to total.
func (s *Stoq) runDispatchers(ctx context.Context, st *scanState, total *dispatchSet) {
	type job struct {
		payload int
		lp      *loadedPlugin
	}
	var targets []int
	var jobs []job
	for i, p := range st.req.Payloads {
		if !p.Results.PayloadMeta.ShouldScan {
			continue
		}
		targets = append(targets, i)
		for _, lp := range s.dispatchers {
			if _, contentOnly := lp.instance.(ContentDispatcher); contentOnly {
				asked := dispatch{i, lp.name}
				if _, done := st.asked[asked]; done {
					continue // its answer cannot have changed since
				}
				if st.asked == nil {
					st.asked = map[dispatch]struct{}{}
				}
				st.asked[asked] = struct{}{}
			}
			jobs = append(jobs, job{i, lp})
		}
	}
	responses := make([]*DispatcherResponse, len(jobs))
	errs := make([]error, len(jobs))
	s.parallel(len(jobs), func(k int) {
		j := jobs[k]
		payload := st.req.Payloads[j.payload]
		var resp *DispatcherResponse
		errs[k] = s.call(ctx, j.lp, func(ctx context.Context) error {
			var err error
			resp, err = j.lp.instance.(Dispatcher).GetDispatches(ctx, payload, st.req)
			return err
		})
		if errs[k] == nil {
			responses[k] = resp
		}
	})
	var archive map[int][]bool // should_archive votes by payload index
	for k, j := range jobs {
		payload := st.req.Payloads[j.payload]
		if errs[k] != nil {
			st.addError(Error{Message: "dispatcher:failed to dispatch: " + errs[k].Error(), PluginName: j.lp.name, PayloadID: payload.ID()})
			continue
		}
		resp := responses[k]
		if resp == nil {
			continue
		}
		for _, e := range resp.Errors {
			st.addError(fill(e, j.lp.name, payload.ID()))
		}
		for _, w := range resp.PluginNames {
			total.add(dispatch{j.payload, w})
		}
		if resp.Meta != nil {
			payload.DispatchMeta[j.lp.name] = resp.Meta
		}
		if resp.ShouldArchive != nil {
			if archive == nil {
				archive = map[int][]bool{}
			}
			archive[j.payload] = append(archive[j.payload], *resp.ShouldArchive)
		}
	}
	for idx, votes := range archive {
		st.req.Payloads[idx].Results.PayloadMeta.ShouldArchive = !slices.Contains(votes, false)
	}
	for _, idx := range targets {
		for _, w := range s.settings.AlwaysDispatch {
			total.add(dispatch{idx, w})
		}
	}
}

// resolveDependencies splits the dispatches into those that can run now and
// those deferred until the workers they require have run on the payload,
// adding required workers as dispatches of their own.
func (s *Stoq) resolveDependencies(st *scanState, total *dispatchSet) ([]dispatch, dispatchSet) {
	var canRun, deferred dispatchSet
	for _, d := range total.order {
		var run, def dispatchSet
		if err := s.resolve(st, d.payload, d.worker, nil, 0, &run, &def); err != nil {
			st.addError(Error{Message: err.Error(), PluginName: d.worker, PayloadID: st.req.Payloads[d.payload].ID()})
			continue
		}
		canRun.addAll(&run)
		deferred.addAll(&def)
	}
	return canRun.order, deferred
}

func (s *Stoq) resolve(st *scanState, idx int, worker string, chain []string, depth int, run, def *dispatchSet) error {
	for _, c := range chain {
		if c == worker {
			return fmt.Errorf("circular required plugin dependency found, unable to process plugin %s", worker)
		}
	}
	if depth > s.settings.MaxRequiredWorkerDepth {
		return fmt.Errorf("max required plugin depth %d reached, unable to generate additional tasks", s.settings.MaxRequiredWorkerDepth)
	}
	payload := st.req.Payloads[idx]
	d := dispatch{idx, worker}
	lp := s.plugin(worker)
	if lp.err != nil || lp.classes&ClassWorker == 0 {
		if _, reported := st.failed[d]; !reported {
			if st.failed == nil {
				st.failed = map[dispatch]struct{}{}
			}
			st.failed[d] = struct{}{}
			msg := "worker:failed to load: "
			if lp.err != nil {
				msg += lp.err.Error()
			} else {
				msg += fmt.Sprintf("plugin %s is a %s, not a Worker", worker, lp.classes)
			}
			st.addError(Error{Message: msg, PluginName: worker, PayloadID: payload.ID()})
		}
		return nil
	}
	if contains(payload.Results.PluginsRun.Workers, worker) {
		return nil
	}
	if requiredWorkersReady(payload, lp.required) {
		run.add(d)
	} else {
		def.add(d)
	}
	if len(lp.required) == 0 {
		return nil
	}
	next := append(append([]string(nil), chain...), worker)
	for _, req := range lp.required {
		if err := s.resolve(st, idx, req, next, depth+1, run, def); err != nil {
			return err
		}
	}
	return nil
}

// requiredWorkersReady reports whether every required worker already ran on
// the payload.
func requiredWorkersReady(p *Payload, required []string) bool {
	for _, r := range required {
		if !contains(p.Results.PluginsRun.Workers, r) {
			return false
		}
	}
	return true
}

// addExtracted adds the payloads extracted in a round to the request,
// de-duplicated by sha256. In the last round they are recorded with an
// Error, as nothing will scan them.
func (s *Stoq) addExtracted(st *scanState, extracted []*Payload, round int, pending *dispatchSet) {
	if len(extracted) == 0 {
		return
	}
	if st.hashes == nil {
		st.hashes = make(map[[32]byte][]int, len(st.req.Payloads)+len(extracted))
		for i, p := range st.req.Payloads {
			h := sha256.Sum256(p.Content)
			st.hashes[h] = append(st.hashes[h], i)
		}
	}
	for _, ex := range extracted {
		h := sha256.Sum256(ex.Content)
		if firsts, seen := st.hashes[h]; seen {
			for _, i := range firsts {
				r := st.req.Payloads[i].Results
				r.ExtractedBy = append(r.ExtractedBy, ex.Results.ExtractedBy...)
				r.ExtractedFrom = append(r.ExtractedFrom, ex.Results.ExtractedFrom...)
			}
			continue
		}
		st.req.Payloads = append(st.req.Payloads, ex)
		idx := len(st.req.Payloads) - 1
		st.hashes[h] = append(st.hashes[h], idx)
		meta := ex.Results.PayloadMeta
		if round >= s.maxRecursion {
			st.addError(Error{Message: fmt.Sprintf("Final worker round (%d) reached, unable to process payload", round), PayloadID: ex.ID()})
		} else if meta.ShouldScan {
			for _, w := range meta.DispatchTo {
				pending.add(dispatch{idx, w})
			}
		}
	}
}

// archive runs every dest archiver on every payload with should_archive,
// when the request allows archiving.
func (s *Stoq) archive(ctx context.Context, st *scanState) {
	if !st.req.RequestMeta.ArchivePayloads || len(s.destArchivers) == 0 {
		return
	}
	type job struct {
		payload *Payload
		lp      *loadedPlugin
	}
	var jobs []job
	for _, p := range st.req.Payloads {
		if !p.Results.PayloadMeta.ShouldArchive {
			continue
		}
		for _, lp := range s.destArchivers {
			jobs = append(jobs, job{p, lp})
		}
	}
	responses := make([]*ArchiverResponse, len(jobs))
	errs := make([]error, len(jobs))
	s.parallel(len(jobs), func(i int) {
		j := jobs[i]
		var resp *ArchiverResponse
		errs[i] = s.call(ctx, j.lp, func(ctx context.Context) error {
			var err error
			resp, err = j.lp.instance.(Archiver).Archive(ctx, j.payload, st.req)
			return err
		})
		if errs[i] == nil || !isCallFailure(errs[i]) {
			responses[i] = resp
		}
	})
	for i, j := range jobs {
		res := j.payload.Results
		res.PluginsRun.Archivers = append(res.PluginsRun.Archivers, j.lp.name)
		if errs[i] != nil {
			st.addError(Error{Message: "archiver:failed to archive: " + errs[i].Error(), PluginName: j.lp.name, PayloadID: res.PayloadID})
		}
		if r := responses[i]; r != nil {
			for _, e := range r.Errors {
				st.addError(fill(e, j.lp.name, res.PayloadID))
			}
			if r.Results != nil {
				res.Archivers[j.lp.name] = r.Results
			}
		}
	}
}

// decorate runs every decorator on the finished response and stores their
// results under decorators.
func (s *Stoq) decorate(ctx context.Context, resp *StoqResponse) {
	if len(s.decorators) == 0 {
		return
	}
	results := make([]*DecoratorResponse, len(s.decorators))
	errs := make([]error, len(s.decorators))
	s.parallel(len(s.decorators), func(i int) {
		lp := s.decorators[i]
		var r *DecoratorResponse
		errs[i] = s.call(ctx, lp, func(ctx context.Context) error {
			var err error
			r, err = lp.instance.(Decorator).Decorate(ctx, resp)
			return err
		})
		if errs[i] == nil || !isCallFailure(errs[i]) {
			results[i] = r
		}
	})
	for i, lp := range s.decorators {
		if errs[i] != nil {
			resp.Errors = append(resp.Errors, Error{Message: "decorator: " + errs[i].Error(), PluginName: lp.name})
		}
		if r := results[i]; r != nil {
			if r.Results != nil {
				resp.Decorators[lp.name] = r.Results
			}
			for _, e := range r.Errors {
				resp.Errors = append(resp.Errors, fill(e, lp.name, ""))
			}
		}
	}
}

// save hands the response to every connector. A connector's failure is
// logged, the response is spooled for that connector (spool_dir) to be
// re-sent later, and the failure is appended to the returned response's
// errors (after every connector has seen it, so all save the same
// document).
func (s *Stoq) save(ctx context.Context, resp *StoqResponse) {
	if len(s.connectors) == 0 {
		return
	}
	errs := make([]error, len(s.connectors))
	s.parallel(len(s.connectors), func(i int) {
		lp := s.connectors[i]
		errs[i] = s.call(ctx, lp, func(ctx context.Context) error {
			return lp.instance.(Connector).Save(ctx, resp)
		})
	})
	var failures []Error
	for i, lp := range s.connectors {
		if errs[i] == nil {
			continue
		}
		msg := "Failed to save results: " + errs[i].Error()
		if path, err := s.spoolSave(lp, resp); err == nil {
			lp.log.Error("failed to save results: spooled for a later retry", "scan_id", resp.ScanID, "error", errs[i], "spooled", path)
			msg += " (spooled to " + path + ")"
		} else {
			lp.log.Error("failed to save results, and could not spool them", "scan_id", resp.ScanID, "error", errs[i], "spool_error", err)
			msg += " (not spooled: " + err.Error() + ")"
		}
		failures = append(failures, Error{Message: msg, PluginName: lp.name})
	}
	resp.Errors = append(resp.Errors, failures...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
