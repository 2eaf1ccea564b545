package redis

import (
	"bytes"
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/stoq-go/stoq/core/v3"
)

// Save appends response to results_stream as fields scan_id and response
// (the JSON on one line, as every stoq connector writes it), trimming the
// stream to about maxlen entries. A task scanned twice is saved twice
// with the same scan_id: readers de-duplicate by it.
func (p *Plugin) Save(ctx context.Context, response *core.StoqResponse) error {
	var buf bytes.Buffer
	if err := response.Encode(&buf, true); err != nil {
		return err
	}
	args := &redis.XAddArgs{
		Stream: p.resultsStream,
		Values: []any{"scan_id", response.ScanID, "response", bytes.TrimSuffix(buf.Bytes(), []byte("\n"))},
	}
	if p.maxLen > 0 {
		args.MaxLen, args.Approx = p.maxLen, true
	}
	if err := p.client.XAdd(ctx, args).Err(); err != nil {
		return fmt.Errorf("redis at %s: adding scan %s to %s: %w", p.where, response.ScanID, p.resultsStream, err)
	}
	return nil
}
