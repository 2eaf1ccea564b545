// Package redis scales stoq out on Redis Streams: many `stoq run -P redis`
// processes, on one machine or many, share the tasks of one stream through
// a consumer group. One type of three classes, plus a command:
//
//   - Provider: Ingest reads tasks from stream as consumer of group
//     (XREADGROUP, batch at a time, block_ms per wait), creating the group
//     from the start of the stream when it is missing (so tasks queued
//     before any worker started are scanned). A task is acknowledged (XACK,
//     and deleted with delete_acked) only once the engine reports that
//     every connector saved its response or the result spool took it
//     (core.Task.Done). Tasks idle on a consumer for claim_idle_ms are
//     claimed by live workers (XAUTOCLAIM); a worker refreshes the tasks it
//     holds every third of that (XCLAIM JUSTID), so only the tasks of dead
//     or stuck workers are claimed. A task delivered max_deliveries times
//     without being finished goes to dead_letter_stream and is
//     acknowledged. A task's scan_id derives from its stream entry id, so a
//     task scanned twice produces the same document.
//   - Connector: Save appends each response to results_stream (fields
//     scan_id and response), trimmed to about maxlen entries.
//   - Archiver: Archive stores a payload under stoq:payload:SHA256 with
//     payload_ttl; Get loads it back from {"sha256": …}.
//   - `stoq submit FILE|DIR|-` queues files as tasks, payloads over
//     max_inline bytes by reference (submit.go).
//
// A task is one stream entry (task.go has the details): content (the
// payload's bytes) or archived (JSON: a source archiver's name → its task,
// {"redis": {"sha256": …}} for this plugin's own archive), and optional
// payload_meta and request_meta (JSON, stoQ's keys).
//
// Decisions where the issue left room:
//
//   - A malformed task produces no response and goes to the dead-letter
//     stream at once. A task whose payload cannot be loaded (its reference
//     expired or was never stored) is recorded in a response holding the
//     Error at each delivery (the same scan_id each time), as the engine
//     records a source archiver's failure, and is dead-lettered after
//     max_deliveries (it may be a payload still being stored). The
//     dead-letter entry says why.
//   - A task {"redis": …} is loaded by the plugin itself, so `stoq run
//     -P redis` alone scans both kinds: when a scanner takes it
//     (core.Task.Open, so the engine's queue holds references, and
//     max_payload_size is checked before reading), or when the provider
//     reads it if it has a request_meta (Task.Open carries none). A task
//     naming any other source archiver is handed to the engine, which
//     loads it through that archiver when it is given with -S.
//   - delete_acked (default on) keeps the task stream as long as the work
//     left, since trimming a task stream by length could drop tasks no one
//     has read; turn it off when another group reads the same stream.
//   - scan_id is a UUID (version 5) of the stream name and the entry id:
//     stable across deliveries, distinct across streams.
package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stoq-go/stoq/core/v3"
)

//go:embed redis.stoq
var manifest []byte

func init() {
	core.Register("redis", manifest, New)
	core.RegisterCommand(submitCommand)
	redis.SetLogger(quietRedis{})
}

// payloadKeyPrefix prefixes the key of an archived payload: the rest is the
// lowercase hex sha256 of its content.
const payloadKeyPrefix = "stoq:payload:"

// maxRedisValue is the largest string Redis stores (proto-max-bulk-len's
// default): larger payloads cannot be archived or queued inline.
const maxRedisValue = 512 << 20

// Plugin is a configured redis plugin. It is safe for concurrent use; one
// instance may be provider, connector and archiver of a run at once.
type Plugin struct {
	log    *slog.Logger
	client *redis.Client
	where  string // the server, without credentials, for messages

	// Provider.
	stream, group, consumer string
	batch                   int
	block, claimIdle        time.Duration
	maxDeliveries           int
	deadLetterStream        string
	deleteAcked             bool

	// Connector.
	resultsStream string
	maxLen        int64

	// Archiver and stoq submit.
	payloadTTL time.Duration
	maxInline  int

	held      heldTasks   // the tasks this worker holds (read, not yet finished)
	acks      chan string // finished tasks, for the acknowledger
	stats     counters
	ingesting atomic.Bool

	closeOnce sync.Once
	closing   chan struct{}  // closed by Close: stops the refresher and the acknowledger
	refresher sync.WaitGroup // the refresher and the acknowledger
}

// counters are what Metrics reports.
type counters struct {
	pending      atomic.Int64 // the group's pending entries, as last seen
	claimed      atomic.Int64
	deadLettered atomic.Int64
	acked        atomic.Int64
}

// New builds a redis plugin from its options (see redis.stoq). It does not
// connect: the first command does, and HealthCheck tells whether the server
// answers.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	url := strings.TrimSpace(cfg.String("redis_url", "redis://127.0.0.1:6379/0"))
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, &core.OptionError{Plugin: cfg.Name(), Option: "redis_url", Value: redactURL(url), Source: cfg.Source("redis_url"),
			Want: "want redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (rediss:// for TLS, unix:///PATH): " + strings.ReplaceAll(err.Error(), url, redactURL(url))}
	}
	// Redis 7.0 (Debian 12's) has no CLIENT SETINFO; without this go-redis
	// sends it on every connection and logs the refusal.
	opts.DisableIdentity = true
	// Maintenance notifications are a Redis Cloud feature a plain server
	// refuses.
	if opts.MaintNotificationsConfig == nil {
		opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
	p := &Plugin{
		log:              log,
		where:            opts.Network + " " + opts.Addr,
		stream:           strings.TrimSpace(cfg.String("stream", "stoq:tasks")),
		group:            strings.TrimSpace(cfg.String("group", "stoq")),
		consumer:         strings.TrimSpace(cfg.String("consumer", "")),
		deadLetterStream: strings.TrimSpace(cfg.String("dead_letter_stream", "stoq:tasks:dead")),
		resultsStream:    strings.TrimSpace(cfg.String("results_stream", "stoq:results")),
		closing:          make(chan struct{}),
		acks:             make(chan string, 4096),
	}
	for key, v := range map[string]string{"stream": p.stream, "group": p.group, "dead_letter_stream": p.deadLetterStream, "results_stream": p.resultsStream} {
		if v == "" {
			return nil, cfg.OptionError(key, "want a Redis key name")
		}
	}
	if p.deadLetterStream == p.stream {
		return nil, cfg.OptionError("dead_letter_stream", "want a stream other than the task stream "+p.stream)
	}
	if p.consumer == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "stoq"
		}
		p.consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if p.batch, err = intOption(cfg, "batch", 10, 1, 10_000); err != nil {
		return nil, err
	}
	blockMS, err := intOption(cfg, "block_ms", 5000, 1, 3_600_000)
	if err != nil {
		return nil, err
	}
	p.block = time.Duration(blockMS) * time.Millisecond
	claimMS, err := intOption(cfg, "claim_idle_ms", 60000, 1, 86_400_000)
	if err != nil {
		return nil, err
	}
	p.claimIdle = time.Duration(claimMS) * time.Millisecond
	if p.maxDeliveries, err = intOption(cfg, "max_deliveries", 3, 1, 1_000_000); err != nil {
		return nil, err
	}
	if p.deleteAcked, err = cfg.Bool("delete_acked", true); err != nil {
		return nil, err
	}
	maxLen, err := intOption(cfg, "maxlen", 100000, 0, 1<<40)
	if err != nil {
		return nil, err
	}
	p.maxLen = int64(maxLen)
	ttl, err := intOption(cfg, "payload_ttl", 604800, 0, 1<<31)
	if err != nil {
		return nil, err
	}
	p.payloadTTL = time.Duration(ttl) * time.Second
	if p.maxInline, err = intOption(cfg, "max_inline", 65536, 0, maxRedisValue); err != nil {
		return nil, err
	}
	p.client = redis.NewClient(opts)
	return p, nil
}

// intOption reads an integer option in [lo, hi].
func intOption(cfg *core.Config, key string, def, lo, hi int) (int, error) {
	n, err := cfg.Int(key, def)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, cfg.OptionError(key, fmt.Sprintf("want an integer from %d to %d", lo, hi))
	}
	return n, nil
}

// redactURL hides the password of a Redis URL, for messages.
func redactURL(raw string) string {
	if u, err := neturl.Parse(raw); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = neturl.UserPassword(u.User.Username(), "REDACTED")
			return u.String()
		}
		return raw
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		if scheme := strings.Index(raw, "://"); scheme >= 0 && scheme < at {
			return raw[:scheme+3] + "REDACTED" + raw[at:]
		}
	}
	return raw
}

// quietRedis drops go-redis's own log lines (a failed dial, a pool
// warning): every failure also reaches the plugin as a command's error,
// which the plugin logs with what it was doing. go-redis has one logger
// per process; this plugin sets it when it is linked in.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// HealthCheck pings the server.
func (p *Plugin) HealthCheck(ctx context.Context) error {
	if err := p.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", p.where, err)
	}
	return nil
}

// Metrics reports the provider's counters, with the stream and group as
// labels: stoq_redis_pending (the group's pending entries, refreshed at
// every claim round), stoq_redis_claimed_total,
// stoq_redis_dead_lettered_total and stoq_redis_acknowledged_total (this
// worker's).
func (p *Plugin) Metrics() []core.Metric {
	if !p.ingesting.Load() {
		return nil // a connector or archiver only: no provider state
	}
	labels := map[string]string{"stream": p.stream, "group": p.group}
	return []core.Metric{
		{Name: "stoq_redis_pending", Help: "Entries of the consumer group delivered and not yet acknowledged, all consumers together.", Kind: core.Gauge, Labels: labels, Value: float64(p.stats.pending.Load())},
		{Name: "stoq_redis_claimed_total", Help: "Tasks this worker claimed from consumers idle longer than claim_idle_ms.", Kind: core.Counter, Labels: labels, Value: float64(p.stats.claimed.Load())},
		{Name: "stoq_redis_dead_lettered_total", Help: "Tasks this worker moved to the dead-letter stream.", Kind: core.Counter, Labels: labels, Value: float64(p.stats.deadLettered.Load())},
		{Name: "stoq_redis_acknowledged_total", Help: "Tasks this worker acknowledged once their results were saved.", Kind: core.Counter, Labels: labels, Value: float64(p.stats.acked.Load())},
	}
}

// Close acknowledges the tasks finished last, stops refreshing the tasks
// held, removes this worker's consumer
// from the group when it holds nothing (so groups do not collect the names
// of finished processes), and closes the connections.
func (p *Plugin) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.closing)
		p.refresher.Wait()
		if p.ingesting.Load() {
			err = p.leaveGroup()
		}
		err = errors.Join(err, p.client.Close())
	})
	return err
}

// Interface guards: redis is a Provider, a Connector and an Archiver (dest
// and source), and reports health and metrics.
var (
	_ core.Provider        = (*Plugin)(nil)
	_ core.Connector       = (*Plugin)(nil)
	_ core.Archiver        = (*Plugin)(nil)
	_ core.SourceArchiver  = (*Plugin)(nil)
	_ core.Closer          = (*Plugin)(nil)
	_ core.HealthChecker   = (*Plugin)(nil)
	_ core.MetricsReporter = (*Plugin)(nil)
)
