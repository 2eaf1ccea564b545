// Package builder installs stoq plugins and builds custom stoq binaries,
// for the cli's install, uninstall and build commands (it is internal: the
// cli is its only user).
//
// Go links plugins at build time, so installing a plugin means building a
// new stoq, as xcaddy does for Caddy and the OpenTelemetry Collector
// Builder for the collector. The flow of `stoq install` (Install,
// install.go):
//
//  1. Catalogue resolution (ResolveCatalog, catalog.go): --catalog, then
//     $STOQ_CATALOG, then [core] plugin_repo of stoq.cfg, then
//     DefaultCatalog. A catalogue is this repository: stoq:NAME is its
//     plugins/NAME.
//  2. Source fetching (fetcher, fetch.go and git.go): stoq:NAME@VERSION
//     reads tag plugins/NAME/vVERSION (without a version, or with a
//     constraint such as ^3.1: the highest semver tag whose manifest's
//     min_stoq_version the running core meets, pickRefs; the default branch
//     when there is no tag). OWNER/REPO[/DIR][@VERSION] is
//     https://github.com/OWNER/REPO, any git URL works (URL//DIR@VERSION),
//     a bare repository on disk is a git source, MODULE[@VERSION] is
//     downloaded through the GOPROXY (fetchModule; without a version the
//     newest release made for this stoq), and a folder is taken as it is
//     (spec.go parses them; stoq:NAME of a built-in plugin or a command
//     name is refused there). Repositories are read with go-git: URLs are
//     cloned shallow (one commit of the chosen ref, a full clone only when
//     the server refuses); a catalogue folder is read in place, as it is on
//     disk without a version and through git at a tag with one. A
//     catalogue that cannot be reached says how to work offline.
//  3. Validation (validatePlugin, validate.go, over core/plugincheck, the
//     check authors run with stoqtest.CheckPlugin), before anything
//     changes: the manifest's required fields, a safe name that no stoq
//     command or built-in plugin takes and that matches stoq:NAME, a semver
//     Version equal to the tag or module version asked for,
//     min_stoq_version met by core.Version (--force makes it a warning),
//     manifest Module = go.mod module and valid for the Version's major, a
//     library package at the module root, a Go toolchain new enough for
//     every go.mod. An installed plugin is refused unless --upgrade (which
//     also downgrades).
//  4. Install (homechange.go): the plugin is copied beside
//     $STOQ_HOME/plugins/NAME (links pointing outside it are refused;
//     nothing is written outside), the core and cli sources of the running
//     version are kept in $STOQ_HOME/src, everything is moved into place in
//     one transaction and $STOQ_HOME/bin/stoq is rebuilt; a failure moves
//     every folder back (home.go describes the layout; installed.json
//     records what came from where). Run by a `stoq build` binary that
//     links plugins (make's bin/stoq), the install first seeds $STOQ_HOME
//     with them (seed.go), so that binary can hand off to the new one.
//
// # The build steps
//
// Every build (linkBinary in link.go, behind Install, Uninstall and Build)
// runs three steps in a build folder kept beside the binary
// ($STOQ_HOME/build, FILE.build) so it can be reproduced:
//
//  1. generate (generateModule, generate.go): go.mod (generateGoMod: every
//     local module, the core included, required at a version valid for its
//     path's major version and replaced by its folder, so no plugin can pull
//     another core; a plugin's own replace directives do not apply outside
//     its module), go.sum seeded from the linked modules' sums (seedGoSum),
//     and main.go (generateMain: one blank import per plugin, and the
//     binary's Record handed to cli.Main). No go command runs; `stoq build
//     --skip-compile` stops here and prints the commands that finish the
//     build by hand (LinkResult.BuildCommands).
//  2. resolve and verify (resolveModules, resolve.go): go mod tidy, then
//     `go list -m` checks that core, cli and plugins resolve to what was
//     asked (verifyResolved); a published plugin pulled to another version
//     names who requires it.
//  3. compile (compileBinary, compile.go): go build -trimpath into a
//     temporary name beside the binary, tried (verifyBinary, verify.go:
//     `stoq version` and `stoq list` must work and name every plugin, or
//     the binary's own words are the error), then renamed over it
//     (replaceFile, atomic.go), so the old one runs until a new one that
//     works is complete. When
//     the build fails, `go mod graph` names the dependencies the linked
//     modules want at different versions (the conflict report,
//     explainBuildFailure in conflicts.go).
//
// Go commands (gotool.go) run with GOWORK=off (a go.work above the folder
// or an exported GOWORK would take over), GOFLAGS=-mod=mod, the user's
// GOPROXY and module and build caches, and GOTOOLCHAIN=local unless the
// user set it. A fingerprint of the inputs (Go version, build environment,
// plugin names, versions and sources, content hashes of every local module)
// skips the build when nothing changed. The first build compiles every
// dependency (minutes with heavy plugins); later builds take seconds.
//
// Build (`stoq build`, build.go) does the same for a binary anywhere,
// linking --with plugins (catalogue names, folders, MODULE@VERSION from
// the module proxy, git URLs) and with All the whole catalogue, without
// touching $STOQ_HOME. Progress (steps and their durations) goes to a
// Progress; warnings show even when it is quiet.
//
// The builder's few calls into the engine's API are in engine.go.
package builder
