// Command bench measures a stoq binary on the standard benchmark corpus
// (shared/bench/make_corpus.sh) in the scenarios of
// shared/bench/PERFORMANCE-REFERENCE.md, side by side with the floor: the
// same work done by plain tools (sha256sum, yara) in the same run, on the
// same files, so the comparison holds on a shared, noisy machine.
//
//	go run ./tools/cmd/bench -stoq bin/stoq -corpus /path/to/corpus -rules shared/bench/rules
//
// Each scenario runs -runs times; the median wall time, the derived rate and
// the peak RSS of the slowest run are printed as a Markdown table.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type scenario struct {
	name  string
	files int     // files processed, for files/s
	mib   float64 // MiB processed, for MiB/s
	cmd   func(tmp string) *exec.Cmd
	check func(tmp string) error
}

// tmpRoot is where each run's results folder is made ("" is the default).
var tmpRoot string

type result struct {
	wall    time.Duration
	peakRSS int64 // KiB
}

func main() {
	stoq := flag.String("stoq", "bin/stoq", "stoq binary to measure")
	corpus := flag.String("corpus", "", "corpus folder made by shared/bench/make_corpus.sh (required)")
	rules := flag.String("rules", "../shared/bench/rules", "folder of bench.yar and dispatcher.yar")
	runs := flag.Int("runs", 3, "runs per scenario (median reported)")
	only := flag.String("only", "", "run only scenarios whose name contains this")
	workDir := flag.String("work", "", "folder for results files (default: the system temp folder); its file system bounds the filedir scenarios")
	flag.Parse()
	if *corpus == "" {
		fmt.Fprintln(os.Stderr, "bench: -corpus is required (build one with shared/bench/make_corpus.sh DIR --skip-large)")
		os.Exit(2)
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			panic(err)
		}
		return a
	}
	bin, dir, rulesDir := abs(*stoq), abs(*corpus), abs(*rules)
	tmpRoot = *workDir
	var scenarios []scenario
	add := func(s scenario) {
		if *only == "" || strings.Contains(s.name, *only) {
			scenarios = append(scenarios, s)
		}
	}
	countFiles := func(sub string) (int, float64) {
		n, size := 0, int64(0)
		filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					n++
					size += info.Size()
				}
			}
			return nil
		})
		return n, float64(size) / (1 << 20)
	}
	runStoq := func(sub string, args ...string) func(tmp string) *exec.Cmd {
		return func(tmp string) *exec.Cmd {
			full := append([]string{"run", "-P", "filedir", "-C", "filedir"}, args...)
			full = append(full, "--plugin-opts", "filedir:source_dir="+filepath.Join(dir, sub), "filedir:results_dir="+filepath.Join(tmp, "results"))
			return exec.Command(bin, full...)
		}
	}
	resultsCount := func(want int) func(tmp string) error {
		return func(tmp string) error {
			n := 0
			filepath.WalkDir(filepath.Join(tmp, "results"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					n++
				}
				return nil
			})
			if n != want {
				return fmt.Errorf("%d result files, want %d", n, want)
			}
			return nil
		}
	}
	smallN, smallMiB := countFiles("small")
	mediumN, mediumMiB := countFiles("medium")
	peN, peMiB := countFiles("pe")
	exifN, exifMiB := countFiles("small50")
	yaraOpts := func(extra ...string) []string {
		return append([]string{"--plugin-opts", "yara:worker_rules=" + filepath.Join(rulesDir, "bench.yar"), "yara:dispatch_rules=" + filepath.Join(rulesDir, "dispatcher.yar")}, extra...)
	}
	first := filepath.Join(dir, "small", "s00000.bin")

	add(scenario{name: "stoq scan 4 KiB file, hash", files: 1, cmd: func(string) *exec.Cmd {
		return exec.Command(bin, "scan", first, "-s", "hash")
	}})
	add(scenario{name: "stoq scan 4 KiB file, hash + yara", files: 1, cmd: func(string) *exec.Cmd {
		return exec.Command(bin, append([]string{"scan", first, "-s", "hash", "yara"}, yaraOpts()...)...)
	}})
	add(scenario{name: "run small/, hash", files: smallN, mib: smallMiB, cmd: runStoq("small", "-a", "hash"), check: resultsCount(smallN)})
	add(scenario{name: "run small/, hash + yara", files: smallN, mib: smallMiB, cmd: func(tmp string) *exec.Cmd {
		c := runStoq("small", "-a", "hash", "yara")(tmp)
		c.Args = append(c.Args, yaraOpts()[1:]...)
		return c
	}, check: resultsCount(smallN)})
	add(scenario{name: "run small/, hash, stdout connector (to /dev/null)", files: smallN, mib: smallMiB, cmd: func(string) *exec.Cmd {
		return exec.Command(bin, "run", "-P", "filedir", "-a", "hash", "--plugin-opts", "filedir:source_dir="+filepath.Join(dir, "small"))
	}})
	add(scenario{name: "run medium/, hash", files: mediumN, mib: mediumMiB, cmd: runStoq("medium", "-a", "hash"), check: resultsCount(mediumN)})
	add(scenario{name: "run pe/, yara dispatcher -> pecarve, always hash", files: peN, mib: peMiB, cmd: func(tmp string) *exec.Cmd {
		c := runStoq("pe", "-R", "yara", "-a", "hash")(tmp)
		c.Args = append(c.Args, yaraOpts()[1:]...)
		return c
	}, check: resultsCount(peN)})
	add(scenario{name: "run small50/, exif", files: exifN, mib: exifMiB, cmd: runStoq("small50", "-a", "exif"), check: resultsCount(exifN)})
	if _, err := os.Stat(filepath.Join(dir, "large", "big.bin")); err == nil {
		add(scenario{name: "stoq scan 1 GiB file, hash", files: 1, mib: 1024, cmd: func(string) *exec.Cmd {
			c := exec.Command(bin, "scan", filepath.Join(dir, "large", "big.bin"), "-s", "hash")
			c.Stdout = nil
			return c
		}})
	}
	// The floor: the same work with no framework.
	add(scenario{name: "floor: sha256sum over small/", files: smallN, mib: smallMiB, cmd: func(string) *exec.Cmd {
		return exec.Command("sh", "-c", "find "+filepath.Join(dir, "small")+" -type f -print0 | xargs -0 sha256sum > /dev/null")
	}})
	add(scenario{name: "floor: yara -p 2 bench.yar small/", files: smallN, mib: smallMiB, cmd: func(string) *exec.Cmd {
		return exec.Command("yara", "-p", "2", "-r", filepath.Join(rulesDir, "bench.yar"), filepath.Join(dir, "small"))
	}})
	add(scenario{name: "floor: yara -p 2 dispatcher.yar pe/", files: peN, mib: peMiB, cmd: func(string) *exec.Cmd {
		return exec.Command("yara", "-p", "2", "-r", filepath.Join(rulesDir, "dispatcher.yar"), filepath.Join(dir, "pe"))
	}})
	add(scenario{name: "floor: exiftool -j -n, one process per file, small50/", files: exifN, mib: exifMiB, cmd: func(string) *exec.Cmd {
		return exec.Command("sh", "-c", "for f in "+filepath.Join(dir, "small50")+"/*; do exiftool -j -n \"$f\" > /dev/null; done; true")
	}})

	fmt.Printf("| scenario | wall (median of %d) | rate | peak RSS |\n|---|---|---|---|\n", *runs)
	for _, s := range scenarios {
		res, err := measure(s, *runs)
		if err != nil {
			fmt.Printf("| %s | failed: %v | | |\n", s.name, err)
			continue
		}
		fmt.Printf("| %s | %.3f s | %s | %d MiB |\n", s.name, res.wall.Seconds(), rate(s, res.wall), res.peakRSS/1024)
	}
}

func rate(s scenario, wall time.Duration) string {
	var parts []string
	if s.files > 1 {
		parts = append(parts, fmt.Sprintf("%.0f files/s", float64(s.files)/wall.Seconds()))
	}
	if s.mib > 0 {
		parts = append(parts, fmt.Sprintf("%.1f MiB/s", s.mib/wall.Seconds()))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func measure(s scenario, runs int) (result, error) {
	var walls []time.Duration
	var peak int64
	for i := 0; i < runs; i++ {
		tmp, err := os.MkdirTemp(tmpRoot, "stoq-bench-")
		if err != nil {
			return result{}, err
		}
		cmd := s.cmd(tmp)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Env = append(os.Environ(), "STOQ_HOME="+filepath.Join(tmp, "home"))
		start := time.Now()
		err = cmd.Run()
		wall := time.Since(start)
		if err == nil && s.check != nil {
			err = s.check(tmp)
		}
		os.RemoveAll(tmp)
		if err != nil {
			return result{}, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
		}
		walls = append(walls, wall)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > peak {
			peak = ru.Maxrss
		}
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	return result{wall: walls[len(walls)/2], peakRSS: peak}, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
