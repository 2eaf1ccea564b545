package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/stoq-go/stoq/core/v3"
)

// Run mode's side of a provider's core.Task: the scan_id its responses
// carry (Task.ScanID) and the end of the task reported to the provider
// (Task.Done). A consumer begins the task before scanning it and ends it
// once its last response is saved; in between, the task's record travels
// in the scan's context, where ScanRequest, save and runArchived find it:
// programs calling ScanRequest directly have none, and nothing changes
// for them.

// taskRecord follows one task from the consumer that took it to the end
// of its last response. The scan of a task runs on its consumer's
// goroutine, and the record is only written there.
type taskRecord struct {
	scanID     string  // Task.ScanID
	redelivers bool    // Task.Done is set: the provider keeps a failed task
	responses  int     // responses given a scan_id so far
	failures   []error // why the task failed, when it did
}

type taskRecordKey struct{}

// beginTask returns the context to scan task in and the func that ends
// it: Task.Done is called with nil when every response was saved or
// spooled, else with the failures. A task with neither ScanID nor Done
// costs nothing.
func (s *Stoq) beginTask(ctx context.Context, task core.Task) (context.Context, func()) {
	if task.ScanID == "" && task.Done == nil {
		return ctx, func() {}
	}
	rec := &taskRecord{scanID: task.ScanID, redelivers: task.Done != nil}
	ctx = context.WithValue(ctx, taskRecordKey{}, rec)
	return ctx, func() {
		if task.Done == nil {
			return
		}
		err := errors.Join(rec.failures...)
		reportPanic(s.log, "a provider's task completion panicked", protect(func() error { task.Done(err); return nil }))
	}
}

func taskRecordOf(ctx context.Context) *taskRecord {
	rec, _ := ctx.Value(taskRecordKey{}).(*taskRecord)
	return rec
}

// setTaskScanID gives resp the scan_id its task asks for: Task.ScanID for
// the first response, ScanID-2, ScanID-3, ... for the next ones.
func setTaskScanID(ctx context.Context, resp *core.StoqResponse) {
	rec := taskRecordOf(ctx)
	if rec == nil || rec.scanID == "" {
		return
	}
	rec.responses++
	if rec.responses == 1 {
		resp.ScanID = rec.scanID
	} else {
		resp.ScanID = fmt.Sprintf("%s-%d", rec.scanID, rec.responses)
	}
}

// taskFailed records, for the task scanned in ctx, that it failed for
// good: its provider will be told so by Task.Done.
func taskFailed(ctx context.Context, err error) {
	if rec := taskRecordOf(ctx); rec != nil {
		rec.failures = append(rec.failures, err)
	}
}

// lostUnlessRedelivered is the error a response's save counts as in the
// run's lost results: none when the task's provider takes its failures
// (Task.Done) and will deliver it again, since its result is not lost but
// late.
func lostUnlessRedelivered(ctx context.Context, err error) error {
	if rec := taskRecordOf(ctx); rec != nil && rec.redelivers && errors.Is(err, ErrNotSaved) {
		return nil
	}
	return err
}
