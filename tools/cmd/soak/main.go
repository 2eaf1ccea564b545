// Command soak runs stoq's run mode over many small files and samples the
// process's resident memory every second, to show that it stays flat: a
// run of a million files must not cost more memory than a run of a
// thousand. `make soak` runs it over 100,000 files with hash and yara (it
// is not part of `make test`: it takes minutes).
//
//	go run ./cmd/soak -stoq ../bin/stoq -files 100000 -workers hash,yara
//
// It writes the files (distinct content of 1 to 8 KiB, every tenth with a
// PE header so yara's rules have something to match), runs
// `stoq run -P filedir -a WORKERS` with the stdout connector, reads every
// response line (each must be there, once per file, with no error), and
// prints one line per second (elapsed, files done, VmRSS, RssAnon,
// RssFile) and a summary. RSS is flat when the peak of RssAnon (the heap;
// RssFile is mapped page cache the kernel reclaims at will) in the last
// third of the run is within 25% (plus 16 MiB) of its peak in the first
// third after a warm-up (the first tenth of the samples, at least one):
// otherwise it exits 1.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	stoq := flag.String("stoq", "bin/stoq", "the stoq binary")
	files := flag.Int("files", 100_000, "files to scan")
	workers := flag.String("workers", "hash,yara", "workers every payload goes through (-a)")
	dir := flag.String("dir", "", "folder for the files (default: a new temporary folder, removed after)")
	flag.Parse()
	if err := run(*stoq, *files, *workers, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// sample is one reading of the process's memory, in KiB.
type sample struct {
	at                time.Duration
	done              int64
	rss, anon, mapped int64
}

func run(stoq string, files int, workers, dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "stoq-soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	in, home := filepath.Join(dir, "in"), filepath.Join(dir, "home")
	fmt.Printf("writing %d files to %s ...\n", files, in)
	if err := writeFiles(in, files); err != nil {
		return err
	}
	// -a takes the comma list as one value, as the cli reads it.
	args := []string{"run", "-P", "filedir", "-a", workers, "--plugin-opts", "filedir:source_dir=" + in}
	cmd := exec.Command(stoq, args...)
	cmd.Env = append(os.Environ(), "STOQ_HOME="+home)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	var done atomic.Int64
	readErr := make(chan error, 1)
	go func() { readErr <- readResponses(stdout, &done) }()

	var samples []sample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Printf("%8s %8s %10s %10s %10s\n", "elapsed", "files", "VmRSS", "RssAnon", "RssFile")
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-exited:
			break loop
		case <-tick.C:
			s, err := readStatus(cmd.Process.Pid)
			if err != nil {
				continue // exiting
			}
			s.at, s.done = time.Since(start), done.Load()
			samples = append(samples, s)
			fmt.Printf("%7.0fs %8d %7d KiB %7d KiB %7d KiB\n", s.at.Seconds(), s.done, s.rss, s.anon, s.mapped)
		}
	}
	elapsed := time.Since(start)
	if err := <-readErr; err != nil {
		return err
	}
	if waitErr != nil {
		return fmt.Errorf("stoq run: %v\n%s", waitErr, tail(stderr.String(), 20))
	}
	if n := done.Load(); n != int64(files) {
		return fmt.Errorf("%d responses for %d files", n, files)
	}
	fmt.Printf("%d files in %.1f s (%.0f files/s)\n", files, elapsed.Seconds(), float64(files)/elapsed.Seconds())
	return judge(samples)
}

// writeFiles writes n files of distinct content, 1 to 8 KiB, into dir.
func writeFiles(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for i := range n {
		size := 1024 + (i*7919)%7168
		for j := range buf[:size] {
			buf[j] = byte(i*31 + j*17 + j>>8)
		}
		copy(buf, fmt.Sprintf("soak file %d\n", i))
		if i%10 == 0 {
			copy(buf, "MZ\x90\x00This program cannot be run in DOS mode")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%07d", i)), buf[:size], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readResponses counts the response lines; a response holding an error
// fails the soak.
func readResponses(r io.Reader, done *atomic.Int64) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var resp struct {
			Errors []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
			return fmt.Errorf("a line is not a response: %v", err)
		}
		if len(resp.Errors) > 0 {
			return fmt.Errorf("a response holds errors: %s", sc.Bytes())
		}
		done.Add(1)
	}
	return sc.Err()
}

// readStatus reads VmRSS, RssAnon and RssFile (KiB) of process pid.
func readStatus(pid int) (sample, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return sample{}, err
	}
	var s sample
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			s.rss = kib
		case "RssAnon":
			s.anon = kib
		case "RssFile":
			s.mapped = kib
		}
	}
	return s, nil
}

// judge prints the summary and fails a run whose heap grew: the peak
// RssAnon of the last third against the first third after the warm-up.
func judge(samples []sample) error {
	if len(samples) < 6 {
		fmt.Println("too short a run to judge flatness (fewer than 6 samples): give more -files")
		return nil
	}
	warm := max(1, len(samples)/10)
	body := samples[warm:]
	third := len(body) / 3
	peak := func(ss []sample) (p int64) {
		for _, s := range ss {
			p = max(p, s.anon)
		}
		return p
	}
	first, last := peak(body[:third]), peak(body[len(body)-third:])
	overall := peak(samples)
	fmt.Printf("RssAnon peak: first third %d KiB, last third %d KiB, whole run %d KiB\n", first, last, overall)
	if last > first+first/4+16<<10 {
		return fmt.Errorf("RSS is not flat: the heap's peak grew from %d KiB to %d KiB", first, last)
	}
	fmt.Println("flat: PASS")
	return nil
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
