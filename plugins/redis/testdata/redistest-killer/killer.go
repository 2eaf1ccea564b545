// Package killer is a test double of the redis plugin's multi-process
// tests, linked into a test binary with `stoq build --with PATH`: a worker
// that SIGKILLs its own process when a payload starts with "KILL", as a
// payload that crashes its worker every time would. Never link it into a
// real stoq.
package killer

import (
	"bytes"
	"context"
	_ "embed"
	"log/slog"
	"os"
	"syscall"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed redistest-killer.stoq
var manifest []byte

func init() { core.Register("redistest-killer", manifest, New) }

// Killer kills its process on KILL payloads and returns nothing otherwise.
type Killer struct{}

// New builds the worker.
func New(*core.Config, *slog.Logger) (*Killer, error) { return &Killer{}, nil }

// Scan kills the process on a payload starting with KILL.
func (*Killer) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	if bytes.HasPrefix(p.Content, []byte("KILL")) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return &core.WorkerResponse{}, nil
}

var _ core.Worker = (*Killer)(nil)
