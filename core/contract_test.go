package core_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
)

// manifest is a valid manifest of plugin name with opts as [options].
func manifest(name string, opts map[string]string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "[Core]\nName = %s\nModule = example.com/%s\n\n[Documentation]\nAuthor = tests\nVersion = 3.0.0\nWebsite = https://example.com\nDescription = test plugin %s\n\n[options]\nmin_stoq_version = 3.0.0\n", name, name, name)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range opts {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s = %s\n", k, opts[k])
	}
	return []byte(b.String())
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

func TestManifestValidate(t *testing.T) {
	good := string(manifest("valid", nil))
	m, err := core.ParseManifest([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("valid manifest rejected: %v", err)
	}
	tests := []struct{ name, from, to, wantErr string }{
		{"missing author", "Author = tests\n", "", "[Documentation] Author"},
		{"missing min version", "min_stoq_version = 3.0.0\n", "", "min_stoq_version"},
		{"bad version", "Version = 3.0.0", "Version = three", "not a semantic version"},
		{"unsafe name", "Name = valid", "Name = ../evil", "not a safe plugin name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := core.ParseManifest([]byte(strings.Replace(good, tt.from, tt.to, 1)))
			if err == nil {
				err = m.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := core.ParseManifest([]byte("[Documentation]\nAuthor = x\n")); err == nil {
		t.Error("manifest without [Core] Name accepted")
	}
}

func TestConfigTypedGetters(t *testing.T) {
	c := core.NewConfig("p", "/plugins/p", core.ConfigLayer{Source: "test", Values: map[string]string{
		"yes": "Yes", "zero": "0", "bad_bool": "maybe", "n": " 42 ", "bad_n": "4x2",
		"f": "1.5", "list": " a, b ,,c ", "json": `{"k": [1, 2]}`, "bad_json": "{",
		"secs": "2.5", "dur": "1m30s", "rel": "rules/x.yar", "abs": "/etc/x.yar",
	}})
	if v, err := c.Bool("yes", false); err != nil || !v {
		t.Errorf("Bool(yes) = %v, %v", v, err)
	}
	if v, err := c.Bool("zero", true); err != nil || v {
		t.Errorf("Bool(zero) = %v, %v", v, err)
	}
	if v, _ := c.Bool("unset", true); !v {
		t.Error("Bool default not used")
	}
	if v, err := c.Int("n", 0); err != nil || v != 42 {
		t.Errorf("Int = %v, %v", v, err)
	}
	if v, err := c.Float("f", 0); err != nil || v != 1.5 {
		t.Errorf("Float = %v, %v", v, err)
	}
	if got := c.List("list", nil); !equalStrings(got, []string{"a", "b", "c"}) {
		t.Errorf("List = %q", got)
	}
	if got := c.StringSet("list", nil); len(got) != 3 {
		t.Errorf("StringSet = %v", got)
	}
	var j struct{ K []int }
	if err := c.JSON("json", &j); err != nil || len(j.K) != 2 {
		t.Errorf("JSON = %+v, %v", j, err)
	}
	if d, err := c.Duration("secs", 0); err != nil || d != 2500*time.Millisecond {
		t.Errorf("Duration(secs) = %v, %v", d, err)
	}
	if d, err := c.Duration("dur", 0); err != nil || d != 90*time.Second {
		t.Errorf("Duration(dur) = %v, %v", d, err)
	}
	if p := c.Path("rel", ""); p != filepath.Join("/plugins/p", "rules/x.yar") {
		t.Errorf("Path(rel) = %q", p)
	}
	if p := c.Path("abs", ""); p != "/etc/x.yar" {
		t.Errorf("Path(abs) = %q", p)
	}
	for _, key := range []string{"bad_bool", "bad_n", "bad_json"} {
		var err error
		switch key {
		case "bad_bool":
			_, err = c.Bool(key, false)
		case "bad_n":
			_, err = c.Int(key, 0)
		case "bad_json":
			err = c.JSON(key, &j)
		}
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Plugin != "p" || oe.Option != key || oe.Source != "test" {
			t.Errorf("%s: error %v, want an OptionError naming plugin, option and source", key, err)
		}
	}
}

func TestCheckMinStoqVersion(t *testing.T) {
	tests := []struct {
		min, running string
		ok           bool
	}{
		{"3.0.0", "3.0.0", true},
		{"3.0.0", "3.4.1", true},
		{"3.1.0", "3.0.9", false},
		{">= 3.0, < 4", "3.9.0", true},
		{">= 3.0, < 4", "4.0.0", false},
		{"^3.2", "3.1.0", false},
		{"", "3.0.0", false},
		{"three", "3.0.0", false},
	}
	for _, tt := range tests {
		m := &core.Manifest{Name: "p", MinStoqVersion: tt.min}
		err := m.CheckMinStoqVersion(tt.running)
		if (err == nil) != tt.ok {
			t.Errorf("min_stoq_version %q on stoq %s: error %v, want ok=%v", tt.min, tt.running, err, tt.ok)
		}
		if err != nil && tt.min != "" && !strings.Contains(err.Error(), tt.min) {
			t.Errorf("error %q does not say what the plugin needs", err)
		}
	}
}

func TestConfigOptionErrorNamesOptionValueAndSource(t *testing.T) {
	c := core.NewConfig("p", "", core.ConfigLayer{Source: "stoq.cfg [p]", Values: map[string]string{"Size": "-3"}})
	err := c.OptionError("size", "want a positive integer")
	var oe *core.OptionError
	if !errors.As(err, &oe) || oe.Value != "-3" || oe.Source != "stoq.cfg [p]" || oe.Option != "size" {
		t.Fatalf("OptionError = %#v", err)
	}
	if want := `plugin p: option size = "-3" (from stoq.cfg [p]): want a positive integer`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestDurationOptionOverflowIsAnError(t *testing.T) {
	c := core.NewConfig("p", "", core.ConfigLayer{Source: "test", Values: map[string]string{"timeout": "1e300", "neg": "-1"}})
	for _, key := range []string{"timeout", "neg"} {
		if d, err := c.Duration(key, time.Minute); err == nil {
			t.Errorf("Duration(%s) = %v, want an error", key, d)
		}
	}
}

func TestQueueRefusesEmptyTasksAndWritesAfterClose(t *testing.T) {
	q := core.NewQueue(1)
	if err := q.Put(t.Context(), core.Task{}); err == nil {
		t.Error("empty task accepted")
	}
	if err := q.PutPayload(t.Context(), core.NewPayload([]byte("x"), nil)); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := q.PutPayload(t.Context(), core.NewPayload([]byte("y"), nil)); !errors.Is(err, core.ErrQueueClosed) {
		t.Errorf("Put after Close = %v, want ErrQueueClosed", err)
	}
	if n := len(slices.Collect(func(yield func(core.Task) bool) {
		for task := range q.Tasks() {
			if !yield(task) {
				return
			}
		}
	})); n != 1 {
		t.Errorf("drained %d tasks, want 1", n)
	}
}

func TestResponseEncodeAsStoQPrintsIt(t *testing.T) {
	r := &core.StoqResponse{Time: "t", Results: []*core.PayloadResults{}, RequestMeta: core.NewRequestMeta(),
		Errors: []core.Error{core.Errorf("a <b> & c")}, Decorators: map[string]any{}, ScanID: "id"}
	var compact, indented strings.Builder
	if err := r.Encode(&compact, true); err != nil {
		t.Fatal(err)
	}
	if err := r.Encode(&indented, false); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"t","results":[],"request_meta":{"archive_payloads":true,"source":null,"extra_data":{}},"errors":[{"error":"a <b> & c","plugin_name":null,"payload_id":null}],"decorators":{},"scan_id":"id"}` + "\n"
	if compact.String() != want {
		t.Errorf("compact:\n%s\nwant:\n%s", compact.String(), want)
	}
	if !strings.HasPrefix(indented.String(), "{\n    \"time\": \"t\",\n") || !strings.HasSuffix(indented.String(), "}\n") {
		t.Errorf("indented:\n%s", indented.String())
	}
}
