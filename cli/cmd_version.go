package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

func newVersionCommand(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of stoq and of its linked plugins",
		Long: `Print the core version (the API level plugins' min_stoq_version is checked
against) and, for every plugin linked into this binary, its manifest version
and the Go module it was built from, as recorded in the binary.`,
		Example: `  stoq version`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, _ := debug.ReadBuildInfo()
			return writeVersions(env.Stdout, info, env.Build)
		},
	}
}

// moduleVersion describes the module at path as built into the binary:
// its version, "(devel)" for the main module, or the replacement when it
// was built from local sources.
func moduleVersion(info *debug.BuildInfo, path string) string {
	if info == nil || path == "" {
		return "unknown"
	}
	if info.Main.Path == path {
		if info.Main.Version == "" {
			return "(devel)"
		}
		return info.Main.Version
	}
	for _, m := range info.Deps {
		if m.Path != path {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version != "" {
				return fmt.Sprintf("%s => %s %s", m.Version, r.Path, r.Version)
			}
			return "=> " + r.Path
		}
		return m.Version
	}
	return "unknown"
}

// writeVersions prints stoq's version and one line per linked plugin:
// name, manifest version, module path and module version, or, for a binary
// the builder generated, where the plugin came from (catalogue tag,
// repository and commit, folder or module version).
func writeVersions(w io.Writer, info *debug.BuildInfo, built BuildInfo) error {
	fmt.Fprintf(w, "stoq %s (%s %s/%s)\n", core.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "core module: github.com/stoq-go/stoq/core/v3 %s\n", moduleVersion(info, "github.com/stoq-go/stoq/core/v3"))
	plugins := engine.Plugins()
	if len(plugins) == 0 {
		fmt.Fprintln(w, "no plugins linked in")
		return nil
	}
	fmt.Fprintln(w, "plugins:")
	sources := built.pluginSources()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range plugins {
		from := moduleVersion(info, p.Manifest.Module)
		if src := sources[p.Name]; src != "" {
			from = "from " + src
		}
		fmt.Fprintf(tw, "  %s\tv%s\t%s\t%s\n", p.Name, p.Manifest.Version, p.Manifest.Module, from)
	}
	return tw.Flush()
}
