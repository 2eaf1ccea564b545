package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// taskEnds collects what Task.Done reported, by task name.
type taskEnds struct {
	mu   sync.Mutex
	ends map[string][]error
}

func (e *taskEnds) done(name string) func(error) {
	return func(err error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.ends == nil {
			e.ends = map[string][]error{}
		}
		e.ends[name] = append(e.ends[name], err)
	}
}

// only returns the single end of task name, failing when it ended other
// than once.
func (e *taskEnds) only(t *testing.T, name string) error {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.ends[name]); n != 1 {
		t.Fatalf("task %s ended %d times, want once", name, n)
	}
	return e.ends[name][0]
}

// runTasks runs a provider queueing tasks, and returns what Done reported.
func runTasks(t *testing.T, opts []engine.Option, tasks ...func(*taskEnds) core.Task) *taskEnds {
	t.Helper()
	ends := &taskEnds{}
	pn := register(t, "taskprov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		for _, mk := range tasks {
			if err := q.Put(ctx, mk(ends)); err != nil {
				return err
			}
		}
		return nil
	}}, nil)
	s := newEngine(t, append([]engine.Option{engine.WithProviders(pn)}, opts...)...)
	if err := s.Run(context.Background(), nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return ends
}

// A task's Done is called once, after every connector saved the response
// (the connectors have it when Done runs), with nil.
func TestTaskDoneAfterEveryConnectorSaved(t *testing.T) {
	c1, c2 := &memConnector{}, &memConnector{}
	n1, n2 := register(t, "c1", c1, nil), register(t, "c2", c2, nil)
	var seen []int
	var mu sync.Mutex
	ends := runTasks(t, []engine.Option{engine.WithConnectors(n1, n2)}, func(e *taskEnds) core.Task {
		done := e.done("t")
		return core.Task{Payload: core.NewPayload([]byte("x"), nil), Done: func(err error) {
			mu.Lock()
			seen = []int{len(c1.responses()), len(c2.responses())}
			mu.Unlock()
			done(err)
		}}
	})
	if err := ends.only(t, "t"); err != nil {
		t.Fatalf("Done(%v), want nil", err)
	}
	if !slices.Equal(seen, []int{1, 1}) {
		t.Errorf("connectors had %v responses when Done ran, want [1 1]", seen)
	}
}

// A response a connector fails to save but the spool takes is done: the
// spool will hand it to the connector again.
func TestTaskDoneWhenSpooled(t *testing.T) {
	c := &memConnector{fail: errors.New("index is down")}
	cn := register(t, "down", c, nil)
	spool := t.TempDir()
	ends := runTasks(t, []engine.Option{engine.WithConnectors(cn), engine.WithSetting("spool_dir", spool)},
		func(e *taskEnds) core.Task {
			return core.Task{Payload: core.NewPayload([]byte("x"), nil), ScanID: "scan-1", Done: e.done("t")}
		})
	if err := ends.only(t, "t"); err != nil {
		t.Fatalf("Done(%v), want nil once spooled", err)
	}
	if _, err := os.Stat(filepath.Join(spool, cn, "scan-1.json")); err != nil {
		t.Errorf("response not spooled: %v", err)
	}
}

// A response neither saved nor spooled fails the task, naming the
// connector, so the provider keeps it for another delivery; Run does not
// count it as a lost result (runTasks fails on Run's error), since it is
// delivered again.
func TestTaskFailsWhenNeitherSavedNorSpooled(t *testing.T) {
	good, bad := &memConnector{}, &memConnector{fail: errors.New("disk full")}
	gn, bn := register(t, "good", good, nil), register(t, "bad", bad, nil)
	ends := runTasks(t, []engine.Option{engine.WithConnectors(gn, bn)}, func(e *taskEnds) core.Task {
		return core.Task{Payload: core.NewPayload([]byte("x"), nil), Done: e.done("t")}
	})
	err := ends.only(t, "t")
	if err == nil || !strings.Contains(err.Error(), "connector "+bn) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Done(%v), want the failure of connector %s", err, bn)
	}
	if len(good.responses()) != 1 {
		t.Errorf("the working connector must still save the response")
	}
}

// An archiver task whose payload cannot be loaded fails (after its error
// response is saved); one that loads is done.
func TestArchivedTaskFailsWhenItCannotBeLoaded(t *testing.T) {
	arch := &memArchiver{stored: map[string][]byte{"k": []byte("stored")}}
	an := register(t, "arch", arch, nil)
	c := &memConnector{}
	cn := register(t, "c", c, nil)
	ends := runTasks(t, []engine.Option{engine.WithConnectors(cn), engine.WithSourceArchivers(an)},
		func(e *taskEnds) core.Task {
			return core.Task{Archived: map[string]any{an: map[string]any{"key": "k"}}, ScanID: "ok", Done: e.done("ok")}
		},
		func(e *taskEnds) core.Task {
			return core.Task{Archived: map[string]any{an: map[string]any{"key": "gone"}}, ScanID: "gone", Done: e.done("gone")}
		})
	if err := ends.only(t, "ok"); err != nil {
		t.Errorf("loaded task: Done(%v), want nil", err)
	}
	err := ends.only(t, "gone")
	if err == nil || !strings.Contains(err.Error(), "gone") || !strings.Contains(err.Error(), an) {
		t.Errorf("missing payload: Done(%v), want the archiver's failure", err)
	}
	ids := map[string]int{}
	for _, r := range c.responses() {
		ids[r.ScanID] = len(r.Results)
	}
	if want := map[string]int{"ok": 1, "gone": 0}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("responses by scan_id %v, want %v (the failure is saved too, under the task's scan_id)", ids, want)
	}
}

// Task.ScanID is the scan_id of the task's response, whatever kind of
// task it is; several archivers get numbered ids; tasks without one keep
// random ids.
func TestTaskScanIDNamesItsResponses(t *testing.T) {
	a1 := &memArchiver{stored: map[string][]byte{"k": []byte("one")}}
	a2 := &memArchiver{stored: map[string][]byte{"k": []byte("two")}}
	n1, n2 := "arch-a-"+uniq("x"), "arch-b-"+uniq("x")
	registerAs(n1, a1, nil)
	registerAs(n2, a2, nil)
	c := &memConnector{}
	cn := register(t, "c", c, nil)
	runTasks(t, []engine.Option{engine.WithConnectors(cn), engine.WithSourceArchivers(n1, n2), engine.WithSetting("provider_consumers", "1")},
		func(*taskEnds) core.Task {
			return core.Task{Payload: core.NewPayload([]byte("p"), nil), ScanID: "id-payload"}
		},
		func(*taskEnds) core.Task {
			return core.Task{Request: core.NewRequest([]*core.Payload{core.NewPayload([]byte("r"), nil)}, nil), ScanID: "id-request"}
		},
		func(*taskEnds) core.Task {
			return core.Task{Archived: map[string]any{n2: map[string]any{"key": "k"}, n1: map[string]any{"key": "k"}}, ScanID: "id-archived"}
		},
		func(*taskEnds) core.Task { return core.Task{Payload: core.NewPayload([]byte("random"), nil)} })
	got := map[string]string{}
	for _, r := range c.responses() {
		content := ""
		if len(r.Results) == 1 {
			content = fmt.Sprint(r.Results[0].Size)
		}
		got[r.ScanID] = content
	}
	for id, size := range map[string]string{"id-payload": "1", "id-request": "1", "id-archived": "3", "id-archived-2": "3"} {
		if got[id] != size {
			t.Errorf("scan_id %s: payload of size %q, want %q (all: %v)", id, got[id], size, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d distinct scan_ids, want 5: %v", len(got), got)
	}
}

// A Done that panics is logged; the run goes on and ends normally.
func TestTaskDonePanicDoesNotStopTheRun(t *testing.T) {
	c := &memConnector{}
	cn := register(t, "c", c, nil)
	ends := runTasks(t, []engine.Option{engine.WithConnectors(cn), engine.WithSetting("provider_consumers", "1")},
		func(*taskEnds) core.Task {
			return core.Task{Payload: core.NewPayload([]byte("a"), nil), Done: func(error) { panic("provider bug") }}
		},
		func(e *taskEnds) core.Task {
			return core.Task{Payload: core.NewPayload([]byte("b"), nil), Done: e.done("b")}
		})
	if err := ends.only(t, "b"); err != nil {
		t.Errorf("Done(%v) after a panicking Done, want nil", err)
	}
	if n := len(c.responses()); n != 2 {
		t.Errorf("%d responses, want 2", n)
	}
}

// Done is called after Ingest returned when the run drains: a provider
// acknowledging from Done sees every task it queued end, even when the run
// was cancelled.
func TestTaskDoneWhileDrainingAfterCancel(t *testing.T) {
	c := &memConnector{}
	cn := register(t, "c", c, nil)
	release := make(chan struct{})
	w := register(t, "slow", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		<-release
		return &core.WorkerResponse{}, nil
	}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ends := &taskEnds{}
	ingested := make(chan struct{})
	pn := register(t, "prov", &fnProvider{ingest: func(ictx context.Context, q *core.Queue) error {
		for i := range 5 {
			name := fmt.Sprint(i)
			if err := q.Put(ictx, core.Task{Payload: core.NewPayload([]byte(name), nil), Done: ends.done(name)}); err != nil {
				return err
			}
		}
		close(ingested)
		<-ictx.Done()
		return ictx.Err()
	}}, nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn), engine.WithSetting("max_queue", "10"))
	go func() { <-ingested; cancel(); close(release) }()
	if err := s.Run(ctx, nil, w); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i := range 5 {
		if err := ends.only(t, fmt.Sprint(i)); err != nil {
			t.Errorf("task %d: Done(%v)", i, err)
		}
	}
}

// A task queued by reference (Task.Open) ends like the others: done once
// its response is saved, failed when its payload cannot be opened, with
// its scan_id on the response either way.
func TestOpenedTaskEnds(t *testing.T) {
	c := &memConnector{}
	cn := register(t, "c", c, nil)
	open := func(content string, err error) func(context.Context, int64) (*core.Payload, func(), error) {
		return func(context.Context, int64) (*core.Payload, func(), error) {
			if err != nil {
				return nil, nil, err
			}
			return core.NewPayload([]byte(content), nil), nil, nil
		}
	}
	ends := runTasks(t, []engine.Option{engine.WithConnectors(cn)},
		func(e *taskEnds) core.Task {
			return core.Task{Open: open("opened", nil), ScanID: "opened", Done: e.done("opened")}
		},
		func(e *taskEnds) core.Task {
			return core.Task{Open: open("", errors.New("object gone")), ScanID: "gone", Done: e.done("gone")}
		})
	if err := ends.only(t, "opened"); err != nil {
		t.Errorf("opened task: Done(%v), want nil", err)
	}
	if err := ends.only(t, "gone"); err == nil || !strings.Contains(err.Error(), "object gone") {
		t.Errorf("task that cannot be opened: Done(%v), want its failure", err)
	}
	ids := map[string]int{}
	for _, r := range c.responses() {
		ids[r.ScanID] = len(r.Results)
	}
	if want := map[string]int{"opened": 1, "gone": 0}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("responses by scan_id %v, want %v", ids, want)
	}
}
