package engine_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

func TestParseINIConfigparserSyntax(t *testing.T) {
	src := `# a comment
; another comment
[DEFAULT]
shared = everywhere

[Core]
Name = example
Module: example.com/x

[options]
Empty =
percent = 100%% sure
semicolon = a;b
url = https://example.com/page#fragment
spaced = value ; not a comment in configparser without inline prefixes
multi = first
    second
    third
CamelKey = Mixed
`
	got, err := engine.ParseINI([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ section, key, want string }{
		{"core", "name", "example"},
		{"core", "module", "example.com/x"},
		{"options", "empty", ""},
		{"options", "percent", "100% sure"},
		{"options", "semicolon", "a;b"},
		{"options", "url", "https://example.com/page#fragment"},
		{"options", "spaced", "value ; not a comment in configparser without inline prefixes"},
		{"options", "multi", "first\nsecond\nthird"},
		{"options", "camelkey", "Mixed"},
		{"options", "shared", "everywhere"},
		{"core", "shared", "everywhere"},
	}
	for _, tt := range tests {
		v, ok := got[tt.section][tt.key]
		if !ok || v != tt.want {
			t.Errorf("[%s] %s = %q (present %v), want %q", tt.section, tt.key, v, ok, tt.want)
		}
	}
	if _, ok := got["default"]; ok {
		t.Error("DEFAULT section listed as a section of its own")
	}
}

func TestParseINIRejectsMalformedInput(t *testing.T) {
	for _, src := range []string{"[unterminated\nkey = v\n", "[s]\n= novalue-key\n"} {
		if _, err := engine.ParseINI([]byte(src)); err == nil {
			t.Errorf("ParseINI(%q) accepted malformed input", src)
		}
	}
}

// TestOptionPrecedence pins DESIGN.md section 2: command line, library
// options, stoq.cfg, installed manifest, embedded manifest.
func TestOptionPrecedence(t *testing.T) {
	name := uniq("prec")
	var got *core.Config
	core.Register(name, manifest(name, map[string]string{
		"embedded": "embedded", "installed": "embedded", "cfg": "embedded", "lib": "embedded", "cli": "embedded",
	}), func(cfg *core.Config, _ *slog.Logger) (*fnWorker, error) {
		got = cfg
		return &fnWorker{}, nil
	})
	home := t.TempDir()
	dir := filepath.Join(home, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	installed := strings.Replace(string(manifest(name, map[string]string{"installed": "installed", "cfg": "installed", "lib": "installed", "cli": "installed"})), "Version = 3.0.0", "Version = 3.0.1", 1)
	if err := os.WriteFile(filepath.Join(dir, name+".stoq"), []byte(installed), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(home, "stoq.cfg")
	if err := os.WriteFile(cfgFile, []byte("["+name+"]\ncfg = cfg\nlib = cfg\ncli = cfg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newEngine(t, engine.WithConfigFile(cfgFile), engine.WithPluginDirs(home),
		engine.WithPluginOptions(map[string]map[string]string{name: {"lib": "lib", "cli": "lib"}}),
		engine.WithCommandLineOptions(map[string]map[string]string{name: {"cli": "cli"}}))
	if _, err := s.LoadPlugin(name); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"embedded": "embedded", "installed": "installed", "cfg": "cfg", "lib": "lib", "cli": "cli"} {
		if v := got.String(key, ""); v != want {
			t.Errorf("option %s = %q (from %s), want %q", key, v, got.Source(key), want)
		}
	}
	if got.Dir() != dir {
		t.Errorf("Dir() = %q, want the installed folder %q", got.Dir(), dir)
	}
}

func TestCoreSettingsFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "stoq.cfg")
	os.WriteFile(cfg, []byte("[core]\nmax_queue = 7\nprovider_consumers: 3\nmax_recursion = 4\nlog_syntax = json\n"), 0o644)
	s := newEngine(t, engine.WithConfigFile(cfg), engine.WithSetting("provider_consumers", "5"))
	got := s.Settings()
	if got.MaxQueue != 7 || got.ProviderConsumers != 5 || got.MaxRecursion != 4 || got.LogSyntax != "json" || got.MaxRequiredWorkerDepth != 10 {
		t.Errorf("settings %+v: want file values, options over the file, defaults for the rest", got)
	}
	os.WriteFile(cfg, []byte("[core]\nspool_retry_interval = 1m30s\n"), 0o644)
	if got := newEngine(t, engine.WithConfigFile(cfg)).Settings().SpoolRetryInterval; got != 90*time.Second {
		t.Errorf("spool_retry_interval = %v, want 1m30s", got)
	}
	os.WriteFile(cfg, []byte("[core]\nspool_retry_interval = 0\n"), 0o644)
	if _, err := engine.New(engine.WithConfigFile(cfg)); err == nil || !strings.Contains(err.Error(), "spool_retry_interval") {
		t.Errorf("zero spool_retry_interval: error %v", err)
	}
	os.WriteFile(cfg, []byte("[core]\nmax_queue = many\n"), 0o644)
	if _, err := engine.New(engine.WithConfigFile(cfg)); err == nil || !strings.Contains(err.Error(), "max_queue") || !strings.Contains(err.Error(), cfg) {
		t.Errorf("malformed setting: error %v, want one naming the file and key", err)
	}
	if _, err := engine.New(engine.WithConfigFile(filepath.Join(dir, "missing.cfg"))); err == nil {
		t.Error("missing config file accepted by the library")
	}
}

func TestRegisterValidatesEarly(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: Register did not panic", name)
			}
		}()
		f()
	}
	ok := uniq("dup")
	registerAs(ok, &fnWorker{}, nil)
	mustPanic("duplicate", func() { registerAs(ok, &fnWorker{}, nil) })
	mustPanic("invalid name", func() { registerAs("Bad Name", &fnWorker{}, nil) })
	mustPanic("manifest names another plugin", func() {
		core.Register(uniq("mismatch"), manifest("other", nil), func(*core.Config, *slog.Logger) (*fnWorker, error) { return nil, nil })
	})
	mustPanic("no class", func() {
		n := uniq("noclass")
		core.Register(n, manifest(n, nil), func(*core.Config, *slog.Logger) (*struct{}, error) { return nil, nil })
	})
	info, found := engine.Lookup(ok)
	if !found || !info.Classes.Has(engine.ClassWorker) || info.Classes.Has(engine.ClassConnector) {
		t.Errorf("registered plugin info %+v", info)
	}
}

func TestMulticlassPlugin(t *testing.T) {
	type multi struct {
		fnWorker
		memConnector
	}
	n := register(t, "multi", &multi{}, nil)
	info, _ := engine.Lookup(n)
	if info.Classes.String() != "Worker, Connector" {
		t.Errorf("classes %q", info.Classes)
	}
	s := newEngine(t, engine.WithConnectors(n))
	scan(t, s, "x", n)
	inst, _ := s.LoadPlugin(n)
	if m := inst.(*multi); m.fnWorker.calls.Load() != 1 || len(m.memConnector.responses()) != 1 {
		t.Error("one instance must serve both classes")
	}
}

func TestLoggerWritesRotatingFile(t *testing.T) {
	dir := t.TempDir()
	var stderr strings.Builder
	s, err := engine.New(engine.WithSetting("log_dir", dir), engine.WithSetting("log_level", "warning"),
		engine.WithSetting("log_syntax", "json"), engine.WithSetting("log_maxbytes", "1000"), engine.WithLogOutput(&stderr))
	if err != nil {
		t.Fatal(err)
	}
	s.Logger().Info("hidden")
	s.Logger().Warn("shown", "k", "v")
	s.Close()
	b, err := os.ReadFile(filepath.Join(dir, "stoq.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hidden") || !strings.Contains(string(b), `"msg":"shown"`) {
		t.Errorf("log file %q", b)
	}
	if !strings.Contains(stderr.String(), `"msg":"shown"`) {
		t.Errorf("log output %q, want the same line as the file", stderr.String())
	}
	_, err = engine.New(engine.WithCommandLine("--log-level", "log_level", "loud"))
	if err == nil || !strings.Contains(err.Error(), `--log-level "loud"`) {
		t.Errorf("unknown log level: error %v, want one naming the flag", err)
	}
}
