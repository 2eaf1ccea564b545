package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

// These tests build real binaries with the Go toolchain, from a git
// catalogue made in a temporary folder: the workspace's core and cli, small
// test plugins, and the real plugins/hash when the workspace has it. They
// use the user's Go build cache, so only the first run is slow.

// The workspace's folders, seen from this package's folder (cli/internal/builder).
var (
	workspaceRoot = filepath.Join("..", "..", "..")
	workspaceCore = filepath.Join(workspaceRoot, "core")
	workspaceCLI  = filepath.Join(workspaceRoot, "cli")
)

const testCoreRequire = "require github.com/stoq-go/stoq/core/v3 v3.0.0\n\nreplace github.com/stoq-go/stoq/core/v3 => ../../core\n"

// testPlugin writes a worker plugin whose results say its version and
// greeting; extra Go code is appended (a compile error for "broken").
func testPlugin(name, manifestName, version, minStoq, greeting, extra string) map[string]string {
	module := "example.org/stoqtest/" + name
	dir := "plugins/" + name + "/"
	return map[string]string{
		dir + name + ".stoq": manifestText(manifestName, module, version, minStoq) + "greeting = " + greeting + "\n",
		dir + "go.mod":       "module " + module + "\n\ngo 1.26\n\n" + testCoreRequire,
		dir + name + ".go": `// Package ` + name + ` is a test plugin.
package ` + name + `

import (
	"context"
	_ "embed"
	"log/slog"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed ` + name + `.stoq
var manifest []byte

func init() { core.Register("` + name + `", manifest, New) }

// Plugin greets payloads.
type Plugin struct{ greeting string }

// New reads the greeting option.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	return &Plugin{greeting: cfg.String("greeting", "")}, nil
}

// Scan reports the greeting, the plugin version and the payload size.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	return &core.WorkerResponse{Results: map[string]any{"greeting": p.greeting, "version": "` + version + `", "size": len(payload.Content)}}, nil
}
` + extra,
	}
}

// testCatalog makes a git catalogue: commit 1 has hello 1.0.0 (tags
// plugins/hello/v1.0.0 and core/vX), commit 2 hello 1.1.0 (tag
// plugins/hello/v1.1.0) and the plugins toonew, broken, evil and, when the
// workspace has it, hash.
func testCatalog(t *testing.T, dir string) (hasHash bool) {
	t.Helper()
	r := newTestRepo(t, dir)
	for _, m := range []string{"core", "cli"} {
		copySources(t, filepath.Join(workspaceRoot, m), filepath.Join(dir, m))
	}
	r.write(testPlugin("hello", "hello", "1.0.0", "3.0.0", "hello", ""))
	r.commit("hello 1.0.0")
	r.tag("plugins/hello/v1.0.0", false)
	r.tag(coreTag(core.Version), true)

	r.write(testPlugin("hello", "hello", "1.1.0", "3.0.0", "hello again", ""))
	r.write(testPlugin("toonew", "toonew", "1.0.0", "99.0.0", "x", ""))
	r.write(testPlugin("broken", "broken", "1.0.0", "3.0.0", "x", "\nvar _ int = \"not an int\"\n"))
	r.write(testPlugin("evil", "../evil", "1.0.0", "3.0.0", "x", ""))
	hash := filepath.Join(workspaceRoot, "plugins", "hash")
	if _, err := os.Stat(filepath.Join(hash, "hash.stoq")); err == nil {
		if err := copyTree(hash, filepath.Join(dir, "plugins", "hash")); err != nil {
			t.Fatal(err)
		}
		hasHash = true
	}
	r.commit("hello 1.1.0 and more plugins")
	r.tag("plugins/hello/v1.1.0", true)
	return hasHash
}

// copySources copies what building the module in src needs: no tests,
// test data or stray binaries (a core.test left in the workspace would
// make every clone slow).
func copySources(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == "testdata" || (d.Name()[0] == '.' && rel != ".") || strings.HasSuffix(d.Name(), ".build") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > 1<<20 || strings.HasSuffix(d.Name(), "_test.go") || strings.HasSuffix(d.Name(), ".test") {
			return err
		}
		return copyFile(path, filepath.Join(dst, rel), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testEnviron is the environment of go commands and binaries in tests.
func testEnviron(home string) []string {
	env := withoutVars(os.Environ(), handoffVar, "STOQ_HOME", "STOQ_CATALOG")
	return append(env, "STOQ_HOME="+home)
}

func runBinary(t *testing.T, bin string, environ []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// scanWith scans a small payload with the worker name and returns its
// results.
func scanWith(t *testing.T, bin string, environ []string, name string) map[string]any {
	t.Helper()
	payload := filepath.Join(t.TempDir(), "payload.txt")
	if err := os.WriteFile(payload, []byte("stoq payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runBinary(t, bin, environ, "scan", payload, "-s", name)
	if err != nil {
		t.Fatalf("stoq scan -s %s: %v\n%s", name, err, errOut)
	}
	var resp struct {
		Results []struct {
			Workers map[string]map[string]any `json:"workers"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Results) == 0 {
		t.Fatalf("stoq scan output: %v\n%s\n%s", err, out, errOut)
	}
	return resp.Results[0].Workers[name]
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestInstallUpgradeRollbackUninstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds stoq binaries (seconds warm, minutes with an empty build cache)")
	}
	if _, err := findToolchain(context.Background(), nil); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	root := t.TempDir()
	// A go.work above $STOQ_HOME must not take over the generated module.
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\n\nuse ./nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	catDir := filepath.Join(root, "catalog")
	hasHash := testCatalog(t, catDir)
	home := filepath.Join(root, "home")
	environ := testEnviron(home)
	fileCat, err := newCatalog("file://"+catDir, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	dirCat, err := newCatalog(catDir, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	h := stoqHome{Dir: home}
	var progress bytes.Buffer
	install := func(spec string, cat Catalog, upgrade bool) (*InstallResult, error) {
		s, err := ParseInstallSpec(spec, !filepath.IsAbs(spec))
		if err != nil {
			return nil, err
		}
		progress.Reset()
		return Install(ctx, InstallOptions{Home: home, Spec: s, Catalog: cat, Upgrade: upgrade, Environ: environ, Progress: NewProgress(&progress, false)})
	}

	t.Run("install a tagged version over file://", func(t *testing.T) {
		res, err := install("stoq:hello@1.0.0", fileCat, false)
		if err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		if res.Dir != filepath.Join(home, "plugins", "hello") || !res.Link.Rebuilt {
			t.Errorf("result %+v", res)
		}
		for _, want := range []string{"Cloning", "Building " + h.Binary(), "first build", "done in"} {
			if !strings.Contains(progress.String(), want) {
				t.Errorf("progress lacks %q:\n%s", want, progress.String())
			}
		}
		got := scanWith(t, h.Binary(), environ, "hello")
		if got["version"] != "1.0.0" || got["greeting"] != "hello" {
			t.Errorf("scan results %v", got)
		}
		out, _, err := runBinary(t, h.Binary(), environ, "list")
		if err != nil || !strings.Contains(out, "hello") {
			t.Errorf("stoq list: %v\n%s", err, out)
		}
		gomod, _ := os.ReadFile(filepath.Join(h.BuildDir(), "go.mod"))
		if !strings.Contains(string(gomod), "example.org/stoqtest/hello => "+res.Dir) {
			t.Errorf("the kept go.mod does not replace hello:\n%s", gomod)
		}
		st, err := loadState(h)
		if err != nil || len(st.sorted()) != 1 || !strings.Contains(st.sorted()[0].Source, "tag plugins/hello/v1.0.0") {
			t.Errorf("installed %+v, %v", st, err)
		}
		info, err := ReadHomeRecord(home)
		if err != nil || info.Kind != KindInstall || len(info.Plugins) != 1 || info.Plugins[0].Version != "1.0.0" {
			t.Errorf("build info %+v, %v", info, err)
		}
	})

	t.Run("refuse an installed plugin without --upgrade", func(t *testing.T) {
		before := fileSum(t, h.Binary())
		_, err := install("stoq:hello", fileCat, false)
		if err == nil || !strings.Contains(err.Error(), "already installed") || !strings.Contains(err.Error(), "--upgrade") {
			t.Fatalf("err = %v", err)
		}
		if fileSum(t, h.Binary()) != before {
			t.Error("the binary changed")
		}
	})

	t.Run("upgrade to the highest tag", func(t *testing.T) {
		res, err := install("stoq:hello", fileCat, true)
		if err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		if res.Replaced == nil || res.Replaced.Version != "1.0.0" || res.Plugin.Version != "1.1.0" {
			t.Errorf("result %+v", res)
		}
		if got := scanWith(t, h.Binary(), environ, "hello"); got["version"] != "1.1.0" || got["greeting"] != "hello again" {
			t.Errorf("scan results %v", got)
		}
	})

	t.Run("nothing rebuilds when nothing changed", func(t *testing.T) {
		res, err := install("stoq:hello", fileCat, true)
		if err != nil {
			t.Fatal(err)
		}
		if res.Link.Rebuilt || !strings.Contains(progress.String(), "up to date") {
			t.Errorf("rebuilt the same plugins:\n%s", progress.String())
		}
	})

	t.Run("downgrade from a folder catalogue at a tag", func(t *testing.T) {
		if _, err := install("stoq:hello@1.0.0", dirCat, true); err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		if got := scanWith(t, h.Binary(), environ, "hello"); got["version"] != "1.0.0" {
			t.Errorf("scan results %v", got)
		}
	})

	refusals := []struct {
		name, spec, want string
	}{
		{"too new a min_stoq_version", "stoq:toonew", "needs stoq >= 99.0.0 (min_stoq_version = 99.0.0) and this stoq is " + core.Version},
		{"a manifest name with ../", "stoq:evil", "not a safe plugin name"},
		{"a folder whose manifest name has ../", filepath.Join(catDir, "plugins", "evil"), "not a safe plugin name"},
		{"an unknown plugin", "stoq:nope", "has no plugin nope"},
		{"an unknown version", "stoq:hello@7.0.0", "has no version 7.0.0"},
	}
	for _, r := range refusals {
		t.Run("refuse "+r.name, func(t *testing.T) {
			before := fileSum(t, h.Binary())
			_, err := install(r.spec, dirCat, true)
			if err == nil || !strings.Contains(err.Error(), r.want) || !strings.Contains(err.Error(), "nothing was installed") {
				t.Fatalf("err = %v, want %q", err, r.want)
			}
			if fileSum(t, h.Binary()) != before {
				t.Error("the binary changed")
			}
			entries, _ := os.ReadDir(h.PluginsDir())
			if len(entries) != 1 || entries[0].Name() != "hello" {
				t.Errorf("plugins folder holds %v", entries)
			}
			if _, err := os.Stat(filepath.Join(root, "evil")); err == nil {
				t.Error("something was written outside $STOQ_HOME/plugins")
			}
		})
	}

	t.Run("a failed build rolls back", func(t *testing.T) {
		before := fileSum(t, h.Binary())
		gomodBefore, _ := os.ReadFile(filepath.Join(h.BuildDir(), "go.mod"))
		_, err := install("stoq:broken", dirCat, false)
		if err == nil || !strings.Contains(err.Error(), "the compiler said") || !strings.Contains(err.Error(), "not an int") ||
			!strings.Contains(err.Error(), "Nothing was changed") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(filepath.Join(h.PluginsDir(), "broken")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("plugins/broken is left: %v", err)
		}
		if fileSum(t, h.Binary()) != before {
			t.Error("the binary changed")
		}
		if gomod, _ := os.ReadFile(filepath.Join(h.BuildDir(), "go.mod")); !bytes.Equal(gomod, gomodBefore) {
			t.Errorf("the kept go.mod was not restored:\n%s", gomod)
		}
		if got := scanWith(t, h.Binary(), environ, "hello"); got["version"] != "1.0.0" {
			t.Errorf("the old binary does not scan: %v", got)
		}
		if st, _ := loadState(h); st == nil || len(st.sorted()) != 1 {
			t.Errorf("installed %+v", st)
		}
	})

	if hasHash {
		t.Run("install the catalogue's hash from the folder as on disk", func(t *testing.T) {
			s, err := ParseInstallSpec("stoq:hash", true)
			if err != nil {
				t.Fatal(err)
			}
			otherDir := filepath.Join(root, "other-plugins")
			res, err := Install(ctx, InstallOptions{Home: home, Spec: s, Catalog: dirCat, InstallDir: otherDir, Environ: environ})
			if err != nil {
				t.Fatal(err)
			}
			if res.Dir != filepath.Join(otherDir, "hash") {
				t.Errorf("--install-dir: installed in %s", res.Dir)
			}
			if got := scanWith(t, h.Binary(), environ, "hash"); len(got) == 0 {
				t.Errorf("hash results %v", got)
			}
			if len(res.Link.Record.Plugins) != 2 {
				t.Errorf("linked %+v", res.Link.Record.Plugins)
			}
		})
	}

	t.Run("rebuild with nothing changed builds nothing", func(t *testing.T) {
		res, err := Install(ctx, InstallOptions{Home: home, Rebuild: true, Catalog: dirCat, Environ: environ})
		if err != nil {
			t.Fatal(err)
		}
		if res.Plugin != nil || res.Link.Rebuilt {
			t.Errorf("result %+v", res)
		}
	})

	t.Run("the stoq on PATH hands off to $STOQ_HOME/bin/stoq", func(t *testing.T) {
		stock := filepath.Join(root, "stock", "stoq")
		tc, err := findToolchain(ctx, environ)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tc.output(ctx, filepath.Join(catDir, "cli"), tc.modEnv(), "build", "-trimpath", "-o", stock, "./cmd/stoq"); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := runBinary(t, stock, environ, "version")
		if err != nil || !strings.Contains(out, "hello") {
			t.Errorf("stock stoq did not hand off: %v\n%s%s", err, out, errOut)
		}
		out, _, _ = runBinary(t, stock, append(environ, handoffVar+"=1"), "version")
		if strings.Contains(out, "hello") {
			t.Errorf("with %s=1 the stock stoq still handed off:\n%s", handoffVar, out)
		}
	})

	t.Run("uninstall rebuilds without the plugin", func(t *testing.T) {
		if !hasHash {
			t.Skip("needs a second plugin")
		}
		removed, link, err := Uninstall(ctx, UninstallOptions{Home: home, Name: "hello", Catalog: dirCat, Environ: environ})
		if err != nil {
			t.Fatal(err)
		}
		if removed.Name != "hello" || len(link.Record.Plugins) != 1 || link.Record.Plugins[0].Name != "hash" {
			t.Errorf("removed %+v, linked %+v", removed, link.Record.Plugins)
		}
		if _, err := os.Stat(filepath.Join(h.PluginsDir(), "hello")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("plugins/hello is left: %v", err)
		}
		if entries, _ := os.ReadDir(h.PluginsDir()); len(entries) != 0 {
			t.Errorf("the plugins folder holds %v", entries)
		}
		if _, _, err := runBinary(t, h.Binary(), environ, "scan", "/dev/null", "-s", "hello"); err == nil {
			t.Error("the rebuilt binary still scans with hello")
		}
	})

	t.Run("uninstalling the last plugin removes the binary", func(t *testing.T) {
		if hasHash {
			if _, err := os.Stat(filepath.Join(root, "other-plugins", "hash")); err != nil {
				t.Errorf("hash is not where --install-dir put it: %v", err)
			}
		}
		for _, p := range []string{"hello", "hash"} {
			if _, _, err := Uninstall(ctx, UninstallOptions{Home: home, Name: p, Catalog: dirCat, Environ: environ}); err != nil && !strings.Contains(err.Error(), "not installed") {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(h.Binary()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left: %v", h.Binary(), err)
		}
		if _, err := os.Stat(filepath.Join(root, "other-plugins", "hash")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("hash is left in the --install-dir: %v", err)
		}
		_, _, err := Uninstall(ctx, UninstallOptions{Home: home, Name: "hello", Catalog: dirCat, Environ: environ})
		if err == nil || !strings.Contains(err.Error(), "not installed") {
			t.Errorf("uninstalling twice: %v", err)
		}
	})

	t.Run("build a custom binary elsewhere", func(t *testing.T) {
		out := filepath.Join(root, "out", "stoq")
		with, err := ParseWithSpec("hello@1.1.0")
		if err != nil {
			t.Fatal(err)
		}
		progress.Reset()
		opts := BuildOptions{With: []Spec{with}, Catalog: fileCat, Output: out, Environ: environ, Progress: NewProgress(&progress, false)}
		res, err := Build(ctx, opts)
		if err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		if !res.Rebuilt || res.BuildDir != out+".build" {
			t.Errorf("result %+v", res)
		}
		for _, f := range []string{"go.mod", "go.sum", "main.go", "src/core/go.mod", "src/plugins/hello/hello.stoq"} {
			if _, err := os.Stat(filepath.Join(res.BuildDir, f)); err != nil {
				t.Errorf("the build folder lacks %s: %v", f, err)
			}
		}
		if got := scanWith(t, out, environ, "hello"); got["version"] != "1.1.0" {
			t.Errorf("scan results %v", got)
		}
		if _, err := os.Stat(filepath.Join(home, "bin")); err == nil {
			if entries, _ := os.ReadDir(filepath.Join(home, "bin")); len(entries) != 0 {
				t.Errorf("stoq build touched $STOQ_HOME/bin: %v", entries)
			}
		}
		again, err := Build(ctx, opts)
		if err != nil || again.Rebuilt {
			t.Errorf("second build: rebuilt=%v err=%v", again != nil && again.Rebuilt, err)
		}
	})
}

func TestInstallWithoutGoChangesNothing(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	plugin := t.TempDir()
	writeFiles(t, plugin, pluginFiles("hello", "example.org/hello", "1.0.0", "3.0.0"))
	spec, err := ParseInstallSpec(plugin, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Install(context.Background(), InstallOptions{
		Home: home, Spec: spec, Environ: []string{"PATH=" + t.TempDir(), "HOME=" + home},
	})
	if !errors.Is(err, errNoGo) || !strings.Contains(err.Error(), "nothing was installed") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(home, "plugins"))
	if len(entries) != 0 {
		t.Errorf("plugins folder holds %v", entries)
	}
	for _, p := range []string{"bin", "src", "build", "installed.json"} {
		if _, err := os.Stat(filepath.Join(home, p)); err == nil {
			t.Errorf("%s was created", p)
		}
	}
}

func TestInstallRefusesAPluginNeedingANewerGo(t *testing.T) {
	if _, err := findToolchain(context.Background(), nil); err != nil {
		t.Skip(err)
	}
	home := filepath.Join(t.TempDir(), "home")
	plugin := filepath.Join(t.TempDir(), "hello")
	files := pluginFiles("hello", "example.org/hello", "1.0.0", "3.0.0")
	files["go.mod"] = "module example.org/hello\n\ngo 9.99\n"
	writeFiles(t, plugin, files)
	spec, err := ParseInstallSpec(plugin, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Install(context.Background(), InstallOptions{Home: home, Spec: spec})
	if err == nil || !strings.Contains(err.Error(), "plugin hello needs Go 9.99 or newer") || !strings.Contains(err.Error(), "nothing was installed") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(home, "plugins")); len(entries) != 0 {
		t.Errorf("plugins folder holds %v", entries)
	}
}
