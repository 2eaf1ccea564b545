// Package elasticsearch is stoq's Elasticsearch connector: it saves every
// finished scan (a core.StoqResponse) as a document of an Elasticsearch
// index, through the official client's bulk indexer, and never drops a
// result silently.
//
// # Documents and indices
//
// A scan is one document, whose source is the response's JSON exactly as
// stoq prints it, in the index es_index ("stoq"), or es_index-YYYY-MM
// ("stoq-2026-11") with index_by_month, the month being the one of the
// response's time (not the time of saving, so a retry lands in the same
// index). Its id is the scan id.
//
// With split, each worker's results on each payload become a document of
// their own (core.StoqResponse.Split), in es_index-WORKER, with the month
// last when index_by_month: stoq-hash-2026-11, so that stoq-hash-* holds
// every month of one worker and stoq-* everything. The id is the hex SHA-1
// of scan id, payload id and worker name. A response without any worker
// result is saved whole, in the index of whole scans (es_index, with the
// month when index_by_month), so that its errors are not lost.
//
// # Index template
//
// With manage_template (the default), New installs the composable index
// template stoq-<es_index> for the patterns <es_index> and <es_index>-*
// before any document is sent: stoq's fixed keys mapped field by field,
// the free-form results of workers, archivers and decorators and the
// extra_data of payloads and requests each one flattened field (every leaf
// indexed as a keyword under its dotted path, whatever its type, with no
// field added per key), values over 8,191 characters kept in _source but
// not indexed, and every other field not indexed (dynamic false). So no
// result can conflict with another, grow the mapping or become a date.
// The template has a version: a lower one (or none) on the cluster is
// replaced, an equal or higher one left alone. See template.go. A
// document holding a key a flattened field refuses (NUL, or too long for
// Lucene's term limit) has those keys rewritten and an Error added, so
// that it is indexed rather than rejected (keyguard.go).
//
// Documents are written with the bulk "create" action and their explicit id:
// sending a document twice (a retry after a timeout whose request had in
// fact succeeded, a spooled document re-sent) never duplicates it, and
// Elasticsearch's answer 409 (the document exists) counts as saved.
//
// # Delivery
//
// Save marshals the documents and hands them to the bulk indexer, which
// sends them in the background (every flush_interval, or sooner when
// flush_bytes are waiting); Save returns once they are queued, or, when the
// cluster is known to be unreachable or the queue stays full until Save's
// deadline, once they are written to the spool folder. It returns an error
// only when a document can be neither queued nor spooled, when the response
// does not marshal, or after Close: a nil error means the result is either
// on its way or on disk.
//
// Whole requests answered 429, 500, 502, 503 or 504, and network errors,
// are retried by the client (es_max_retries times, exponential backoff from
// es_retry_backoff); documents the cluster refuses one by one with 429 or a
// 5xx are queued again, with the same backoff and the same limit. What
// still fails is written to spool_dir, one file per document (written to a
// temporary file, synced, then renamed), and re-sent every
// spool_retry_interval, at the next start and at Close; so do documents
// refused with 401, 403 or 404, settings an administrator can fix. A
// network or TLS error, or a whole request refused with 401 or 403, marks
// the cluster down: Save then spools directly until the cluster answers
// again. Documents refused for good (400 mapping or parse errors,
// 413, 422) go to spool_dir/rejected with the error text, are logged at
// error level and are not re-sent.
//
// Close stops accepting documents, flushes the indexer, then re-sends the
// spool folder (so that a short run, a single stoq scan, delivers what an
// earlier run left), all within es_timeout; whatever is still
// unacknowledged then is spooled. After Close returns, every document Save
// accepted is either acknowledged by Elasticsearch or in the spool folder.
//
// # Errors
//
// Failures say what happened (clustererror.go): a 401 names the user or
// API key id the cluster refused, a 403 the user it refused the request
// for, a TLS failure the host and the usual fix, a network error the host;
// a password is never shown. Refused credentials at start fail New.
package elasticsearch

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed elasticsearch.stoq
var manifest []byte

func init() { core.Register("elasticsearch", manifest, New) }

// options are the plugin's settings, read once by New.
type options struct {
	hosts          []string
	username       string
	password       string
	apiKey         string
	caCert         string
	index          string
	indexByMonth   bool
	manageTemplate bool
	timeout        time.Duration
	maxRetries     int
	retry          bool
	retryBackoff   time.Duration
	split          bool
	spoolDir       string
	spoolInterval  time.Duration
	flushInterval  time.Duration
	flushBytes     int
}

// maxBackoff caps the exponential backoff between two attempts.
const maxBackoff = 30 * time.Second

func readOptions(cfg *core.Config) (*options, error) {
	o := &options{
		username: cfg.String("es_username", ""),
		password: cfg.String("es_password", ""),
		apiKey:   strings.TrimSpace(cfg.String("es_api_key", "")),
		caCert:   cfg.Path("es_ca_cert", ""),
		index:    strings.TrimSpace(cfg.String("es_index", "stoq")),
		spoolDir: cfg.Path("spool_dir", ""),
	}
	var err error
	if o.hosts, err = readHosts(cfg); err != nil {
		return nil, err
	}
	if o.indexByMonth, err = cfg.Bool("index_by_month", true); err != nil {
		return nil, err
	}
	if o.split, err = cfg.Bool("split", false); err != nil {
		return nil, err
	}
	if o.manageTemplate, err = cfg.Bool("manage_template", true); err != nil {
		return nil, err
	}
	if o.retry, err = cfg.Bool("es_retry", true); err != nil {
		return nil, err
	}
	if o.maxRetries, err = cfg.Int("es_max_retries", 10); err != nil {
		return nil, err
	}
	if o.maxRetries < 0 {
		return nil, cfg.OptionError("es_max_retries", "want 0 or more")
	}
	if o.flushBytes, err = cfg.Int("flush_bytes", 5000000); err != nil {
		return nil, err
	}
	if o.flushBytes < 1 {
		return nil, cfg.OptionError("flush_bytes", "want a positive number of bytes")
	}
	for _, d := range []struct {
		key      string
		def      time.Duration
		dst      *time.Duration
		zeroOK   bool
		wantText string
	}{
		{"es_timeout", 60 * time.Second, &o.timeout, false, "want a positive number of seconds"},
		{"es_retry_backoff", 500 * time.Millisecond, &o.retryBackoff, true, "want 0 or more seconds"},
		{"spool_retry_interval", 30 * time.Second, &o.spoolInterval, false, "want a positive number of seconds"},
		{"flush_interval", 5 * time.Second, &o.flushInterval, false, "want a positive number of seconds"},
	} {
		if *d.dst, err = cfg.Duration(d.key, d.def); err != nil {
			return nil, err
		}
		if *d.dst <= 0 && !d.zeroOK {
			return nil, cfg.OptionError(d.key, d.wantText)
		}
	}
	if err := checkIndexName(o.index, o.split, o.indexByMonth); err != nil {
		return nil, cfg.OptionError("es_index", err.Error())
	}
	if o.spoolDir == "" {
		if o.spoolDir, err = defaultSpoolDir(); err != nil {
			return nil, cfg.OptionError("spool_dir", err.Error())
		}
	}
	return o, nil
}

// readHosts parses es_host: http or https URLs, comma separated. Errors show
// the URL without its password.
func readHosts(cfg *core.Config) ([]string, error) {
	hosts := cfg.List("es_host", []string{"http://localhost:9200"})
	if len(hosts) == 0 {
		return nil, cfg.OptionError("es_host", "want one or more URLs such as http://localhost:9200")
	}
	for _, h := range hosts {
		u, err := url.Parse(h)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, &core.OptionError{Plugin: cfg.Name(), Option: "es_host", Value: redactURL(h),
				Source: cfg.Source("es_host"), Want: "want http:// or https:// URLs, comma separated"}
		}
	}
	return hosts, nil
}

// redactURL hides the password of a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "…@" + s[i+1:]
		}
		return s
	}
	return u.Redacted()
}

// defaultSpoolDir is $STOQ_HOME/spool/elasticsearch, or the user cache
// folder's stoq/elasticsearch-spool when STOQ_HOME is not set.
func defaultSpoolDir() (string, error) {
	if home := os.Getenv("STOQ_HOME"); home != "" {
		return filepath.Join(home, "spool", "elasticsearch"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no default spool folder (%v): set spool_dir or STOQ_HOME", err)
	}
	return filepath.Join(cache, "stoq", "elasticsearch-spool"), nil
}

// Plugin is the Elasticsearch connector.
type Plugin struct {
	opts     *options
	log      *slog.Logger
	client   *elasticsearch.Client
	indexer  esutil.BulkIndexer
	spool    *spool
	inFlight *tracker
	template templateGate
	// flushFailures describes, by error value, the whole bulk requests
	// failing right now (see noteFlushError).
	flushFailures sync.Map

	// life guards closed: Save and the re-sender add to the indexer under
	// its read lock, Close sets closed under its write lock.
	life   sync.RWMutex
	closed bool

	// Documents refused with 429 or 5xx wait for their backoff in retry
	// goroutines, counted by sleeping; once closing is set, failures are
	// spooled at once instead.
	retryMu      sync.Mutex
	closing      bool
	sleeping     int
	noneSleeping chan struct{} // closed while sleeping is 0
	readded      atomic.Int64  // retries queued again so far

	// down is set when the cluster cannot be reached: Save then spools
	// directly until the re-sender's probe or a success clears it.
	downMu    sync.Mutex
	down      atomic.Bool
	downCause atomic.Pointer[clusterError]
	upCtx     context.Context // cancelled when the cluster goes down
	upCancel  context.CancelFunc

	// flushCtx is the context of every bulk request; Close cancels it when
	// es_timeout has passed, so that the last requests give up.
	flushCtx   context.Context
	abortFlush context.CancelFunc
	resendCtx  context.Context
	stopResend context.CancelFunc
	resendNow  chan struct{}
	resendDone chan struct{}
	started    atomic.Bool // New has returned the connector
	stopping   atomic.Bool // Close has begun: network errors are not retried
	finished   atomic.Bool // Close has returned: late callbacks do nothing
	closeOnce  sync.Once
	closeErr   error
	stats      stats
}

// stats count what happened to documents, for the log line of Close.
type stats struct {
	indexed, spooled, rejected, requeued atomic.Int64
}

// New builds the connector: it checks the options, reads the CA
// certificate, prepares the spool folder (re-sending what an earlier run
// left in it, in the background), starts the bulk indexer and, with
// manage_template, installs the index template. A cluster that is down at
// start only means that results are spooled (the template is installed
// before the first document is sent); a cluster that refuses the
// credentials (401) stops New with an error naming the user.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	o, err := readOptions(cfg)
	if err != nil {
		return nil, err
	}
	sp, err := openSpool(o.spoolDir)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: spool_dir: %w", cfg.Name(), err)
	}
	p := &Plugin{
		opts:         o,
		log:          log,
		spool:        sp,
		inFlight:     newTracker(),
		noneSleeping: closedChan(),
		resendNow:    make(chan struct{}, 1),
		resendDone:   make(chan struct{}),
	}
	p.upCtx, p.upCancel = context.WithCancel(context.Background())
	p.flushCtx, p.abortFlush = context.WithCancel(context.Background())
	p.resendCtx, p.stopResend = context.WithCancel(context.Background())

	cancelAll := func() { p.upCancel(); p.abortFlush(); p.stopResend() }
	if p.client, err = newClient(o, p.retryOnError); err != nil {
		cancelAll()
		return nil, fmt.Errorf("plugin %s: %w", cfg.Name(), err)
	}
	p.indexer, err = esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:        p.client,
		FlushBytes:    o.flushBytes,
		FlushInterval: o.flushInterval,
		// Only what the callbacks read: a smaller answer to decode.
		FilterPath:   []string{"errors", "items.*.status", "items.*.error"},
		OnFlushStart: p.flushStart,
		OnFlushEnd:   p.flushEnd,
		OnError:      p.noteFlushError,
	})
	if err != nil {
		cancelAll()
		_ = p.client.Close(context.Background())
		return nil, fmt.Errorf("plugin %s: bulk indexer: %w", cfg.Name(), err)
	}

	if err := p.startTemplate(); err != nil {
		cancelAll()
		_ = p.indexer.Close(context.Background())
		_ = p.client.Close(context.Background())
		return nil, fmt.Errorf("plugin %s: %w", cfg.Name(), err)
	}

	waiting, rejected := sp.counts()
	log.Debug("elasticsearch connector ready", "hosts", redactedHosts(o.hosts), "index", o.index,
		"index_by_month", o.indexByMonth, "split", o.split, "spool_dir", o.spoolDir)
	if waiting > 0 {
		log.Info("re-sending documents spooled by an earlier run", "count", waiting, "spool_dir", o.spoolDir)
	}
	if rejected > 0 {
		log.Warn("documents Elasticsearch rejected wait in the spool; fix and move them back to re-send them",
			"count", rejected, "folder", sp.rejectedDir)
	}
	p.started.Store(true)
	go p.resendLoop()
	return p, nil
}

// startTemplate settles the index template at start. Only refused
// credentials are an error: the run cannot save anything, and saying so
// now beats spooling every result.
func (p *Plugin) startTemplate() error {
	if !p.opts.manageTemplate {
		p.template.settled = true
		return nil
	}
	err := p.ensureTemplate(context.Background())
	var ce *clusterError
	if errors.As(err, &ce) && ce.kind == credentialsRefused {
		return ce
	}
	if err != nil {
		p.log.Debug("index template not installed at start; it will be before the first document is sent", "error", err)
	}
	return nil
}

func redactedHosts(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = redactURL(h)
	}
	return out
}

// errClosed is returned by Save after Close.
var errClosed = errors.New("elasticsearch connector is closed")

// Save queues the response's documents for the bulk indexer, or spools them
// when the cluster is down or the queue stays full until ctx is done. A nil
// error means every document is queued or safely on disk.
func (p *Plugin) Save(ctx context.Context, response *core.StoqResponse) error {
	if response == nil {
		return errors.New("elasticsearch: nil response")
	}
	docs, err := p.documents(response)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range docs {
		if err := p.submit(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// submit queues one document, or spools it. No document is queued before
// the index template is settled, so that no index is created without it.
func (p *Plugin) submit(ctx context.Context, d *document) error {
	if !p.template.isSettled() && !p.isDown() && !p.isClosed() {
		if err := p.ensureTemplate(ctx); err != nil {
			return p.spoolNow(d, err.Error())
		}
	}
	p.life.RLock()
	if p.closed {
		p.life.RUnlock()
		return errClosed
	}
	if p.isDown() {
		p.life.RUnlock()
		return p.spoolNow(d, p.downReason())
	}
	if !p.template.isSettled() {
		p.life.RUnlock()
		return p.spoolNow(d, "the index template is not installed yet")
	}
	// Stop waiting for room in the queue when the cluster goes down.
	addCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.currentUpCtx(), cancel)
	p.inFlight.add(d)
	err := p.indexer.Add(addCtx, p.item(d))
	stop()
	cancel()
	p.life.RUnlock()
	if err == nil {
		return nil
	}
	p.inFlight.remove(d)
	reason := "the bulk indexer's queue stayed full: " + err.Error()
	if p.isDown() {
		reason = p.downReason()
	}
	return p.spoolNow(d, reason)
}

// spoolNow writes d to the spool for the caller of Save.
func (p *Plugin) spoolNow(d *document, reason string) error {
	if _, err := p.spool.put(d, reason); err != nil {
		p.log.Error("result lost: cannot spool it", "index", d.index, "id", d.id, "error", err)
		return fmt.Errorf("elasticsearch: document %s for %s could not be queued (%s) nor spooled: %w", d.id, d.index, reason, err)
	}
	p.stats.spooled.Add(1)
	p.log.Debug("document spooled", "index", d.index, "id", d.id, "reason", reason)
	return nil
}

// HealthCheck asks the cluster for its info, once (a network error is not
// retried). The error says what failed: the network, TLS, the credentials
// (naming the user, never the password) or the cluster's answer. A 403
// (a user who may write documents but not read cluster information) is
// healthy.
func (p *Plugin) HealthCheck(ctx context.Context) error {
	if p.finished.Load() {
		return errClosed
	}
	if ce := p.probe(ctx); ce != nil {
		return ce
	}
	return nil
}

func (p *Plugin) isClosed() bool {
	p.life.RLock()
	defer p.life.RUnlock()
	return p.closed
}

// Close stops accepting documents, stops the re-sender, sends what waits in
// the indexer and in retries, waits for the answers at most es_timeout, and
// spools whatever is still unacknowledged then. Calling it again does
// nothing.
func (p *Plugin) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.close() })
	return p.closeErr
}

func (p *Plugin) close() error {
	// Past es_timeout, bulk requests in flight give up and their documents
	// are spooled.
	closeCtx, cancel := context.WithTimeout(context.Background(), p.opts.timeout)
	defer cancel()
	stopAbort := context.AfterFunc(closeCtx, p.abortFlush)
	defer stopAbort()

	p.stopping.Store(true)
	// No new documents from Save; waits for Saves adding right now.
	p.life.Lock()
	p.closed = true
	p.life.Unlock()

	p.stopResend()
	<-p.resendDone

	downBefore := p.isDown()
	p.flushUntilNoRetry(closeCtx)
	// What waits in the spool (left by an earlier run, or spooled by this
	// one while the cluster was down) is re-sent now, within what is left
	// of es_timeout: a short run, a single `stoq scan`, would otherwise end
	// before the background re-sender got to it. A cluster that failed the
	// flush just now is not asked again; one marked down earlier is asked
	// once whether it is back.
	if closeCtx.Err() == nil && (downBefore || !p.isDown()) {
		if n := p.resendSpool(closeCtx, true); n > 0 {
			p.log.Debug("re-sent spooled documents at close", "count", n)
		}
	}
	// From now on failures are spooled at once; retries still waiting (the
	// deadline passed) spool their document.
	p.retryMu.Lock()
	p.closing = true
	p.retryMu.Unlock()
	p.waitRetries(context.Background())

	if err := p.indexer.Close(closeCtx); err != nil {
		p.log.Warn("Elasticsearch did not answer in time at close; spooling the documents still in flight",
			"timeout", p.opts.timeout, "in_flight", p.inFlight.len())
		p.abortFlush()
		grace, cancelGrace := context.WithTimeout(context.Background(), 5*time.Second)
		p.inFlight.waitIdle(grace)
		cancelGrace()
	}
	var errs []error
	for _, d := range p.inFlight.drain() {
		if d.spoolFile != "" {
			continue // still in the spool
		}
		if _, serr := p.spool.put(d, "unacknowledged when the connector closed"); serr != nil {
			p.log.Error("result lost: cannot spool it", "index", d.index, "id", d.id, "error", serr)
			errs = append(errs, fmt.Errorf("spooling document %s at close: %w", d.id, serr))
			continue
		}
		p.stats.spooled.Add(1)
	}
	p.finished.Store(true)
	p.abortFlush()
	p.upCancel()
	if cerr := p.client.Close(context.Background()); cerr != nil && !errors.Is(cerr, elasticsearch.ErrAlreadyClosed) {
		errs = append(errs, cerr)
	}
	waiting, _ := p.spool.counts()
	p.log.Info("elasticsearch connector closed", "indexed", p.stats.indexed.Load(),
		"spooled", p.stats.spooled.Load(), "rejected", p.stats.rejected.Load(),
		"requeued", p.stats.requeued.Load(), "spool_waiting", waiting)
	return errors.Join(errs...)
}

// flushUntilNoRetry flushes the indexer until no document waits for a
// retry: each flush may refuse some with 429 or 5xx, queued again after
// their backoff.
func (p *Plugin) flushUntilNoRetry(ctx context.Context) {
	for ctx.Err() == nil {
		before := p.readded.Load()
		if err := p.indexer.Flush(ctx); err != nil {
			return
		}
		if !p.waitRetries(ctx) || p.readded.Load() == before {
			return
		}
	}
}

var (
	_ core.Connector     = (*Plugin)(nil)
	_ core.Closer        = (*Plugin)(nil)
	_ core.HealthChecker = (*Plugin)(nil)
)
