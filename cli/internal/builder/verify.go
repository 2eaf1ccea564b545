package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3/plugincheck"
)

// verifyTimeout bounds each run of a new binary (a plugin's init that
// hangs must not hang the install).
const verifyTimeout = 2 * time.Minute

// verifyBinary is the last check of the compile step: the new binary at
// path runs `stoq version` and `stoq list` before it replaces the old one,
// in a home folder of its own (so nothing of the user's is touched) and
// with the handoff off (it must run itself). Both must succeed, and
// `version` must name every plugin of the build at its manifest version.
// A binary that panics at start (a plugin's init, a Register refused), or
// links a plugin under another name, is refused with its own words: the
// binary in place, which works, is kept.
func verifyBinary(ctx context.Context, path string, req linkRequest) error {
	t := req.Toolchain
	if goos, goarch := goEnv(t, "GOOS", runtime.GOOS), goEnv(t, "GOARCH", runtime.GOARCH); goos != runtime.GOOS || goarch != runtime.GOARCH {
		req.Progress.warnf("the new binary is for %s/%s and cannot run here: it was not tried before replacing %s", goos, goarch, req.Output)
		return nil
	}
	home, err := os.MkdirTemp("", "stoq-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	if err := os.Chmod(path, 0o755); err != nil {
		return err
	}
	done := req.Progress.step("Trying the new binary (stoq version, stoq list)", 0)
	err = tryBinary(ctx, path, home, t.environ, req.Links)
	done(err)
	return err
}

// goEnv is the value the build used for key (GOOS, GOARCH): the
// environment's, else this process's.
func goEnv(t *toolchain, key, fallback string) string {
	if v := getenvIn(t.environ, key); v != "" {
		return v
	}
	return fallback
}

// tryBinary runs path's version and list commands with home as STOQ_HOME
// and checks that version lists links.
func tryBinary(ctx context.Context, path, home string, environ []string, links []link) error {
	env := append(withoutVars(environ, "STOQ_HOME", handoffVar, "STOQ_CATALOG"), "STOQ_HOME="+home, handoffVar+"=1")
	out, err := runNewBinary(ctx, path, env, "version")
	if err != nil {
		return err
	}
	if err := checkLinked(out, links); err != nil {
		return err
	}
	_, err = runNewBinary(ctx, path, env, "list")
	return err
}

// handoffVar is the cli's STOQ_HANDOFF (the cli imports this package).
const handoffVar = "STOQ_HANDOFF"

// newBinaryError is a new binary that does not run: the command tried and
// what the binary said.
type newBinaryError struct {
	Command string
	Status  string
	Output  string
}

func (e *newBinaryError) Error() string {
	return fmt.Sprintf("the new stoq does not work: `stoq %s` %s; it said:\n%s", e.Command, e.Status, indent(e.Output))
}

// runNewBinary runs the binary with one command and returns its stdout.
func runNewBinary(ctx context.Context, path string, env []string, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, command)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	status := "failed: " + err.Error()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		status = fmt.Sprintf("did not finish within %s", verifyTimeout)
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		status = fmt.Sprintf("exited with status %d", exit.ExitCode())
	}
	said := strings.TrimSpace(stderr.String())
	if said == "" {
		said = strings.TrimSpace(stdout.String())
	}
	return "", &newBinaryError{Command: command, Status: status, Output: firstLines(said, 30)}
}

// checkLinked reads `stoq version` output (a "plugins:" line, then one
// "  NAME  vVERSION  MODULE  FROM" line per linked plugin) and checks that
// every link is there at its version.
func checkLinked(versionOutput string, links []link) error {
	linked := map[string]string{}
	inPlugins := false
	for _, line := range strings.Split(versionOutput, "\n") {
		if strings.TrimSpace(line) == "plugins:" {
			inPlugins = true
			continue
		}
		if f := strings.Fields(line); inPlugins && len(f) >= 2 && strings.HasPrefix(line, "  ") {
			linked[f[0]] = strings.TrimPrefix(f[1], "v")
		}
	}
	var problems []string
	expected := map[string]bool{}
	for _, l := range links {
		expected[l.Name] = true
		got, ok := linked[l.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("plugin %s is not registered: its package must call core.Register(%q, manifest, New) in init, with the manifest %s.stoq embedded", l.Name, l.Name, l.Name))
		case got != l.Version:
			problems = append(problems, fmt.Sprintf("plugin %s registers version %s but its %s.stoq says %s: embed the manifest of the folder (//go:embed %s.stoq)", l.Name, got, l.Name, l.Version, l.Name))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	var others []string
	for name := range linked {
		if !expected[name] && plugincheck.Reserved(name) == "" {
			others = append(others, name)
		}
	}
	sort.Strings(others)
	if len(others) > 0 {
		problems = append(problems, "the binary registers "+strings.Join(others, ", ")+" instead")
	}
	return fmt.Errorf("the new stoq does not link what was asked: %s", strings.Join(problems, "; "))
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n… (%d more lines)", len(lines)-n)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
