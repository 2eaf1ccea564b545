package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// This file follows a document after Save: the bulk indexer's answers,
// retries of documents refused with 429 or 5xx, spooling, the cluster's
// up/down state and the re-sender of spooled documents.

// item is the bulk indexer item of d: a create with an explicit id.
func (p *Plugin) item(d *document) esutil.BulkIndexerItem {
	return esutil.BulkIndexerItem{
		Index:      d.index,
		Action:     "create",
		DocumentID: d.id,
		Body:       bytes.NewReader(d.body),
		OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) {
			p.delivered(d)
		},
		OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
			p.failed(d, res, err)
		},
	}
}

// delivered handles a document Elasticsearch acknowledged.
func (p *Plugin) delivered(d *document) {
	if p.finished.Load() {
		return
	}
	p.markUp()
	p.stats.indexed.Add(1)
	if d.spoolFile != "" {
		p.spool.remove(d.spoolFile)
	}
	p.inFlight.remove(d)
}

// failed sorts a refused document: already there (409) is success; a whole
// request that failed is spooled; 429 and 5xx are retried, then spooled;
// 400, 413 and 422 are rejected for good; other statuses are spooled.
func (p *Plugin) failed(d *document, res esutil.BulkIndexerResponseItem, err error) {
	if p.finished.Load() {
		return
	}
	switch {
	case err == nil && res.Status == http.StatusConflict:
		// create found the document: an earlier attempt saved it.
		p.delivered(d)
		return
	case err != nil:
		// The whole bulk request failed after the client's retries (or
		// was abandoned at Close's deadline).
		ce := p.flushFailure(err)
		switch {
		case p.flushCtx.Err() != nil:
			p.giveUp(d, "no answer within es_timeout when the connector closed ("+err.Error()+")")
		case ce.kind == statusFailure && ce.status == http.StatusRequestEntityTooLarge:
			// A document larger than the cluster's http.max_content_length
			// is sent alone (it is over flush_bytes): it is at fault.
			p.reject(d, ce.Error())
		default:
			p.markDown(ce)
			p.giveUp(d, ce.Error())
		}
	case retryable(res.Status):
		reason := itemError(res)
		d.attempts++
		if d.spoolFile == "" && p.opts.retry && d.attempts <= p.opts.maxRetries && p.retryLater(d) {
			return
		}
		p.giveUp(d, reason)
	case refusedForGood(res.Status):
		p.reject(d, itemError(res))
	default:
		// 401, 403, 404…: the cluster's settings refuse it, which an
		// administrator can change; the spool re-sends it later.
		p.giveUp(d, itemError(res))
	}
	p.inFlight.remove(d)
}

// retryable reports whether a document refused with status is queued again
// after a backoff: the cluster is busy (429) or failing (5xx).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 || status == 0
}

// refusedForGood reports whether a document refused with status is at fault
// itself (bad for its mapping, unparsable, too large): sending it again
// cannot help, so it goes to the rejected folder.
func refusedForGood(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// itemError describes a bulk item's refusal.
func itemError(res esutil.BulkIndexerResponseItem) string {
	msg := fmt.Sprintf("status %d", res.Status)
	if res.Error.Type != "" {
		msg += ": " + res.Error.Type
	}
	if res.Error.Reason != "" {
		msg += ": " + res.Error.Reason
	}
	if res.Error.Cause.Type != "" || res.Error.Cause.Reason != "" {
		msg += " (caused by " + res.Error.Cause.Type + ": " + res.Error.Cause.Reason + ")"
	}
	return msg
}

// giveUp spools a document that could not be delivered for now; one
// re-sent from the spool stays where it is.
func (p *Plugin) giveUp(d *document, reason string) {
	if d.round != nil {
		d.round.failed.Add(1)
	}
	if d.spoolFile != "" {
		p.log.Debug("spooled document still not delivered", "index", d.index, "id", d.id, "error", reason)
		return
	}
	if _, err := p.spool.put(d, reason); err != nil {
		p.log.Error("result lost: not delivered and cannot be spooled", "index", d.index, "id", d.id,
			"delivery_error", reason, "error", err)
		return
	}
	p.stats.spooled.Add(1)
	level := slog.LevelWarn
	if p.isDown() {
		level = slog.LevelDebug // the outage itself was logged once
	}
	p.log.Log(context.Background(), level, "document spooled to be re-sent", "index", d.index, "id", d.id, "error", reason)
}

// reject keeps a document Elasticsearch refused for good.
func (p *Plugin) reject(d *document, reason string) {
	path, err := p.spool.reject(d, reason)
	if err != nil {
		p.log.Error("result lost: rejected by Elasticsearch and cannot be kept", "index", d.index, "id", d.id,
			"rejection", reason, "error", err)
		return
	}
	p.stats.rejected.Add(1)
	p.log.Error("Elasticsearch rejected a document; it is kept in the spool's rejected folder",
		"index", d.index, "id", d.id, "error", reason, "file", path)
}

// retryLater queues d again after its backoff. It returns false once Close
// has flushed for the last time: the caller spools d.
func (p *Plugin) retryLater(d *document) bool {
	p.retryMu.Lock()
	defer p.retryMu.Unlock()
	if p.closing {
		return false
	}
	if p.sleeping == 0 {
		p.noneSleeping = make(chan struct{})
	}
	p.sleeping++
	p.stats.requeued.Add(1)
	go func() {
		defer p.retryDone()
		timer := time.NewTimer(backoff(p.opts.retryBackoff, d.attempts))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-p.flushCtx.Done():
			// Close's deadline passed.
			p.giveUp(d, "closing before a retry: the cluster refused it "+fmt.Sprint(d.attempts)+" time(s)")
			p.inFlight.remove(d)
			return
		}
		if err := p.indexer.Add(p.flushCtx, p.item(d)); err != nil {
			p.giveUp(d, "queueing a retry: "+err.Error())
			p.inFlight.remove(d)
			return
		}
		p.readded.Add(1)
	}()
	return true
}

func (p *Plugin) retryDone() {
	p.retryMu.Lock()
	defer p.retryMu.Unlock()
	if p.sleeping--; p.sleeping == 0 {
		close(p.noneSleeping)
	}
}

// waitRetries waits until no document waits for its retry; false when ctx
// ended first.
func (p *Plugin) waitRetries(ctx context.Context) bool {
	p.retryMu.Lock()
	idle := p.noneSleeping
	p.retryMu.Unlock()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// flushFailure describes the error of a whole bulk request: the status
// and reason of the cluster's answer (noted by OnError from the request's
// exchange), or the network or TLS error.
func (p *Plugin) flushFailure(err error) *clusterError {
	if ce, ok := p.flushFailures.Load(err); ok {
		return ce.(*clusterError)
	}
	var ce *clusterError
	if errors.As(err, &ce) {
		return ce
	}
	return p.flushNetworkFailure("", err)
}

// flushNetworkFailure describes a bulk request that got no answer: the
// bulk indexer wraps the client's error once, and networkFailure wants the
// client's.
func (p *Plugin) flushNetworkFailure(host string, err error) *clusterError {
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	return p.networkFailure(host, err)
}

// noteFlushError is the bulk indexer's OnError hook, called with the
// flush's context before the failure is reported item by item: it keeps
// the description of err for flushFailure until the flush ends.
func (p *Plugin) noteFlushError(ctx context.Context, err error) {
	x := exchangeOf(ctx)
	if x == nil || err == nil || !reflect.TypeOf(err).Comparable() {
		p.log.Debug("bulk indexer", "error", err)
		return
	}
	host, status, reason := x.snapshot()
	var ce *clusterError
	if status >= 300 {
		ce = p.statusFailure(host, status, reason)
	} else {
		ce = p.flushNetworkFailure(host, err)
	}
	p.flushFailures.Store(err, ce)
	x.mu.Lock()
	x.flushErrs = append(x.flushErrs, err)
	x.mu.Unlock()
	p.log.Debug("bulk request failed", "error", ce.Error())
}

// flushStart gives every bulk request the connector's flush context and an
// exchange to record its answer in.
func (p *Plugin) flushStart(context.Context) context.Context {
	ctx, _ := withExchange(p.flushCtx)
	return ctx
}

// flushEnd forgets what noteFlushError kept for this flush.
func (p *Plugin) flushEnd(ctx context.Context) {
	x := exchangeOf(ctx)
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, err := range x.flushErrs {
		p.flushFailures.Delete(err)
	}
	x.flushErrs = nil
}

// retryOnError is the client's hook for network errors: the cluster is
// marked down (Save spools from then on) and the request retried, unless
// it was cancelled, the connector is closing, or the TLS handshake failed
// (a certificate does not become trusted a second later).
func (p *Plugin) retryOnError(req *http.Request, err error) bool {
	if req.Context().Err() != nil {
		return false
	}
	ce := p.networkFailure(req.URL.Host, err)
	p.markDown(ce)
	if ce.kind == tlsFailure || req.Context().Value(noRetryKey{}) != nil {
		return false
	}
	// Closing: spool rather than wait on a cluster that cannot be reached.
	return !p.stopping.Load()
}

// probe asks the cluster for its info, once. Any answer but 401 and 5xx
// counts as reachable: a user allowed to write documents but not to read
// cluster information gets 403 here, and may still save results.
func (p *Plugin) probe(ctx context.Context) *clusterError {
	res, ce := p.ownRequest(context.WithValue(ctx, noRetryKey{}, true), func(ctx context.Context) (*esapi.Response, error) {
		return p.client.Info(p.client.Info.WithContext(ctx))
	}, http.StatusForbidden)
	if ce != nil {
		return ce
	}
	res.Body.Close()
	return nil
}

// noRetryKey marks the context of a request whose network errors are not
// retried: a health check answers now, not after the whole backoff.
type noRetryKey struct{}

func (p *Plugin) isDown() bool { return p.down.Load() }

// downReason says why documents are spooled while the cluster is down.
func (p *Plugin) downReason() string {
	if ce := p.downCause.Load(); ce != nil {
		return ce.Error()
	}
	return "Elasticsearch could not take documents"
}

func (p *Plugin) currentUpCtx() context.Context {
	p.downMu.Lock()
	defer p.downMu.Unlock()
	return p.upCtx
}

// markDown notes that the cluster cannot take documents (unreachable, TLS
// failing, refusing the credentials or the requests): Saves waiting for
// room in the queue stop waiting and spool, and later Saves spool directly
// until the re-sender's probe or a success clears it.
func (p *Plugin) markDown(ce *clusterError) {
	if p.down.Load() {
		return
	}
	p.downMu.Lock()
	defer p.downMu.Unlock()
	if p.down.Load() {
		return
	}
	p.downCause.Store(ce)
	p.down.Store(true)
	p.upCancel()
	if !p.started.Load() && ce.kind == credentialsRefused {
		p.log.Error("Elasticsearch refused the connector's credentials at start: the connector does not start",
			"error", ce.Error())
		return
	}
	level, msg := slog.LevelError, ""
	switch ce.kind {
	case unreachable:
		level, msg = slog.LevelWarn, "Elasticsearch unreachable: spooling results until it answers"
	case tlsFailure:
		msg = "TLS connection to Elasticsearch failed: spooling results until it succeeds"
	case credentialsRefused:
		msg = "Elasticsearch refused the connector's credentials: spooling results until it accepts them"
	case requestRefused:
		msg = "Elasticsearch refused the connector's request: spooling results until it is allowed"
	case notElasticsearch:
		msg = "the server is not Elasticsearch: spooling results"
	default:
		level, msg = slog.LevelWarn, "Elasticsearch is failing: spooling results until it recovers"
	}
	p.log.Log(context.Background(), level, msg, "error", ce.Error(), "spool_dir", p.opts.spoolDir)
}

// markUp notes that the cluster answered, and wakes the re-sender.
func (p *Plugin) markUp() {
	if !p.down.Load() {
		return
	}
	p.downMu.Lock()
	defer p.downMu.Unlock()
	if !p.down.Load() {
		return
	}
	p.upCtx, p.upCancel = context.WithCancel(context.Background())
	p.down.Store(false)
	p.log.Info("Elasticsearch answers again: re-sending spooled results")
	select {
	case p.resendNow <- struct{}{}:
	default:
	}
}

// resendRound counts the failures of one pass over the spool.
type resendRound struct{ failed atomic.Int64 }

// resendLoop re-sends the spool at start, every spool_retry_interval, and
// when the cluster comes back, until Close.
func (p *Plugin) resendLoop() {
	defer close(p.resendDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-p.resendCtx.Done():
			return
		case <-timer.C:
		case <-p.resendNow:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		p.resendSpool(p.resendCtx, false)
		timer.Reset(p.opts.spoolInterval)
	}
}

// resendSpool sends the spooled documents through the indexer, in batches
// of about flush_bytes, and stops at the first batch that fails: the
// cluster is not ready yet. When the cluster is marked down it is first
// asked for its info. It returns how many documents it handed to the
// indexer. atClose is Close's own pass, made after Save was closed: the
// documents are queued although the connector no longer takes new ones.
func (p *Plugin) resendSpool(ctx context.Context, atClose bool) (queued int) {
	if p.isDown() {
		probeCtx, cancel := context.WithTimeout(ctx, p.opts.timeout)
		ce := p.probe(probeCtx)
		cancel()
		if ctx.Err() != nil {
			return 0 // closing
		}
		if ce != nil {
			p.log.Debug("Elasticsearch still cannot take documents", "error", ce.Error())
			return 0
		}
		p.markUp()
	}
	if err := p.ensureTemplate(ctx); err != nil {
		p.log.Debug("spooled documents wait for the index template", "error", err)
		return 0
	}
	files, err := p.spool.list()
	if err != nil {
		p.log.Error("cannot list the spool folder", "spool_dir", p.opts.spoolDir, "error", err)
		return 0
	}
	round := &resendRound{}
	batch := 0
	flush := func() bool {
		batch = 0
		if err := p.indexer.Flush(ctx); err != nil {
			return false
		}
		return round.failed.Load() == 0
	}
	for _, path := range files {
		if ctx.Err() != nil {
			return queued
		}
		if !p.inFlight.claimFile(path) {
			continue // still on its way from the previous round
		}
		d, err := p.spool.read(path)
		if err != nil {
			p.inFlight.releaseFile(path)
			if qerr := p.spool.quarantine(path); qerr == nil {
				p.log.Error("unreadable spool file moved to the rejected folder", "file", path, "error", err)
			}
			continue
		}
		d.round = round
		if !p.resubmit(ctx, d, atClose) {
			return queued
		}
		queued++
		if batch += len(d.body); batch >= p.opts.flushBytes && !flush() {
			return queued
		}
	}
	if batch > 0 {
		flush()
	}
	return queued
}

// resubmit queues a spooled document; false when the connector is closing
// (unless this is Close's own pass) or the indexer refuses it.
func (p *Plugin) resubmit(ctx context.Context, d *document, atClose bool) bool {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.closed && !atClose {
		p.inFlight.releaseFile(d.spoolFile)
		return false
	}
	p.inFlight.add(d)
	if err := p.indexer.Add(ctx, p.item(d)); err != nil {
		p.inFlight.remove(d)
		return false
	}
	return true
}

// tracker holds the documents handed to the indexer and not answered yet,
// so that Close can spool what the cluster never acknowledged, and the
// spool files being re-sent, so that no round sends one twice at once.
type tracker struct {
	mu    sync.Mutex
	docs  map[*document]struct{}
	files map[string]struct{}
	idle  chan struct{} // closed while docs is empty
}

func newTracker() *tracker {
	t := &tracker{docs: map[*document]struct{}{}, files: map[string]struct{}{}, idle: make(chan struct{})}
	close(t.idle)
	return t
}

func (t *tracker) add(d *document) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.docs) == 0 {
		t.idle = make(chan struct{})
	}
	t.docs[d] = struct{}{}
	if d.spoolFile != "" {
		t.files[d.spoolFile] = struct{}{}
	}
}

func (t *tracker) remove(d *document) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.docs[d]; !ok {
		return
	}
	delete(t.docs, d)
	if d.spoolFile != "" {
		delete(t.files, d.spoolFile)
	}
	if len(t.docs) == 0 {
		close(t.idle)
	}
}

// claimFile reserves a spool file for this round; false when it is already
// on its way.
func (t *tracker) claimFile(path string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, busy := t.files[path]; busy {
		return false
	}
	t.files[path] = struct{}{}
	return true
}

func (t *tracker) releaseFile(path string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.files, path)
}

func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.docs)
}

// waitIdle waits until no document is in flight, or ctx is done.
func (t *tracker) waitIdle(ctx context.Context) {
	t.mu.Lock()
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// drain empties the tracker and returns what was in it.
func (t *tracker) drain() []*document {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*document, 0, len(t.docs))
	for d := range t.docs {
		out = append(out, d)
	}
	if len(t.docs) > 0 {
		close(t.idle)
	}
	t.docs = map[*document]struct{}{}
	t.files = map[string]struct{}{}
	return out
}
