package builder

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

func TestGenerateGoModPinsCoreAndReplacesEveryLocalModule(t *testing.T) {
	in := buildInputs{
		Kind: KindInstall, CoreDir: "/h/src/core", CLIDir: "/h/src/cli", CoreVersion: "3.0.0",
		Links: []link{
			{Plugin: Plugin{Name: "hash", Version: "3.0.0", Module: "github.com/stoq-go/stoq/plugins/hash/v3", Dir: "/h/plugins/hash"}, Source: "stoq:hash"},
			{Plugin: Plugin{Name: "pdf", Version: "1.2.0", Module: "example.org/pdf", Dir: "/cache/pdf@v1.2.0"}, ModVersion: "v1.2.0", Source: "example.org/pdf@v1.2.0"},
		},
	}
	data, err := generateGoMod(in, "1.26")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatalf("generated go.mod does not parse: %v\n%s", err, data)
	}
	replaces := map[string]string{}
	for _, r := range f.Replace {
		if r.Old.Version != "" {
			t.Errorf("replace of %s is for version %s only; it must cover every version", r.Old.Path, r.Old.Version)
		}
		replaces[r.Old.Path] = r.New.Path
	}
	want := map[string]string{coreModule: "/h/src/core", cliModule: "/h/src/cli", "github.com/stoq-go/stoq/plugins/hash/v3": "/h/plugins/hash"}
	for path, dir := range want {
		if replaces[path] != dir {
			t.Errorf("replace %s => %q, want %q", path, replaces[path], dir)
		}
	}
	if _, ok := replaces["example.org/pdf"]; ok {
		t.Error("a published module was replaced by its cache folder")
	}
	requires := map[string]string{}
	for _, r := range f.Require {
		requires[r.Mod.Path] = r.Mod.Version
	}
	if requires["example.org/pdf"] != "v1.2.0" || requires[coreModule] != "v3.0.0" {
		t.Errorf("requires %v", requires)
	}
	if f.Go.Version != "1.26" {
		t.Errorf("go %s", f.Go.Version)
	}

	main, err := generateMain(newRecord(in, "go1.26.8"))
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parser.ParseFile(token.NewFileSet(), "main.go", main, parser.ImportsOnly)
	if err != nil {
		t.Fatalf("main.go: %v\n%s", err, main)
	}
	var imports []string
	for _, imp := range pf.Imports {
		imports = append(imports, imp.Path.Value)
	}
	if got := strings.Join(imports, " "); got != `"os" "github.com/stoq-go/stoq/cli/v3" "example.org/pdf" "github.com/stoq-go/stoq/plugins/hash/v3"` {
		t.Errorf("imports %s", got)
	}
	for _, want := range []string{`Kind:        "install"`, `{Name: "pdf", Version: "1.2.0", Module: "example.org/pdf", Source: "example.org/pdf@v1.2.0"}`, "os.Exit(cli.Main(cli.BuildInfo{"} {
		if !strings.Contains(string(main), want) {
			t.Errorf("main.go lacks %s:\n%s", want, main)
		}
	}
}

func TestGoDirectiveIsTheNewest(t *testing.T) {
	if got := goDirective("1.22", "1.27.1", "", "bogus", "1.26"); got != "1.27.1" {
		t.Errorf("goDirective = %s", got)
	}
	if got := goDirective(); got != "1.26" {
		t.Errorf("goDirective() = %s", got)
	}
}

func TestSeedGoSumMergesAndDedupes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("x v1 h1:a=\nx v1/go.mod h1:b=\n"), 0o644)
	os.WriteFile(b, []byte("x v1 h1:a=\ny v2 h1:c=\nnot a sum line\n"), 0o644)
	got := string(seedGoSum(a, b, filepath.Join(dir, "missing")))
	if got != "x v1 h1:a=\nx v1/go.mod h1:b=\ny v2 h1:c=\n" {
		t.Errorf("seedGoSum = %q", got)
	}
}

func TestFindConflicts(t *testing.T) {
	graph := strings.Join([]string{
		"stoq.local/build github.com/stoq-go/stoq/plugins/yara/v3@v3.0.0",
		"stoq.local/build example.org/es@v1.0.0",
		"stoq.local/build github.com/stoq-go/stoq/cli/v3@v3.0.0",
		"github.com/stoq-go/stoq/plugins/yara/v3@v3.0.0 example.org/lib@v1.2.0",
		"github.com/stoq-go/stoq/plugins/yara/v3@v3.0.0 github.com/stoq-go/stoq/core/v3@v3.0.0",
		"example.org/es@v1.0.0 example.org/mid@v0.3.0",
		"example.org/mid@v0.3.0 example.org/lib@v1.5.0",
		"example.org/es@v1.0.0 example.org/same@v2.0.0",
		"github.com/stoq-go/stoq/plugins/yara/v3@v3.0.0 example.org/same@v2.0.0",
		"github.com/stoq-go/stoq/cli/v3@v3.0.0 example.org/lib@v1.1.0",
		"github.com/stoq-go/stoq/cli/v3@v3.0.0 go@1.26",
	}, "\n")
	roots := map[string]string{
		"github.com/stoq-go/stoq/plugins/yara/v3": "plugin yara", "example.org/es": "plugin es",
		coreModule: "core", cliModule: "cli",
	}
	got := findConflicts(graph, roots)
	if len(got) != 1 {
		t.Fatalf("conflicts %v, want only example.org/lib", got)
	}
	want := "example.org/lib: plugin es requires v1.5.0, plugin yara requires v1.2.0, cli requires v1.1.0; the build uses v1.5.0"
	if got[0].String() != want {
		t.Errorf("got  %s\nwant %s", got[0], want)
	}
}

func TestFindToolchain(t *testing.T) {
	ctx := context.Background()
	_, err := findToolchain(ctx, []string{"PATH=" + t.TempDir(), "HOME=" + t.TempDir()})
	if !errors.Is(err, errNoGo) || !strings.Contains(err.Error(), "was not found on PATH") {
		t.Errorf("no go: err = %v", err)
	}
	tc, err := findToolchain(ctx, nil)
	if err != nil {
		t.Skipf("no Go toolchain on this machine: %v", err)
	}
	if !strings.HasPrefix(tc.Version, "go1.") {
		t.Errorf("version %q", tc.Version)
	}
	if getenvIn(tc.environ, "GOWORK") != "off" {
		t.Error("go commands would run with the workspace")
	}
	if err := tc.need("1.20", "plugin x"); err != nil {
		t.Error(err)
	}
	err = tc.need("9.99", "plugin x")
	if err == nil || !strings.Contains(err.Error(), "plugin x needs Go 9.99") || !strings.Contains(err.Error(), tc.Version) {
		t.Errorf("Need(9.99) = %v", err)
	}
	if err := tc.need("one", "plugin x"); err == nil {
		t.Error("a bad go line was accepted")
	}
}

func TestRelevantConflictsExplainTheFailingPackage(t *testing.T) {
	const yara, es = "github.com/stoq-go/stoq/plugins/yara/v3", "example.org/es"
	roots := map[string]string{yara: "plugin yara", es: "plugin es", cliModule: "cli"}
	graph := strings.Join([]string{
		yara + " example.org/yaralib@v1.0.0",
		yara + " gopkg.in/check.v1@v0.1.0",
		es + " example.org/yaralib@v1.4.0",
		es + " example.org/http@v2.0.0",
		cliModule + " gopkg.in/check.v1@v1.0.0",
		cliModule + " example.org/http@v2.1.0",
	}, "\n")
	all := findConflicts(graph, roots)
	if len(all) != 3 {
		t.Fatalf("conflicts %v", all)
	}
	names := func(cs []conflict) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Module)
		}
		return strings.Join(out, " ")
	}
	tests := []struct{ compiler, want string }{
		// yara's own package broke: yaralib, which it requires directly at
		// an older version, explains it; check.v1 is also direct and older.
		{"# " + yara + "\nyara.go:1: undefined: x\n", "example.org/yaralib gopkg.in/check.v1"},
		// a package of a conflicting module broke.
		{"# example.org/http/client\nclient.go:1: bad\n", "example.org/http"},
		// es's package broke: it got a newer http than it asked for.
		{"# " + es + "\nes.go:1: bad\n", "example.org/http"},
		// the cli broke: it got every version it asked for.
		{"# " + cliModule + "\nroot.go:1: bad\n", ""},
	}
	for _, tt := range tests {
		if got := names(relevantConflicts(all, graph, tt.compiler, roots)); got != tt.want {
			t.Errorf("for %q: %q, want %q", tt.compiler, got, tt.want)
		}
	}
}
