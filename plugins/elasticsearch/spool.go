package elasticsearch

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3/atomicfile"
)

// spool is the folder where documents that could not be delivered wait:
// one JSON file per document in dir, re-sent later, and in dir/rejected the
// documents Elasticsearch refused for good, kept for a person to look at.
//
// A file is written by atomicfile.WriteFile to a hidden temporary name
// (".NAME.tmp-RANDOM"), synced and renamed, so a file with a final name is
// always complete. Its name is the hex SHA-1 of index and id: spooling the
// same document twice leaves one file. Several processes may share a spool
// folder: at worst two re-send the same file, which the ids make harmless.
type spool struct {
	dir         string
	rejectedDir string
}

// spoolRecord is the content of a spool file.
type spoolRecord struct {
	Index     string          `json:"index"`
	ID        string          `json:"id"`
	SpooledAt string          `json:"spooled_at"`
	Error     string          `json:"error"`
	Document  json.RawMessage `json:"document"`
}

const (
	spoolExt       = ".json"
	tempPrefix     = ".tmp-"
	rejectedFolder = "rejected"
	// staleTemp is the age after which a temporary file, left by a process
	// that died while writing it, is removed.
	staleTemp = time.Hour
)

// openSpool creates the spool folders if needed, checks that they can be
// written, and removes stale temporary files.
func openSpool(dir string) (*spool, error) {
	s := &spool{dir: dir, rejectedDir: filepath.Join(dir, rejectedFolder)}
	for _, d := range []string{s.dir, s.rejectedDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(d, tempPrefix+"check-*")
		if err != nil {
			return nil, fmt.Errorf("%s is not writable: %w", d, err)
		}
		name := f.Name()
		f.Close()
		os.Remove(name)
		if _, err := atomicfile.RemoveStale(d, staleTemp); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// fileName is the spool file name of a document.
func fileName(index, id string) string {
	sum := sha1.Sum([]byte(index + "\x00" + id))
	return hex.EncodeToString(sum[:]) + spoolExt
}

// put spools a document to be re-sent, with why it could not be delivered.
func (s *spool) put(d *document, reason string) (string, error) {
	return s.write(s.dir, d, reason)
}

// reject keeps a document Elasticsearch refused for good, with the error,
// and removes the spool file it was re-sent from.
func (s *spool) reject(d *document, reason string) (string, error) {
	path, err := s.write(s.rejectedDir, d, reason)
	if err != nil {
		return "", err
	}
	if d.spoolFile != "" {
		s.remove(d.spoolFile)
	}
	return path, nil
}

func (s *spool) write(dir string, d *document, reason string) (string, error) {
	data, err := encodeSpoolRecord(d, reason, time.Now())
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fileName(d.index, d.id))
	// Durably, replacing it: through a synced temporary file renamed into
	// place and a synced folder.
	if _, err := atomicfile.WriteFile(path, data, atomicfile.Options{Perm: 0o600, Durable: true}); err != nil {
		return "", err
	}
	return path, nil
}

func encodeSpoolRecord(d *document, reason string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(spoolRecord{
		Index:     d.index,
		ID:        d.id,
		SpooledAt: now.UTC().Format(time.RFC3339Nano),
		Error:     reason,
		Document:  d.body,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding spool file of %s: %w", d.id, err)
	}
	return b.Bytes(), nil
}

// decodeSpoolRecord reads a spool file back into a document, checking that
// it holds what Save would have sent.
func decodeSpoolRecord(data []byte) (*document, error) {
	var r spoolRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a spool file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a spool file: data after the record")
	}
	switch {
	case r.Index == "" || checkIndexName(r.Index, false, false) != nil:
		return nil, fmt.Errorf("spool file names no valid index (%q)", r.Index)
	case r.ID == "" || len(r.ID) > maxIDBytes:
		return nil, fmt.Errorf("spool file has no valid document id (%d bytes)", len(r.ID))
	}
	body := bytes.TrimSpace(r.Document)
	if len(body) == 0 || body[0] != '{' {
		return nil, errors.New("spool file holds no JSON object document")
	}
	return &document{index: r.Index, id: r.ID, body: body}, nil
}

// list returns the paths of the spooled documents, oldest name first.
func (s *spool) list() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), spoolExt) && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(s.dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// read loads one spooled document.
func (s *spool) read(path string) (*document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := decodeSpoolRecord(data)
	if err != nil {
		return nil, err
	}
	d.spoolFile = path
	return d, nil
}

// quarantine moves a spool file that cannot be read to the rejected folder,
// so that it is kept but not re-read at every round.
func (s *spool) quarantine(path string) error {
	return os.Rename(path, filepath.Join(s.rejectedDir, filepath.Base(path)+".unreadable"))
}

// remove deletes a spool file once its document is delivered; another
// process may have done it first.
// A file that cannot be removed is re-sent by the next round, which its
// document id makes harmless.
func (s *spool) remove(path string) { _ = os.Remove(path) }

// counts returns how many documents wait and how many were rejected.
func (s *spool) counts() (waiting, rejected int) {
	if l, err := s.list(); err == nil {
		waiting = len(l)
	}
	if entries, err := os.ReadDir(s.rejectedDir); err == nil {
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				rejected++
			}
		}
	}
	return waiting, rejected
}
