package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// toolchain is the Go toolchain that builds binaries: Go links plugins at
// build time, so installing one needs `go` on the machine.
type toolchain struct {
	// Go is the go command's path; Version its version (go1.26.8).
	Go      string
	Version string
	// command names go in the commands printed for a build by hand: "go"
	// when it is the one on PATH, else its path.
	command string
	// environ is the environment go commands run with: the user's, with
	// the variables of overrides set over it.
	environ   []string
	overrides []string
	// switching is set when the user's GOTOOLCHAIN lets go pick another
	// toolchain, so an old local one is no reason to refuse.
	switching bool
}

// errNoGo is the error (wrapped) when no Go toolchain is found.
var errNoGo = errors.New("no Go toolchain found")

// findToolchain finds `go` on the PATH of environ (os.Environ() when nil),
// then in $GOROOT/bin, and asks it its version. Go commands it runs get
// environ with GOWORK=off (a go.work above the build folder, or an exported
// GOWORK, would take over the generated module) and, unless the user chose
// one, GOTOOLCHAIN=local (a build never downloads a toolchain by surprise).
func findToolchain(ctx context.Context, environ []string) (*toolchain, error) {
	if environ == nil {
		environ = os.Environ()
	}
	t := &toolchain{command: "go"}
	t.Go = lookPathIn("go", getenvIn(environ, "PATH"))
	if t.Go == "" {
		if root := getenvIn(environ, "GOROOT"); root != "" {
			if p := filepath.Join(root, "bin", "go"); isExecutable(p) {
				t.Go, t.command = p, p
			}
		}
	}
	if t.Go == "" {
		return nil, fmt.Errorf("%w: building stoq with plugins needs Go (1.26 or newer) and `go` was not found on PATH: "+
			"install it (https://go.dev/dl/ or your system's golang package), make sure `go version` works, and try again", errNoGo)
	}
	tc := getenvIn(environ, "GOTOOLCHAIN")
	t.switching = tc != "" && tc != "local"
	if tc == "" {
		tc = "local"
	}
	t.overrides = []string{"GOWORK=off", "GOTOOLCHAIN=" + tc}
	t.environ = append(withoutVars(environ, varNames(t.overrides)...), t.overrides...)
	out, err := t.output(ctx, os.TempDir(), nil, "env", "GOVERSION")
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not run: %v", errNoGo, t.Go, err)
	}
	t.Version = strings.TrimSpace(string(out))
	if !version.IsValid(t.Version) {
		return nil, fmt.Errorf("%w: %s reports version %q", errNoGo, t.Go, t.Version)
	}
	return t, nil
}

// need checks that the toolchain can build a module whose go.mod says
// `go goVersion`; who names the module in the message.
func (t *toolchain) need(goVersion, who string) error {
	if goVersion == "" || t.switching {
		return nil
	}
	want := "go" + goVersion
	if !version.IsValid(want) {
		return fmt.Errorf("%s: go.mod says go %q, which is not a Go version", who, goVersion)
	}
	if version.Compare(t.Version, want) < 0 {
		return fmt.Errorf("%s needs Go %s or newer (its go.mod says go %s) but %s is %s: install a newer Go, "+
			"or set GOTOOLCHAIN=%s to let go fetch one", who, goVersion, goVersion, t.Go, t.Version, want)
	}
	return nil
}

// output runs go with args in dir, with extra variables added to the
// environment; the error carries go's own message.
func (t *toolchain) output(ctx context.Context, dir string, extra []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, t.Go, args...)
	cmd.Dir = dir
	cmd.Env = append(withoutVars(t.environ, varNames(extra)...), extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), ctx.Err())
		}
		return nil, &goError{Args: args, Output: msg, Err: err}
	}
	return stdout.Bytes(), nil
}

// commandLine is the shell command that runs go with args as output does,
// with extra variables: the variables the builder sets over the user's
// environment, then go and its arguments, quoted for a POSIX shell.
func (t *toolchain) commandLine(extra []string, args ...string) string {
	vars := append(withoutVars(t.overrides, varNames(extra)...), extra...)
	words := make([]string, 0, len(vars)+1+len(args))
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		words = append(words, k+"="+shellQuote(v))
	}
	words = append(words, shellQuote(t.command))
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	return strings.Join(words, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and the punctuation of paths and flags.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// modEnv is the environment of the module commands in a build folder:
// -mod=mod so go may complete go.sum, keeping the user's other GOFLAGS.
func (t *toolchain) modEnv() []string {
	flags := strings.TrimSpace(getenvIn(t.environ, "GOFLAGS") + " -mod=mod")
	return []string{"GOFLAGS=" + flags}
}

// goError is a go command that failed, with what it printed.
type goError struct {
	Args   []string
	Output string
	Err    error
}

func (e *goError) Error() string {
	if e.Output == "" {
		return fmt.Sprintf("go %s: %v", strings.Join(e.Args, " "), e.Err)
	}
	return fmt.Sprintf("go %s failed:\n%s", strings.Join(e.Args, " "), e.Output)
}

func (e *goError) Unwrap() error { return e.Err }

func getenvIn(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

func withoutVars(environ []string, keys ...string) []string {
	out := make([]string, 0, len(environ))
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

func varNames(kvs []string) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i], _, _ = strings.Cut(kv, "=")
	}
	return out
}

func lookPathIn(file, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, file); isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
