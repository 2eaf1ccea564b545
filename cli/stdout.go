package cli

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/stoq-go/stoq/core/v3"
)

// The stdout connector prints every response as JSON: what `stoq scan`
// and `stoq run` do when no connector is chosen. It is a plugin like any
// other (`-C stdout`, `--plugin-opts stdout:compactly=true`), built into
// every stoq binary because the cli package registers it.

//go:embed stdout.stoq
var stdoutManifest []byte

const stdoutConnectorName = "stdout"

func init() { core.Register(stdoutConnectorName, stdoutManifest, newStdoutConnector) }

// stdoutConnector writes each response to its output: indented with four
// spaces as stoQ prints it, or compactly as one JSON line. Writes are
// serialized, since run mode's consumers save concurrently, so responses
// never interleave.
type stdoutConnector struct {
	compactly bool
	mu        sync.Mutex
	out       io.Writer
}

func newStdoutConnector(cfg *core.Config, _ *slog.Logger) (*stdoutConnector, error) {
	compactly, err := cfg.Bool("compactly", false)
	if err != nil {
		return nil, err
	}
	return &stdoutConnector{compactly: compactly, out: os.Stdout}, nil
}

// setOutput replaces the process's stdout with w (the command's stdout).
func (c *stdoutConnector) setOutput(w io.Writer) {
	c.mu.Lock()
	c.out = w
	c.mu.Unlock()
}

// Save writes response as JSON followed by a newline, as stoQ prints it
// (core.StoqResponse.Encode).
func (c *stdoutConnector) Save(_ context.Context, response *core.StoqResponse) error {
	var buf bytes.Buffer
	if err := response.Encode(&buf, c.compactly); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.out.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing to stdout: %w", err)
	}
	return nil
}

// Unspooled: a result that could not be printed is not printed by a later
// run instead.
func (*stdoutConnector) Unspooled() {}

var (
	_ core.Connector = (*stdoutConnector)(nil)
	_ core.Unspooled = (*stdoutConnector)(nil)
)
