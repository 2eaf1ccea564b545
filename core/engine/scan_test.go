package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

func TestStartDispatchRunsOnRootPayloadsOnly(t *testing.T) {
	ex := register(t, "extract", extractor("child"), nil)
	w := register(t, "w", &fnWorker{}, nil)
	s := newEngine(t)
	resp := scan(t, s, "root", ex, w)
	if len(resp.Results) != 2 {
		t.Fatalf("want root and extracted payload, got %d results", len(resp.Results))
	}
	if got := workersRun(resp, 0); !equalStrings(got, []string{ex, w}) {
		t.Errorf("root ran %v, want [%s %s]", got, ex, w)
	}
	if got := workersRun(resp, 1); len(got) != 0 {
		t.Errorf("extracted payload ran %v; start dispatch must apply to the first round's payloads only", got)
	}
}

func TestAlwaysDispatchRunsOnEveryPayload(t *testing.T) {
	ex := register(t, "extract", extractor("child"), nil)
	w := register(t, "always", &fnWorker{}, nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w))
	resp := scan(t, s, "root", ex)
	if len(resp.Results) != 2 {
		t.Fatalf("got %d results", len(resp.Results))
	}
	for i := range resp.Results {
		if !contains(workersRun(resp, i), w) {
			t.Errorf("payload %d: always-dispatch worker did not run (ran %v)", i, workersRun(resp, i))
		}
		if _, ok := resp.Results[i].Workers[w]; !ok {
			t.Errorf("payload %d: no results for %s", i, w)
		}
	}
}

func TestDispatchersRunEveryRoundOnScannablePayloadsAndKeepMeta(t *testing.T) {
	ex := register(t, "extract", extractor("child"), nil)
	w := register(t, "w", &fnWorker{}, nil)
	d := &fnDispatcher{}
	dName := register(t, "disp", d, nil)
	d.dispatch = func(p *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
		workers := []string{w}
		if string(p.Content) == "root" {
			workers = append(workers, ex)
		}
		return &core.DispatcherResponse{PluginNames: workers, Meta: map[string]any{"seen": string(p.Content)}}, nil
	}
	s := newEngine(t, engine.WithDispatchers(dName))
	resp := scan(t, s, "root")
	if len(resp.Results) != 2 {
		t.Fatalf("got %d results", len(resp.Results))
	}
	if got := workersRun(resp, 1); !equalStrings(got, []string{w}) {
		t.Errorf("extracted payload ran %v, want [%s] from the dispatcher", got, w)
	}
	// Round 1: root. Round 2: root and child. Round 3: root and child (nothing left to run).
	if n := d.calls.Load(); n != 5 {
		t.Errorf("dispatcher called %d times, want 5 (every round, every scannable payload)", n)
	}
	req := core.NewRequest([]*core.Payload{core.NewPayload([]byte("root"), nil)}, nil)
	if _, err := s.ScanRequest(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := req.Payloads[0].DispatchMeta[dName]["seen"]; got != "root" {
		t.Errorf("dispatch meta = %v, want the dispatcher's meta stored under its name", req.Payloads[0].DispatchMeta)
	}
}

func TestDispatchToFromPayloadMetaAndWorkerResponse(t *testing.T) {
	target := register(t, "target", &fnWorker{}, nil)
	second := register(t, "second", &fnWorker{}, nil)
	ex := register(t, "extract", &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		meta := core.NewPayloadMeta()
		meta.DispatchTo = []string{target}
		return &core.WorkerResponse{
			Extracted:  []core.ExtractedPayload{{Content: []byte("child"), PayloadMeta: meta}},
			DispatchTo: []string{second},
		}, nil
	}}, nil)
	s := newEngine(t)
	resp := scan(t, s, "root", ex)
	if got := workersRun(resp, 0); !equalStrings(got, []string{ex, second}) {
		t.Errorf("root ran %v, want WorkerResponse.DispatchTo honoured", got)
	}
	if got := workersRun(resp, 1); !equalStrings(got, []string{target}) {
		t.Errorf("child ran %v, want PayloadMeta.DispatchTo honoured", got)
	}
}

func TestShouldScanFalseKeepsPayloadUnscanned(t *testing.T) {
	w := register(t, "always", &fnWorker{}, nil)
	ex := register(t, "extract", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		meta := core.NewPayloadMeta()
		meta.ShouldScan = false
		meta.DispatchTo = []string{w}
		return &core.WorkerResponse{Extracted: []core.ExtractedPayload{{Content: []byte("quiet"), PayloadMeta: meta}}}, nil
	}}, nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w))
	resp := scan(t, s, "root", ex)
	if len(resp.Results) != 2 {
		t.Fatalf("got %d results, want the unscanned payload kept", len(resp.Results))
	}
	if got := workersRun(resp, 1); len(got) != 0 {
		t.Errorf("payload with should_scan=false ran %v", got)
	}
	if resp.Results[1].PayloadMeta.ShouldScan {
		t.Error("should_scan flag lost")
	}
}

func TestRequiredWorkersRunFirst(t *testing.T) {
	var order []string
	record := func(name *string) *fnWorker {
		return &fnWorker{scan: func(_ context.Context, p *core.Payload, r *core.Request) (*core.WorkerResponse, error) {
			order = append(order, *name) // rounds are sequential and each round here has one task
			return &core.WorkerResponse{Results: map[string]any{"ran": true}}, nil
		}}
	}
	var base, mid, top string
	base = register(t, "base", record(&base), nil)
	mid = register(t, "mid", record(&mid), map[string]string{"required_workers": base})
	top = register(t, "top", record(&top), map[string]string{"required_workers": mid})
	s := newEngine(t)
	resp := scan(t, s, "x", top)
	if !equalStrings(order, []string{base, mid, top}) {
		t.Errorf("ran in order %v, want %v", order, []string{base, mid, top})
	}
	if got := workersRun(resp, 0); !equalStrings(got, []string{base, mid, top}) {
		t.Errorf("plugins_run %v", got)
	}
	if len(resp.Errors) != 0 {
		t.Errorf("unexpected errors %v", errorsOf(resp))
	}
}

func TestRequiredWorkersDepthLimit(t *testing.T) {
	a := register(t, "a", &fnWorker{}, nil)
	b := register(t, "b", &fnWorker{}, map[string]string{"required_workers": a})
	c := register(t, "c", &fnWorker{}, map[string]string{"required_workers": b})
	s := newEngine(t, engine.WithSetting("max_required_worker_depth", "1"))
	resp := scan(t, s, "x", c)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "Max required plugin depth 1") {
		t.Fatalf("errors %v, want one max depth error", errorsOf(resp))
	}
	if resp.Errors[0].PluginName != c || resp.Errors[0].PayloadID != resp.Results[0].PayloadID {
		t.Errorf("error names %q/%q, want the dispatched plugin and the payload", resp.Errors[0].PluginName, resp.Errors[0].PayloadID)
	}
	if got := workersRun(resp, 0); len(got) != 0 {
		t.Errorf("ran %v despite the depth error", got)
	}
}

func TestRequiredWorkersCycleIsAnError(t *testing.T) {
	a, b := uniq("cycle-a"), uniq("cycle-b")
	registerAs(a, &fnWorker{}, map[string]string{"required_workers": b})
	registerAs(b, &fnWorker{}, map[string]string{"required_workers": a})
	s := newEngine(t)
	done := make(chan *core.StoqResponse)
	go func() { done <- scan(t, s, "x", a) }()
	select {
	case resp := <-done:
		if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "Circular required plugin dependency") {
			t.Fatalf("errors %v, want one circular dependency error", errorsOf(resp))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("scan with a required_workers cycle did not finish")
	}
}

func TestWorkerRunsAtMostOncePerPayload(t *testing.T) {
	w := &fnWorker{}
	name := register(t, "once", w, nil)
	d := register(t, "disp", &fnDispatcher{dispatch: func(*core.Payload, *core.Request) (*core.DispatcherResponse, error) {
		return &core.DispatcherResponse{PluginNames: []string{name, name}}, nil
	}}, nil)
	s := newEngine(t, engine.WithDispatchers(d), engine.WithAlwaysDispatch(name))
	resp := scan(t, s, "x", name, name)
	if n := w.calls.Load(); n != 1 {
		t.Errorf("worker ran %d times on one payload", n)
	}
	if got := workersRun(resp, 0); !equalStrings(got, []string{name}) {
		t.Errorf("plugins_run %v", got)
	}
}

func TestUnknownPluginIsAnErrorOnceNotACrash(t *testing.T) {
	d := register(t, "disp", &fnDispatcher{dispatch: func(*core.Payload, *core.Request) (*core.DispatcherResponse, error) {
		return &core.DispatcherResponse{PluginNames: []string{"no-such-worker"}}, nil
	}}, nil)
	w := register(t, "w", &fnWorker{}, nil)
	s := newEngine(t, engine.WithDispatchers(d))
	resp := scan(t, s, "x", w, "no-such-worker")
	if len(resp.Errors) != 1 {
		t.Fatalf("errors %v, want exactly one for the unknown worker", errorsOf(resp))
	}
	e := resp.Errors[0]
	if e.PluginName != "no-such-worker" || !strings.Contains(e.Message, "not available") || e.PayloadID == "" {
		t.Errorf("error %+v", e)
	}
	if got := workersRun(resp, 0); !equalStrings(got, []string{w}) {
		t.Errorf("known worker did not run: %v", got)
	}
	if _, err := engine.New(engine.WithConnectors("no-such-connector")); err == nil || !strings.Contains(err.Error(), "no-such-connector") {
		t.Errorf("unknown configured connector: New error %v, want one naming it", err)
	}
}

func TestExtractedPayloadsJoinTheRequest(t *testing.T) {
	ex := register(t, "extract", extractor("one", "two"), nil)
	s := newEngine(t)
	resp := scan(t, s, "root", ex)
	if len(resp.Results) != 3 {
		t.Fatalf("got %d results", len(resp.Results))
	}
	root := resp.Results[0].PayloadID
	for i, want := range []string{"one", "two"} {
		r := resp.Results[i+1]
		if r.Size != len(want) || !equalStrings(r.ExtractedBy, []string{ex}) || !equalStrings(r.ExtractedFrom, []string{root}) {
			t.Errorf("extracted %d: size %d by %v from %v", i, r.Size, r.ExtractedBy, r.ExtractedFrom)
		}
	}
}

func TestDuplicateExtractedPayloadsAreNotScannedAgain(t *testing.T) {
	w := &fnWorker{}
	wn := register(t, "count", w, nil)
	// Extracts the same child three times, and the root's own content once.
	ex := register(t, "extract", extractor("child", "child", "root", "child"), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(wn))
	resp := scan(t, s, "root", ex)
	if len(resp.Results) != 2 {
		t.Fatalf("got %d results, want root and one child", len(resp.Results))
	}
	root, child := resp.Results[0], resp.Results[1]
	if !equalStrings(child.ExtractedBy, []string{ex, ex, ex}) || len(child.ExtractedFrom) != 3 {
		t.Errorf("child extracted_by %v extracted_from %v, want the duplicates appended", child.ExtractedBy, child.ExtractedFrom)
	}
	if !equalStrings(root.ExtractedBy, []string{ex}) || !equalStrings(root.ExtractedFrom, []string{root.PayloadID}) {
		t.Errorf("root extracted_by %v extracted_from %v, want its duplicate recorded on it", root.ExtractedBy, root.ExtractedFrom)
	}
	if n := w.calls.Load(); n != 2 {
		t.Errorf("worker ran %d times, want 2 (duplicates are not scanned)", n)
	}
}

func TestMaxRecursionRecordsAnErrorForUnprocessedPayloads(t *testing.T) {
	var seq atomic.Int64
	// Every payload yields a new, different child: extraction never ends.
	ex := register(t, "forever", &fnWorker{}, nil)
	forever := register(t, "forever", &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		meta := core.NewPayloadMeta()
		meta.DispatchTo = []string{ex}
		return &core.WorkerResponse{Extracted: []core.ExtractedPayload{{Content: []byte{byte(seq.Add(1))}, PayloadMeta: meta}}}, nil
	}}, nil)
	_ = ex
	s := newEngine(t, engine.WithMaxRecursion(3), engine.WithAlwaysDispatch(forever))
	resp := scan(t, s, "root")
	if len(resp.Results) != 4 {
		t.Fatalf("got %d results, want root + one child per round (3)", len(resp.Results))
	}
	var final []core.Error
	for _, e := range resp.Errors {
		if strings.Contains(e.Message, "Final worker round (3) reached") {
			final = append(final, e)
		}
	}
	if len(final) != 1 || final[0].PayloadID != resp.Results[3].PayloadID {
		t.Errorf("errors %v, want one final-round error for the last payload", errorsOf(resp))
	}
	if got := workersRun(resp, 3); len(got) != 0 {
		t.Errorf("payload past max_recursion was scanned: %v", got)
	}
}

func TestDestArchiversRunAtTheEnd(t *testing.T) {
	arch := &memArchiver{stored: map[string][]byte{}}
	an := register(t, "arch", arch, nil)
	ex := register(t, "extract", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		keep, skip := core.NewPayloadMeta(), core.NewPayloadMeta()
		skip.ShouldArchive = false
		return &core.WorkerResponse{Extracted: []core.ExtractedPayload{{Content: []byte("keep"), PayloadMeta: keep}, {Content: []byte("skip"), PayloadMeta: skip}}}, nil
	}}, nil)
	s := newEngine(t, engine.WithDestArchivers(an))
	resp := scan(t, s, "root", ex)
	if len(resp.Results) != 3 {
		t.Fatalf("got %d results", len(resp.Results))
	}
	for i, want := range []bool{true, true, false} {
		r := resp.Results[i]
		_, archived := r.Archivers[an]
		if archived != want || contains(r.PluginsRun.Archivers, an) != want {
			t.Errorf("payload %d: archived=%v plugins_run.archivers=%v, want archived=%v", i, archived, r.PluginsRun.Archivers, want)
		}
	}
	if len(arch.stored) != 2 {
		t.Errorf("archiver stored %d payloads, want 2", len(arch.stored))
	}

	meta := core.NewRequestMeta()
	meta.ArchivePayloads = false
	resp, _ = s.Scan(context.Background(), []byte("other"), nil, meta)
	if len(resp.Results[0].Archivers) != 0 {
		t.Error("archived although archive_payloads is false")
	}
}

func TestDecoratorsRunBeforeConnectors(t *testing.T) {
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	dec := register(t, "dec", &fnDecorator{decorate: func(r *core.StoqResponse) (*core.DecoratorResponse, error) {
		return &core.DecoratorResponse{Results: map[string]any{"payloads": len(r.Results)}}, nil
	}}, nil)
	s := newEngine(t, engine.WithDecorators(dec), engine.WithConnectors(cn))
	resp := scan(t, s, "x")
	saved := conn.responses()
	if len(saved) != 1 || saved[0] != resp {
		t.Fatalf("connector saved %d responses", len(saved))
	}
	if got, ok := saved[0].Decorators[dec].(map[string]any); !ok || got["payloads"] != 1 {
		t.Errorf("connector saw decorators %v, want the decorator's results", saved[0].Decorators)
	}
}

func TestFailingPluginsBecomeErrorsAndTheScanGoesOn(t *testing.T) {
	ok := register(t, "ok", &fnWorker{}, nil)
	failing := register(t, "failing", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		return nil, errors.New("boom")
	}}, nil)
	panicking := register(t, "panicking", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		panic("kaboom")
	}}, nil)
	release := make(chan struct{})
	defer close(release)
	hanging := register(t, "hanging", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		<-release // ignores its context on purpose
		return &core.WorkerResponse{Results: "late"}, nil
	}}, map[string]string{"timeout": "0.2"})
	partial := register(t, "partial", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		return &core.WorkerResponse{Results: map[string]any{"partial": true}, Errors: []core.Error{core.Errorf("half done")}}, nil
	}}, nil)
	s := newEngine(t)
	resp := scan(t, s, "x", ok, failing, panicking, hanging, partial)
	byPlugin := map[string]string{}
	for _, e := range resp.Errors {
		if e.PayloadID != resp.Results[0].PayloadID {
			t.Errorf("error %+v does not name the payload", e)
		}
		byPlugin[e.PluginName] = e.Message
	}
	for name, want := range map[string]string{failing: "boom", panicking: "panic: kaboom", hanging: "timed out after 200ms", partial: "half done"} {
		if !strings.Contains(byPlugin[name], want) {
			t.Errorf("error for %s = %q, want it to contain %q", name, byPlugin[name], want)
		}
	}
	if _, found := resp.Results[0].Workers[ok]; !found {
		t.Error("healthy worker's results lost")
	}
	if _, found := resp.Results[0].Workers[hanging]; found {
		t.Error("results of a timed-out worker were kept")
	}
	if got := resp.Results[0].Workers[partial]; got == nil {
		t.Error("results returned along with errors were dropped")
	}
	if got := workersRun(resp, 0); len(got) != 5 {
		t.Errorf("plugins_run %v, want every dispatched worker listed", got)
	}
}

func TestSameInputGivesSameJSON(t *testing.T) {
	ex := register(t, "extract", extractor("a", "b", "c", "d"), nil)
	slow := register(t, "jitter", &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		time.Sleep(time.Duration(len(p.Content)%3) * time.Millisecond)
		return &core.WorkerResponse{Results: map[string]any{"content": string(p.Content)}}, nil
	}}, nil)
	fast := register(t, "fast", &fnWorker{}, nil)
	s := newEngine(t, engine.WithAlwaysDispatch(slow, fast))
	normalize := func(r *core.StoqResponse) string {
		ids := map[string]string{}
		for i, res := range r.Results {
			ids[res.PayloadID] = "P" + string(rune('0'+i))
		}
		out := mustJSON(t, r)
		for id, n := range ids {
			out = strings.ReplaceAll(out, id, n)
		}
		out = strings.ReplaceAll(out, r.ScanID, "SCAN")
		return strings.ReplaceAll(out, r.Time, "TIME")
	}
	first := normalize(scan(t, s, "root", ex))
	for i := 0; i < 20; i++ {
		if got := normalize(scan(t, s, "root", ex)); got != first {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestManyPayloadsEachScannedOnce(t *testing.T) {
	children := make([]string, 40)
	for i := range children {
		children[i] = fmt.Sprintf("child-%02d", i)
	}
	w := &fnWorker{}
	wn := register(t, "count", w, nil)
	ex := register(t, "extract", extractor(children...), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(wn))
	resp := scan(t, s, "root", ex, wn)
	if len(resp.Results) != 41 {
		t.Fatalf("%d results", len(resp.Results))
	}
	if n := w.calls.Load(); n != 41 {
		t.Errorf("worker ran %d times over 41 payloads", n)
	}
	for i, r := range resp.Results[1:] {
		if r.Size != len(children[i]) || !equalStrings(r.PluginsRun.Workers, []string{wn}) {
			t.Errorf("child %d: size %d ran %v", i, r.Size, r.PluginsRun.Workers)
		}
	}
}

func TestDispatcherCanClearShouldArchive(t *testing.T) {
	no, yes := false, true
	arch := &memArchiver{stored: map[string][]byte{}}
	an := register(t, "arch", arch, nil)
	d1 := register(t, "keep", &fnDispatcher{dispatch: func(*core.Payload, *core.Request) (*core.DispatcherResponse, error) {
		return &core.DispatcherResponse{ShouldArchive: &yes}, nil
	}}, nil)
	d2 := register(t, "nosave", &fnDispatcher{dispatch: func(p *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
		if string(p.Content) == "secret" {
			return &core.DispatcherResponse{ShouldArchive: &no}, nil
		}
		return nil, nil
	}}, nil)
	s := newEngine(t, engine.WithDispatchers(d1, d2), engine.WithDestArchivers(an))
	if r := scan(t, s, "secret"); r.Results[0].PayloadMeta.ShouldArchive || len(r.Results[0].Archivers) != 0 {
		t.Errorf("should_archive %v archivers %v: a dispatcher's false must win and stop archiving", r.Results[0].PayloadMeta.ShouldArchive, r.Results[0].Archivers)
	}
	if r := scan(t, s, "public"); !r.Results[0].PayloadMeta.ShouldArchive || len(r.Results[0].Archivers) != 1 {
		t.Errorf("should_archive cleared for a payload no dispatcher objected to")
	}
}

type contentDispatcher struct{ fnDispatcher }

func (*contentDispatcher) ContentOnly() {}

func TestContentDispatchersAreAskedOncePerPayload(t *testing.T) {
	ex := register(t, "extract", extractor("child"), nil)
	w := register(t, "w", &fnWorker{}, nil)
	d := &contentDispatcher{}
	d.dispatch = func(p *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
		workers := []string{w}
		if string(p.Content) == "root" {
			workers = append(workers, ex)
		}
		return &core.DispatcherResponse{PluginNames: workers, Meta: map[string]any{"n": 1}}, nil
	}
	dn := register(t, "content", d, nil)
	s := newEngine(t, engine.WithDispatchers(dn))
	resp := scan(t, s, "root")
	if len(resp.Results) != 2 || !equalStrings(workersRun(resp, 1), []string{w}) || !equalStrings(workersRun(resp, 0), []string{w, ex}) {
		t.Fatalf("results %d, root ran %v, child ran %v", len(resp.Results), workersRun(resp, 0), workersRun(resp, 1))
	}
	// Once for the root, once for the child, over three rounds.
	if n := d.calls.Load(); n != 2 {
		t.Errorf("content dispatcher asked %d times, want once per payload (2)", n)
	}
}
