package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/cli/v3/internal/builder"
	"github.com/stoq-go/stoq/core/v3"
)

// This file holds the builder's commands (stoq install, stoq uninstall,
// stoq build); the work is done by package builder, and handoff.go runs
// the binary stoq install builds.

// addBuilderCommands adds the builder's commands to root.
func addBuilderCommands(root *cobra.Command, env *Env) {
	root.AddCommand(newInstallCommand(env), newUninstallCommand(env), newBuildCommand(env))
}

// builderFlags are the flags install, uninstall and build share.
type builderFlags struct {
	catalog, coreDir, cliDir string
	quiet                    bool
}

func (f *builderFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.catalog, "catalog", "", "Catalogue of stoq:NAME plugins and of the core and cli sources: a git URL or a folder\n(default: $"+builder.CatalogEnvVar+", then [core] plugin_repo in stoq.cfg, then "+builder.DefaultCatalog+")")
	cmd.Flags().StringVar(&f.coreDir, "core-dir", "", "Build with the stoq core sources in this folder instead of the catalogue's")
	cmd.Flags().StringVar(&f.cliDir, "cli-dir", "", "Build with the stoq cli sources in this folder instead of the catalogue's")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "Print no progress, only warnings, errors and the result")
	_ = cmd.MarkFlagDirname("core-dir")
	_ = cmd.MarkFlagDirname("cli-dir")
}

func (f *builderFlags) progress(env *Env) *builder.Progress {
	return builder.NewProgress(env.Stderr, f.quiet)
}

// sources resolves where plugins, the core and the cli come from: the
// catalogue, and the --core-dir and --cli-dir folders when given.
func (f *builderFlags) sources(env *Env) (cat builder.Catalog, coreDir, cliDir string, err error) {
	if cat, err = builder.ResolveCatalog(f.catalog, os.Getenv, env.ConfigFile); err != nil {
		return cat, "", "", usageError(err)
	}
	if coreDir, err = absDir("--core-dir", f.coreDir); err != nil {
		return cat, "", "", err
	}
	if cliDir, err = absDir("--cli-dir", f.cliDir); err != nil {
		return cat, "", "", err
	}
	return cat, coreDir, cliDir, nil
}

func absDir(flag, dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", usageErrorf("%s %s: %w", flag, dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", usageErrorf("%s %s: not a folder", flag, dir)
	}
	return abs, nil
}

// interruptible cancels the operation on SIGINT or SIGTERM, so that an
// install stopped half way rolls back instead of dying mid-rename.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// installFlags are stoq install's own flags.
type installFlags struct {
	builderFlags
	github, installDir      string
	upgrade, force, rebuild bool
	noSeed                  bool
}

// installHelp and installExamples are stoq install --help.
const installHelp = `Install a plugin into $STOQ_HOME/plugins/NAME and build $STOQ_HOME/bin/stoq,
a stoq linking the core, the cli and every installed plugin (Go links plugins
at build time, so this needs the Go toolchain). The stoq on your PATH runs
that binary from then on.

A plugin is a Go module with a NAME.stoq manifest whose package registers
itself. It comes from:
  stoq:NAME[@VERSION]          plugins/NAME of the catalogue (tag
                               plugins/NAME/vVERSION)
  OWNER/REPO[/DIR][@VERSION]   a GitHub repository (with --github)
  GIT-URL[//DIR][@VERSION]     any git repository (file:// works offline)
  MODULE[@VERSION]             a published Go module, through your GOPROXY
  PATH[@VERSION]               a plugin folder (named as you like), or a
                               git repository on disk (a bare one too)
Without a version, the newest release whose min_stoq_version this stoq
meets; a version must be the one the plugin's manifest says.

The plugin is checked first (required manifest fields, a name that is no
stoq command nor built-in plugin, semver version, min_stoq_version against
this stoq's version, go.mod module = manifest Module), then the new binary
is built and tried (stoq version, stoq list) before it replaces the old
one: nothing changes when a check, the build or the trial fails, and the
error gives the new binary's own words. The first build compiles every
dependency and can take minutes; later ones take seconds, and an unchanged
set of plugins is not rebuilt.

Run by a stoq that links plugins (make's bin/stoq, a stoq build binary),
install also installs those plugins (unless --no-seed), so that
$STOQ_HOME/bin/stoq links them too and that stoq hands off to it.`

const installExamples = `  stoq install --github stoq:yara
  stoq install --github stoq:hash@3.0.0 --upgrade
  stoq install --github acme/stoq-plugins/pdfid@1.2.0
  stoq install github.com/acme/stoq-pdfid@v1.2.0
  stoq install ./myplugin
  stoq install stoq:hash --catalog ~/src/stoq
  stoq install --rebuild`

func newInstallCommand(env *Env) *cobra.Command {
	var flags installFlags
	cmd := &cobra.Command{
		Use:     "install [PATH | GIT-URL | stoq:NAME[@VERSION]] [--github SPEC]",
		Short:   "Install a plugin and build the stoq binary that links it",
		Long:    installHelp,
		Example: installExamples,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := flags.options(env, args)
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			res, err := builder.Install(ctx, opts)
			if err != nil {
				return failure(err)
			}
			printInstalled(env.Stdout, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.github, "github", "", "Install from GitHub or the catalogue: stoq:NAME[@VERSION], OWNER/REPO[/DIR][@VERSION] or a git URL")
	cmd.Flags().StringVar(&flags.installDir, "install-dir", "", "Install the plugin into this folder instead of $STOQ_HOME/plugins")
	cmd.Flags().BoolVar(&flags.upgrade, "upgrade", false, "Replace the plugin if it is already installed (with a newer or an older version)")
	cmd.Flags().BoolVar(&flags.force, "force", false, "Install even when the plugin's min_stoq_version is not met by this stoq")
	cmd.Flags().BoolVar(&flags.rebuild, "rebuild", false, "Rebuild $STOQ_HOME/bin/stoq with the installed plugins (after upgrading stoq)")
	cmd.Flags().BoolVar(&flags.noSeed, "no-seed", false, "Do not also install the plugins this stoq links (a `stoq build` binary such as make's bin/stoq seeds $STOQ_HOME with them)")
	_ = cmd.MarkFlagDirname("install-dir")
	flags.add(cmd)
	return cmd
}

// options turns stoq install's command line into the builder's options:
// the plugin is the argument or --github, and may be left out only with
// --rebuild.
func (f *installFlags) options(env *Env, args []string) (builder.InstallOptions, error) {
	opts := builder.InstallOptions{
		Home: env.Home, Rebuild: f.rebuild, InstallDir: f.installDir, Upgrade: f.upgrade, Force: f.force,
		Progress: f.progress(env),
	}
	var raw string
	isGitHub := false
	switch {
	case len(args) == 1 && f.github != "":
		return opts, usageErrorf("give the plugin either as an argument or with --github, not both")
	case len(args) == 1:
		raw = args[0]
	case f.github != "":
		raw, isGitHub = f.github, true
	case !f.rebuild:
		return opts, usageErrorf("no plugin given: stoq install PATH, stoq install --github stoq:NAME, or stoq install --rebuild")
	}
	var err error
	if raw != "" {
		if opts.Spec, err = builder.ParseInstallSpec(raw, isGitHub); err != nil {
			return opts, usageError(err)
		}
	}
	if !f.noSeed {
		opts.Seed = seedOf(env, os.Executable)
	}
	opts.Catalog, opts.CoreDir, opts.CLIDir, err = f.sources(env)
	return opts, err
}

// seedOf is the running binary as a seed of $STOQ_HOME: a `stoq build`
// binary that links plugins (make's bin/stoq), so that the binary stoq
// install builds links them too and can stand in for it (handoff.go).
func seedOf(env *Env, executable func() (string, error)) *builder.Seed {
	if env.Build.Kind != BuildKindBuild || len(env.Build.Plugins) == 0 {
		return nil
	}
	self, err := executable()
	if err != nil {
		return nil
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	seed := &builder.Seed{Binary: self}
	for _, p := range env.Build.Plugins {
		seed.Plugins = append(seed.Plugins, builder.LinkedPlugin(p))
	}
	return seed
}

// printInstalled says what stoq install did.
func printInstalled(w io.Writer, res *builder.InstallResult) {
	if res.Plugin == nil {
		fmt.Fprintf(w, "Rebuilt %s\n", res.Link.Output)
	} else {
		if r := res.Replaced; r != nil && r.Version != res.Plugin.Version {
			fmt.Fprintf(w, "Replaced %s %s with %s %s\n", r.Name, r.Version, res.Plugin.Name, res.Plugin.Version)
		}
		fmt.Fprintf(w, "Successfully installed to %s\n", res.Dir)
	}
	if len(res.Seeded) > 0 {
		names := make([]string, len(res.Seeded))
		for i, p := range res.Seeded {
			names[i] = p.Name + " " + p.Version
		}
		fmt.Fprintf(w, "Also installed the plugins this stoq links, so that %s stands in for it: %s\n", res.Link.Output, strings.Join(names, ", "))
	}
}

func newUninstallCommand(env *Env) *cobra.Command {
	var flags builderFlags
	cmd := &cobra.Command{
		Use:   "uninstall NAME",
		Short: "Remove an installed plugin and rebuild the stoq binary without it",
		Long: `Remove the plugin NAME from $STOQ_HOME/plugins and rebuild $STOQ_HOME/bin/stoq
without it; when it was the last plugin, the binary is removed and the stoq on
your PATH runs itself again. A failed rebuild puts the plugin back.`,
		Example: `  stoq uninstall yara`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !core.ValidPluginName(args[0]) {
				return usageErrorf("%q is not a plugin name (lowercase letters, digits, '_' and '-')", args[0])
			}
			opts := builder.UninstallOptions{Home: env.Home, Name: args[0], Progress: flags.progress(env)}
			var err error
			if opts.Catalog, opts.CoreDir, opts.CLIDir, err = flags.sources(env); err != nil {
				return err
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			removed, _, err := builder.Uninstall(ctx, opts)
			if err != nil {
				return failure(err)
			}
			fmt.Fprintf(env.Stdout, "Successfully uninstalled %s %s from %s\n", removed.Name, removed.Version, removed.Dir)
			return nil
		},
	}
	flags.add(cmd)
	return cmd
}

// buildFlags are stoq build's own flags.
type buildFlags struct {
	builderFlags
	with                    []string
	all, force, skipCompile bool
	output                  string
}

// buildHelp and buildExamples are stoq build --help.
const buildHelp = `Build a stoq binary at FILE linking the core, the cli and the plugins asked
for, without touching $STOQ_HOME. Each --with is one of:
  NAME[@VERSION] or stoq:NAME[@VERSION]   a catalogue plugin
  PATH                                    a plugin folder
  MODULE@VERSION                          a published Go module (module proxy)
  GIT-URL[//DIR][@VERSION]                a git repository
--all links every plugin of the catalogue (a folder catalogue as it is on
disk). The generated module (go.mod, go.sum, main.go) is kept in FILE.build/
so the build can be reproduced, and nothing is rebuilt when its inputs are
unchanged. Needs the Go toolchain.

A build runs three steps: generate (FILE.build/go.mod, go.sum and main.go),
resolve and verify (go mod tidy, then go list -m checks that every module
resolved to the version asked for), compile (go build, then the new binary
renamed over FILE). --skip-compile stops after generate and prints, as a
shell script, the go commands that build FILE by hand.`

const buildExamples = `  stoq build --with hash --with yara@3.0.0 -o ./stoq
  stoq build --all --catalog . -o bin/stoq
  stoq build --with ./myplugin --with github.com/acme/stoq-pdfid@v1.2.0 -o /opt/stoq/bin/stoq
  stoq build --with hash --skip-compile -o ./stoq > build.sh && sh -e build.sh`

func newBuildCommand(env *Env) *cobra.Command {
	var flags buildFlags
	cmd := &cobra.Command{
		Use:     "build -o FILE [--with PLUGIN]... [--all] [--skip-compile]",
		Short:   "Build a stoq binary with the plugins you choose",
		Long:    buildHelp,
		Example: buildExamples,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := flags.options(env)
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			res, err := builder.Build(ctx, opts)
			if err != nil {
				return failure(err)
			}
			if opts.SkipCompile {
				printHandBuild(env.Stdout, res)
			} else {
				printBuilt(env.Stdout, res)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&flags.with, "with", nil, "Link this plugin: NAME[@VERSION], PATH, MODULE@VERSION or a git URL (repeatable)")
	cmd.Flags().BoolVar(&flags.all, "all", false, "Link every plugin of the catalogue")
	cmd.Flags().BoolVar(&flags.force, "force", false, "Link plugins even when their min_stoq_version is not met by this stoq")
	cmd.Flags().BoolVar(&flags.skipCompile, "skip-compile", false, "Only generate the module in FILE.build/ and print the go commands that build FILE by hand")
	cmd.Flags().StringVarP(&flags.output, "output", "o", "", "The binary to write (its generated module goes to FILE.build/)")
	_ = cmd.MarkFlagFilename("output")
	flags.add(cmd)
	return cmd
}

// options turns stoq build's command line into the builder's options.
func (f *buildFlags) options(env *Env) (builder.BuildOptions, error) {
	if f.output == "" {
		return builder.BuildOptions{}, usageErrorf("no output file: pass -o FILE")
	}
	opts := builder.BuildOptions{All: f.all, Force: f.force, SkipCompile: f.skipCompile, Output: f.output, Progress: f.progress(env)}
	for _, w := range f.with {
		spec, err := builder.ParseWithSpec(w)
		if err != nil {
			return opts, usageError(err)
		}
		opts.With = append(opts.With, spec)
	}
	var err error
	opts.Catalog, opts.CoreDir, opts.CLIDir, err = f.sources(env)
	return opts, err
}

// linkedPlugins names the plugins of a build: "hash 3.0.0, yara 3.0.0".
func linkedPlugins(r builder.Record) string {
	if len(r.Plugins) == 0 {
		return "no plugins"
	}
	names := make([]string, len(r.Plugins))
	for i, p := range r.Plugins {
		names[i] = p.Name + " " + p.Version
	}
	return strings.Join(names, ", ")
}

// printBuilt says what stoq build built.
func printBuilt(w io.Writer, res *builder.LinkResult) {
	fmt.Fprintf(w, "Built %s with %s (generated module in %s)\n", res.Output, linkedPlugins(res.Record), res.BuildDir)
}

// printHandBuild prints what stoq build --skip-compile generated as a
// shell script: comment lines, then the go commands that build the binary
// by hand.
func printHandBuild(w io.Writer, res *builder.LinkResult) {
	fmt.Fprintf(w, "# Generated the module of %s in %s, linking %s.\n", res.Output, res.BuildDir, linkedPlugins(res.Record))
	fmt.Fprintf(w, "# Build it by hand with:\n")
	for _, c := range res.BuildCommands {
		fmt.Fprintln(w, c)
	}
}
