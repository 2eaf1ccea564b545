// Command lint-catalog checks every plugin of the catalogue (plugins/ of
// the repository): complete manifests, versions that agree with their
// changelogs, min_stoq_version met by the workspace core, module paths that
// agree with go.mod, and go.mod files that test against the workspace core.
//
//	go run ./cmd/lint-catalog [REPO-ROOT]
//
// Without REPO-ROOT it looks for the repository root (a folder with
// plugins/ and core/) from the current folder up. It prints one line per
// problem and exits 1 when there is any.
package main

import (
	"fmt"
	"os"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/tools/catalog"
	"github.com/stoq-go/stoq/tools/internal/repo"
)

func main() {
	if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: lint-catalog [REPO-ROOT]")
		os.Exit(2)
	}
	root := ""
	if len(os.Args) == 2 {
		root = os.Args[1]
	} else {
		var err error
		if root, err = repo.FindRoot(); err != nil {
			fmt.Fprintln(os.Stderr, "lint-catalog:", err)
			os.Exit(2)
		}
	}
	checked, problems, err := catalog.Lint(root, core.Version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lint-catalog:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "lint-catalog: %d problem(s) in %d plugin(s)\n", len(problems), len(checked))
		os.Exit(1)
	}
	fmt.Printf("lint-catalog: %d plugins OK (core %s)\n", len(checked), core.Version)
}
