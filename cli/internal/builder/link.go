package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/stoq-go/stoq/core/v3/atomicfile"
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
	// SkipCompile stops after generating the module: nothing is resolved or
	// compiled, Output is left as it is.
	SkipCompile bool
	Toolchain   *toolchain
	Progress    *Progress
}

// LinkResult says what a build produced.
type LinkResult struct {
	// Rebuilt is false when the binary was already built from the same
	// inputs (same fingerprint) and was kept, or was not compiled at all
	// (SkipCompile).
	Rebuilt  bool
	Output   string
	BuildDir string
	Record   Record
	// BuildCommands are the shell commands that build Output from BuildDir
	// by hand, as the builder runs them (go mod tidy, then go build).
	BuildCommands []string
}

// buildFiles are the files of a build folder that describe its binary.
var buildFiles = []string{"go.mod", "go.sum", "main.go", fingerprintFile, recordFile}

// linkBinary runs the build's three steps in BuildDir: generateModule
// (go.mod, go.sum, main.go), resolveModules (go mod tidy, then checks that
// go resolved the modules asked for) and compileBinary (go build, then the
// new binary renamed over Output). When the fingerprint of the inputs is
// the one of the binary in place, nothing is built; with SkipCompile only
// the first step runs.
func linkBinary(ctx context.Context, req linkRequest) (*LinkResult, error) {
	t := req.Toolchain
	if err := checkToolchain(t, req.buildInputs); err != nil {
		return nil, err
	}
	sort.Slice(req.Links, func(i, j int) bool { return req.Links[i].Name < req.Links[j].Name })
	result := &LinkResult{
		Output: req.Output, BuildDir: req.BuildDir,
		Record: newRecord(req.buildInputs, t.Version), BuildCommands: handBuildCommands(req),
	}
	if req.SkipCompile {
		return result, generateOnly(req)
	}
	fingerprint, err := computeFingerprint(req, t)
	if err != nil {
		return nil, err
	}
	if upToDate(req, fingerprint) {
		req.Progress.printf("%s is up to date (same plugins, versions, sources and Go): nothing to rebuild", req.Output)
		return result, nil
	}
	previous := saveBuildFiles(req.BuildDir)
	if err := generateOnly(req); err != nil {
		return nil, previous.putBack(req.RestoreOnFailure, err)
	}
	if err := resolveModules(ctx, req); err != nil {
		return nil, previous.putBack(req.RestoreOnFailure, err)
	}
	if err := compileBinary(ctx, req); err != nil {
		return nil, previous.putBack(req.RestoreOnFailure, err)
	}
	if err := recordBuild(req.BuildDir, result.Record, fingerprint); err != nil {
		return nil, err
	}
	result.Rebuilt = true
	return result, nil
}

// generateOnly writes the module and removes the fingerprint: from here the
// folder no longer describes a binary (none is built from it yet). It is
// the generate-only stop, and the first step of a build.
func generateOnly(req linkRequest) error {
	if err := generateModule(req.BuildDir, req.buildInputs, req.Toolchain.Version); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(req.BuildDir, fingerprintFile))
	return nil
}

// handBuildCommands are the shell commands that build req.Output from its
// generated module by hand: the commands resolveModules and compileBinary
// run, with the same environment, and go build writing Output directly.
func handBuildCommands(req linkRequest) []string {
	t := req.Toolchain
	return []string{
		"cd " + shellQuote(req.BuildDir),
		t.commandLine(t.modEnv(), goModTidy...),
		t.commandLine(t.modEnv(), goBuildArgs(req.Output)...),
	}
}

// upToDate reports whether the binary in place was built from inputs with
// this fingerprint.
func upToDate(req linkRequest, fingerprint string) bool {
	old, err := os.ReadFile(filepath.Join(req.BuildDir, fingerprintFile))
	if err != nil || string(old) != fingerprint {
		return false
	}
	fi, err := os.Stat(req.Output)
	return err == nil && fi.Mode().IsRegular()
}

// savedBuildFiles are the build files of a folder before a build, by name.
type savedBuildFiles struct {
	dir   string
	files map[string][]byte
}

func saveBuildFiles(dir string) savedBuildFiles {
	s := savedBuildFiles{dir: dir, files: map[string][]byte{}}
	for _, name := range buildFiles {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			s.files[name] = data
		}
	}
	return s
}

// putBack handles a failed build and returns its error: with restore, the
// folder gets its previous files back (it describes the binary still in
// place); without, its fingerprint is removed so the next build rebuilds.
func (s savedBuildFiles) putBack(restore bool, err error) error {
	if !restore {
		_ = os.Remove(filepath.Join(s.dir, fingerprintFile))
		return err
	}
	for _, name := range buildFiles {
		path := filepath.Join(s.dir, name)
		if data, ok := s.files[name]; ok {
			_, _ = atomicfile.WriteFile(path, data, atomicfile.Options{Perm: 0o644})
		} else {
			_ = os.Remove(path)
		}
	}
	return err
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
	fmt.Fprintf(h, "stoq builder 2\ngo %s\noutput %s\nkind %s\ncore %s\n", t.Version, req.Output, req.Kind, req.CoreVersion)
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
