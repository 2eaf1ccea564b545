package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The 7z fallback, for the formats no Go library on the module proxy reads:
// CAB (the Go CAB parsers are not published there), ar (Debian packages),
// cpio, RPM, ISO 9660, ARJ and LZH, which stoQ also reached through 7z. As stoQ did, the
// archive is written to a private temporary file (mode 0600, removed when
// done) for the 7z program; unlike stoQ, members are never written
// anywhere: each one is streamed from `7z e -so` through the same limited
// reader as the native formats, and the process is killed as soon as a
// limit is reached or the call's deadline passes.

// externalEntry is one entry of `7z l -slt`.
type externalEntry struct {
	path      string
	size      int64
	packed    int64
	modified  time.Time
	dir       bool // or anything else that is not a regular file
	encrypted bool
}

func (x *extractor) external(data []byte) {
	format := x.res.Format
	if x.opts.SevenZip == "" {
		x.problem("%s: no Go library reads this format and the 7z fallback is not available (install Debian's p7zip-full or set fallback_7z)", format)
		return
	}
	tmp, cleanup, err := writeTemp(data)
	if err != nil {
		x.problem("%s: %v", format, err)
		return
	}
	defer cleanup()
	entries, err := x.externalList(tmp)
	if err != nil {
		x.problem("%s: 7z l: %v", format, err)
		return
	}
	for _, e := range entries {
		if e.dir {
			continue
		}
		if !x.admit(e.path) {
			return
		}
		m := Member{Name: e.path, Size: e.size, CompressedSize: e.packed, Modified: e.modified, Encrypted: e.encrypted}
		content, err := x.externalMember(tmp, e)
		x.finish(m, content, err)
		if x.stopped {
			return
		}
	}
}

// writeTemp writes data to a private temporary file for 7z and returns
// its path and the function that removes it.
func writeTemp(data []byte) (string, func(), error) {
	tmp, err := os.CreateTemp("", "stoq-decompress-*")
	if err != nil {
		return "", nil, fmt.Errorf("temporary file for 7z: %w", err)
	}
	cleanup := func() { os.Remove(tmp.Name()) }
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		cleanup()
		return "", nil, fmt.Errorf("temporary file for 7z: %w", err)
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("temporary file for 7z: %w", err)
	}
	return tmp.Name(), cleanup, nil
}

func (x *extractor) sevenZipCommand(args ...string) *exec.Cmd {
	cmd := exec.CommandContext(x.ctx, x.opts.SevenZip, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.WaitDelay = time.Second
	return cmd
}

// externalList runs `7z l -slt` and parses its entries.
func (x *extractor) externalList(archive string) ([]externalEntry, error) {
	var stderr bytes.Buffer
	cmd := x.sevenZipCommand("l", "-slt", "-p", "--", archive)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseSLT(out), nil
}

// parseSLT reads the entries of `7z l -slt` output: blocks of "Key = value"
// lines after the "----------" line that ends the archive's own block.
func parseSLT(out []byte) []externalEntry {
	var entries []externalEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	inEntries := false
	var cur *externalEntry
	for sc.Scan() {
		line := sc.Text()
		if line == "----------" {
			inEntries = true
			continue
		}
		if !inEntries {
			continue
		}
		key, value, ok := strings.Cut(line, " = ")
		if !ok {
			key, ok = strings.CutSuffix(line, " =")
			if !ok {
				continue
			}
		}
		switch key {
		case "Path":
			entries = append(entries, externalEntry{path: value, size: -1, packed: -1})
			cur = &entries[len(entries)-1]
		case "Size":
			if cur != nil {
				cur.size = parseInt(value)
			}
		case "Packed Size":
			if cur != nil {
				cur.packed = parseInt(value)
			}
		case "Modified":
			if cur != nil {
				cur.modified, _ = time.Parse("2006-01-02 15:04:05", field(value, 0)+" "+field(value, 1))
			}
		case "Folder":
			if cur != nil && value == "+" {
				cur.dir = true
			}
		case "Attributes":
			if cur != nil && strings.HasPrefix(value, "D") {
				cur.dir = true
			}
		case "Mode":
			// Unix formats: anything but a regular file is skipped.
			if cur != nil && value != "" && strings.ContainsRune("dlcbps", rune(value[0])) {
				cur.dir = true
			}
		case "Encrypted":
			if cur != nil && value == "+" {
				cur.encrypted = true
			}
		}
	}
	return entries
}

func field(s string, i int) string {
	f := strings.Fields(s)
	if i < len(f) {
		// Drop fractional seconds: 7z prints "2024-01-02 03:04:05.1234567".
		v, _, _ := strings.Cut(f[i], ".")
		return v
	}
	return ""
}

func parseInt(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// externalMember streams one member out of `7z e -so`.
func (x *extractor) externalMember(archive string, e externalEntry) ([]byte, error) {
	var stderr bytes.Buffer
	// -spd: the name is a path, not a wildcard.
	cmd := x.sevenZipCommand("e", "-so", "-spd", "-y", "-p", "--", archive, e.path)
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("7z: %w", err)
	}
	var compressed func() int64
	if e.packed > 0 {
		compressed = func() int64 { return e.packed }
	}
	content, readErr := x.readMember(e.path, stdout, e.size, compressed)
	if readErr != nil {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	if readErr != nil {
		return nil, readErr
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			return nil, fmt.Errorf("7z e: %v: %s", waitErr, strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("7z e: %w", waitErr)
	}
	if e.size >= 0 && int64(len(content)) != e.size {
		return nil, fmt.Errorf("7z extracted %d bytes, its listing says %d", len(content), e.size)
	}
	return content, nil
}
