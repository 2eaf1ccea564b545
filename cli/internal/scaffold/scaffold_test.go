package scaffold

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// workspaceCore is the core of this checkout, seen from cli/internal/scaffold.
var workspaceCore = filepath.Join("..", "..", "..", "core")

// offlineEnviron resolves modules from the user's module cache only (no
// network, no checksum database), outside the workspace.
func offlineEnviron(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env: %v", err)
	}
	cache := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "GOPROXY" && k != "GOSUMDB" && k != "GOWORK" && k != "GOFLAGS" {
			env = append(env, kv)
		}
	}
	return append(env, "GOPROXY=file://"+filepath.ToSlash(cache), "GOSUMDB=off", "GOWORK=off", "GOFLAGS=-mod=mod")
}

func TestGeneratedPluginsPassTheirTests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on generated modules")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip(err)
	}
	env := offlineEnviron(t)
	cases := []struct {
		name    string
		classes []string
	}{
		{"greet", nil},
		{"every-class", Classes},
		{"route", []string{"dispatcher"}},
		{"9store", []string{"archiver", "connector"}},
		{"feed", []string{"decorator", "provider"}},
	}
	parent := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Generate(context.Background(), Options{Name: c.name, Classes: c.classes, Dir: parent, CoreDir: workspaceCore, Author: "tests", Environ: env})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"go.mod", "go.sum", c.name + ".stoq", c.name + ".go", c.name + "_test.go", "README.md", "CHANGELOG.md"} {
				if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
					t.Errorf("no %s: %v", f, err)
				}
			}
			for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
				cmd := exec.Command("go", args...)
				cmd.Dir, cmd.Env = res.Dir, env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}

func TestGenerateRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "taken", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Name: "Bad Name"}, "not a plugin name"},
		{Options{Name: "stdout"}, "stdout is built into stoq"},
		{Options{Name: "submit"}, "submit is a stoq command"},
		{Options{Name: "scan"}, "scan is a stoq command"},
		{Options{Name: "x", Classes: []string{"scanner"}}, `--class "scanner": not a plugin class`},
		{Options{Name: "x", Module: "not a path"}, "--module not a path"},
		{Options{Name: "taken"}, "already exists and is not empty"},
	} {
		c.opts.Dir, c.opts.SkipTidy = dir, true
		if _, err := Generate(context.Background(), c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.opts, err, c.want)
		}
	}
}

func TestGeneratedManifestAndModule(t *testing.T) {
	dir := t.TempDir()
	res, err := Generate(context.Background(), Options{Name: "redis-queue", Module: "github.com/acme/stoq-redis/v3", Dir: dir, Author: "Ann", SkipTidy: true})
	if err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile(filepath.Join(res.Dir, "go.mod"))
	if !strings.Contains(string(gomod), "module github.com/acme/stoq-redis/v3") || !strings.Contains(string(gomod), "require github.com/stoq-go/stoq/core/v3 v3.0.0") || strings.Contains(string(gomod), "replace") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	manifest, _ := os.ReadFile(filepath.Join(res.Dir, "redis-queue.stoq"))
	for _, want := range []string{"Name = redis-queue", "Module = github.com/acme/stoq-redis/v3", "Version = 3.0.0", "Author = Ann", "Website = https://github.com/acme/stoq-redis", "min_stoq_version = 3.0.0"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("manifest lacks %q:\n%s", want, manifest)
		}
	}
	code, _ := os.ReadFile(filepath.Join(res.Dir, "redis-queue.go"))
	if !strings.Contains(string(code), "package redisqueue") {
		t.Errorf("package name:\n%.300s", code)
	}
	changelog, _ := os.ReadFile(filepath.Join(res.Dir, "CHANGELOG.md"))
	if !strings.Contains(string(changelog), "## 3.0.0 - ") {
		t.Errorf("changelog:\n%s", changelog)
	}
}
