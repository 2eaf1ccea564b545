package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stoq-go/stoq/core/v3/engine"
)

const badExe = "MZ\x90\x00 this program cannot be run in DOS mode"

func TestGuideScanWithHash(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)

	r := stoq(t, home, nil, "scan", bad, "-s", "hash").mustSucceed(t)
	resp := r.response(t)
	sum := sha256.Sum256([]byte(badExe))
	if got := worker(t, resp, 0, "hash")["sha256"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("hash sha256 = %v", got)
	}
	if got := resp.Results[0].PayloadMeta.ExtraData["filename"]; got != "bad.exe" {
		t.Errorf("filename = %v, want bad.exe", got)
	}
	if resp.Results[0].Size != len(badExe) {
		t.Errorf("size = %d", resp.Results[0].Size)
	}
	// stoQ's indentation: 4 spaces.
	if !strings.HasPrefix(r.stdout, "{\n    \"time\": ") {
		t.Errorf("output is not indented with 4 spaces:\n%s", r.stdout[:min(len(r.stdout), 80)])
	}
	if strings.Contains(r.stderr, "does not exist") {
		t.Errorf("warned about stoq.cfg in a new home: %q", r.stderr)
	}
	if cfg, err := engine.ReadINI(filepath.Join(home, "stoq.cfg")); err != nil || cfg["core"] == nil {
		t.Errorf("no default stoq.cfg written into the new home: %v", err)
	}
}

func TestGuideScanWithHashAndPeinfo(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	for _, args := range [][]string{
		{"scan", bad, "-s", "hash", "peinfo"},
		{"scan", "-s", "hash", "peinfo", bad}, // the FILE rule
		{"scan", bad, "-s", "hash,peinfo"},
		{"scan", bad, "-s", "hash", "-s", "peinfo"},
	} {
		resp := stoq(t, home, nil, args...).mustSucceed(t).response(t)
		if got := resp.Results[0].PluginsRun.Workers; strings.Join(got, ",") != "hash,peinfo" {
			t.Errorf("%q: workers run = %q, want hash and peinfo", args, got)
		}
		if worker(t, resp, 0, "peinfo")["is_exe"] != true {
			t.Errorf("%q: peinfo did not see an exe", args)
		}
	}
}

func TestGuideScanRequestMeta(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	resp := stoq(t, home, nil, "scan", bad, "-s", "hash", "--request-source", "my_mail",
		"--request-extra", "server=mail-server-01", "postfix=true").mustSucceed(t).response(t)
	if resp.RequestMeta.Source != "my_mail" {
		t.Errorf("source = %q", resp.RequestMeta.Source)
	}
	want := map[string]any{"server": "mail-server-01", "postfix": true}
	got, _ := json.Marshal(resp.RequestMeta.ExtraData)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("extra_data = %s, want %s", got, wantJSON)
	}
}

func TestGuideScanDispatcherAndDecorator(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	// -R yara: the yara double dispatches content holding "MZ" to hash.
	resp := stoq(t, home, nil, "scan", bad, "-R", "yara", "-D", "yara").mustSucceed(t).response(t)
	if got := resp.Results[0].PluginsRun.Workers; strings.Join(got, ",") != "hash" {
		t.Errorf("workers run = %q, want hash dispatched by yara", got)
	}
	dec, ok := resp.Decorators["yara"].(map[string]any)
	if !ok || fmt.Sprint(dec["payloads"]) != "1" {
		t.Errorf("decorators = %v, want yara counting 1 payload", resp.Decorators)
	}
	// A payload the rule does not match is not dispatched.
	clean := writeFile(t, dir, "clean.txt", "plain text")
	resp = stoq(t, home, nil, "scan", clean, "-R", "yara").mustSucceed(t).response(t)
	if got := resp.Results[0].PluginsRun.Workers; len(got) != 0 {
		t.Errorf("clean payload dispatched to %q", got)
	}
}

func TestScanDestArchiverAndConnector(t *testing.T) {
	home, dir, archive, results := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	r := stoq(t, home, nil, "scan", bad, "-s", "hash", "-A", "filedir", "-C", "filedir",
		"--plugin-opts", "filedir:archive_dir="+archive, "filedir:results_dir="+results).mustSucceed(t)
	if r.stdout != "" {
		t.Errorf("a connector was chosen, yet stdout got %q", r.stdout)
	}
	saved, err := os.ReadDir(results)
	if err != nil || len(saved) != 1 {
		t.Fatalf("results folder holds %d files (%v), want 1", len(saved), err)
	}
	b, err := os.ReadFile(filepath.Join(results, saved[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []struct {
			Archivers map[string]map[string]string `json:"archivers"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	path := resp.Results[0].Archivers["filedir"]["path"]
	if content, err := os.ReadFile(path); err != nil || string(content) != badExe {
		t.Errorf("archived payload at %q: %q, %v", path, content, err)
	}
}

func TestScanStdin(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{{"scan", "-s", "hash"}, {"scan", "-", "-s", "hash"}, {"scan", "-s", "hash", "-"}} {
		resp := stoq(t, home, strings.NewReader(badExe), args...).mustSucceed(t).response(t)
		if v, ok := resp.Results[0].PayloadMeta.ExtraData["filename"]; !ok || v != nil {
			t.Errorf("%q: filename = %v (present %v), want null", args, v, ok)
		}
		if resp.Results[0].Size != len(badExe) {
			t.Errorf("%q: size %d", args, resp.Results[0].Size)
		}
	}
}

func TestScanFailures(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	empty := writeFile(t, dir, "empty", "")
	badCfg := writeFile(t, dir, "bad.cfg", "[core\nmax_queue = 1\n")
	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
	}{
		{"missing file", "", []string{"scan", filepath.Join(dir, "nope.exe"), "-s", "hash"}, "nope.exe: no such file"},
		{"empty file", "", []string{"scan", empty}, "nothing to scan"},
		{"empty stdin", "", []string{"scan", "-"}, "nothing to scan: standard input"},
		{"a folder", "", []string{"scan", dir}, "is a folder"},
		{"unknown plugin", "", []string{"scan", bad, "-s", "hash", "-C", "nosuch"}, "nosuch"},
		{"bad plugin name", "", []string{"scan", bad, "-s", "Hash"}, `"Hash" is not a plugin name`},
		{"malformed plugin opt", "", []string{"scan", bad, "--plugin-opts", "hash"}, `--plugin-opts "hash"`},
		{"malformed request extra", "", []string{"scan", bad, "--request-extra", "server"}, `--request-extra "server"`},
		{"malformed config", "", []string{"scan", bad, "--config-file", badCfg}, "bad.cfg"},
		{"bad log level", "", []string{"scan", bad, "--log-level", "loud"}, "loud"},
		{"negative recursion", "", []string{"scan", bad, "--max-recursion", "-1"}, "--max-recursion"},
		{"two files", "", []string{"scan", bad, bad}, "accepts at most 1 arg"},
		{"unknown flag", "", []string{"scan", bad, "--bogus"}, "unknown flag: --bogus"},
		{"flag without value", "", []string{"scan", bad, "-s"}, "flag -s needs at least one value"},
		{"unknown command", "", []string{"scna", bad}, `unknown command "scna"`},
		{"unknown start dispatch worker", "", []string{"scan", bad, "-s", "hsah"}, `start dispatch "hsah": plugin hsah is not available`},
		{"start dispatch not a worker", "", []string{"scan", bad, "-s", "filedir"}, "not a Worker"},
		{"bad plugin option value", "", []string{"scan", bad, "-C", "stdout", "--plugin-opts", "stdout:compactly=maybe"}, "compactly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stoq(t, home, strings.NewReader(tt.stdin), tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit status %d, want 2\nstderr: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q does not say %q", r.stderr, tt.wantErr)
			}
			if r.stdout != "" {
				t.Errorf("stdout got %q", r.stdout)
			}
		})
	}
}

func TestScanPluginErrorsAndFailOnError(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	r := stoq(t, home, nil, "scan", bad, "-s", "hash", "testerror").mustSucceed(t)
	resp := r.response(t)
	if len(resp.Errors) != 1 || resp.Errors[0].PluginName != "testerror" {
		t.Fatalf("errors = %v, want testerror's", resp.Errors)
	}
	r = stoq(t, home, nil, "scan", bad, "-s", "hash", "testerror", "--fail-on-error")
	if r.code != exitFailure || !strings.Contains(r.stderr, "--fail-on-error") {
		t.Errorf("--fail-on-error: exit %d, stderr %q; want 1", r.code, r.stderr)
	}
	if len(r.response(t).Errors) != 1 {
		t.Error("--fail-on-error must still print the response")
	}
	stoq(t, home, nil, "scan", bad, "-s", "hash", "--fail-on-error").mustSucceed(t)
}

func TestPluginOptsForAnUnlinkedPluginWarns(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	r := stoq(t, home, nil, "scan", bad, "-s", "hash", "--plugin-opts", "hsah:x=1", "hash:x=1").mustSucceed(t)
	if !strings.Contains(r.stderr, "--plugin-opts names hsah, which is not linked") || strings.Contains(r.stderr, "names hash") {
		t.Errorf("stderr = %q, want a warning about hsah only", r.stderr)
	}
}

func TestScanMaxRecursion(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	f := writeFile(t, dir, "parts", "a|b|c")
	resp := stoq(t, home, nil, "scan", f, "-a", "testextract").mustSucceed(t).response(t)
	if len(resp.Results) != 4 || len(resp.Errors) != 0 {
		t.Fatalf("default recursion: %d payloads, errors %v; want 4 and none", len(resp.Results), resp.Errors)
	}
	resp = stoq(t, home, nil, "scan", f, "-a", "testextract", "--max-recursion", "1").mustSucceed(t).response(t)
	if len(resp.Errors) != 3 || !strings.Contains(resp.Errors[0].Message, "Final worker round") {
		t.Errorf("--max-recursion 1: errors %v, want 3 final-round errors", resp.Errors)
	}
}

func TestScanConfigFile(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	// stoq.cfg in $STOQ_HOME is read by default: always_dispatch and the
	// yara double's rule.
	writeFile(t, home, "stoq.cfg", "[core]\nalways_dispatch = peinfo\n\n[yara]\nrule = cannot\n")
	r := stoq(t, home, nil, "scan", bad, "-s", "yara").mustSucceed(t)
	if strings.Contains(r.stderr, "does not exist") {
		t.Errorf("warned about an existing stoq.cfg: %s", r.stderr)
	}
	resp := r.response(t)
	if got := strings.Join(resp.Results[0].PluginsRun.Workers, ","); got != "yara,peinfo" && got != "peinfo,yara" {
		t.Errorf("workers = %s, want yara and peinfo from always_dispatch", got)
	}
	if m := worker(t, resp, 0, "yara")["matches"]; m == nil {
		t.Errorf("yara's rule from stoq.cfg did not match: %v", m)
	}
	// --plugin-opts wins over stoq.cfg; --config-file replaces it.
	resp = stoq(t, home, nil, "scan", bad, "-s", "yara", "--plugin-opts", "yara:rule=nothing-like-this").mustSucceed(t).response(t)
	if m := worker(t, resp, 0, "yara")["matches"]; m != nil {
		t.Errorf("--plugin-opts did not override stoq.cfg: %v", m)
	}
	other := writeFile(t, dir, "other.cfg", "[core]\nalways_dispatch = hash\n")
	resp = stoq(t, home, nil, "scan", bad, "--config-file", other).mustSucceed(t).response(t)
	if got := strings.Join(resp.Results[0].PluginsRun.Workers, ","); got != "hash" {
		t.Errorf("--config-file: workers %s, want hash", got)
	}
	// A missing --config-file is a warning, as in stoQ.
	r = stoq(t, home, nil, "scan", bad, "--config-file", filepath.Join(dir, "missing.cfg")).mustSucceed(t)
	if !strings.Contains(r.stderr, "missing.cfg does not exist") {
		t.Errorf("no warning for a missing --config-file: %q", r.stderr)
	}
	// stoq.cfg's connectors replace the default stdout connector.
	results := t.TempDir()
	writeFile(t, home, "stoq.cfg", "[core]\nconnectors = filedir\n\n[filedir]\nresults_dir = "+results+"\n")
	r = stoq(t, home, nil, "scan", bad, "-s", "hash").mustSucceed(t)
	if saved, _ := os.ReadDir(results); r.stdout != "" || len(saved) != 1 {
		t.Errorf("stoq.cfg connectors: stdout %q, %d saved results", r.stdout, len(saved))
	}
}

var idsAndTime = regexp.MustCompile(`"(payload_id|scan_id|time)": "[^"]*"|"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"`)

func TestScanTwiceGivesTheSameJSON(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	f := writeFile(t, dir, "parts.exe", "MZ|one|two|MZ three|one")
	args := []string{"scan", f, "-s", "hash", "peinfo", "-a", "testextract", "hash", "-R", "yara", "-D", "yara"}
	first := stoq(t, home, nil, args...).mustSucceed(t).stdout
	second := stoq(t, home, nil, args...).mustSucceed(t).stdout
	if first == second {
		t.Fatal("two scans printed byte-identical JSON: ids and time should differ")
	}
	a, b := idsAndTime.ReplaceAllString(first, "X"), idsAndTime.ReplaceAllString(second, "X")
	if a != b {
		t.Errorf("the two scans differ beyond ids and time:\n%s\n---\n%s", a, b)
	}
}

func TestScanLargeFileIsMapped(t *testing.T) {
	dir := t.TempDir()
	content := strings.Repeat("stoq", 1<<18) // 1 MiB
	path := writeFile(t, dir, "big", content)
	pc, err := readPayloadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(pc.data) != content {
		t.Fatal("mapped content differs from the file")
	}
	if err := pc.release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	// Non-regular files are refused: a device could never end.
	if _, err := os.Stat("/dev/null"); err == nil {
		if _, err := readPayloadFile("/dev/null", 0); err == nil || !strings.Contains(err.Error(), "a device, not a regular file") {
			t.Errorf("/dev/null: %v, want a device refused", err)
		}
	}
}

func TestReadStreamSpoolsLargeInput(t *testing.T) {
	const threshold = 4096
	for _, size := range []int{1, threshold, threshold + 1, threshold + 12345, 3 << 20} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i * 7)
		}
		// A reader that is neither a file nor a bytes.Reader, as a pipe.
		pc, err := readStreamSpooling(struct{ io.Reader }{bytes.NewReader(want)}, "pipe", threshold, 0)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !bytes.Equal(pc.data, want) {
			t.Errorf("%d bytes: content differs", size)
		}
		if err := pc.release(); err != nil {
			t.Errorf("%d bytes: release: %v", size, err)
		}
	}
	if _, err := readStream(strings.NewReader(""), "pipe", 0); !errors.Is(err, errNoContent) {
		t.Errorf("empty stream: %v", err)
	}
	if _, err := readStream(iotest.ErrReader(os.ErrClosed), "pipe", 0); err == nil || !strings.Contains(err.Error(), "reading pipe") {
		t.Errorf("failing stream: %v", err)
	}
}
