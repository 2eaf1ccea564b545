package engine_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// A panicking plugin is an Error in the response and one log line: its
// stack is logged at debug level only, never on an analyst's terminal.
func TestPanicStackIsLoggedAtDebugLevelOnly(t *testing.T) {
	w := register(t, "panicky", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		panic("boom")
	}}, nil)
	for level, wantStack := range map[string]bool{"info": false, "debug": true} {
		var logs bytes.Buffer
		s, err := engine.New(engine.WithLogOutput(&logs), engine.WithSetting("log_level", level))
		if err != nil {
			t.Fatal(err)
		}
		resp := scan(t, s, "x", w)
		s.Close()
		if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "panic: boom") {
			t.Errorf("errors %v", errorsOf(resp))
		}
		if got := strings.Contains(logs.String(), "goroutine "); got != wantStack {
			t.Errorf("log_level %s: stack logged %v, want %v:\n%s", level, got, wantStack, logs.String())
		}
	}
}
