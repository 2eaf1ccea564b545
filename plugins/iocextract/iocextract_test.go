package iocextract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// scanJSON scans content with w and returns its results as a connector
// would see them.
func scanJSON(t *testing.T, w *Plugin, content []byte) any {
	t.Helper()
	resp := stoqtest.Scan(t, w, content)
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %v", resp.Errors)
	}
	return stoqtest.JSON(t, resp.Results)
}

// The corpus (an e-mail, logs, a threat report) gives, with the default
// options (shipped TLD list and whitelist), the results written by hand in
// testdata/corpus/NAME.json.
func TestCorpus(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "iocextract", nil)
	texts, err := filepath.Glob("testdata/corpus/*.txt")
	if err != nil || len(texts) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, path := range texts {
		t.Run(filepath.Base(path), func(t *testing.T) {
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, err := os.ReadFile(strings.TrimSuffix(path, ".txt") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal(wantJSON, &want); err != nil {
				t.Fatal(err)
			}
			got := scanJSON(t, w, content)
			if !reflect.DeepEqual(got, want) {
				pretty, _ := json.MarshalIndent(got, "", "    ")
				t.Errorf("got\n%s\nwant\n%s", pretty, wantJSON)
			}
		})
	}
}

// Only the types found are present; nothing found is {}.
func TestResultsShape(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "iocextract", nil)
	for _, content := range [][]byte{nil, []byte("nothing to see here."), {0, 1, 2, 0xff}} {
		b, err := json.Marshal(stoqtest.Scan(t, w, content).Results)
		if err != nil || string(b) != "{}" {
			t.Errorf("%q: results %s (%v), want {}", content, b, err)
		}
	}
	got := scanJSON(t, w, []byte("hxxp://evil[.]example.com/x and evil.example.com, EVIL.example.com"))
	want := map[string]any{"url": []any{"http://evil.example.com/x"}, "domain": []any{"evil.example.com"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// The shipped whitelist applies by default, as stoQ's.
func TestDefaultWhitelist(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "iocextract", nil)
	got := scanJSON(t, w, []byte("10.1.2.3 172.16.0.1 192.168.1.1 8.8.8.8 https://www.google.com/x mail.yahoo.com example.mil evil.example.net"))
	want := map[string]any{"ipv4": []any{"8.8.8.8"}, "domain": []any{"evil.example.net"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	none := stoqtest.New[*Plugin](t, "iocextract", map[string]string{"whitelist_file": ""})
	got = scanJSON(t, none, []byte("10.1.2.3 www.google.com"))
	want = map[string]any{"ipv4": []any{"10.1.2.3"}, "domain": []any{"www.google.com"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("whitelist_file empty: got %v, want %v", got, want)
	}
}

// newInDir constructs the plugin as installed in dir, with opts on top of
// the embedded manifest, logging to log.
func newInDir(t *testing.T, dir string, opts map[string]string, log *slog.Logger) (*Plugin, error) {
	t.Helper()
	m, err := core.ParseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	cfg := core.NewConfig("iocextract", dir,
		core.ConfigLayer{Source: "embedded manifest", Values: m.Options},
		core.ConfigLayer{Source: "test options", Values: opts})
	return New(cfg, log)
}

// Files in the plugin's folder take the place of the embedded ones, and
// several whitelists can be listed; other paths may be absolute.
func TestDataFilesFromPluginFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(defaultTLDFile, "# test list\nCOM\nLOCAL\n")
	write(defaultWhitelistFile, "domain:.good.com\n")
	extra := write("extra.txt", "ipv4:198.51.100.0/24\n")
	p, err := newInDir(t, dir, map[string]string{"whitelist_file": "whitelist.txt, " + extra}, stoqtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	got := scanJSON(t, p, []byte("a.good.com evil.com printer.local example.org 198.51.100.9 10.0.0.1"))
	want := map[string]any{"domain": []any{"evil.com", "printer.local"}, "ipv4": []any{"10.0.0.1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Without the files in the folder, the embedded copies serve.
	p, err = newInDir(t, t.TempDir(), nil, stoqtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	got = scanJSON(t, p, []byte("example.org printer.local 10.0.0.1"))
	if want := map[string]any{"domain": []any{"example.org"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("embedded files: got %v, want %v", got, want)
	}
}

// Bad options stop the plugin from loading with an OptionError naming
// the option and saying what is wrong.
func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	badTLDs := filepath.Join(dir, "tlds.txt")
	os.WriteFile(badTLDs, []byte("COM\nNOT A TLD\n"), 0o644)
	cases := []struct {
		opts           map[string]string
		option, substr string
	}{
		{map[string]string{"iana_tld_file": "/nonexistent/tlds.txt"}, "iana_tld_file", "no such file"},
		{map[string]string{"iana_tld_file": badTLDs}, "iana_tld_file", "line 2"},
		{map[string]string{"iana_tld_file": dir}, "iana_tld_file", "is a directory"},
		{map[string]string{"whitelist_file": "whitelist.txt,/nonexistent/wl.txt"}, "whitelist_file", "/nonexistent/wl.txt"},
		{map[string]string{"max_iocs_per_type": "-1"}, "max_iocs_per_type", "positive"},
		{map[string]string{"max_iocs_per_type": "many"}, "max_iocs_per_type", "integer"},
	}
	for _, c := range cases {
		_, err := stoqtest.TryNew(t, "iocextract", c.opts)
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != c.option || oe.Plugin != "iocextract" || !strings.Contains(err.Error(), c.substr) {
			t.Errorf("%v: error %v, want an OptionError for %s mentioning %q", c.opts, err, c.option, c.substr)
		}
	}
}

// Lines of a whitelist that cannot be read are skipped with a warning
// naming the file and line, as stoQ did.
func TestWhitelistWarnings(t *testing.T) {
	wl := filepath.Join(t.TempDir(), "wl.txt")
	os.WriteFile(wl, []byte("ipv4:10.0.0.0/8\nbogus:1\nipv4:1.2.3\n"), 0o644)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	p, err := newInDir(t, "", map[string]string{"whitelist_file": wl}, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{wl + ":2: unknown indicator type", wl + ":3: \\\"1.2.3\\\" is not an ipv4"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if got := scanJSON(t, p, []byte("10.9.9.9 1.2.3.4")); !reflect.DeepEqual(got, map[string]any{"ipv4": []any{"1.2.3.4"}}) {
		t.Errorf("got %v", got)
	}
}

// iana_url is accepted (stoq.cfg files written for stoQ carry it) and
// never fetched.
func TestIanaURLIsNotFetched(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "iocextract", map[string]string{"iana_url": "http://127.0.0.1:1/tlds.txt"})
	if got := scanJSON(t, w, []byte("example.com")); !reflect.DeepEqual(got, map[string]any{"domain": []any{"example.com"}}) {
		t.Errorf("got %v", got)
	}
}

// Past max_iocs_per_type, the first values found are kept and an Error
// names the type and the option.
func TestLimitIsAnError(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "iocextract", map[string]string{"max_iocs_per_type": "2"})
	resp := stoqtest.Scan(t, w, []byte("198.51.100.3 198.51.100.1 198.51.100.2 a.example.com"))
	got := stoqtest.JSON(t, resp.Results)
	want := map[string]any{"ipv4": []any{"198.51.100.1", "198.51.100.3"}, "domain": []any{"a.example.com"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "ipv4") || !strings.Contains(resp.Errors[0].Message, "max_iocs_per_type") {
		t.Errorf("errors %v", resp.Errors)
	}
	unlimited := stoqtest.New[*Plugin](t, "iocextract", map[string]string{"max_iocs_per_type": "0"})
	if resp := stoqtest.Scan(t, unlimited, []byte("198.51.100.3 198.51.100.1 198.51.100.2")); len(resp.Errors) != 0 {
		t.Errorf("no limit: errors %v", resp.Errors)
	}
}

// A scan whose context has ended returns the context's error.
func TestScanStopsWhenCancelled(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "iocextract", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := stoqtest.Payload(bytes.Repeat([]byte("198.51.100.1 "), 300_000), nil)
	resp, err := w.Scan(ctx, p, stoqtest.Request(p))
	if !errors.Is(err, context.Canceled) || resp == nil {
		t.Fatalf("Scan = %v, %v; want partial results and context.Canceled", resp, err)
	}
}

// Scanning never modifies the payload, which other plugins share.
func TestContentUntouched(t *testing.T) {
	content := []byte("hxxp://evil[.]com/a(dot)b x[@]y[.]org \xff\xfe")
	orig := bytes.Clone(content)
	w := stoqtest.New[*Plugin](t, "iocextract", nil)
	stoqtest.Scan(t, w, content)
	if !bytes.Equal(content, orig) {
		t.Fatal("content was modified")
	}
}

// One plugin serves concurrent scans (the engine runs a round's work in
// parallel): every scan gets the same results as a scan alone.
func TestConcurrentScans(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "iocextract", nil)
	content, err := os.ReadFile("testdata/corpus/log.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := scanJSON(t, w, content)
	errs := make(chan string, 8)
	for range 8 {
		go func() {
			p := stoqtest.Payload(content, nil)
			resp, err := w.Scan(context.Background(), p, stoqtest.Request(p))
			switch {
			case err != nil:
				errs <- err.Error()
			case !reflect.DeepEqual(stoqtest.JSON(t, resp.Results), want):
				errs <- "results differ"
			default:
				errs <- ""
			}
		}()
	}
	for range 8 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
