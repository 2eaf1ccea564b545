package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/stoq-go/stoq/core/v3"
)

// Archive stores payload's content under stoq:payload:SHA256 for
// payload_ttl (a payload stored before keeps its content and has its
// expiry renewed) and returns {"sha256": SHA256}: the task that loads it
// back is {"redis": {"sha256": SHA256}}.
func (p *Plugin) Archive(ctx context.Context, payload *core.Payload, _ *core.Request) (*core.ArchiverResponse, error) {
	if err := checkStorable(payload.Content); err != nil {
		return nil, err
	}
	var sum string
	_, err := p.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		sum = p.queueStore(ctx, pipe, payload.Content)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis at %s: storing payload %s: %w", p.where, sum, err)
	}
	return &core.ArchiverResponse{Results: map[string]any{"sha256": sum}}, nil
}

// checkStorable refuses content larger than a Redis string.
func checkStorable(content []byte) error {
	if len(content) > maxRedisValue {
		return fmt.Errorf("payload of %d bytes: Redis stores at most %d bytes in one key", len(content), maxRedisValue)
	}
	return nil
}

// queueStore queues on pipe the commands that store content under its key
// (SET NX with the TTL, and the expiry renewed when the key was there) and
// returns its sha256.
func (p *Plugin) queueStore(ctx context.Context, pipe redis.Pipeliner, content []byte) string {
	digest := sha256.Sum256(content)
	sum := hex.EncodeToString(digest[:])
	key := payloadKeyPrefix + sum
	pipe.SetNX(ctx, key, content, p.payloadTTL)
	if p.payloadTTL > 0 {
		pipe.Expire(ctx, key, p.payloadTTL)
	}
	return sum
}

// Get loads the payload a task names, {"sha256": SHA256} (the Results of
// Archive), checking that the content has that digest. The payload's
// extra_data holds the task's keys.
func (p *Plugin) Get(ctx context.Context, task *core.ArchiverResponse) (*core.Payload, error) {
	if task == nil {
		return nil, errors.New("redis: no archiver task")
	}
	sum, err := refSHA256(task.Results)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	meta := core.NewPayloadMeta()
	if m, ok := task.Results.(map[string]any); ok {
		for k, v := range m {
			meta.ExtraData[k] = v
		}
	}
	return p.load(ctx, sum, meta)
}

// load reads the archived payload sum and wraps it with meta.
func (p *Plugin) load(ctx context.Context, sum string, meta *core.PayloadMeta) (*core.Payload, error) {
	return p.loadAtMost(ctx, sum, meta, 0)
}

// loadAtMost is load refusing, before reading it, a payload larger than
// maxSize bytes (no limit when 0): the engine's max_payload_size.
func (p *Plugin) loadAtMost(ctx context.Context, sum string, meta *core.PayloadMeta, maxSize int64) (*core.Payload, error) {
	if maxSize > 0 {
		n, err := p.client.StrLen(ctx, payloadKeyPrefix+sum).Result()
		if err != nil {
			return nil, fmt.Errorf("redis at %s: loading payload %s: %w", p.where, sum, err)
		}
		if n > maxSize {
			return nil, fmt.Errorf("redis: payload %s is %d bytes, more than max_payload_size (%d)", sum, n, maxSize)
		}
	}
	content, err := p.client.Get(ctx, payloadKeyPrefix+sum).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis: payload %s is not stored in Redis (expired after payload_ttl, or never stored)", sum)
	}
	if err != nil {
		return nil, fmt.Errorf("redis at %s: loading payload %s: %w", p.where, sum, err)
	}
	if got := sha256.Sum256(content); hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("redis: the payload stored as %s has another sha256 (%x): refusing it", sum, got)
	}
	return core.NewPayload(content, meta), nil
}
