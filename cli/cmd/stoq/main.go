// Command stoq is the stoq command with no catalogue plugin linked in: only
// the built-in stdout connector. `stoq install` builds a stoq that links the
// installed plugins; `stoq build` builds one anywhere.
package main

import (
	"os"

	"github.com/stoq-go/stoq/cli/v3"
)

func main() { os.Exit(cli.Main(cli.BuildInfo{})) }
