package builder

import (
	"bytes"
	"strings"
	"testing"
)

func TestCatalogPluginsLinksEveryCompletePlugin(t *testing.T) {
	tree := t.TempDir()
	files := map[string]string{"plugins/wip/go.mod": "module example.org/wip\n"}
	for name, content := range pluginFiles("ok", "example.org/ok", "1.0.0", "3.0.0") {
		files["plugins/ok/"+name] = content
	}
	writeFiles(t, tree, files)
	var progress bytes.Buffer
	opts := BuildOptions{CoreVersion: "3.0.0", Progress: NewProgress(&progress, true)}
	catalogPlugins := func() ([]link, error) {
		return (&buildSources{opts: opts, tree: tree, treeOrigin: sourceOrigin{Location: tree}}).catalogPlugins()
	}
	links, err := catalogPlugins()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Name != "ok" || !strings.HasPrefix(links[0].Source, "stoq:ok from "+tree) {
		t.Errorf("links %+v", links)
	}
	if !strings.Contains(progress.String(), "warning: plugins/wip has no manifest") {
		t.Errorf("no warning for the folder without a manifest (warnings show when quiet): %q", progress.String())
	}

	for name, content := range pluginFiles("late", "example.org/late", "1.0.0", "9.0.0") {
		files["plugins/late/"+name] = content
	}
	writeFiles(t, tree, files)
	if _, err := catalogPlugins(); err == nil || !strings.Contains(err.Error(), "plugins/late") {
		t.Errorf("a plugin needing a newer stoq: err = %v", err)
	}
	opts.Force = true
	if links, err := catalogPlugins(); err != nil || len(links) != 2 {
		t.Errorf("with Force: %v, %v", links, err)
	}
}
