package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// linkRequest asks for one binary built from a generated module.
type linkRequest struct {
	buildInputs
	// Output is the binary; BuildDir holds the generated module, kept so the
	// build can be reproduced.
	Output   string
	BuildDir string
	// RestoreOnFailure puts the previous generated files back when the build
	// fails, so BuildDir keeps describing the binary that is in place.
	RestoreOnFailure bool
	Toolchain        *toolchain
	Progress         *Progress
}

// LinkResult says what a build produced.
type LinkResult struct {
	// Rebuilt is false when the binary was already built from the same
	// inputs (same fingerprint) and was kept.
	Rebuilt  bool
	Output   string
	BuildDir string
	Info     Record
}

// buildFiles are the files of a build folder that describe its binary.
var buildFiles = []string{"go.mod", "go.sum", "main.go", "fingerprint", "buildinfo.json"}

// slowBuildNote is said before every build: the first one compiles every
// dependency (minutes with heavy plugins), later ones reuse Go's build cache.
const slowBuildNote = "a first build compiles every dependency and can take several minutes; later builds take seconds"

// linkBinary generates the main module in BuildDir, resolves it (go mod
// tidy), checks that it links the modules asked for, and builds Output
// atomically: to a temporary name beside it, then renamed over it. When
// the fingerprint of the inputs is the one of the binary in place, nothing
// is built.
func linkBinary(ctx context.Context, req linkRequest) (*LinkResult, error) {
	t, p := req.Toolchain, req.Progress
	if err := checkToolchain(t, req.buildInputs); err != nil {
		return nil, err
	}
	sort.Slice(req.Links, func(i, j int) bool { return req.Links[i].Name < req.Links[j].Name })
	info := Record{Kind: req.Kind, CoreVersion: req.CoreVersion, GoVersion: t.Version}
	for _, l := range req.Links {
		info.Plugins = append(info.Plugins, LinkedPlugin{Name: l.Name, Version: l.Version, Module: l.Module, Source: l.Source})
	}
	result := &LinkResult{Output: req.Output, BuildDir: req.BuildDir, Info: info}

	fingerprint, err := computeFingerprint(req, t)
	if err != nil {
		return nil, err
	}
	if old, err := os.ReadFile(filepath.Join(req.BuildDir, "fingerprint")); err == nil && string(old) == fingerprint {
		if fi, err := os.Stat(req.Output); err == nil && fi.Mode().IsRegular() {
			p.Printf("%s is up to date (same plugins, versions, sources and Go): nothing to rebuild", req.Output)
			return result, nil
		}
	}

	previous := map[string][]byte{}
	for _, name := range buildFiles {
		if data, err := os.ReadFile(filepath.Join(req.BuildDir, name)); err == nil {
			previous[name] = data
		}
	}
	fail := func(err error) (*LinkResult, error) {
		if req.RestoreOnFailure {
			for _, name := range buildFiles {
				path := filepath.Join(req.BuildDir, name)
				if data, ok := previous[name]; ok {
					_ = os.WriteFile(path, data, 0o644)
				} else {
					_ = os.Remove(path)
				}
			}
		} else {
			_ = os.Remove(filepath.Join(req.BuildDir, "fingerprint"))
		}
		return nil, err
	}

	goVersion := goDirective(req.goVersions()...)
	if err := writeGenerated(req.BuildDir, req.buildInputs, goVersion, t.Version); err != nil {
		return fail(err)
	}
	_ = os.Remove(filepath.Join(req.BuildDir, "fingerprint"))

	done := p.Step("Resolving module requirements (go mod tidy)", 30*time.Second)
	_, err = t.output(ctx, req.BuildDir, t.modEnv(), "mod", "tidy")
	done(err)
	if err != nil {
		return fail(fmt.Errorf("resolving the modules of the build in %s: %w", req.BuildDir, err))
	}
	if err := verifyResolved(ctx, t, req); err != nil {
		return fail(err)
	}

	if err := os.MkdirAll(filepath.Dir(req.Output), 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(req.Output), "."+filepath.Base(req.Output)+".tmp-*")
	if err != nil {
		return fail(fmt.Errorf("cannot write the binary beside %s: %w", req.Output, err))
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	plural := "s"
	if len(req.Links) == 1 {
		plural = ""
	}
	done = p.Step(fmt.Sprintf("Building %s with %d plugin%s (%s)", req.Output, len(req.Links), plural, slowBuildNote), 30*time.Second)
	_, err = t.output(ctx, req.BuildDir, t.modEnv(), "build", "-trimpath", "-o", tmp.Name(), ".")
	done(err)
	if err != nil {
		return fail(explainBuildFailure(ctx, t, req, err))
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), req.Output); err != nil {
		return fail(fmt.Errorf("replacing %s: %w", req.Output, err))
	}
	record, _ := json.MarshalIndent(info, "", "  ")
	_ = os.WriteFile(filepath.Join(req.BuildDir, "buildinfo.json"), append(record, '\n'), 0o644)
	if err := os.WriteFile(filepath.Join(req.BuildDir, "fingerprint"), []byte(fingerprint), 0o644); err != nil {
		return nil, err
	}
	result.Rebuilt = true
	return result, nil
}

func (in buildInputs) goVersions() []string {
	var out []string
	for _, dir := range []string{in.CoreDir, in.CLIDir} {
		if v, err := goLineOf(dir); err == nil {
			out = append(out, v)
		}
	}
	for _, l := range in.Links {
		out = append(out, l.GoVersion)
	}
	return out
}

func goLineOf(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "go" {
			return f[1], nil
		}
	}
	return "", nil
}

// checkToolchain refuses a toolchain older than a module's go line, before
// anything is changed.
func checkToolchain(t *toolchain, in buildInputs) error {
	for _, m := range []struct{ dir, who string }{{in.CoreDir, "the stoq core"}, {in.CLIDir, "the stoq cli"}} {
		if v, err := goLineOf(m.dir); err == nil {
			if err := t.need(v, m.who); err != nil {
				return err
			}
		}
	}
	for _, l := range in.Links {
		if err := t.need(l.GoVersion, "plugin "+l.Name); err != nil {
			return err
		}
	}
	return nil
}

// computeFingerprint sums what the binary is made of: the toolchain and
// the environment that changes code generation, the output, the build
// record, and the content of every local source folder.
func computeFingerprint(req linkRequest, t *toolchain) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "stoq builder 1\ngo %s\noutput %s\nkind %s\ncore %s\n", t.Version, req.Output, req.Kind, req.CoreVersion)
	for _, key := range []string{"GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "CC", "CGO_CFLAGS", "CGO_LDFLAGS"} {
		fmt.Fprintf(h, "env %s=%s\n", key, getenvIn(t.environ, key))
	}
	dirs := []struct{ what, dir string }{{"core", req.CoreDir}, {"cli", req.CLIDir}}
	for _, l := range req.Links {
		fmt.Fprintf(h, "plugin %s %s %s %s %q\n", l.Name, l.Version, l.Module, l.ModVersion, l.Source)
		if l.ModVersion == "" {
			dirs = append(dirs, struct{ what, dir string }{"plugin " + l.Name, l.Dir})
		}
	}
	for _, d := range dirs {
		sum, err := hashTree(d.dir)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %s %s\n", d.what, d.dir, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// listedModule is what go list -m -json says of one module.
type listedModule struct {
	Path    string
	Version string
	Replace *struct {
		Path    string
		Version string
	}
}

// verifyResolved checks, after go mod tidy, that the build links what was
// asked: core and cli from their folders (the core pinned at the running
// version, whatever a plugin requires), each local plugin from its folder
// and each published plugin at the version asked for.
func verifyResolved(ctx context.Context, t *toolchain, req linkRequest) error {
	args := []string{"list", "-m", "-json", coreModule, cliModule}
	for _, l := range req.Links {
		args = append(args, l.Module)
	}
	out, err := t.output(ctx, req.BuildDir, t.modEnv(), args...)
	if err != nil {
		return fmt.Errorf("checking the resolved modules in %s: %w", req.BuildDir, err)
	}
	got := map[string]listedModule{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m listedModule
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("reading go list output: %w", err)
		}
		got[m.Path] = m
	}
	wantDir := func(path, dir, who string) error {
		m := got[path]
		if m.Replace == nil || filepath.Clean(m.Replace.Path) != filepath.Clean(dir) {
			return fmt.Errorf("the build does not link %s from %s as asked (go resolved %s %s)", who, dir, path, m.Version)
		}
		return nil
	}
	if err := wantDir(coreModule, req.CoreDir, "the core"); err != nil {
		return err
	}
	if err := wantDir(cliModule, req.CLIDir, "the cli"); err != nil {
		return err
	}
	var mismatches []string
	for _, l := range req.Links {
		if l.ModVersion == "" {
			if err := wantDir(l.Module, l.Dir, "plugin "+l.Name); err != nil {
				return err
			}
			continue
		}
		if m := got[l.Module]; m.Version != l.ModVersion {
			mismatches = append(mismatches, fmt.Sprintf("plugin %s: asked for %s@%s but the build would use %s%s",
				l.Name, l.Module, l.ModVersion, m.Version, requiredBy(ctx, t, req, l.Module, m.Version)))
		}
	}
	if len(mismatches) > 0 {
		return fmt.Errorf("the resolved versions are not the ones asked for:\n  %s", strings.Join(mismatches, "\n  "))
	}
	return nil
}

// requiredBy names the modules that require path at version, from go mod
// graph (", required by X, Y"), or "" when it cannot tell.
func requiredBy(ctx context.Context, t *toolchain, req linkRequest, path, version string) string {
	out, err := t.output(ctx, req.BuildDir, t.modEnv(), "mod", "graph")
	if err != nil {
		return ""
	}
	names := moduleNames(req)
	var who []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == path+"@"+version {
			from, _, _ := strings.Cut(f[0], "@")
			if from == generatedModule {
				continue // tidy raised the build's own requirement to match
			}
			if n, ok := names[from]; ok {
				from = n
			}
			who = append(who, from)
		}
	}
	if len(who) == 0 {
		return ""
	}
	return ", required by " + strings.Join(who, ", ")
}

func moduleNames(req linkRequest) map[string]string {
	names := map[string]string{coreModule: "core", cliModule: "cli"}
	for _, l := range req.Links {
		names[l.Module] = "plugin " + l.Name
	}
	return names
}

// explainBuildFailure adds to go build's message the modules that the
// linked modules want at different versions, the usual cause of a build
// that breaks only when plugins are combined.
func explainBuildFailure(ctx context.Context, t *toolchain, req linkRequest, buildErr error) error {
	msg := buildErr.Error()
	var ge *goError
	if errors.As(buildErr, &ge) {
		msg = ge.Output
	}
	err := fmt.Errorf("building %s failed; the compiler said:\n%s", req.Output, msg)
	out, gerr := t.output(ctx, req.BuildDir, t.modEnv(), "mod", "graph")
	if gerr != nil {
		return err
	}
	conflicts := relevantConflicts(findConflicts(string(out), moduleNames(req)), string(out), msg, moduleNames(req))
	if len(conflicts) == 0 {
		return err
	}
	lines := make([]string, len(conflicts))
	for i, c := range conflicts {
		lines[i] = "  " + c.String()
	}
	return fmt.Errorf("%w\nThe linked modules require these dependencies at different versions (Go builds with the highest, "+
		"which may break the others):\n%s", err, strings.Join(lines, "\n"))
}
