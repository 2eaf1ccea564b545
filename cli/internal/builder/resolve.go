package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// goModTidy completes the generated go.mod and go.sum.
var goModTidy = []string{"mod", "tidy"}

// resolveModules is the build's second step, resolve and verify: go mod
// tidy resolves every requirement of the generated module (go.sum is
// completed, with GOFLAGS=-mod=mod), then verifyResolved checks with go
// list -m that go chose the modules asked for. When the compile step fails,
// explainBuildFailure (conflicts.go) reports the dependencies the linked
// modules want at different versions.
func resolveModules(ctx context.Context, req linkRequest) error {
	t := req.Toolchain
	done := req.Progress.step("Resolving module requirements (go mod tidy)", 30*time.Second)
	_, err := t.output(ctx, req.BuildDir, t.modEnv(), goModTidy...)
	done(err)
	if err != nil {
		return fmt.Errorf("resolving the modules of the build in %s: %w", req.BuildDir, err)
	}
	return verifyResolved(ctx, t, req)
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

// listModules runs go list -m -json for paths in the build folder dir.
func listModules(ctx context.Context, t *toolchain, dir string, paths []string) (map[string]listedModule, error) {
	out, err := t.output(ctx, dir, t.modEnv(), append([]string{"list", "-m", "-json"}, paths...)...)
	if err != nil {
		return nil, fmt.Errorf("checking the resolved modules in %s: %w", dir, err)
	}
	got := map[string]listedModule{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m listedModule
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return got, nil
		} else if err != nil {
			return nil, fmt.Errorf("reading go list output: %w", err)
		}
		got[m.Path] = m
	}
}

// verifyResolved checks, after go mod tidy, that the build links what was
// asked: core and cli from their folders (the core pinned at the running
// version, whatever a plugin requires), each local plugin from its folder
// and each published plugin at the version asked for.
func verifyResolved(ctx context.Context, t *toolchain, req linkRequest) error {
	paths := []string{coreModule, cliModule}
	for _, l := range req.Links {
		paths = append(paths, l.Module)
	}
	got, err := listModules(ctx, t, req.BuildDir, paths)
	if err != nil {
		return err
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
	var mismatched []link
	for _, l := range req.Links {
		if l.ModVersion == "" {
			if err := wantDir(l.Module, l.Dir, "plugin "+l.Name); err != nil {
				return err
			}
			continue
		}
		if got[l.Module].Version != l.ModVersion {
			mismatched = append(mismatched, l)
		}
	}
	if len(mismatched) == 0 {
		return nil
	}
	graph, err := t.output(ctx, req.BuildDir, t.modEnv(), "mod", "graph")
	if err != nil {
		graph = nil // requiredBy cannot tell
	}
	names := moduleNames(req)
	mismatches := make([]string, len(mismatched))
	for i, l := range mismatched {
		v := got[l.Module].Version
		mismatches[i] = fmt.Sprintf("plugin %s: asked for %s@%s but the build would use %s%s",
			l.Name, l.Module, l.ModVersion, v, requiredBy(string(graph), names, l.Module, v))
	}
	return fmt.Errorf("the resolved versions are not the ones asked for:\n  %s", strings.Join(mismatches, "\n  "))
}

// requiredBy names the modules that require path at version, from go mod
// graph's output ("" when go mod graph failed) and the names of the linked
// modules (moduleNames): ", required by X, Y", or "" when it cannot tell.
func requiredBy(graph string, names map[string]string, path, version string) string {
	var who []string
	for _, line := range strings.Split(graph, "\n") {
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
