// Command stoq-test is stoq with the cli's test plugins linked in. The cli's
// tests build it to run the real command in its own process (signals,
// stdin pipes, memory measurements); it is never installed.
package main

import (
	"os"

	"github.com/stoq-go/stoq/cli/v3"
	_ "github.com/stoq-go/stoq/cli/v3/internal/testplugins"
)

func main() { os.Exit(cli.Main(cli.BuildInfo{})) }
