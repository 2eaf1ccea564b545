package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

func TestGuideList(t *testing.T) {
	home := t.TempDir()
	r := stoq(t, home, nil, "list").mustSucceed(t)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if lines[0] != "stoQ :: v"+core.Version+" :: an automated analysis framework" {
		t.Errorf("header = %q", lines[0])
	}
	if lines[1] != strings.Repeat("-", len(lines[0])) {
		t.Errorf("rule = %q", lines[1])
	}
	rows := map[string]string{}
	col := -1
	for _, l := range lines[2:] {
		name := strings.Fields(l)[0]
		rows[name] = l
		// Columns are aligned: every version starts at the same offset.
		at := strings.Index(l, " v")
		for at < len(l) && l[at] == ' ' {
			at++
		}
		if col >= 0 && at != col {
			t.Errorf("version column of %q at %d, others at %d", name, at, col)
		}
		col = at
	}
	for name, want := range map[string]string{
		"hash":    "Worker",
		"dirmon":  "Provider",
		"filedir": "Archiver, Connector",
		"yara":    "Worker, Dispatcher, Decorator",
		"stdout":  "Connector",
	} {
		row, ok := rows[name]
		if !ok {
			t.Errorf("%s not listed", name)
			continue
		}
		info, _ := engine.Lookup(name)
		if !strings.HasSuffix(row, want) || !strings.Contains(row, "v"+info.Manifest.Version) || !strings.Contains(row, info.Manifest.Description) {
			t.Errorf("row %q lacks version, description or classes %q", row, want)
		}
	}
	if len(rows) != len(engine.Plugins()) {
		t.Errorf("%d rows for %d plugins", len(rows), len(engine.Plugins()))
	}
	// list creates $STOQ_HOME and its plugins folder on first use.
	if fi, err := os.Stat(filepath.Join(home, "plugins")); err != nil || !fi.IsDir() {
		t.Errorf("$STOQ_HOME/plugins not created: %v", err)
	}
}

func TestListInstalledButNotLinked(t *testing.T) {
	home, extra := t.TempDir(), t.TempDir()
	manifest := "[Core]\nName = %s\nModule = example.com/%s\n\n[Documentation]\nAuthor = a\nVersion = 1.2.3\nWebsite = w\nDescription = Third party %s\n\n[options]\nmin_stoq_version = 3.0.0\n"
	for dir, name := range map[string]string{filepath.Join(home, "plugins"): "trid", extra: "mraptor"} {
		writeFile(t, dir, name+"/"+name+".stoq", strings.ReplaceAll(manifest, "%s", name))
	}
	// A folder without NAME/NAME.stoq and a linked plugin's installed copy
	// are not listed as unlinked.
	writeFile(t, home, "plugins/notaplugin/README", "x")
	writeFile(t, home, "plugins/hash/hash.stoq", strings.ReplaceAll(manifest, "%s", "hash"))

	r := stoq(t, home, nil, "list", "--plugin-dir", extra).mustSucceed(t)
	for _, name := range []string{"trid", "mraptor"} {
		var row string
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, name+" ") {
				row = l
			}
		}
		dir := filepath.Join(home, "plugins", name)
		if name == "mraptor" {
			dir = filepath.Join(extra, name)
		}
		if !strings.Contains(row, "v1.2.3") || !strings.Contains(row, "Third party "+name) ||
			!strings.Contains(row, "stoq install "+dir+" --upgrade") {
			t.Errorf("%s row = %q", name, row)
		}
	}
	if strings.Contains(r.stdout, "notaplugin") || strings.Count(r.stdout, "\nhash ") != 1 {
		t.Errorf("unexpected rows:\n%s", r.stdout)
	}
}

func TestStoqHome(t *testing.T) {
	parent := t.TempDir()
	file := writeFile(t, parent, "file", "x")
	for _, tt := range []struct{ name, home, want string }{
		{"a regular file", file, "is not a folder"},
		{"inside a regular file", filepath.Join(file, "home"), "not a directory"},
		{"plugins is a file", filepath.Dir(writeFile(t, parent, "h2/plugins", "x")), "plugins is not a folder"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range [][]string{{"list"}, {"scan", file}, {"run", "-P", "dirmon"}} {
				r := stoq(t, tt.home, nil, cmd...)
				if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "STOQ_HOME") {
					t.Errorf("%q: exit %d, stderr %q; want 2 and %q naming STOQ_HOME", cmd, r.code, r.stderr, tt.want)
				}
			}
		})
	}
	// Created on first use, with plugins/ inside.
	fresh := filepath.Join(parent, "new", "home")
	stoq(t, fresh, strings.NewReader("x"), "scan").mustSucceed(t)
	if fi, err := os.Stat(filepath.Join(fresh, "plugins")); err != nil || !fi.IsDir() {
		t.Errorf("fresh home: %v", err)
	}
	// The default is ~/.stoq.
	env, err := NewEnv(func(k string) string {
		if k == "HOME" {
			return "/home/analyst"
		}
		return ""
	}, nil, nil, nil)
	if err != nil || env.Home != "/home/analyst/.stoq" || env.ConfigFile != "/home/analyst/.stoq/stoq.cfg" ||
		env.PluginsDir() != "/home/analyst/.stoq/plugins" || env.BinDir() != "/home/analyst/.stoq/bin" {
		t.Errorf("default env = %+v, %v", env, err)
	}
}

func TestVersion(t *testing.T) {
	r := stoq(t, t.TempDir(), nil, "version").mustSucceed(t)
	if !strings.HasPrefix(r.stdout, "stoq "+core.Version+" ") {
		t.Errorf("version output starts %q", r.stdout)
	}
	for _, p := range engine.Plugins() {
		if !strings.Contains(r.stdout, "  "+p.Name+" ") || !strings.Contains(r.stdout, p.Manifest.Module) {
			t.Errorf("plugin %s missing:\n%s", p.Name, r.stdout)
		}
	}
	if r := stoq(t, t.TempDir(), nil, "--version").mustSucceed(t); r.stdout != "stoq "+core.Version+"\n" {
		t.Errorf("--version = %q", r.stdout)
	}
}

func TestModuleVersion(t *testing.T) {
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "example.com/mystoq", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/stoq-go/stoq/plugins/hash/v3", Version: "v3.1.0"},
			{Path: "github.com/stoq-go/stoq/plugins/yara/v3", Version: "v0.0.0-00010101000000-000000000000",
				Replace: &debug.Module{Path: "/root/.stoq/plugins/yara"}},
			{Path: "example.com/third", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1"}},
		},
	}
	for path, want := range map[string]string{
		"example.com/mystoq":                      "(devel)",
		"github.com/stoq-go/stoq/plugins/hash/v3": "v3.1.0",
		"github.com/stoq-go/stoq/plugins/yara/v3": "=> /root/.stoq/plugins/yara",
		"example.com/third":                       "v1.0.0 => example.com/fork v1.0.1",
		"example.com/absent":                      "unknown",
		"":                                        "unknown",
	} {
		if got := moduleVersion(info, path); got != want {
			t.Errorf("moduleVersion(%q) = %q, want %q", path, got, want)
		}
	}
	if got := moduleVersion(nil, "x"); got != "unknown" {
		t.Errorf("no build info: %q", got)
	}
}

func TestHelpHasExamples(t *testing.T) {
	for cmd, want := range map[string]string{
		"scan":    "stoq scan /tmp/bad.exe -s hash peinfo",
		"run":     "stoq run -P dirmon -C filedir -a hash peinfo",
		"list":    "stoq list",
		"version": "stoq version",
	} {
		r := stoq(t, t.TempDir(), nil, cmd, "--help").mustSucceed(t)
		if !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, want) {
			t.Errorf("stoq %s --help lacks examples:\n%s", cmd, r.stdout)
		}
	}
	r := stoq(t, t.TempDir(), nil, "--help").mustSucceed(t)
	for _, want := range []string{"stoQ :: v" + core.Version, "stoq scan mybadfile.exe -s yara", "completion"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stoq --help lacks %q", want)
		}
	}
	r = stoq(t, t.TempDir(), nil, "scan", "--help").mustSucceed(t)
	for _, flag := range []string{"-s, --start-dispatch", "-a, --always-dispatch", "-R, --dispatchers", "-D, --decorators",
		"-C, --connectors", "-A, --dest-archivers", "-S, --source-archivers", "--plugin-opts", "--request-source",
		"--request-extra", "--max-recursion", "--plugin-dir", "--config-file", "--log-level", "--fail-on-error"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("scan --help lacks %s", flag)
		}
	}
	if r := stoq(t, t.TempDir(), nil, "run", "--help").mustSucceed(t); !strings.Contains(r.stdout, "-P, --providers") {
		t.Error("run --help lacks -P, --providers")
	}
}

// completions runs cobra's hidden completion command and returns the
// suggested words.
func completions(t *testing.T, args ...string) []string {
	t.Helper()
	r := stoq(t, t.TempDir(), nil, append([]string{"__completeNoDesc"}, args...)...).mustSucceed(t)
	var out []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
			out = append(out, l)
		}
	}
	return out
}

func TestCompletion(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scan", "f", "-s", ""}, "hash peinfo testerror testextract testshrink testslow yara"},
		{[]string{"scan", "f", "-s", "te"}, "testerror testextract testshrink testslow"},
		{[]string{"scan", "f", "-a", "hash", ""}, "hash peinfo testerror testextract testshrink testslow yara"},
		{[]string{"scan", "f", "-a", "hash,p"}, "hash,peinfo"},
		{[]string{"run", "-P", ""}, "dirmon testprovider"},
		{[]string{"run", "-C", ""}, "filedir stdout"},
		{[]string{"scan", "f", "-R", ""}, "yara"},
		{[]string{"scan", "f", "-D", ""}, "yara"},
		{[]string{"scan", "f", "-A", ""}, "filedir"},
		{[]string{"scan", "f", "--plugin-opts", "dir"}, "dirmon:"},
		{[]string{"run", "--plugin-opts", "dirmon:source_dir=/x", "filedir:"}, "filedir:archive_dir= filedir:results_dir="},
		{[]string{"scan", "f", "--log-level", ""}, "debug info warning error critical"},
	}
	for _, tt := range tests {
		if got := strings.Join(completions(t, tt.args...), " "); got != tt.want {
			t.Errorf("complete %q = %q, want %q", tt.args, got, tt.want)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := stoq(t, t.TempDir(), nil, "completion", shell).mustSucceed(t)
		if !strings.Contains(r.stdout, "stoq") {
			t.Errorf("completion %s printed no script", shell)
		}
	}
}

func TestStdoutConnectorSerializesWrites(t *testing.T) {
	c := &stdoutConnector{compactly: true}
	var buf strings.Builder
	c.setOutput(&buf)
	const n = 50
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := stoqtest.Response(core.NewPayload([]byte("<&>"), nil))
			if err := c.Save(context.Background(), resp); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("interleaved or broken line %q: %v", l, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestStdoutConnectorWriteErrorIsRecorded(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	bad := writeFile(t, dir, "bad.exe", badExe)
	var stderr strings.Builder
	env, err := NewEnv(func(k string) string {
		if k == HomeEnvVar {
			return home
		}
		return ""
	}, strings.NewReader(""), failingWriter{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	// The result is lost (stdout does not spool): exit status 1.
	if code := run(context.Background(), env, []string{"scan", bad, "-s", "hash"}); code != exitFailure {
		t.Errorf("exit %d, want 1: %s", code, stderr.String())
	}
	if code := run(context.Background(), env, []string{"scan", bad, "-s", "hash", "--fail-on-error"}); code != exitFailure {
		t.Errorf("--fail-on-error with a failed save: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "writing to stdout") {
		t.Errorf("stderr does not report the failed write: %s", stderr.String())
	}
}

func TestVersionNamesWhereBuilderLinkedPluginsCameFrom(t *testing.T) {
	var out strings.Builder
	plugins := engine.Plugins()
	if len(plugins) == 0 {
		t.Skip("no plugins linked into the test binary")
	}
	p := plugins[0]
	built := BuildInfo{Plugins: []LinkedPlugin{{Name: p.Name, Version: p.Manifest.Version, Module: p.Manifest.Module, Source: "stoq:" + p.Name + "@3.0.0 (tag plugins/" + p.Name + "/v3.0.0)"}}}
	if err := writeVersions(&out, nil, built); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from stoq:"+p.Name+"@3.0.0 (tag plugins/"+p.Name+"/v3.0.0)") {
		t.Errorf("version output does not name the plugin's source:\n%s", out.String())
	}
}
