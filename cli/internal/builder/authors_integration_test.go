package builder

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Integration tests of the plugin-authors issue: they build real binaries
// (seconds each with a warm build cache; -short skips them).

func needGo(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds stoq binaries")
	}
	if _, err := findToolchain(context.Background(), nil); err != nil {
		t.Skip(err)
	}
}

// localPlugin writes the test plugin name into root/dir and returns its
// folder; its go.mod replaces the core with the workspace's.
func localPlugin(t *testing.T, root, dir, name, version, extra string) string {
	t.Helper()
	folder := filepath.Join(root, dir)
	for file, content := range testPlugin(name, name, version, "3.0.0", "hi from "+name, extra) {
		file = strings.TrimPrefix(file, "plugins/"+name+"/")
		if file == "go.mod" {
			abs, _ := filepath.Abs(workspaceCore)
			content = strings.Replace(content, "../../core", abs, 1)
		}
		writeFiles(t, folder, map[string]string{file: content})
	}
	return folder
}

func TestInstallTriesTheNewBinaryBeforeTheSwap(t *testing.T) {
	needGo(t)
	ctx := context.Background()
	root := t.TempDir()
	home := filepath.Join(root, "home")
	environ := testEnviron(home)
	h := stoqHome{Dir: home}
	var progress bytes.Buffer
	install := func(dir string) (*InstallResult, error) {
		spec, err := ParseInstallSpec(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		progress.Reset()
		return Install(ctx, InstallOptions{Home: home, Spec: spec, CoreDir: workspaceCore, CLIDir: workspaceCLI, Environ: environ, Progress: NewProgress(&progress, false)})
	}
	if _, err := install(localPlugin(t, root, "hello", "hello", "1.0.0", "")); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "Trying the new binary") {
		t.Errorf("the new binary was not tried:\n%s", progress.String())
	}

	refused := []struct {
		name, extra string
		want        []string
	}{
		{"panicky", "\nfunc init() { panic(\"panicky cannot start: no licence key\") }\n",
			[]string{"the new stoq does not work: `stoq version` exited with status 2", "panicky cannot start: no licence key"}},
		// Registers under another name, with a manifest embedded from
		// another file: the binary runs, but misnamed is not in it.
		{"misnamed", "\n//go:embed other.stoq\nvar otherManifest []byte\n\nfunc init() { core.Register(\"other\", otherManifest, New) }\n",
			[]string{"plugin misnamed is not registered", "registers other instead"}},
	}
	for _, r := range refused {
		t.Run("refuse "+r.name, func(t *testing.T) {
			before := fileSum(t, h.Binary())
			dir := localPlugin(t, root, r.name, r.name, "1.0.0", r.extra)
			if r.name == "misnamed" {
				// Two manifests: the folder's name picks misnamed.stoq.
				writeFiles(t, dir, map[string]string{"other.stoq": manifestText("other", "example.org/other", "1.0.0", "3.0.0")})
				data, _ := os.ReadFile(filepath.Join(dir, "misnamed.go"))
				fixed := strings.Replace(string(data), "func init() { core.Register(\"misnamed\", manifest, New) }", "var _ = manifest", 1)
				writeFiles(t, dir, map[string]string{"misnamed.go": fixed})
			}
			_, err := install(dir)
			if err == nil {
				t.Fatalf("installed %s:\n%s", r.name, progress.String())
			}
			for _, want := range append(r.want, "Nothing was changed") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if fileSum(t, h.Binary()) != before {
				t.Error("the binary was replaced")
			}
			if _, err := os.Stat(filepath.Join(h.PluginsDir(), r.name)); err == nil {
				t.Errorf("plugins/%s is left", r.name)
			}
			if got := scanWith(t, h.Binary(), environ, "hello"); got["greeting"] != "hi from hello" {
				t.Errorf("the old binary does not scan: %v", got)
			}
		})
	}
}

func TestInstallAPublishedModuleAndUpgrade(t *testing.T) {
	needGo(t)
	ctx := context.Background()
	root := t.TempDir()
	const path = "example.org/stoqtest/greetmod"
	proxy := filepath.Join(root, "proxy")
	for _, v := range []string{"1.2.0", "1.3.0"} {
		src := filepath.Join(root, "src-"+v)
		for name, content := range testPlugin("greetmod", "greetmod", v, "3.0.0", "published "+v, "") {
			name = strings.TrimPrefix(name, "plugins/greetmod/")
			if name == "go.mod" {
				content = "module " + path + "\n\ngo 1.26\n\nrequire github.com/stoq-go/stoq/core/v3 v3.0.0\n"
			}
			writeFiles(t, src, map[string]string{name: content})
		}
		writeProxyModule(t, proxy, src, path, "v"+v)
	}
	if err := os.WriteFile(filepath.Join(proxy, filepath.FromSlash(path), "@v", "list"), []byte("v1.2.0\nv1.3.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(root, "home")
	environ := proxyEnviron(t, root, home, proxy)
	var progress bytes.Buffer
	install := func(spec string, upgrade bool) (*InstallResult, error) {
		s, err := ParseInstallSpec(spec, false)
		if err != nil {
			t.Fatal(err)
		}
		progress.Reset()
		return Install(ctx, InstallOptions{Home: home, Spec: s, Upgrade: upgrade, CoreDir: workspaceCore, CLIDir: workspaceCLI, Environ: environ, Progress: NewProgress(&progress, false)})
	}
	res, err := install(path+"@v1.2.0", false)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if res.Plugin.Version != "1.2.0" || !strings.Contains(res.Link.Record.Plugins[0].Source, "module "+path+"@v1.2.0") {
		t.Errorf("installed %+v", res.Link.Record.Plugins)
	}
	h := stoqHome{Dir: home}
	if got := scanWith(t, h.Binary(), environ, "greetmod"); got["greeting"] != "published 1.2.0" {
		t.Errorf("scan results %v", got)
	}
	// No version: the newest, as an upgrade.
	if res, err = install(path, true); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if res.Replaced == nil || res.Replaced.Version != "1.2.0" || res.Plugin.Version != "1.3.0" {
		t.Errorf("upgrade %+v", res)
	}
	if got := scanWith(t, h.Binary(), environ, "greetmod"); got["greeting"] != "published 1.3.0" {
		t.Errorf("scan results %v", got)
	}
}

// proxyEnviron serves modules from the file:// proxy, everything else from
// the user's module cache (itself a proxy layout), into a module cache of
// the test's own.
func proxyEnviron(t *testing.T, root, home, proxy string) []string {
	t.Helper()
	tc, err := findToolchain(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	userCache, err := tc.output(context.Background(), root, nil, "env", "GOMODCACHE")
	if err != nil {
		t.Fatal(err)
	}
	download := filepath.Join(strings.TrimSpace(string(userCache)), "cache", "download")
	return append(withoutVars(testEnviron(home), "GOPROXY", "GOSUMDB", "GOFLAGS", "GOMODCACHE"),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(download),
		"GOSUMDB=off", "GOFLAGS=-modcacherw", "GOMODCACHE="+filepath.Join(root, "modcache"))
}

// TestAnalystInstallAfterMake is `make` (a stoq build binary linking the
// catalogue, here hello) then `bin/stoq install ./greet`: the install seeds
// $STOQ_HOME with hello, and bin/stoq then hands off to a binary linking
// both; an uninstall is not undone by the next install.
func TestAnalystInstallAfterMake(t *testing.T) {
	needGo(t)
	ctx := context.Background()
	root := t.TempDir()
	home := filepath.Join(root, "home")
	environ := testEnviron(home)
	hello := localPlugin(t, root, "catalog/plugins/hello", "hello", "1.0.0", "")
	wave := localPlugin(t, root, "catalog/plugins/wave", "wave", "1.0.0", "")
	bin := filepath.Join(root, "bin", "stoq")
	var with []Spec
	for _, dir := range []string{hello, wave} {
		s, err := ParseWithSpec(dir)
		if err != nil {
			t.Fatal(err)
		}
		with = append(with, s)
	}
	if _, err := Build(ctx, BuildOptions{With: with, CoreDir: workspaceCore, CLIDir: workspaceCLI, Output: bin, Environ: environ}); err != nil {
		t.Fatal(err)
	}
	greet := localPlugin(t, root, "stoq-greet", "greet", "1.0.0", "")
	// greet installed by another stoq (a plain one, which seeds nothing):
	// bin/stoq cannot hand off to a binary without hello and wave, and its
	// message names the command that fixes it.
	spec, err := ParseInstallSpec(greet, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Install(ctx, InstallOptions{Home: home, Spec: spec, CoreDir: workspaceCore, CLIDir: workspaceCLI, Environ: environ}); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := runBinary(t, bin, environ, "scan", "/dev/null", "-s", "greet")
	advice := "stoq install " + filepath.Join(home, "plugins", "greet") + " --upgrade"
	if err == nil || !strings.Contains(errOut, advice) {
		t.Fatalf("bin/stoq scan -s greet: %v\n%s", err, errOut)
	}
	// The advice, as printed, now works: the install seeds hello and wave.
	out, errOut, err := runBinary(t, bin, environ, strings.Fields(strings.TrimPrefix(advice, "stoq "))...)
	if err != nil {
		t.Fatalf("bin/stoq install: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "Also installed the plugins this stoq links") || !strings.Contains(out, "hello 1.0.0") {
		t.Errorf("install output:\n%s", out)
	}
	out, _, err = runBinary(t, bin, environ, "list")
	for _, name := range []string{"hello", "wave", "greet"} {
		if err != nil || !strings.Contains(out, name+" ") || strings.Contains(out, "not linked in") {
			t.Errorf("bin/stoq list does not link %s: %v\n%s", name, err, out)
		}
	}
	if got := scanWith(t, bin, environ, "greet"); got["greeting"] != "hi from greet" {
		t.Errorf("bin/stoq scan -s greet: %v", got)
	}

	// The user uninstalls wave: bin/stoq still hands off (to a binary
	// without wave), and the next install does not seed wave again.
	if out, errOut, err := runBinary(t, bin, environ, "uninstall", "wave"); err != nil {
		t.Fatalf("uninstall: %v\n%s%s", err, out, errOut)
	}
	out, _, _ = runBinary(t, bin, environ, "version")
	if !strings.Contains(out, "greet") || strings.Contains(out, "wave") {
		t.Errorf("after uninstalling wave, bin/stoq version:\n%s", out)
	}
	st, err := loadState(stoqHome{home})
	if err != nil || !st.declined("wave") {
		t.Errorf("state %+v %v", st, err)
	}
	// STOQ_HANDOFF=1 runs bin/stoq itself.
	out, _, _ = runBinary(t, bin, append(environ, handoffVar+"=1"), "version")
	if strings.Contains(out, "greet") || !strings.Contains(out, "wave") {
		t.Errorf("STOQ_HANDOFF=1 bin/stoq version:\n%s", out)
	}
}
