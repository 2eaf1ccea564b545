package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/stoq-go/stoq/core/v3/engine"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/cli/v3/internal/scaffold"
	"github.com/stoq-go/stoq/core/v3"
)

// This file holds `stoq new plugin`, which writes a new plugin module
// (package scaffold does the work).

func newNewCommand(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Create a new plugin module",
		Long:  "Create what a plugin author starts from: stoq new plugin NAME.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("say what to create: stoq new plugin NAME (see 'stoq new plugin --help')")
		},
	}
	cmd.AddCommand(newNewPluginCommand(env))
	return cmd
}

const newPluginHelp = `Create a plugin module in DIR/NAME (DIR is the current folder unless -o is
given), ready to test and install:

  go.mod           module PATH (--module; default example.com/stoq-plugins/NAME),
                   requiring the core this stoq runs (` + "github.com/stoq-go/stoq/core/v3" + `) with no
                   replace; go.sum completed by go mod tidy through your GOPROXY
  NAME.stoq        the manifest: every required field, the options commented
  NAME.go          the plugin, implementing the classes of --class
  NAME_test.go     tests on core/stoqtest, stoq install's own check included
  README.md, CHANGELOG.md

Then: cd NAME && go test ./... && stoq install . (or stoq install ./NAME from
DIR). Before the core release it needs is on your GOPROXY, --core PATH adds a
replace to a local checkout of stoq's core/ folder.

NAME is lowercase letters, digits, '_' and '-'; stoq's command names and
built-in plugins (stdout) are refused. The module path's major version sets
the first Version: 0.1.0, or N.0.0 for a path ending in /vN.`

const newPluginExamples = `  stoq new plugin pdfid
  stoq new plugin office-router --class dispatcher,worker --module github.com/acme/stoq-office-router
  stoq new plugin results-db --class connector -o ~/src
  stoq new plugin pdfid --core ~/src/stoq/core`

// newPluginFlags are stoq new plugin's flags.
type newPluginFlags struct {
	classes     []string
	module, dir string
	coreDir     string
	skipModTidy bool
}

func newNewPluginCommand(env *Env) *cobra.Command {
	var f newPluginFlags
	cmd := &cobra.Command{
		Use:     "plugin NAME [--class worker,...] [--module PATH] [-o DIR] [--core DIR]",
		Short:   "Create a new plugin module, ready to test and install",
		Long:    newPluginHelp,
		Example: newPluginExamples,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			classes, err := splitClasses(f.classes)
			if err != nil {
				return err
			}
			opts := scaffold.Options{
				Name: args[0], Classes: classes, Module: f.module, Dir: f.dir, CoreDir: f.coreDir,
				CoreVersion: core.Version, SkipTidy: f.skipModTidy,
			}
			if err := scaffold.Check(opts); err != nil {
				return usageError(err)
			}
			how := "go mod tidy fetches the core " + core.Version + " through your GOPROXY"
			if f.coreDir != "" {
				how = "go mod tidy, with the core replaced by " + f.coreDir
			}
			if !f.skipModTidy {
				fmt.Fprintf(env.Stderr, "Creating plugin %s (%s) ...\n", args[0], how)
			}
			res, err := scaffold.Generate(cmd.Context(), opts)
			if err != nil {
				return failure(err)
			}
			printNewPlugin(env.Stdout, args[0], res)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&f.classes, "class", []string{"worker"}, "The classes the plugin implements, comma-separated: "+strings.Join(scaffold.Classes, ", "))
	cmd.Flags().StringVar(&f.module, "module", "", "The Go module path (default example.com/stoq-plugins/NAME)")
	cmd.Flags().StringVarP(&f.dir, "output", "o", "", "The folder to create NAME/ in (default: the current folder)")
	cmd.Flags().StringVar(&f.coreDir, "core", "", "A local checkout of stoq's core/ folder to replace the published core with")
	cmd.Flags().BoolVar(&f.skipModTidy, "no-tidy", false, "Do not run go mod tidy (go.sum is left to you)")
	_ = cmd.MarkFlagDirname("output")
	_ = cmd.MarkFlagDirname("core")
	_ = cmd.RegisterFlagCompletionFunc("class", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return scaffold.Classes, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// splitClasses accepts --class worker,dispatcher and repeats.
func splitClasses(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		out = append(out, engine.SplitList(v)...)
	}
	if len(out) == 0 {
		return nil, usageErrorf("--class: give one or more of %s", strings.Join(scaffold.Classes, ", "))
	}
	return out, nil
}

// printNewPlugin says what stoq new plugin wrote and what to do next.
func printNewPlugin(w io.Writer, name string, res *scaffold.Result) {
	fmt.Fprintf(w, "Created plugin %s in %s (module %s): %s\n", name, res.Dir, res.Module, strings.Join(res.Files, ", "))
	rel := res.Dir
	if wd, err := filepath.Abs("."); err == nil {
		if r, err := filepath.Rel(wd, res.Dir); err == nil && !strings.HasPrefix(r, "..") {
			rel = "./" + r
		}
	}
	fmt.Fprintf(w, "Next:\n  cd %s && go test ./...\n  stoq install %s\n", rel, rel)
}
