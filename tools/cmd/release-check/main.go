// Command release-check checks that every module of the repository can be
// published at the version it states (`make release-check`, part of `make
// test`): core at core.Version, cli with it, each plugin at its manifest's
// Version, each agreeing with its CHANGELOG and valid for its module path's
// major version, requiring only published stoq versions, and zipping as a
// module proxy serves it (golang.org/x/mod/zip). It then prints the tags a
// release creates and whether they exist.
//
//	go run ./cmd/release-check [-proxy DIR] [-create-tags] [REPO-ROOT]
//
// -proxy DIR writes the module zips as a GOPROXY folder (GOPROXY=file://DIR
// serves the release before it is pushed). -create-tags creates the missing
// tags at HEAD (`make release-tags`), refusing uncommitted changes and tags
// that would move. Exit status 1 when a module cannot be released.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/stoq-go/stoq/tools/internal/repo"
	"github.com/stoq-go/stoq/tools/release"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	proxy := fs.String("proxy", "", "write the module zips as a GOPROXY folder `DIR`")
	createTags := fs.Bool("create-tags", false, "create the missing release tags at HEAD")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	root := "."
	switch fs.NArg() {
	case 0:
		if r, err := repo.FindRoot(); err == nil {
			root = r
		}
	case 1:
		root = fs.Arg(0)
	default:
		fmt.Fprintln(stderr, "usage: release-check [-proxy DIR] [-create-tags] [REPO-ROOT]")
		return 2
	}
	modules, problems, err := release.Check(root)
	if err != nil {
		fmt.Fprintln(stderr, "release-check:", err)
		return 2
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "release-check: %d problem(s): these modules cannot be released as they are\n", len(problems))
		return 1
	}
	fmt.Fprintf(stdout, "release-check: %d modules zip as a module proxy serves them, and their versions agree\n", len(modules))
	if *proxy != "" {
		if err := release.WriteProxy(*proxy, modules); err != nil {
			fmt.Fprintln(stderr, "release-check:", err)
			return 1
		}
		abs, _ := filepath.Abs(*proxy)
		fmt.Fprintf(stdout, "Wrote the release as a module proxy: GOPROXY=file://%s\n", filepath.ToSlash(abs))
	}
	if *createTags {
		created, err := release.CreateTags(root, modules)
		for _, t := range created {
			fmt.Fprintf(stdout, "Created tag %s\n", t)
		}
		if err != nil {
			fmt.Fprintln(stderr, "release-check:", err)
			return 1
		}
	}
	printTags(stdout, release.TagStates(root, modules))
	return 0
}

// printTags lists the tags of the release, one line each.
func printTags(w io.Writer, states []release.TagState) {
	missing := 0
	for _, st := range states {
		if st.Commit == "" {
			missing++
		}
	}
	fmt.Fprintf(w, "The release's tags (%d to create; make release-tags creates them at HEAD):\n", missing)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, st := range states {
		state := "to create"
		if st.Commit != "" {
			state = fmt.Sprintf("exists (commit %.12s)", st.Commit)
		}
		fmt.Fprintf(tw, "  %s\t%s@%s\t%s\n", st.Module.Tag(), st.Module.Path, st.Module.Version, state)
	}
	tw.Flush()
}
