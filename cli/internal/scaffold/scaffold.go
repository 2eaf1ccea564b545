// Package scaffold writes a new stoq plugin module, ready to test and to
// install (`stoq new plugin`): go.mod requiring the running core with no
// replace (unless a local core checkout is given) and a complete go.sum
// from go mod tidy, the NAME.stoq manifest with every required field and
// commented options, a plugin file implementing the chosen classes
// (manifest → config → constructor → class methods → interface guards), a
// test on core/stoqtest that includes the installer's own check, a README
// and a CHANGELOG.
//
// What it writes passes `go test ./...` and `stoq install ./NAME` with no
// edit, given a GOPROXY that serves the core (the public proxy once a core
// release is tagged) or a local core checkout (CoreDir).
package scaffold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/plugincheck"
	"golang.org/x/mod/module"
)

// Classes are the plugin classes a scaffold can implement, in stoQ's order.
var Classes = []string{"worker", "dispatcher", "archiver", "connector", "decorator", "provider"}

// Options say what plugin to write.
type Options struct {
	// Name is the plugin name (lowercase letters, digits, '_' and '-').
	Name string
	// Classes are the classes it implements (of Classes; worker when none).
	Classes []string
	// Module is its Go module path (default example.com/stoq-plugins/NAME).
	Module string
	// Dir is the folder the module's folder NAME is created in (default:
	// the current folder).
	Dir string
	// CoreDir, when set, is a local checkout of the core that go.mod
	// replaces github.com/stoq-go/stoq/core/v3 with (working before a core
	// release is published).
	CoreDir string
	// CoreVersion is the core version required (core.Version when empty).
	CoreVersion string
	// Author goes in the manifest (from git config user.name, else $USER,
	// when empty).
	Author string
	// Environ is the environment of go mod tidy (os.Environ() when nil);
	// SkipTidy leaves go.sum out (tests of the templates only).
	Environ  []string
	SkipTidy bool
}

// Result says what was written.
type Result struct {
	// Dir is the new module's folder.
	Dir    string
	Module string
	Files  []string
}

// Check reports what is wrong with opts (a name, class or module path
// that Generate would refuse) without writing anything.
func Check(opts Options) error {
	_, err := newData(opts)
	return err
}

// Generate writes the plugin module Options describe into Dir/Name (a
// folder that must not exist, or be empty) and runs go mod tidy in it.
// When anything fails, the folder is removed again.
func Generate(ctx context.Context, opts Options) (*Result, error) {
	d, err := newData(opts)
	if err != nil {
		return nil, err
	}
	parent := opts.Dir
	if parent == "" {
		parent = "."
	}
	dir, err := filepath.Abs(filepath.Join(parent, d.Name))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s already exists and is not empty: choose another name or -o folder", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// A folder made here is removed if anything fails; an empty one that
	// was there is kept (emptied).
	created := err != nil
	res, err := write(ctx, dir, d, opts)
	if err != nil {
		if created {
			_ = os.RemoveAll(dir)
		} else {
			clearDir(dir)
		}
		return nil, err
	}
	return res, nil
}

func clearDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

func write(ctx context.Context, dir string, d *data, opts Options) (*Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string]*template.Template{
		"go.mod":            goModTemplate,
		d.Name + ".stoq":    manifestTemplate,
		d.Name + ".go":      pluginTemplate,
		d.Name + "_test.go": testTemplate,
		"README.md":         readmeTemplate,
		"CHANGELOG.md":      changelogTemplate,
	}
	res := &Result{Dir: dir, Module: d.Module}
	for name, tmpl := range files {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, d); err != nil {
			return nil, fmt.Errorf("generating %s: %w", name, err)
		}
		out := b.Bytes()
		if strings.HasSuffix(name, ".go") {
			formatted, err := format.Source(out)
			if err != nil {
				return nil, fmt.Errorf("generating %s: %w\n%s", name, err, out)
			}
			out = formatted
		}
		if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, name)
	}
	if d.CoreDir != "" {
		// The core checkout's sums: go mod tidy then finds the core's
		// dependencies' checksums without asking the checksum database.
		if sums, err := os.ReadFile(filepath.Join(d.CoreDir, "go.sum")); err == nil {
			if err := os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644); err != nil {
				return nil, err
			}
		}
	}
	if !opts.SkipTidy {
		if err := tidy(ctx, dir, opts.Environ, d); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, "go.sum")
	}
	sort.Strings(res.Files)
	if _, err := plugincheck.Check(dir, plugincheck.Options{CoreVersion: d.CoreVersion}); err != nil {
		return nil, fmt.Errorf("the generated plugin fails stoq install's check (a bug of stoq new): %w", err)
	}
	return res, nil
}

// tidy runs go mod tidy in dir: it completes go.mod and writes go.sum
// through the user's GOPROXY, outside any go.work.
func tidy(ctx context.Context, dir string, environ []string, d *data) error {
	if environ == nil {
		environ = os.Environ()
	}
	env := append([]string(nil), environ...)
	env = append(env, "GOWORK=off", "GOFLAGS="+strings.TrimSpace(getenv(environ, "GOFLAGS")+" -mod=mod"))
	if getenv(environ, "GOTOOLCHAIN") == "" {
		env = append(env, "GOTOOLCHAIN=local")
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("go mod tidy: a plugin is a Go module and `go` (1.26 or newer) is not on PATH: install Go and try again")
		}
		msg := strings.TrimSpace(out.String())
		hint := ""
		if d.CoreDir == "" {
			hint = fmt.Sprintf("\nIf the core %s is not on your GOPROXY (%s) yet, work against a local checkout of stoq: stoq new plugin %s --core PATH/TO/stoq/core",
				d.CoreRequire, proxyOf(environ), d.Name)
		}
		return fmt.Errorf("go mod tidy in %s failed: %v\n%s%s", dir, err, msg, hint)
	}
	return nil
}

func proxyOf(environ []string) string {
	if p := getenv(environ, "GOPROXY"); p != "" {
		return p
	}
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		return "GOPROXY"
	}
	return strings.TrimSpace(string(out))
}

func getenv(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// data is what the templates are filled with.
type data struct {
	Name, Package, Module, Version string
	Author, Website, Description   string
	CoreVersion, CoreRequire       string
	CoreDir                        string
	Date                           string
	ClassNames                     []string // Worker, Dispatcher, ...
	Worker, Dispatcher, Archiver   bool
	Connector, Decorator, Provider bool
	// Imports and TestImports are the import blocks of the plugin file
	// and its test: the standard library, then the others.
	Imports, TestImports [2][]string
}

// newData checks opts and fills the templates' data.
func newData(opts Options) (*data, error) {
	name := opts.Name
	if !core.ValidPluginName(name) {
		return nil, fmt.Errorf("%q is not a plugin name: lowercase letters, digits, '_' and '-', starting with a letter or digit", name)
	}
	if why := plugincheck.Reserved(name); why != "" {
		return nil, fmt.Errorf("plugin name %q is reserved: %s", name, why)
	}
	d := &data{Name: name, Package: packageName(name), CoreVersion: opts.CoreVersion, Date: time.Now().UTC().Format("2006-01-02")}
	if d.CoreVersion == "" {
		d.CoreVersion = core.Version
	}
	d.CoreRequire = "v" + d.CoreVersion
	classes := opts.Classes
	if len(classes) == 0 {
		classes = []string{"worker"}
	}
	for _, c := range classes {
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "worker":
			d.Worker = true
		case "dispatcher":
			d.Dispatcher = true
		case "archiver":
			d.Archiver = true
		case "connector":
			d.Connector = true
		case "decorator":
			d.Decorator = true
		case "provider":
			d.Provider = true
		default:
			return nil, fmt.Errorf("--class %q: not a plugin class (one or more of %s)", c, strings.Join(Classes, ", "))
		}
	}
	for _, c := range []struct {
		on   bool
		name string
	}{{d.Worker, "Worker"}, {d.Dispatcher, "Dispatcher"}, {d.Archiver, "Archiver"}, {d.Connector, "Connector"}, {d.Decorator, "Decorator"}, {d.Provider, "Provider"}} {
		if c.on {
			d.ClassNames = append(d.ClassNames, c.name)
		}
	}
	d.Module = opts.Module
	if d.Module == "" {
		d.Module = "example.com/stoq-plugins/" + name
	}
	if err := module.CheckPath(d.Module); err != nil {
		return nil, fmt.Errorf("--module %s: %w", d.Module, err)
	}
	d.Version = "0.1.0"
	if _, major, _ := module.SplitPathVersion(d.Module); major != "" {
		d.Version = strings.TrimPrefix(module.PathMajorPrefix(major), "v") + ".0.0"
	}
	if opts.CoreDir != "" {
		abs, err := filepath.Abs(opts.CoreDir)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
			return nil, fmt.Errorf("--core %s: not the stoq core's folder (no go.mod): %w", opts.CoreDir, err)
		}
		d.CoreDir = abs
	}
	d.Author = opts.Author
	if d.Author == "" {
		d.Author = defaultAuthor()
	}
	prefix, _, _ := module.SplitPathVersion(d.Module)
	d.Website = "https://" + prefix
	d.Description = fmt.Sprintf("%s: a stoq %s (say here what it does)", name, strings.Join(d.ClassNames, " and "))
	d.Imports, d.TestImports = imports(d)
	return d, nil
}

// packageName is the Go package name for plugin name: its letters and
// digits ("redis-queue" → redisqueue), prefixed when it starts with a digit.
func packageName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	p := b.String()
	if p == "" || p[0] >= '0' && p[0] <= '9' {
		p = "plugin" + p
	}
	return p
}

func defaultAuthor() string {
	if out, err := exec.Command("git", "config", "--get", "user.name").Output(); err == nil {
		if name := strings.TrimSpace(string(out)); name != "" {
			return name
		}
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "stoq plugin author"
}

// imports are the import paths the plugin file and its test use, each
// split into the standard library's and the others.
func imports(d *data) (plugin, test [2][]string) {
	var p, t []string
	add := func(list *[]string, paths ...string) {
		for _, path := range paths {
			if !slices.Contains(*list, path) {
				*list = append(*list, path)
			}
		}
	}
	add(&p, "context", "embed", "log/slog", "github.com/stoq-go/stoq/core/v3")
	add(&t, "testing", "github.com/stoq-go/stoq/core/v3/stoqtest")
	if d.Worker {
		add(&p, "encoding/hex")
		add(&t, "reflect")
	}
	if d.Dispatcher {
		add(&p, "bytes")
		add(&t, "github.com/stoq-go/stoq/core/v3/engine")
	}
	if d.Archiver {
		add(&p, "crypto/sha256", "encoding/hex", "fmt", "os", "path/filepath", "strings")
		add(&t, "context")
	}
	if d.Connector {
		add(&p, "bytes", "os", "sync")
		add(&t, "context", "encoding/json", "os", "path/filepath", "strings")
	}
	if d.Decorator {
		add(&t, "context")
	}
	if d.Provider {
		add(&p, "errors", "os", "path/filepath")
		add(&t, "context", "os", "path/filepath")
	}
	return split(p), split(t)
}

// split sorts paths into the standard library's (no dot in the first
// element) and the others.
func split(paths []string) [2][]string {
	var out [2][]string
	for _, p := range paths {
		first, _, _ := strings.Cut(p, "/")
		i := 0
		if strings.Contains(first, ".") {
			i = 1
		}
		out[i] = append(out[i], p)
	}
	sort.Strings(out[0])
	sort.Strings(out[1])
	return out
}
