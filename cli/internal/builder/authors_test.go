package builder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

// The installer's smaller defects of the plugin-authors issue, each pinned
// by a test that failed before its fix.

func TestParseInstallSpecAuthorsForms(t *testing.T) {
	dir := t.TempDir()
	bare := filepath.Join(dir, "plugin.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", bare).CombinedOutput(); err != nil {
		t.Skipf("git init --bare: %v %s", err, out)
	}
	tests := []installSpecCase{
		// stoq install MODULE@VERSION, as stoq build --with takes it.
		{in: "example.com/acme/stoq-pdfid@v1.2.0", want: Spec{kind: fromModule, module: "example.com/acme/stoq-pdfid", version: "v1.2.0"}},
		{in: "example.com/acme/stoq-pdfid/v3@v3.0.0", github: true, want: Spec{kind: fromModule, module: "example.com/acme/stoq-pdfid/v3", version: "v3.0.0"}},
		// Without a version (or @latest): the newest made for this stoq.
		{in: "example.com/acme/stoq-pdfid", want: Spec{kind: fromModule, module: "example.com/acme/stoq-pdfid"}},
		{in: "example.com/acme/stoq-pdfid@latest", want: Spec{kind: fromModule, module: "example.com/acme/stoq-pdfid"}},
		{in: "example.com/acme/stoq-pdfid@", err: "no version"},
		// A bare repository is a git source, not a folder.
		{in: bare, want: Spec{kind: fromGit, url: bare}},
		{in: bare + "@1.0.0", want: Spec{kind: fromGit, url: bare, version: "1.0.0"}},
		// Built-in plugins and command names are not installable.
		{in: "stoq:stdout", err: "stdout is built into stoq"},
		{in: "stoq:submit", err: "submit is a stoq command"},
		{in: "./no/such/folder", err: "no such file"},
	}
	checkInstallSpecs(t, tests)
	if _, err := ParseWithSpec("stdout"); err == nil || !strings.Contains(err.Error(), "built into stoq") {
		t.Errorf("--with stdout: %v", err)
	}
}

func TestPickRefsListsCandidatesNewestFirst(t *testing.T) {
	refs := []string{"refs/heads/main", "refs/tags/v1.0.0", "refs/tags/v2.0.0", "refs/tags/v2.1.0-rc.1", "refs/tags/v1.5.0"}
	got, err := pickRefs(refs, "", "", "it")
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, r := range got {
		versions = append(versions, r.Version)
	}
	if strings.Join(versions, " ") != "2.0.0 1.5.0 1.0.0" {
		t.Errorf("candidates %v", versions)
	}
	if got, _ := pickRefs(refs, "", "^1", "it"); len(got) != 2 || got[0].Version != "1.5.0" {
		t.Errorf("^1: %+v", got)
	}
	if got, _ := pickRefs(refs, "", "1.0.0", "it"); len(got) != 1 {
		t.Errorf("an exact version gives one candidate: %+v", got)
	}
}

// versionedCatalog is a git catalogue whose plugin greet has tags 1.0.0
// (for stoq 3), 2.0.0 (needs stoq 99) and 2.1.0 (whose manifest says
// 2.0.9), plus an untagged default branch.
func versionedCatalog(t *testing.T) Catalog {
	t.Helper()
	dir := t.TempDir()
	r := newTestRepo(t, dir)
	for _, v := range []struct{ name, tag, manifest, min string }{
		{"greet", "1.0.0", "1.0.0", "3.0.0"}, {"greet", "2.0.0", "2.0.0", "99.0.0"}, {"greet", "2.1.0", "2.0.9", "3.0.0"},
		{"wave", "1.0.0", "1.0.0", "3.0.0"}, {"wave", "1.1.0", "1.1.0", ">= 3.0, < 3.1"}, {"wave", "2.0.0", "2.0.0", "99.0.0"}, {"wave", "2.1.0", "2.1.0", "99.0.0"},
	} {
		r.write(testPlugin(v.name, v.name, v.manifest, v.min, "hi", ""))
		r.commit(v.name + " " + v.tag)
		r.tag("plugins/"+v.name+"/v"+v.tag, false)
	}
	cat, err := newCatalog("file://"+dir, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// anyGo is a toolchain that lets go pick the Go a plugin needs: these
// tests check what is fetched, not the local Go.
var anyGo = &toolchain{switching: true}

func fetchAndCheck(t *testing.T, cat Catalog, spec string) (*Plugin, error) {
	t.Helper()
	f, err := newFetcher(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	s, err := ParseInstallSpec(spec, !filepath.IsAbs(spec))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := fetchAndValidate(context.Background(), f, anyGo, s, cat, pickOptions{CoreVersion: core.Version}, nil)
	return p, err
}

func TestInstallRefusesATagWhoseManifestSaysAnotherVersion(t *testing.T) {
	_, err := fetchAndCheck(t, versionedCatalog(t), "stoq:greet@2.1.0")
	if err == nil || !strings.Contains(err.Error(), "version 2.1.0 was asked for, but its manifest says Version = 2.0.9") {
		t.Fatalf("err = %v", err)
	}
}

func TestInstallPicksTheNewestVersionMadeForThisStoq(t *testing.T) {
	cat := versionedCatalog(t)
	// wave 2.x needs stoq 99: without a version, 1.1.0 (>= 3.0, < 3.1).
	p, err := fetchAndCheck(t, cat, "stoq:wave")
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "1.1.0" {
		t.Errorf("installed wave %s, want 1.1.0, the newest made for stoq %s", p.Version, core.Version)
	}
	// A constraint: among 2.0.0 (needs stoq 99) and 1.0.0, 1.0.0.
	if p, err = fetchAndCheck(t, cat, "stoq:greet@<2.1"); err != nil || p.Version != "1.0.0" {
		t.Errorf("greet@<2.1: %+v, %v", p, err)
	}
	// Asked by version, 2.0.0 is refused with the reason.
	if _, err := fetchAndCheck(t, cat, "stoq:wave@2.0.0"); err == nil || !strings.Contains(err.Error(), "needs stoq >= 99.0.0") {
		t.Errorf("err = %v", err)
	}
	// When no version fits, the error lists why.
	if _, err := fetchAndCheck(t, cat, "stoq:wave@>=2"); err == nil || !strings.Contains(err.Error(), "no version is made for stoq") {
		t.Errorf("err = %v", err)
	}
}

func TestInstallFromAFolderNamedUnlikeThePlugin(t *testing.T) {
	// git clone …/stoq-b64decode && stoq install ./stoq-b64decode
	dir := filepath.Join(t.TempDir(), "stoq-b64decode")
	files := pluginFiles("b64decode", "example.org/b64decode", "1.0.0", "3.0.0")
	writeFiles(t, dir, files)
	spec, err := ParseInstallSpec(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := fetchAndValidate(context.Background(), nil, anyGo, spec, Catalog{}, pickOptions{CoreVersion: core.Version}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "b64decode" {
		t.Errorf("name %q", p.Name)
	}
}

func TestCatalogueNetworkFailureSuggestsAnOfflineCatalogue(t *testing.T) {
	cat, err := newCatalog("http://127.0.0.1:1/stoq.git", "test", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = fetchAndCheck(t, cat, "stoq:hash")
	if err == nil || !strings.Contains(err.Error(), "--catalog") || !strings.Contains(err.Error(), "$STOQ_CATALOG") {
		t.Errorf("err = %v", err)
	}
	f, _ := newFetcher(nil)
	defer f.Close()
	_, _, err = f.fetchCoreTree(context.Background(), cat, core.Version)
	if err == nil || !strings.Contains(err.Error(), "$STOQ_CATALOG") {
		t.Errorf("core sources: err = %v", err)
	}
}

func TestCheckLinkedReadsStoqVersion(t *testing.T) {
	out := "stoq 3.0.0 (go1.26.8 linux/amd64)\ncore module: github.com/stoq-go/stoq/core/v3 (devel)\nplugins:\n" +
		"  other   v1.0.0  example.org/other  from x\n  stdout  v3.0.0  github.com/stoq-go/stoq/cli/v3  (devel)\n"
	links := []link{{Plugin: Plugin{Name: "other", Version: "1.0.0"}}}
	if err := checkLinked(out, links); err != nil {
		t.Errorf("all linked: %v", err)
	}
	err := checkLinked(out, []link{{Plugin: Plugin{Name: "greet", Version: "1.0.0"}}})
	if err == nil || !strings.Contains(err.Error(), `plugin greet is not registered`) || !strings.Contains(err.Error(), "registers other instead") {
		t.Errorf("err = %v", err)
	}
	err = checkLinked(out, []link{{Plugin: Plugin{Name: "other", Version: "1.1.0"}}})
	if err == nil || !strings.Contains(err.Error(), "registers version 1.0.0 but its other.stoq says 1.1.0") {
		t.Errorf("err = %v", err)
	}
}

func TestInstallStateRemembersUninstallsAndStandIns(t *testing.T) {
	h := stoqHome{Dir: t.TempDir()}
	st := &installState{Plugins: map[string]InstalledPlugin{}}
	st.setDeclined("hash", true)
	st.setDeclined("yara", true)
	st.setDeclined("hash", false)
	st.standInFor("/opt/stoq/bin/stoq")
	st.standInFor("/opt/stoq/bin/stoq")
	if err := st.save(h); err != nil {
		t.Fatal(err)
	}
	back, err := loadState(h)
	if err != nil {
		t.Fatal(err)
	}
	if back.declined("hash") || !back.declined("yara") || len(back.StandsInFor) != 1 {
		t.Errorf("state %+v", back)
	}
	if _, err := os.Stat(h.stateFile()); err != nil {
		t.Fatal(err)
	}
}

func TestInstallFromABareRepository(t *testing.T) {
	src := t.TempDir()
	r := newTestRepo(t, src)
	r.write(pluginFiles("greet", "example.org/greet", "1.1.0", "3.0.0"))
	r.commit("greet 1.1.0")
	r.tag("v1.1.0", false)
	bare := filepath.Join(t.TempDir(), "greet.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", src, bare).CombinedOutput(); err != nil {
		t.Skipf("git clone --bare: %v %s", err, out)
	}
	p, err := fetchAndCheck(t, Catalog{}, bare)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "greet" || p.Version != "1.1.0" {
		t.Errorf("installed %s %s", p.Name, p.Version)
	}
}
