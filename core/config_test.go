package core_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
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
	got, err := core.ParseINI([]byte(src))
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
		if _, err := core.ParseINI([]byte(src)); err == nil {
			t.Errorf("ParseINI(%q) accepted malformed input", src)
		}
	}
}

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
	s := engine(t, core.WithConfigFile(cfgFile), core.WithPluginDirs(home),
		core.WithPluginOptions(map[string]map[string]string{name: {"lib": "lib", "cli": "lib"}}),
		core.WithCommandLineOptions(map[string]map[string]string{name: {"cli": "cli"}}))
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
	s := engine(t, core.WithConfigFile(cfg), core.WithSettings(core.Settings{ProviderConsumers: 5}))
	got := s.Settings()
	if got.MaxQueue != 7 || got.ProviderConsumers != 5 || got.MaxRecursion != 4 || got.LogSyntax != "json" || got.MaxRequiredWorkerDepth != 10 {
		t.Errorf("settings %+v: want file values, options over the file, defaults for the rest", got)
	}
	os.WriteFile(cfg, []byte("[core]\nspool_retry_interval = 1m30s\n"), 0o644)
	if got := engine(t, core.WithConfigFile(cfg)).Settings().SpoolRetryInterval; got != 90*time.Second {
		t.Errorf("spool_retry_interval = %v, want 1m30s", got)
	}
	os.WriteFile(cfg, []byte("[core]\nspool_retry_interval = 0\n"), 0o644)
	if _, err := core.New(core.WithConfigFile(cfg)); err == nil || !strings.Contains(err.Error(), "spool_retry_interval") {
		t.Errorf("zero spool_retry_interval: error %v", err)
	}
	os.WriteFile(cfg, []byte("[core]\nmax_queue = many\n"), 0o644)
	if _, err := core.New(core.WithConfigFile(cfg)); err == nil || !strings.Contains(err.Error(), "max_queue") || !strings.Contains(err.Error(), cfg) {
		t.Errorf("malformed setting: error %v, want one naming the file and key", err)
	}
	if _, err := core.New(core.WithConfigFile(filepath.Join(dir, "missing.cfg"))); err == nil {
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
	info, found := core.LookupPlugin(ok)
	if !found || !info.Classes.Has(core.ClassWorker) || info.Classes.Has(core.ClassConnector) {
		t.Errorf("registered plugin info %+v", info)
	}
}

func TestMulticlassPlugin(t *testing.T) {
	type multi struct {
		fnWorker
		memConnector
	}
	n := register(t, "multi", &multi{}, nil)
	info, _ := core.LookupPlugin(n)
	if info.Classes.String() != "Worker, Connector" {
		t.Errorf("classes %q", info.Classes)
	}
	s := engine(t, core.WithConnectors(n))
	scan(t, s, "x", n)
	inst, _ := s.LoadPlugin(n)
	if m := inst.(*multi); m.fnWorker.calls.Load() != 1 || len(m.memConnector.responses()) != 1 {
		t.Error("one instance must serve both classes")
	}
}

func TestLoggerWritesRotatingFile(t *testing.T) {
	dir := t.TempDir()
	l, closer, err := core.NewLogger(core.LogSettings{Dir: dir, Level: "warning", Syntax: "json", MaxBytes: 1000}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	closer.Close()
	b, err := os.ReadFile(filepath.Join(dir, "stoq.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hidden") || !strings.Contains(string(b), `"msg":"shown"`) {
		t.Errorf("log file %q", b)
	}
	if _, _, err := core.NewLogger(core.LogSettings{Level: "loud"}, nil); err == nil {
		t.Error("unknown log level accepted")
	}
}
