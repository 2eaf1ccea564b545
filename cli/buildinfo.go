package cli

// BuildInfo is how a stoq binary was built, as its main package tells
// Main. A plain binary (go install …/cli/cmd/stoq, tests) passes the zero
// value; the main package that stoq install and stoq build generate passes
// what the builder recorded, so that stoq version names where each linked
// plugin came from and the handoff to $STOQ_HOME/bin/stoq knows a
// `stoq build` binary (which always runs itself).
type BuildInfo struct {
	// Kind is BuildKindInstall for $STOQ_HOME/bin/stoq, BuildKindBuild for
	// a `stoq build` binary, "" for a plain one.
	Kind string
	// CoreVersion is the core version it links; GoVersion the toolchain
	// that built it (go1.26.8).
	CoreVersion string
	GoVersion   string
	// Plugins are the plugins it links, by name.
	Plugins []LinkedPlugin
}

// LinkedPlugin is one plugin of a BuildInfo.
type LinkedPlugin struct {
	Name    string
	Version string
	Module  string
	// Source says where it came from: the spec asked for, the repository,
	// tag and commit, or the folder.
	Source string
}

// The kinds of binary the builder generates (BuildInfo.Kind).
const (
	BuildKindInstall = "install"
	BuildKindBuild   = "build"
)

// pluginSources maps each linked plugin's name to its Source.
func (b BuildInfo) pluginSources() map[string]string {
	sources := make(map[string]string, len(b.Plugins))
	for _, p := range b.Plugins {
		sources[p.Name] = p.Source
	}
	return sources
}
