package builder

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

// conflict is a module that the linked modules require at different
// versions. Go builds with the highest (minimal version selection); when
// that breaks a plugin, this says who wanted what.
type conflict struct {
	Module string
	// Wants maps who (a plugin name, "core" or "cli") to the version its
	// own requirements would select.
	Wants map[string]string
	// Selected is the version the build uses.
	Selected string
}

func (c conflict) String() string {
	who := make([]string, 0, len(c.Wants))
	for name := range c.Wants {
		who = append(who, name)
	}
	sort.Slice(who, func(i, j int) bool {
		if c := semver.Compare(c.Wants[who[i]], c.Wants[who[j]]); c != 0 {
			return c > 0
		}
		return who[i] < who[j]
	})
	parts := make([]string, len(who))
	for i, name := range who {
		parts[i] = fmt.Sprintf("%s requires %s", name, c.Wants[name])
	}
	return fmt.Sprintf("%s: %s; the build uses %s", c.Module, strings.Join(parts, ", "), c.Selected)
}

// findConflicts reads `go mod graph` output and, for each root (a name for
// a module path), the versions of every module its requirements reach; it
// returns the modules that two roots reach at different versions.
func findConflicts(graph string, roots map[string]string) []conflict {
	edges := map[string][]string{} // "path@version" or "path" → required "path@version"
	nodesOf := map[string][]string{}
	for _, line := range strings.Split(graph, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		edges[f[0]] = append(edges[f[0]], f[1])
		p, _, _ := strings.Cut(f[0], "@")
		nodesOf[p] = append(nodesOf[p], f[0])
	}
	wants := map[string]map[string]string{} // module → root name → version
	selected := map[string]string{}
	for path, name := range roots {
		for p, v := range reachedVersions(nodesOf[path], edges, roots) {
			if wants[p] == nil {
				wants[p] = map[string]string{}
			}
			wants[p][name] = v
			if semver.Compare(v, selected[p]) > 0 {
				selected[p] = v
			}
		}
	}
	var out []conflict
	for p, w := range wants {
		distinct := map[string]bool{}
		for _, v := range w {
			distinct[v] = true
		}
		if len(distinct) > 1 {
			out = append(out, conflict{Module: p, Wants: w, Selected: selected[p]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Module < out[j].Module })
	return out
}

// relevantConflicts keeps the conflicts that can explain a failed build:
// those about the module of a package that failed to compile, and those
// where a root whose package failed (every root when no package is named)
// requires the module directly at a version older than the one selected,
// so it was built against an API it did not ask for.
func relevantConflicts(conflicts []conflict, graph, compilerOutput string, roots map[string]string) []conflict {
	failing := failingPackages(compilerOutput)
	direct := directRequirements(graph, failingRoots(roots, failing))
	var out []conflict
	for _, c := range conflicts {
		relevant := false
		for _, pkg := range failing {
			if inModule(pkg, c.Module) {
				relevant = true
			}
		}
		for _, reqs := range direct {
			if v, ok := reqs[c.Module]; ok && semver.Compare(v, c.Selected) < 0 {
				relevant = true
			}
		}
		if relevant {
			out = append(out, c)
		}
	}
	return out
}

// failingPackages are the packages go build names ("# PKG") in its output.
func failingPackages(compilerOutput string) []string {
	var failing []string
	for _, line := range strings.Split(compilerOutput, "\n") {
		if pkg, ok := strings.CutPrefix(line, "# "); ok && pkg != "" {
			failing = append(failing, strings.Fields(pkg)[0])
		}
	}
	return failing
}

// failingRoots are the roots with a failing package: every root when no
// package is named.
func failingRoots(roots map[string]string, failing []string) map[string]bool {
	out := map[string]bool{}
	for path := range roots {
		for _, pkg := range failing {
			if inModule(pkg, path) {
				out[path] = true
			}
		}
		if len(failing) == 0 {
			out[path] = true
		}
	}
	return out
}

// directRequirements are, from go mod graph, the requirements of each of
// the given roots: root path → module → version.
func directRequirements(graph string, of map[string]bool) map[string]map[string]string {
	direct := map[string]map[string]string{}
	for _, line := range strings.Split(graph, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		from, _, _ := strings.Cut(f[0], "@")
		if !of[from] {
			continue
		}
		p, v, _ := strings.Cut(f[1], "@")
		if direct[from] == nil {
			direct[from] = map[string]string{}
		}
		direct[from][p] = v
	}
	return direct
}

// inModule reports whether the package pkg belongs to module.
func inModule(pkg, module string) bool { return pkg == module || strings.HasPrefix(pkg, module+"/") }

// reachedVersions walks the graph's edges from the nodes of one root and
// returns, for every module its requirements reach (other roots, core, cli
// and the go and toolchain lines left out), the highest version reached.
func reachedVersions(start []string, edges map[string][]string, roots map[string]string) map[string]string {
	seen := map[string]bool{}
	queue := append([]string(nil), start...)
	reach := map[string]string{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		for _, dep := range edges[n] {
			p, v, ok := strings.Cut(dep, "@")
			if !ok || p == coreModule || p == cliModule || isRoot(roots, p) || p == "go" || p == "toolchain" {
				continue
			}
			if cur, ok := reach[p]; !ok || semver.Compare(v, cur) > 0 {
				reach[p] = v
			}
			queue = append(queue, dep)
		}
	}
	return reach
}

func isRoot(roots map[string]string, path string) bool {
	_, ok := roots[path]
	return ok
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
	roots := moduleNames(req)
	conflicts := relevantConflicts(findConflicts(string(out), roots), string(out), msg, roots)
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
