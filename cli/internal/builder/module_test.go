package builder

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// writeProxyModule publishes the module in dir at version into a file://
// GOPROXY folder.
func writeProxyModule(t *testing.T, proxy, dir, path, version string) {
	t.Helper()
	base := filepath.Join(proxy, filepath.FromSlash(path), "@v")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	var zip bytes.Buffer
	if err := modzip.CreateFromDir(&zip, module.Version{Path: path, Version: version}, dir); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		version + ".zip":  zip.Bytes(),
		version + ".mod":  gomod,
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-11-27T00:00:00Z"}`),
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(base, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBuildWithAPublishedModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a stoq binary")
	}
	ctx := context.Background()
	if _, err := findToolchain(ctx, nil); err != nil {
		t.Skip(err)
	}
	root := t.TempDir()
	src := filepath.Join(root, "src")
	const path = "example.org/stoqtest/greetmod"
	files := testPlugin("greetmod", "greetmod", "1.2.0", "3.0.0", "published", "")
	for name, content := range files {
		name = strings.TrimPrefix(name, "plugins/greetmod/")
		if name == "go.mod" {
			content = "module " + path + "\n\ngo 1.26\n\nrequire github.com/stoq-go/stoq/core/v3 v3.0.0\n"
		}
		writeFiles(t, src, map[string]string{name: content})
	}
	proxy := filepath.Join(root, "proxy")
	writeProxyModule(t, proxy, src, path, "v1.2.0")
	writeProxyModule(t, proxy, src, path, "v1.3.0")
	if err := os.WriteFile(filepath.Join(proxy, filepath.FromSlash(path), "@v", "list"), []byte("v1.2.0\nv1.3.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	home := filepath.Join(root, "home")
	tc, err := findToolchain(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	userCache, err := tc.output(ctx, root, nil, "env", "GOMODCACHE")
	if err != nil {
		t.Fatal(err)
	}
	// The test module is served by a file:// proxy, everything else from the
	// user's module cache (itself a proxy layout), into a module cache of
	// the test's own: nothing is fetched from the network or left behind.
	download := filepath.Join(strings.TrimSpace(string(userCache)), "cache", "download")
	environ := append(withoutVars(testEnviron(home), "GOPROXY", "GOSUMDB", "GOFLAGS", "GOMODCACHE"),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(download),
		"GOSUMDB=off", "GOFLAGS=-modcacherw", "GOMODCACHE="+filepath.Join(root, "modcache"))

	spec, err := ParseWithSpec(path + "@v1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out", "stoq")
	var progress bytes.Buffer
	res, err := Build(ctx, BuildOptions{
		With: []Spec{spec}, CoreDir: workspaceCore, CLIDir: workspaceCLI, Output: out, Environ: environ,
		Progress: NewProgress(&progress, false),
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if len(res.Record.Plugins) != 1 || res.Record.Plugins[0].Version != "1.2.0" || !strings.Contains(res.Record.Plugins[0].Source, "module "+path+"@v1.2.0") {
		t.Errorf("linked %+v", res.Record.Plugins)
	}
	gomod, _ := os.ReadFile(filepath.Join(res.BuildDir, "go.mod"))
	if !strings.Contains(string(gomod), path+" v1.2.0") || strings.Contains(string(gomod), path+" =>") {
		t.Errorf("go.mod does not require the published version:\n%s", gomod)
	}
	if got := scanWith(t, out, environ, "greetmod"); got["greeting"] != "published" {
		t.Errorf("scan results %v", got)
	}

	// A local plugin that requires a newer greetmod: the build would not use
	// the version asked for, and says who wants which.
	needsNew := filepath.Join(root, "needsnew")
	files = testPlugin("needsnew", "needsnew", "1.0.0", "3.0.0", "x", "")
	for name, content := range files {
		name = strings.TrimPrefix(name, "plugins/needsnew/")
		if name == "go.mod" {
			content = "module example.org/stoqtest/needsnew\n\ngo 1.26\n\nrequire (\n\tgithub.com/stoq-go/stoq/core/v3 v3.0.0\n\t" + path + " v1.3.0\n)\n"
		}
		writeFiles(t, needsNew, map[string]string{name: content})
	}
	local, err := ParseWithSpec(needsNew)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(ctx, BuildOptions{With: []Spec{spec, local}, CoreDir: workspaceCore, CLIDir: workspaceCLI, Output: filepath.Join(root, "out2", "stoq"), Environ: environ})
	want := "plugin greetmod: asked for " + path + "@v1.2.0 but the build would use v1.3.0, required by plugin needsnew"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}
