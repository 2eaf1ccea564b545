package stoqtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

type countingProvider struct{ n int }

func (p countingProvider) Ingest(ctx context.Context, q *core.Queue) error {
	for i := 0; i < p.n; i++ {
		if err := q.PutPayload(ctx, core.NewPayload([]byte(fmt.Sprint(i)), nil)); err != nil {
			return err
		}
	}
	return errors.New("exhausted")
}

func TestIngestCollectsEveryTaskInOrder(t *testing.T) {
	tasks, err := stoqtest.Ingest(context.Background(), countingProvider{n: 100})
	if err == nil || err.Error() != "exhausted" {
		t.Errorf("Ingest error = %v, want the provider's", err)
	}
	if len(tasks) != 100 {
		t.Fatalf("%d tasks, want 100 (more than the queue holds)", len(tasks))
	}
	for i, task := range tasks {
		if string(task.Payload.Content) != fmt.Sprint(i) {
			t.Fatalf("task %d holds %q", i, task.Payload.Content)
		}
	}
}
