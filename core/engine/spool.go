package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/atomicfile"
)

// The result spool keeps what a connector could not save (stoq.cfg [core]
// spool_dir): when a connector's Save fails, the response is written to
// SPOOL_DIR/CONNECTOR/SCAN_ID.json, and Run hands the spooled responses to
// the connector again when it starts, every spool_retry_interval while it
// runs, and when it ends (ResendSpooled does it on demand), deleting each
// once it is saved. A
// connector that keeps failing keeps its results on disk; nothing is
// dropped because a database was down or a disk full for a while.

// spoolSave writes resp to the spool of connector lp. It reports where, or
// why it could not.
func (s *Stoq) spoolSave(p *plugin, resp *core.StoqResponse) (string, error) {
	if _, ok := p.instance.(core.Unspooled); ok {
		return "", errors.New("connector " + p.name + " does not spool")
	}
	if s.settings.SpoolDir == "" {
		return "", errors.New("no spool_dir configured")
	}
	dir := filepath.Join(s.settings.SpoolDir, p.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	data, err := json.Marshal(resp)
	if err != nil {
		return "", err
	}
	id := resp.ScanID
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	final := filepath.Join(dir, id+".json")
	if _, err := atomicfile.WriteFile(final, data, atomicfile.Options{Perm: 0o600, Durable: true}); err != nil {
		return "", err
	}
	return final, nil
}

// ResendSpooled hands every spooled response of the configured connectors
// to its connector again, removing each one saved. It returns how many were
// saved and the failures (the files of which stay spooled).
func (s *Stoq) ResendSpooled(ctx context.Context) (int, error) {
	if s.settings.SpoolDir == "" {
		return 0, nil
	}
	saved := 0
	var errs []error
	for _, p := range s.connectors {
		if _, ok := p.instance.(core.Unspooled); ok {
			continue
		}
		dir := filepath.Join(s.settings.SpoolDir, p.name)
		names, err := spooledFiles(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range names {
			path := filepath.Join(dir, n)
			data, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			// Numbers as json.Number: the response is re-sent with every
			// digit it was spooled with.
			var resp core.StoqResponse
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(&resp); err != nil {
				errs = append(errs, fmt.Errorf("spooled result %s is not a response (left in place): %w", path, err))
				continue
			}
			err = s.call(ctx, p, ClassConnector, func(ctx context.Context) error {
				return p.instance.(core.Connector).Save(ctx, &resp)
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("connector %s still fails, %s stays spooled: %w", p.name, path, err))
				break // the connector is still down: try its other files next time
			}
			if err := os.Remove(path); err != nil {
				errs = append(errs, err)
			}
			saved++
			p.log.Info("spooled result saved", "scan_id", resp.ScanID)
		}
	}
	return saved, errors.Join(errs...)
}

// spooledFiles lists the spooled responses in dir, in name order (as
// os.ReadDir returns them): its regular *.json files, hidden ones
// (atomicfile's temporary files among them) left out.
func spooledFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	return names, nil
}
