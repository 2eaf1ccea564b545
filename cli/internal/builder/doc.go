// Package builder installs stoq plugins and builds custom stoq binaries.
//
// Go links plugins at build time, so installing a plugin means building a
// new stoq, as xcaddy does for Caddy and the OpenTelemetry Collector
// Builder for the collector. The flow of `stoq install` (Install):
//
//  1. Catalogue resolution (ResolveCatalog): --catalog, then $STOQ_CATALOG,
//     then [core] plugin_repo of stoq.cfg, then DefaultCatalog. A catalogue
//     is this repository: stoq:NAME is its plugins/NAME.
//  2. Source fetching (Fetcher): stoq:NAME@VERSION reads tag
//     plugins/NAME/vVERSION (without a version: the highest semver tag, or
//     the default branch when there is none; a constraint such as ^3.1
//     takes the highest tag meeting it). OWNER/REPO[/DIR][@VERSION] is
//     https://github.com/OWNER/REPO, any git URL works (URL//DIR@VERSION),
//     and a folder is taken as it is. Repositories are read with go-git:
//     URLs are cloned shallow (one commit of the chosen ref, a full clone
//     only when the server refuses); a catalogue folder is read in place,
//     as it is on disk without a version and through git at a tag with one.
//  3. Validation (Validate), before anything changes: the manifest's
//     required fields, a safe name matching the request or its folder, a
//     semver Version, min_stoq_version met by core.Version (--force makes
//     it a warning), manifest Module = go.mod module, a Go package at the
//     module root, a Go toolchain new enough for every go.mod. An installed
//     plugin is refused unless --upgrade (which also downgrades).
//  4. Install: the plugin is copied to $STOQ_HOME/plugins/NAME (links
//     pointing outside it are refused; nothing is written outside), the
//     core and cli sources of the running version are kept in
//     $STOQ_HOME/src, and $STOQ_HOME/bin/stoq is rebuilt (Home describes
//     the layout; installed.json records what came from where).
//
// Builds (linkBinary, behind Install, Uninstall and Build) generate a main
// module (go.mod, go.sum seeded from the linked modules' sums, main.go with
// one blank import per plugin and the BuildInfo it records) in a build
// folder kept beside the binary ($STOQ_HOME/build, FILE.build) so a build
// can be reproduced. Every local module gets a replace directive, the core
// included, so no plugin can pull another core: a plugin's own replace
// directives do not apply outside its module. go mod tidy and go build
// run with GOWORK=off (a go.work above the folder or an exported GOWORK
// would take over), GOFLAGS=-mod=mod, the user's GOPROXY and module and
// build caches, GOTOOLCHAIN=local unless the user set it, and -trimpath
// (binaries hold no local paths, and the build cache is shared whatever
// folder the sources sit in). After tidy, `go list -m` checks that core,
// cli and plugins resolve to what was asked; when the build fails, `go
// mod graph` names the dependencies the linked modules want at different
// versions. The binary is written to a temporary name beside the target
// and renamed over it, so the old one runs until the new one is complete;
// a failed install or uninstall moves every folder back. A fingerprint of
// the inputs (Go version, build environment, plugin names, versions and
// sources, content hashes of every local module) skips the build when
// nothing changed. The first build compiles every dependency (minutes with
// heavy plugins); later builds take seconds.
//
// Build (`stoq build`) does the same for a binary anywhere, linking
// --with plugins (catalogue names, folders, MODULE@VERSION from the module
// proxy, git URLs) and with All the whole catalogue, without touching
// $STOQ_HOME. Progress (steps and their durations) goes to a Progress;
// warnings show even when it is quiet.
package builder
