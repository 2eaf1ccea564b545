package cli

import (
	"context"
	"errors"
	"fmt"
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
// stoq build) and the handoff to $STOQ_HOME/bin/stoq; the work is done by
// package builder.

// HandoffEnvVar is set for the $STOQ_HOME/bin/stoq that a stoq hands off
// to, so that it never hands off again. Set it to run the very stoq typed.
const HandoffEnvVar = "STOQ_HANDOFF"

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

func (f *builderFlags) resolveCatalog(env *Env) (builder.Catalog, error) {
	cat, err := builder.ResolveCatalog(f.catalog, os.Getenv, env.ConfigFile)
	if err != nil {
		return builder.Catalog{}, usageError(err)
	}
	return cat, nil
}

// sources resolves where plugins, the core and the cli come from: the
// catalogue, and the --core-dir and --cli-dir folders when given.
func (f *builderFlags) sources(env *Env) (cat builder.Catalog, coreDir, cliDir string, err error) {
	if cat, err = f.resolveCatalog(env); err != nil {
		return cat, "", "", err
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

// addBuilderCommands adds the builder's commands to root.
func addBuilderCommands(root *cobra.Command, env *Env) {
	root.AddCommand(newInstallCommand(env), newUninstallCommand(env), newBuildCommand(env))
}

func newInstallCommand(env *Env) *cobra.Command {
	var (
		flags                   builderFlags
		github, installDir      string
		upgrade, force, rebuild bool
	)
	cmd := &cobra.Command{
		Use:   "install [PATH | GIT-URL | stoq:NAME[@VERSION]] [--github SPEC]",
		Short: "Install a plugin and build the stoq binary that links it",
		Long: `Install a plugin into $STOQ_HOME/plugins/NAME and build $STOQ_HOME/bin/stoq,
a stoq linking the core, the cli and every installed plugin (Go links plugins
at build time, so this needs the Go toolchain). The stoq on your PATH runs
that binary from then on.

A plugin is a Go module with a NAME.stoq manifest whose package registers
itself. It comes from:
  stoq:NAME[@VERSION]          plugins/NAME of the catalogue (tag
                               plugins/NAME/vVERSION; the highest tag
                               without a version)
  OWNER/REPO[/DIR][@VERSION]   a GitHub repository (with --github)
  GIT-URL[//DIR][@VERSION]     any git repository (file:// works offline)
  PATH                         a plugin folder

The manifest is checked first (required fields, name, semver version, and
min_stoq_version against this stoq's version); nothing changes when a check
fails or the build fails. The first build compiles every dependency and can
take minutes; later ones take seconds, and an unchanged set of plugins is
not rebuilt.`,
		Example: `  stoq install --github stoq:yara
  stoq install --github stoq:hash@3.0.0 --upgrade
  stoq install --github acme/stoq-plugins/pdfid@1.2.0
  stoq install ./myplugin
  stoq install stoq:hash --catalog ~/src/stoq
  stoq install --rebuild`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw string
			isGitHub := false
			switch {
			case len(args) == 1 && github != "":
				return usageErrorf("give the plugin either as an argument or with --github, not both")
			case len(args) == 1:
				raw = args[0]
			case github != "":
				raw, isGitHub = github, true
			case !rebuild:
				return usageErrorf("no plugin given: stoq install PATH, stoq install --github stoq:NAME, or stoq install --rebuild")
			}
			opts := builder.InstallOptions{
				Home: env.Home, Rebuild: rebuild, InstallDir: installDir, Upgrade: upgrade, Force: force,
				Progress: builder.NewProgress(env.Stderr, flags.quiet),
			}
			var err error
			if raw != "" {
				if opts.Spec, err = builder.ParseInstallSpec(raw, isGitHub); err != nil {
					return usageError(err)
				}
			}
			if opts.Catalog, opts.CoreDir, opts.CLIDir, err = flags.sources(env); err != nil {
				return err
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			res, err := builder.Install(ctx, opts)
			if err != nil {
				return failure(err)
			}
			if res.Plugin == nil {
				fmt.Fprintf(env.Stdout, "Rebuilt %s\n", res.Link.Output)
				return nil
			}
			if r := res.Replaced; r != nil && r.Version != res.Plugin.Version {
				fmt.Fprintf(env.Stdout, "Replaced %s %s with %s %s\n", r.Name, r.Version, res.Plugin.Name, res.Plugin.Version)
			}
			fmt.Fprintf(env.Stdout, "Successfully installed to %s\n", res.Dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&github, "github", "", "Install from GitHub or the catalogue: stoq:NAME[@VERSION], OWNER/REPO[/DIR][@VERSION] or a git URL")
	cmd.Flags().StringVar(&installDir, "install-dir", "", "Install the plugin into this folder instead of $STOQ_HOME/plugins")
	cmd.Flags().BoolVar(&upgrade, "upgrade", false, "Replace the plugin if it is already installed (with a newer or an older version)")
	cmd.Flags().BoolVar(&force, "force", false, "Install even when the plugin's min_stoq_version is not met by this stoq")
	cmd.Flags().BoolVar(&rebuild, "rebuild", false, "Rebuild $STOQ_HOME/bin/stoq with the installed plugins (after upgrading stoq)")
	_ = cmd.MarkFlagDirname("install-dir")
	flags.add(cmd)
	return cmd
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
			opts := builder.UninstallOptions{Home: env.Home, Name: args[0], Progress: builder.NewProgress(env.Stderr, flags.quiet)}
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

func newBuildCommand(env *Env) *cobra.Command {
	var (
		flags  builderFlags
		with   []string
		all    bool
		force  bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "build -o FILE [--with PLUGIN]... [--all]",
		Short: "Build a stoq binary with the plugins you choose",
		Long: `Build a stoq binary at FILE linking the core, the cli and the plugins asked
for, without touching $STOQ_HOME. Each --with is one of:
  NAME[@VERSION] or stoq:NAME[@VERSION]   a catalogue plugin
  PATH                                    a plugin folder
  MODULE@VERSION                          a published Go module (module proxy)
  GIT-URL[//DIR][@VERSION]                a git repository
--all links every plugin of the catalogue (a folder catalogue as it is on
disk). The generated module (go.mod, go.sum, main.go) is kept in FILE.build/
so the build can be reproduced, and nothing is rebuilt when its inputs are
unchanged. Needs the Go toolchain.`,
		Example: `  stoq build --with hash --with yara@3.0.0 -o ./stoq
  stoq build --all --catalog . -o bin/stoq
  stoq build --with ./myplugin --with github.com/acme/stoq-pdfid@v1.2.0 -o /opt/stoq/bin/stoq`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return usageErrorf("no output file: pass -o FILE")
			}
			opts := builder.BuildOptions{All: all, Force: force, Output: output, Progress: builder.NewProgress(env.Stderr, flags.quiet)}
			for _, w := range with {
				spec, err := builder.ParseWithSpec(w)
				if err != nil {
					return usageError(err)
				}
				opts.With = append(opts.With, spec)
			}
			var err error
			if opts.Catalog, opts.CoreDir, opts.CLIDir, err = flags.sources(env); err != nil {
				return err
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			res, err := builder.Build(ctx, opts)
			if err != nil {
				return failure(err)
			}
			names := make([]string, len(res.Info.Plugins))
			for i, p := range res.Info.Plugins {
				names[i] = p.Name + " " + p.Version
			}
			linked := "no plugins"
			if len(names) > 0 {
				linked = strings.Join(names, ", ")
			}
			fmt.Fprintf(env.Stdout, "Built %s with %s (generated module in %s)\n", res.Output, linked, res.BuildDir)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&with, "with", nil, "Link this plugin: NAME[@VERSION], PATH, MODULE@VERSION or a git URL (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "Link every plugin of the catalogue")
	cmd.Flags().BoolVar(&force, "force", false, "Link plugins even when their min_stoq_version is not met by this stoq")
	cmd.Flags().StringVarP(&output, "output", "o", "", "The binary to write (its generated module goes to FILE.build/)")
	_ = cmd.MarkFlagFilename("output")
	flags.add(cmd)
	return cmd
}

// handoff runs $STOQ_HOME/bin/stoq instead of this binary when it should;
// handled reports whether it did, and code is then its exit status. On
// Unix the process is replaced (exec), so a successful handoff does not
// return at all.
func handoff(env *Env, args []string) (handled bool, code int) {
	target, ok := handoffTarget(env, args, os.Getenv, os.Executable)
	if !ok {
		return false, 0
	}
	argv := append([]string{target}, args...)
	err := execBinary(target, argv, append(os.Environ(), HandoffEnvVar+"=1"))
	fmt.Fprintf(env.Stderr, "stoq: cannot run %s (%v): running this stoq instead\n", target, err)
	return false, 0
}

// handoffTarget decides whether to hand off, and to which file. It does
// not when the handoff already happened ($STOQ_HANDOFF), for the builder's
// own commands (install, uninstall and build need no plugins, and the stoq
// typed builds with its own core: `go run …/cmd/stoq build` in the
// Makefile must not run an older installed stoq), when this binary is a
// `stoq build` one (built on purpose, it runs itself), when there is
// no executable $STOQ_HOME/bin/stoq, when that is this very binary, or
// when it was built for another core version (then it warns: stoq install
// --rebuild makes a new one).
func handoffTarget(env *Env, args []string, getenv func(string) string, executable func() (string, error)) (string, bool) {
	if getenv(HandoffEnvVar) != "" {
		return "", false
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if a == "install" || a == "uninstall" || a == "build" {
			return "", false
		}
		break
	}
	if info, ok := CurrentBuildInfo(); ok && info.Kind == builder.KindBuild {
		return "", false
	}
	target := filepath.Join(env.BinDir(), "stoq")
	fi, err := os.Stat(target)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", false
	}
	self, err := executable()
	if err != nil {
		return "", false
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	resolvedTarget, err := filepath.EvalSymlinks(target)
	if err != nil {
		return "", false
	}
	if self == resolvedTarget {
		return "", false
	}
	if sfi, err := os.Stat(self); err == nil && os.SameFile(sfi, fi) {
		return "", false
	}
	info, err := builder.ReadHomeRecord(env.Home)
	if err == nil && info.CoreVersion != core.Version {
		fmt.Fprintf(env.Stderr, "stoq: %s was built for stoq %s and this is stoq %s: not using it (rebuild it with `stoq install --rebuild`)\n",
			target, info.CoreVersion, core.Version)
		return "", false
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.Stderr, "stoq: %v\n", err)
	}
	return resolvedTarget, true
}
