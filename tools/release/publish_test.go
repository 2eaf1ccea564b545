package release

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAThirdPartyPluginFromAFileProxy is "plugin authors publishing modules
// on their own": this repository's release (its module zips, as Check makes
// them) is served by a file:// GOPROXY; an author outside the workspace runs
// stoq new plugin, which requires the core from that proxy only (no
// replace), tests it, publishes it to the proxy, and an analyst installs it
// by module path and scans with it; then the author tags a new version in
// git and the analyst upgrades by git URL.
func TestAThirdPartyPluginFromAFileProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds stoq binaries")
	}
	needGit(t)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip(err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	modules, problems, err := Check(root)
	if err != nil || len(problems) > 0 {
		t.Fatalf("the repository cannot be released: %v %v", problems, err)
	}
	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy")
	if err := WriteProxy(proxy, modules); err != nil {
		t.Fatal(err)
	}

	stoq := buildStoq(t, root, tmp)
	// The release proxy first, then the user's module cache for the rest:
	// the stoq modules can only come from the release.
	env := testEnv(t, tmp, "file://"+filepath.ToSlash(proxy), "STOQ_CATALOG="+root)
	runIn := runner(t, env)

	// The author.
	authorStart := time.Now()
	author := filepath.Join(tmp, "author")
	if err := os.MkdirAll(author, 0o755); err != nil {
		t.Fatal(err)
	}
	runIn(author, stoq, "new", "plugin", "greet")
	greet := filepath.Join(author, "greet")
	gomod, _ := os.ReadFile(filepath.Join(greet, "go.mod"))
	if strings.Contains(string(gomod), "replace") || !strings.Contains(string(gomod), "require github.com/stoq-go/stoq/core/v3 v3.") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	runIn(greet, "go", "test", "./...")
	if _, err := PublishDir(proxy, greet, "v0.1.0"); err != nil {
		t.Fatal(err)
	}

	// The analyst.
	out := runIn(tmp, stoq, "install", "example.com/stoq-plugins/greet@v0.1.0")
	if !strings.Contains(out, "Successfully installed") {
		t.Errorf("install:\n%s", out)
	}
	content := []byte("MZ\x90\x00 and more")
	payload := filepath.Join(tmp, "payload.bin")
	if err := os.WriteFile(payload, content, 0o644); err != nil {
		t.Fatal(err)
	}
	results := scanResults(t, runIn(tmp, stoq, "scan", payload, "-s", "greet"), "greet")
	if results["size"] != float64(len(content)) || results["prefix"] != hex.EncodeToString(content) {
		t.Errorf("greet results %v", results)
	}
	t.Logf("from stoq new plugin to a scan with it installed: %s", time.Since(authorStart).Round(time.Second))

	// A new version, tagged in git; the analyst upgrades by git URL.
	for name, from := range map[string]string{"greet.stoq": "Version = 0.1.0", "CHANGELOG.md": "## 0.1.0"} {
		data, _ := os.ReadFile(filepath.Join(greet, name))
		if err := os.WriteFile(filepath.Join(greet, name), []byte(strings.Replace(string(data), from, strings.Replace(from, "0.1.0", "0.2.0", 1), 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runIn(greet, "git", "init", "-q")
	runIn(greet, "git", "add", "-A")
	runIn(greet, "git", "-c", "user.name=tests", "-c", "user.email=tests@example.org", "commit", "-q", "-m", "greet 0.2.0")
	runIn(greet, "git", "tag", "v0.2.0")
	out = runIn(tmp, stoq, "install", "--upgrade", "file://"+filepath.ToSlash(greet))
	if !strings.Contains(out, "Replaced greet 0.1.0 with greet 0.2.0") {
		t.Errorf("upgrade:\n%s", out)
	}
	if version := runIn(tmp, stoq, "version"); !regexp.MustCompile(`greet\s+v0\.2\.0`).MatchString(version) || !strings.Contains(version, "tag v0.2.0") {
		t.Errorf("stoq version after the upgrade:\n%s", version)
	}
}

// TestReleaseTagsMakeTheVersionedExamplesWork tags a copy of this
// repository as make release-tags does (the real repository's tags are
// never needed), then installs stoq:hash@3.0.0 from it, as the README and
// the help print it.
func TestReleaseTagsMakeTheVersionedExamplesWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds stoq binaries")
	}
	needGit(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	copyTracked(t, root, repo)
	gitRun(t, repo, "init", "-q")
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "a release")
	modules, problems, err := Check(repo)
	if err != nil || len(problems) > 0 {
		t.Fatalf("%v %v", problems, err)
	}
	created, err := CreateTags(repo, modules)
	if err != nil {
		t.Fatal(err)
	}
	var hashTag string
	for _, m := range modules {
		if m.Dir == "plugins/hash" {
			hashTag = m.Tag()
		}
	}
	if !strings.Contains(strings.Join(created, " "), hashTag) || hashTag == "" {
		t.Fatalf("created %v", created)
	}
	version := strings.TrimPrefix(path.Base(hashTag), "v")
	stoq := buildStoq(t, root, tmp)
	runIn := runner(t, testEnv(t, tmp, "", "STOQ_CATALOG=file://"+filepath.ToSlash(repo)))
	out := runIn(tmp, stoq, "install", "stoq:hash@"+version)
	if !strings.Contains(out, "Successfully installed") {
		t.Errorf("install:\n%s", out)
	}
	payload := filepath.Join(tmp, "payload")
	if err := os.WriteFile(payload, []byte("hash me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := scanResults(t, runIn(tmp, stoq, "scan", payload, "-s", "hash"), "hash"); got["sha256"] == nil {
		t.Errorf("hash results %v", got)
	}
	if v := runIn(tmp, stoq, "version"); !strings.Contains(v, "tag "+hashTag) {
		t.Errorf("stoq version does not name the tag:\n%s", v)
	}
}

// buildStoq builds the repository's plain stoq into dir.
func buildStoq(t *testing.T, root, dir string) string {
	t.Helper()
	stoq := filepath.Join(dir, "stoq")
	build := exec.Command("go", "build", "-o", stoq, "./cli/cmd/stoq")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building stoq: %v\n%s", err, out)
	}
	return stoq
}

// testEnv is the environment of stoq and go commands: a home and a module
// cache of the test's own in tmp, modules from proxy (when set) then from
// the user's module cache (a proxy layout too), no checksum database, no
// workspace, and the extra variables.
func testEnv(t *testing.T, tmp, proxy string, extra ...string) []string {
	t.Helper()
	userCache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	proxies := "file://" + filepath.ToSlash(filepath.Join(strings.TrimSpace(string(userCache)), "cache", "download"))
	if proxy != "" {
		proxies = proxy + "," + proxies
	}
	env := append(without(os.Environ(), "GOPROXY", "GOSUMDB", "GOFLAGS", "GOMODCACHE", "GOWORK", "STOQ_HOME", "STOQ_CATALOG", "STOQ_HANDOFF"),
		"GOPROXY="+proxies, "GOSUMDB=off", "GOFLAGS=-modcacherw", "GOMODCACHE="+filepath.Join(tmp, "modcache"), "GOWORK=off",
		"STOQ_HOME="+filepath.Join(tmp, "home"))
	return append(env, extra...)
}

func runner(t *testing.T, env []string) func(dir, name string, args ...string) string {
	return func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

// copyTracked copies the files git tracks in root into dest.
func copyTracked(t *testing.T, root, dest string) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(root, filepath.FromSlash(name))
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dest, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func scanResults(t *testing.T, out, worker string) map[string]any {
	t.Helper()
	var resp struct {
		Results []struct {
			Workers map[string]map[string]any `json:"workers"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Results) == 0 {
		t.Fatalf("scan output: %v\n%s", err, out)
	}
	return resp.Results[0].Workers[worker]
}

func without(environ []string, keys ...string) []string {
	var out []string
next:
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		for _, drop := range keys {
			if k == drop {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
