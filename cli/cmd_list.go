package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// about is stoQ's banner.
func about() string {
	return fmt.Sprintf("stoQ :: v%s :: an automated analysis framework", core.Version)
}

func newListCommand(env *Env) *cobra.Command {
	var pluginDirs []string
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "List available plugins",
		Long: `List the plugins linked into this stoq binary: name, version, description
and classes. Plugins installed in $STOQ_HOME/plugins (or a --plugin-dir)
but not linked in are listed too, with the command that builds them in.`,
		Example: `  stoq list
  stoq list --plugin-dir /opt/stoq/plugins`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := env.EnsureHome(); err != nil {
				return usageError(err)
			}
			return writePluginList(env.Stdout, append([]string{env.PluginsDir()}, pluginDirs...))
		},
	}
	cmd.Flags().StringArrayVar(&pluginDirs, "plugin-dir", nil, "Directory(ies) containing stoQ plugins, added to $STOQ_HOME/plugins")
	_ = cmd.MarkFlagDirname("plugin-dir")
	return cmd
}

// unlinkedPlugin is a plugin installed in a plugin folder whose code is not
// in this binary.
type unlinkedPlugin struct {
	dir      string
	manifest *core.Manifest
	err      error
}

// installedPlugins finds NAME/NAME.stoq folders in dirs whose NAME is not
// linked in. The first folder holding a name wins, as for the engine.
func installedPlugins(dirs []string) []unlinkedPlugin {
	seen := map[string]bool{}
	for _, p := range engine.Plugins() {
		seen[p.Name] = true
	}
	var out []unlinkedPlugin
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue // a missing plugin folder holds no plugins
		}
		for _, e := range entries {
			name := e.Name()
			if seen[name] || !core.ValidPluginName(name) {
				continue
			}
			dir := filepath.Join(d, name)
			path := filepath.Join(dir, name+".stoq")
			if _, err := os.Stat(path); err != nil {
				continue
			}
			seen[name] = true
			m, err := core.ReadManifest(path)
			out = append(out, unlinkedPlugin{dir: dir, manifest: m, err: err})
		}
	}
	sort.Slice(out, func(i, j int) bool { return filepath.Base(out[i].dir) < filepath.Base(out[j].dir) })
	return out
}

// writePluginList prints the banner, a rule and one aligned line per
// plugin: name, vVERSION, description, classes.
func writePluginList(w io.Writer, pluginDirs []string) error {
	head := about()
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, strings.Repeat("-", len(head)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range engine.Plugins() {
		fmt.Fprintf(tw, "%s\tv%s\t%s\t%s\n", p.Name, p.Manifest.Version, oneLine(p.Manifest.Description), p.Classes)
	}
	for _, u := range installedPlugins(pluginDirs) {
		name := filepath.Base(u.dir)
		if u.err != nil {
			fmt.Fprintf(tw, "%s\t\t(unreadable manifest: %v)\t\n", name, u.err)
			continue
		}
		fmt.Fprintf(tw, "%s\tv%s\t%s\t(not linked in: stoq install %s --upgrade)\n",
			name, u.manifest.Version, oneLine(u.manifest.Description), u.dir)
	}
	return tw.Flush()
}

// oneLine keeps a manifest text on one line of the table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
