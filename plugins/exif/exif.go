// Package exif is stoq's exif worker: it reads a payload's metadata with
// ExifTool and returns ExifTool's JSON object for it (exiftool -j -n: values
// as numbers where ExifTool has them), as stoQ's exif plugin did.
//
// # ExifTool processes
//
// Starting perl and ExifTool costs about 100 ms, far more than reading a
// small file's metadata, so the worker keeps ExifTool running in its
// -stay_open mode: a pool of at most pool_size processes, one per concurrent
// scan, each reading commands from its stdin. A process that dies, hangs or
// answers nonsense is killed (with any children it started) and replaced by
// a fresh one at the next scan; a scan never waits longer than its timeout.
// The protocol is driven directly with os/exec rather than through
// github.com/barasher/go-exiftool, which can neither bound a call in time nor
// kill a hung process, mixes stderr into the JSON it parses, and turns every
// number into a float64.
//
// ExifTool reads files, not stdin, in this mode: each payload is written to
// a file (mode 0600) in a new private directory (mode 0700) under the system
// temporary folder ($TMPDIR), removed as soon as ExifTool has answered,
// whatever happened.
//
// # Results
//
// The object ExifTool prints for the file, with its numbers kept exactly as
// ExifTool wrote them (json.Number), except that:
//   - SourceFile is "-", as in stoQ's output, rather than the temporary
//     file's name;
//   - the tags that describe the temporary file rather than the payload
//     (FileName, Directory, FileModifyDate, FileAccessDate,
//     FileInodeChangeDate, FilePermissions) are left out, so that the same
//     payload always gives the same results.
//
// A payload ExifTool does not recognise gives its usual answer, an object
// with "Error": "Unknown file type"; that is a result, not a failure. A
// failure (exiftool missing, crashing, hanging, printing something that is
// not JSON) is returned as the scan's error.
//
// # Options
//
//   - bin (exiftool): the exiftool program, a path or a name looked up in
//     PATH. The constructor fails when it cannot be found.
//   - pool_size (number of CPUs): at most this many ExifTool processes, and
//     so at most this many concurrent scans; more wait for a free process.
//   - timeout (60): the engine's deadline for each call of the plugin, as
//     for every plugin; a scan or health check never waits for ExifTool past
//     its context's deadline (60 s for a call without one).
package exif

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed exif.stoq
var manifest []byte

func init() { core.Register("exif", manifest, New) }

const (
	defaultBin     = "exiftool"
	defaultTimeout = 60 * time.Second
)

// commonArgs are given to every ExifTool command: JSON, numbers rather than
// printed values, and none of the tags that describe the temporary file.
var commonArgs = []string{
	"-j", "-n",
	"--FileName", "--Directory", "--FileModifyDate", "--FileAccessDate",
	"--FileInodeChangeDate", "--FilePermissions",
}

// Plugin is the exif worker.
type Plugin struct {
	pool *pool
	bin  string
	log  *slog.Logger
}

// New reads the options and finds exiftool; processes start at the first
// scan.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	bin := strings.TrimSpace(cfg.String("bin", defaultBin))
	if bin == "" {
		bin = defaultBin
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, &core.OptionError{
			Plugin: cfg.Name(), Option: "bin", Value: bin, Source: cfg.Source("bin"),
			Want: fmt.Sprintf("an exiftool program (%v; on Debian: apt-get install libimage-exiftool-perl)", err),
		}
	}
	size, err := cfg.Int("pool_size", runtime.NumCPU())
	if err != nil {
		return nil, err
	}
	if size < 1 {
		return nil, cfg.OptionError("pool_size", "want 1 or more processes")
	}
	log.Debug("exif configured", "bin", path, "pool_size", size)
	return &Plugin{pool: newPool(path, size, commonArgs), bin: path, log: log}, nil
}

// Scan writes the payload to a private temporary file and returns what
// ExifTool says about it.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()

	dir, err := os.MkdirTemp("", "stoq-exif-")
	if err != nil {
		return nil, fmt.Errorf("exif: temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "payload")
	if err := os.WriteFile(file, payload.Content, 0o600); err != nil {
		return nil, fmt.Errorf("exif: writing the payload to a temporary file: %w", err)
	}

	var results map[string]any
	_, stderr, err := p.pool.run(ctx, func(stdout []byte, stderr []string) error {
		var err error
		results, err = parseOutput(stdout, stderr)
		return err
	}, file)
	if err != nil {
		return nil, err
	}
	if len(stderr) > 0 {
		p.log.Debug("exiftool stderr", "payload", payload.ID(), "stderr", strings.Join(stderr, "; "))
	}
	return &core.WorkerResponse{Results: results}, nil
}

// parseOutput reads ExifTool's -j output for one file: a JSON array of one
// object. Numbers stay json.Number, exactly as ExifTool wrote them.
func parseOutput(stdout []byte, stderr []string) (map[string]any, error) {
	trimmed := bytes.TrimSpace(stdout)
	if len(trimmed) == 0 {
		if len(stderr) > 0 {
			return nil, fmt.Errorf("exif: exiftool: %s", strings.Join(stderr, "; "))
		}
		return nil, errors.New("exif: exiftool printed nothing")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var objects []map[string]any
	if err := dec.Decode(&objects); err != nil || dec.More() {
		if err == nil {
			err = errors.New("data after the JSON array")
		}
		return nil, fmt.Errorf("exif: exiftool's output is not its JSON (%v): %q", err, excerpt(trimmed))
	}
	if len(objects) != 1 || objects[0] == nil {
		return nil, fmt.Errorf("exif: exiftool returned %d objects for one file", len(objects))
	}
	results := objects[0]
	results["SourceFile"] = "-"
	return results, nil
}

func excerpt(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// withDeadline is ctx, given defaultTimeout when it has no deadline (a
// call from outside the engine), so no ExifTool answer is awaited forever.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultTimeout)
}

// HealthCheck asks an ExifTool process of the pool for its version.
func (p *Plugin) HealthCheck(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, _, err := p.pool.run(ctx, func(stdout []byte, stderr []string) error {
		if strings.TrimSpace(string(stdout)) == "" {
			return fmt.Errorf("exif: %s -ver printed nothing (%s)", p.bin, strings.Join(stderr, "; "))
		}
		return nil
	}, "-ver")
	return err
}

// Close stops the ExifTool processes.
func (p *Plugin) Close() error {
	p.pool.close()
	return nil
}

var (
	_ core.Worker        = (*Plugin)(nil)
	_ core.Closer        = (*Plugin)(nil)
	_ core.HealthChecker = (*Plugin)(nil)
)
