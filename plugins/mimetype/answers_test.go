package mimetype

import (
	"context"
	"runtime"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// TestWorkerReusesTheDispatchersAnswer: on a payload the dispatcher has
// seen, the worker answers without asking libmagic again; on another
// payload with the same content it asks.
func TestWorkerReusesTheDispatchersAnswer(t *testing.T) {
	p := newPlugin(t, nil)
	ctx := context.Background()
	payload := stoqtest.Payload(sampleNamed(t, "archive.zip"), nil)
	if _, err := p.GetDispatches(ctx, payload, nil); err != nil {
		t.Fatal(err)
	}
	before := p.pool.Calls()
	resp, err := p.Scan(ctx, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Results.(Results)["mimetype"]; got != "application/zip" {
		t.Errorf("worker says %s", got)
	}
	if n := p.pool.Calls() - before; n != 0 {
		t.Errorf("worker asked libmagic %d times after the dispatcher answered", n)
	}
	other := stoqtest.Payload(payload.Content, nil)
	if _, err := p.Scan(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	if n := p.pool.Calls() - before; n != 1 {
		t.Errorf("another payload: libmagic asked %d times, want 1", n)
	}
}

func TestAnswerCacheIsBounded(t *testing.T) {
	c := newAnswerCache(4)
	var kept []*core.Payload
	for i := range 10 {
		p := stoqtest.Payload([]byte{byte(i)}, nil)
		kept = append(kept, p)
		c.put(p, string(rune('a'+i)))
	}
	if len(c.answers) != 4 || len(c.order) != 4 {
		t.Fatalf("%d answers, %d in order, want 4", len(c.answers), len(c.order))
	}
	for i, p := range kept {
		mt, ok := c.get(p)
		if want := i >= 6; ok != want || (ok && mt != string(rune('a'+i))) {
			t.Errorf("payload %d: %q %v", i, mt, ok)
		}
	}
	// Updating an answer does not take another place.
	c.put(kept[9], "z")
	if mt, _ := c.get(kept[9]); mt != "z" || len(c.answers) != 4 {
		t.Errorf("update: %q, %d answers", mt, len(c.answers))
	}
	runtime.KeepAlive(kept)
}

// TestAnswerCacheKeepsNoPayloadAlive: the cache's keys are weak, so a
// payload nobody else holds is collected with its content.
func TestAnswerCacheKeepsNoPayloadAlive(t *testing.T) {
	c := newAnswerCache(4)
	c.put(stoqtest.Payload(make([]byte, 1<<20), nil), "application/octet-stream")
	for range 3 {
		runtime.GC()
	}
	for key := range c.answers {
		if key.Value() != nil {
			t.Error("the cache keeps a payload alive")
		}
	}
}
