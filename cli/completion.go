package cli

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// Shell completion is cobra's (`stoq completion bash|zsh|fish|powershell`);
// these functions complete the plugin flags from the plugins linked into
// the running binary. expandArgs makes the words after `-a hash ` complete
// as -a values too.

// completePluginNames completes the names of linked plugins of class c,
// with their descriptions; a comma-separated prefix is kept.
func completePluginNames(c engine.Class) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		prefix := ""
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			prefix, toComplete = toComplete[:i+1], toComplete[i+1:]
		}
		var out []string
		for _, p := range engine.Plugins() {
			if p.Classes&c != 0 && strings.HasPrefix(p.Name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(prefix+p.Name, oneLine(p.Manifest.Description)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completePluginOpts completes NAME: with the linked plugins' names, then
// NAME:OPTION= with the options of NAME's manifest.
func completePluginOpts(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	name, opt, hasColon := strings.Cut(toComplete, ":")
	var out []string
	if !hasColon {
		for _, p := range engine.Plugins() {
			if strings.HasPrefix(p.Name, name) {
				out = append(out, cobra.CompletionWithDesc(p.Name+":", oneLine(p.Manifest.Description)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	p, ok := engine.Lookup(name)
	if !ok || strings.Contains(opt, "=") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	keys := make([]string, 0, len(p.Manifest.Options))
	for k := range p.Manifest.Options {
		if k != "min_stoq_version" && strings.HasPrefix(k, opt) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, cobra.CompletionWithDesc(name+":"+k+"=", "default: "+p.Manifest.Options[k]))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeScanFile completes scan's FILE with file names, once.
func completeScanFile(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveDefault
}
