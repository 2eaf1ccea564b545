package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stoq-go/stoq/core/v3"
)

// The provider: a worker of the consumer group. It reads new tasks, claims
// the tasks of dead workers, queues both for the engine, and acknowledges
// or dead-letters each when the engine says it is over. Everything that
// survives a crash is Redis's: the pending entries list of the group is
// the record of the work in progress, delivery counts are Redis's, and a
// task is acknowledged in the same transaction that deletes it.

// heldTasks are the entries this worker took and has not finished: they
// are refreshed so that no live worker claims them.
type heldTasks struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (h *heldTasks) add(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[string]struct{}{}
	}
	h.ids[id] = struct{}{}
}

func (h *heldTasks) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.ids, id)
}

func (h *heldTasks) has(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.ids[id]
	return ok
}

func (h *heldTasks) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}

func (h *heldTasks) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.ids))
	for id := range h.ids {
		out = append(out, id)
	}
	return out
}

// commandTimeout bounds the commands that finish tasks: they run after
// Ingest's context is done, while the run drains.
const commandTimeout = 10 * time.Second

// Ingest reads tasks until ctx is done. It creates the group (from the
// start of the stream) when it is missing, reads new tasks batch at a time,
// claims tasks idle on other consumers for claim_idle_ms, and queues each.
// Once ctx is done it stops reading at once (a read blocked in Redis is
// unblocked), queues what it already read, and returns nil: the engine
// then finishes those tasks, and each is acknowledged as it ends. A lost
// connection is retried every second, logged; only a bad configuration
// makes Ingest fail.
func (p *Plugin) Ingest(ctx context.Context, queue *core.Queue) error {
	if err := p.ensureGroup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if p.ingesting.CompareAndSwap(false, true) {
		p.refresher.Add(2)
		go p.refreshHeld()
		go p.acknowledge()
	}
	// Tasks read are queued even once ctx is done: they are this worker's
	// in Redis until it acknowledges them.
	puts := context.WithoutCancel(ctx)
	var claimer sync.WaitGroup
	claimer.Add(1)
	go func() {
		defer claimer.Done()
		p.claimLoop(ctx, queue, puts)
	}()
	p.readLoop(ctx, queue, puts)
	claimer.Wait()
	return nil
}

// ensureGroup creates the consumer group, reading from the stream's first
// entry, and the stream with it when missing.
func (p *Plugin) ensureGroup(ctx context.Context) error {
	err := p.client.XGroupCreateMkStream(ctx, p.stream, p.group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redis at %s: creating consumer group %s of stream %s: %w", p.where, p.group, p.stream, err)
	}
	return nil
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// readLoop reads new tasks on a connection of its own until ctx is done,
// starting again on a new connection after an error.
func (p *Plugin) readLoop(ctx context.Context, q *core.Queue, puts context.Context) {
	for ctx.Err() == nil {
		err := p.readOn(ctx, q, puts)
		if err == nil || ctx.Err() != nil {
			return
		}
		p.log.Error("reading tasks failed: retrying in 1s", "stream", p.stream, "server", p.where, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// readOn runs XREADGROUP on one connection until ctx is done (nil) or the
// connection fails. When ctx ends, CLIENT UNBLOCK ends the read waiting in
// Redis, so a worker stops within milliseconds, not block_ms.
func (p *Plugin) readOn(ctx context.Context, q *core.Queue, puts context.Context) error {
	conn := p.client.Conn()
	defer conn.Close()
	clientID, err := conn.ClientID(ctx).Result()
	if err != nil {
		return err
	}
	reading := make(chan struct{})
	defer close(reading)
	stopUnblocking := context.AfterFunc(ctx, func() { p.unblock(clientID, reading) })
	defer stopUnblocking()
	args := &redis.XReadGroupArgs{Group: p.group, Consumer: p.consumer, Streams: []string{p.stream, ">"}, Count: int64(p.batch), Block: p.block}
	for ctx.Err() == nil {
		// puts, not ctx: cancelling a command mid-read would drop the
		// tasks Redis just delivered; the unblock ends the wait instead.
		streams, err := conn.XReadGroup(puts, args).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case isNoGroup(err): // the stream or group was deleted
			if err := p.ensureGroup(ctx); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				p.take(puts, q, m.ID, m.Values, 1)
			}
		}
	}
	return nil
}

// unblock ends the read of connection clientID until reading is closed:
// the first CLIENT UNBLOCK may come before the read reaches Redis.
func (p *Plugin) unblock(clientID int64, reading <-chan struct{}) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.client.ClientUnblock(ctx, clientID).Err()
		cancel()
		select {
		case <-reading:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// take queues the task of entry id, delivered deliveries times (this one
// included). A malformed task goes to the dead-letter stream; one whose
// payload cannot be loaded (here, or by the engine through Task.Open) is
// left for another delivery, or dead-lettered when it had its last.
func (p *Plugin) take(ctx context.Context, q *core.Queue, id string, values map[string]any, deliveries int64) {
	t, err := decodeTask(id, values)
	if err != nil {
		p.deadLetter(id, values, deliveries, err.Error())
		return
	}
	task := core.Task{ScanID: scanIDFor(p.stream, id)}
	switch {
	case t.ref != "" && t.requestMeta == nil:
		// Loaded when a scanner takes it (core.Task.Open): the queue holds
		// references, not payloads.
		ref, meta := t.ref, t.payloadMeta
		task.Open = func(ctx context.Context, maxSize int64) (*core.Payload, func(), error) {
			payload, err := p.loadAtMost(ctx, ref, meta, maxSize)
			return payload, nil, err
		}
	case t.ref != "":
		// Task.Open carries no request meta: a reference with its own is
		// loaded now.
		payload, err := p.load(ctx, t.ref, t.payloadMeta)
		if err != nil {
			p.failed(id, values, deliveries, err)
			return
		}
		task.Request = core.NewRequest([]*core.Payload{payload}, t.requestMeta)
	case t.archived != nil:
		task.Archived = t.archived
	default:
		task.Request = core.NewRequest([]*core.Payload{core.NewPayload(t.content, t.payloadMeta)}, t.requestMeta)
	}
	task.Done = func(err error) {
		p.held.remove(id)
		if err != nil {
			p.failed(id, values, deliveries, err)
			return
		}
		p.ack(id)
	}
	p.held.add(id)
	if err := q.Put(ctx, task); err != nil {
		p.held.remove(id)
		p.log.Warn("task not queued: it will be delivered again", "id", id, "error", err)
	}
}

// failed handles a task that could not be finished: dead-lettered on its
// last delivery, else left pending, to be claimed after claim_idle_ms.
func (p *Plugin) failed(id string, values map[string]any, deliveries int64, err error) {
	if deliveries >= int64(p.maxDeliveries) {
		p.deadLetter(id, values, deliveries, err.Error())
		return
	}
	p.log.Warn("task failed: it will be delivered again", "id", id, "deliveries", deliveries, "max_deliveries", p.maxDeliveries, "error", err)
}

// ack hands a finished task to the acknowledger.
func (p *Plugin) ack(id string) { p.acks <- id }

// acknowledge acknowledges the finished tasks as they come, in batches of
// what has arrived since the last one (up to 1,000): XACK of the batch
// and, with delete_acked, XDEL of it, in one transaction. Batching keeps a
// round trip to Redis off every scan; it adds no wait, since a batch is
// sent as soon as the previous one returned. When Redis cannot be reached
// the tasks stay pending: they are delivered and scanned again, with the
// same scan_id. It runs until Close, then acknowledges what is left.
func (p *Plugin) acknowledge() {
	defer p.refresher.Done()
	batch := make([]string, 0, 1000)
	for {
		select {
		case id := <-p.acks:
			batch = append(batch, id)
		case <-p.closing:
			for drained := false; !drained; {
				select {
				case id := <-p.acks:
					batch = append(batch, id)
				default:
					drained = true
				}
			}
			p.ackBatch(batch)
			return
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case id := <-p.acks:
				batch = append(batch, id)
			default:
				break fill
			}
		}
		p.ackBatch(batch)
		batch = batch[:0]
	}
}

// ackBatch acknowledges (and deletes) the tasks of ids in one transaction.
func (p *Plugin) ackBatch(ids []string) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	_, err := p.client.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		tx.XAck(ctx, p.stream, p.group, ids...)
		if p.deleteAcked {
			tx.XDel(ctx, p.stream, ids...)
		}
		return nil
	})
	if err != nil {
		p.log.Error("could not acknowledge finished tasks: they will be delivered and scanned again", "tasks", len(ids), "first", ids[0], "error", err)
		return
	}
	p.stats.acked.Add(int64(len(ids)))
}

// deadLetterScript moves a task to the dead-letter stream only if this
// worker's XACK removes it from the pending list: of two workers racing to
// dead-letter one task, one writes it. KEYS: task stream, dead-letter
// stream; ARGV: group, id, delete (0 or 1), then the entry's fields.
var deadLetterScript = redis.NewScript(`
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 1 then
	redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
	if ARGV[3] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
end
return acked
`)

// deadLetter moves task id to the dead-letter stream with why, and
// acknowledges it.
func (p *Plugin) deadLetter(id string, values map[string]any, deliveries int64, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	del := "0"
	if p.deleteAcked {
		del = "1"
	}
	args := append([]any{p.group, id, del}, deadLetterFields(id, values, deliveries, reason)...)
	n, err := deadLetterScript.Run(ctx, p.client, []string{p.stream, p.deadLetterStream}, args...).Int()
	switch {
	case err != nil:
		p.log.Error("could not dead-letter a task: it stays pending", "id", id, "error", err)
	case n == 1:
		p.stats.deadLettered.Add(1)
		p.log.Warn("task dead-lettered", "id", id, "deliveries", deliveries, "dead_letter_stream", p.deadLetterStream, "error", reason)
	}
}

// claimLoop claims, every half claim_idle_ms (from 10 ms to 30 s), the
// tasks idle on other consumers for claim_idle_ms, and refreshes the
// pending count that Metrics reports. It stops when ctx is done.
func (p *Plugin) claimLoop(ctx context.Context, q *core.Queue, puts context.Context) {
	t := time.NewTicker(min(max(p.claimIdle/2, 10*time.Millisecond), 30*time.Second))
	defer t.Stop()
	for {
		p.claimIdleTasks(ctx, q, puts)
		if n, err := p.client.XPending(ctx, p.stream, p.group).Result(); err == nil {
			p.stats.pending.Store(n.Count)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// claimIdleTasks claims every task idle longer than claim_idle_ms
// (XAUTOCLAIM, batch at a time) and queues each, or dead-letters it when
// it was delivered max_deliveries times already.
func (p *Plugin) claimIdleTasks(ctx context.Context, q *core.Queue, puts context.Context) {
	start := "0-0"
	for ctx.Err() == nil {
		msgs, next, err := p.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: p.stream, Group: p.group, Consumer: p.consumer, MinIdle: p.claimIdle, Start: start, Count: int64(p.batch),
		}).Result()
		if err != nil {
			if ctx.Err() == nil && !isNoGroup(err) {
				p.log.Error("claiming idle tasks failed", "stream", p.stream, "error", err)
			}
			return
		}
		if len(msgs) > 0 {
			counts := p.deliveries(ctx, msgs)
			for _, m := range msgs {
				n, ok := counts[m.ID]
				if !ok {
					continue // finished by its worker since
				}
				if p.held.has(m.ID) {
					continue // this worker's own, in its queue or a scan: a refresh came late
				}
				p.stats.claimed.Add(1)
				if n > int64(p.maxDeliveries) {
					p.deadLetter(m.ID, m.Values, n-1, fmt.Sprintf("delivered %d times without being finished: the workers holding it stopped or died each time", n-1))
					continue
				}
				p.log.Info("claimed an idle task", "id", m.ID, "deliveries", n)
				p.take(puts, q, m.ID, m.Values, n)
			}
		}
		if next == "0-0" || next == "" {
			return
		}
		start = next
	}
}

// deliveries reads the delivery counts of tasks this worker just claimed.
func (p *Plugin) deliveries(ctx context.Context, msgs []redis.XMessage) map[string]int64 {
	out := make(map[string]int64, len(msgs))
	pending, err := p.client.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: p.stream, Group: p.group, Consumer: p.consumer,
		Start: msgs[0].ID, End: msgs[len(msgs)-1].ID, Count: int64(len(msgs) + p.held.len() + 10),
	}).Result()
	if err != nil {
		p.log.Error("reading delivery counts failed: counting one more delivery", "error", err)
		for _, m := range msgs {
			out[m.ID] = 1
		}
		return out
	}
	claimed := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		claimed[m.ID] = true
	}
	for _, e := range pending {
		if claimed[e.ID] {
			out[e.ID] = e.RetryCount
		}
	}
	return out
}

// refreshHeld resets, every third of claim_idle_ms, the idle time of the
// tasks this worker holds (XCLAIM JUSTID, which counts no delivery), so
// that slow scans and the tasks waiting in the engine's queue are not
// claimed by other workers. It runs until Close.
func (p *Plugin) refreshHeld() {
	defer p.refresher.Done()
	t := time.NewTicker(min(max(p.claimIdle/3, 5*time.Millisecond), 20*time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.closing:
			return
		case <-t.C:
		}
		ids := p.held.list()
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), 1000)]
			ids = ids[len(chunk):]
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			err := p.client.XClaimJustID(ctx, &redis.XClaimArgs{Stream: p.stream, Group: p.group, Consumer: p.consumer, Messages: chunk}).Err()
			cancel()
			if err != nil {
				p.log.Warn("refreshing held tasks failed: other workers may claim them", "error", err)
				break
			}
		}
	}
}

// leaveGroup deletes this worker's consumer from the group when it holds
// no pending entry.
func (p *Plugin) leaveGroup() error {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	pending, err := p.client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: p.stream, Group: p.group, Consumer: p.consumer, Start: "-", End: "+", Count: 1}).Result()
	if err != nil {
		return fmt.Errorf("redis at %s: reading consumer %s's pending tasks: %w", p.where, p.consumer, err)
	}
	if len(pending) > 0 {
		p.log.Warn("leaving tasks pending for other workers to claim", "consumer", p.consumer)
		return nil
	}
	return p.client.XGroupDelConsumer(ctx, p.stream, p.group, p.consumer).Err()
}
