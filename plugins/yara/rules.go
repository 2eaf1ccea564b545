package yara

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	libyara "github.com/hillu/go-yara/v4"
)

// shippedRules holds the plugin's default rule files, so that the default
// (relative) options work in a binary that has no installed plugin folder.
//
//go:embed rules/stoq.yar rules/dispatcher.yar
var shippedRules embed.FS

// errClosed is returned by scans after Close.
var errClosed = errors.New("yara: plugin is closed")

// errScanTimeout is libyara's ERROR_SCAN_TIMEOUT (yara/error.h), which
// go-yara does not export by name.
const errScanTimeout = libyara.Error(26)

// ruleset is one compiled rules file and the scanners that use it.
//
// Compiled rules are safe for concurrent use; a libyara scanner is not (two
// goroutines sharing one corrupt its match lists: a double free). Each scan
// therefore takes an idle scanner of its own from a free list, or makes one,
// and gives it back afterwards; the free list keeps at most a few per CPU.
type ruleset struct {
	option string // the option that named the rules, for messages
	source string // the file they were compiled from
	rules  *libyara.Rules

	// perCallScanner selects libyara's yr_rules_scan_mem, which creates and
	// destroys a scanner on every call, instead of the free list. Only the
	// benchmarks set it: BenchmarkScanStrategy compares the two.
	perCallScanner bool

	mu     sync.RWMutex // scans hold it shared, close exclusively
	closed bool
	idle   chan *libyara.Scanner
}

// loadRules compiles the rules that option names. A relative path is
// resolved by cfg.Path (against the plugin's folder when it has one); when
// that file does not exist and the path names a rule file shipped with the
// plugin (rules/stoq.yar, rules/dispatcher.yar), the copy embedded in the
// binary is compiled instead. An empty option means no rules (nil, nil).
func loadRules(option, raw, resolved string, log *slog.Logger) (*ruleset, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	f, err := os.Open(resolved)
	if err == nil {
		defer f.Close()
		if info, err := f.Stat(); err == nil && info.IsDir() {
			return nil, fmt.Errorf("yara: option %s: %s is a directory, not a rules file", option, resolved)
		}
		rules, err := compile(option, resolved, func(c *libyara.Compiler) error { return c.AddFile(f, "") }, log)
		if err != nil {
			return nil, err
		}
		return newRuleset(option, resolved, rules), nil
	}
	if errors.Is(err, fs.ErrNotExist) && !filepath.IsAbs(raw) {
		name := path.Clean(filepath.ToSlash(raw))
		if text, embErr := shippedRules.ReadFile(name); embErr == nil {
			source := "embedded " + name
			log.Debug("rules file not found, using the copy built into the binary", "option", option, "path", resolved, "embedded", name)
			rules, err := compile(option, source, func(c *libyara.Compiler) error { return c.AddString(string(text), "") }, log)
			if err != nil {
				return nil, err
			}
			return newRuleset(option, source, rules), nil
		}
	}
	return nil, fmt.Errorf("yara: option %s: rules file %s: %w", option, resolved, err)
}

// compile runs add on a new compiler and returns the rules. Errors name the
// file and line of every compiler error; warnings are logged likewise.
func compile(option, source string, add func(*libyara.Compiler) error, log *slog.Logger) (*libyara.Rules, error) {
	c, err := libyara.NewCompiler()
	if err != nil {
		return nil, fmt.Errorf("yara: option %s: creating a compiler: %w", option, err)
	}
	defer c.Destroy()
	addErr := add(c)
	for _, w := range c.Warnings {
		log.Warn("yara rules warning", "option", option, "at", position(w, source), "warning", w.Text)
	}
	if addErr != nil || len(c.Errors) > 0 {
		return nil, &CompileError{Option: option, Source: source, Messages: c.Errors, Err: addErr}
	}
	rules, err := c.GetRules()
	if err != nil {
		return nil, fmt.Errorf("yara: option %s: %s: %w", option, source, err)
	}
	return rules, nil
}

// CompileError is the constructor's error for rules that do not compile. Its
// message names the option and, for each compiler error, the file and line.
type CompileError struct {
	Option   string
	Source   string
	Messages []libyara.CompilerMessage
	Err      error
}

func (e *CompileError) Error() string {
	var parts []string
	for _, m := range e.Messages {
		parts = append(parts, position(m, e.Source)+": "+m.Text)
	}
	if len(parts) == 0 && e.Err != nil {
		parts = append(parts, e.Source+": "+e.Err.Error())
	}
	return fmt.Sprintf("yara: option %s: rules do not compile: %s", e.Option, strings.Join(parts, "; "))
}

func (e *CompileError) Unwrap() error { return e.Err }

// position is "file:line" of a compiler message; rules compiled from text
// carry no file name, so source stands in for it.
func position(m libyara.CompilerMessage, source string) string {
	file := m.Filename
	if file == "" {
		file = source
	}
	if m.Line > 0 {
		return fmt.Sprintf("%s:%d", file, m.Line)
	}
	return file
}

func newRuleset(option, source string, rules *libyara.Rules) *ruleset {
	return &ruleset{
		option: option,
		source: source,
		rules:  rules,
		idle:   make(chan *libyara.Scanner, 2*runtime.GOMAXPROCS(0)),
	}
}

// scan matches data against the rules. limit caps the strings reported per
// rule (negative: no cap); timeout is libyara's, in whole seconds.
func (rs *ruleset) scan(ctx context.Context, data []byte, limit int, timeout time.Duration) ([]Match, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	if rs.closed {
		return nil, errClosed
	}
	c := &collector{limit: limit, matches: []Match{}}
	var err error
	if rs.perCallScanner {
		err = rs.rules.ScanMem(data, 0, timeout, c)
	} else {
		err = rs.scanPooled(data, timeout, c)
	}
	if err != nil {
		var yerr libyara.Error
		if errors.As(err, &yerr) && yerr == errScanTimeout {
			return nil, fmt.Errorf("yara: %s scan timed out after %s", rs.option, timeout)
		}
		return nil, fmt.Errorf("yara: %s scan: %w", rs.option, err)
	}
	return c.matches, nil
}

func (rs *ruleset) scanPooled(data []byte, timeout time.Duration, c *collector) error {
	var s *libyara.Scanner
	select {
	case s = <-rs.idle:
	default:
		var err error
		if s, err = libyara.NewScanner(rs.rules); err != nil {
			return fmt.Errorf("creating a scanner: %w", err)
		}
	}
	s.SetCallback(c).SetTimeout(timeout)
	err := s.ScanMem(data)
	s.SetCallback(nil)
	select {
	case rs.idle <- s:
	default:
		s.Destroy()
	}
	return err
}

// close waits for the scans in progress (libyara's timeout bounds them),
// then frees the scanners and the rules.
func (rs *ruleset) close() {
	if rs == nil {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed {
		return
	}
	rs.closed = true
	for len(rs.idle) > 0 { // no scan is running: nothing else takes or returns scanners
		(<-rs.idle).Destroy()
	}
	rs.rules.Destroy()
}

// collector is the scan callback: it turns each matching rule into a Match
// while libyara still holds the match data.
type collector struct {
	limit   int
	matches []Match
}

// RuleMatching implements libyara.ScanCallback.
func (c *collector) RuleMatching(sc *libyara.ScanContext, r *libyara.Rule) (bool, error) {
	m := Match{
		Tags:      r.Tags(),
		Namespace: r.Namespace(),
		Rule:      r.Identifier(),
		Meta:      map[string]any{},
		Strings:   []StringMatch{},
	}
	if m.Tags == nil {
		m.Tags = []string{}
	}
	for _, meta := range r.Metas() {
		// a repeated meta key keeps its last value, as yara-python's dict
		m.Meta[meta.Identifier] = meta.Value
	}
collect:
	for _, s := range r.Strings() {
		hits := s.Matches(sc)
		room := len(hits)
		if c.limit >= 0 {
			room = max(0, min(room, c.limit-len(m.Strings)))
		}
		// Grown once per string: a string can have a million matches
		// (libyara's cap), and doubling the slice would copy them over and
		// over.
		m.Strings = slices.Grow(m.Strings, room)
		identifier := s.Identifier()
		for _, hit := range hits {
			if c.limit >= 0 && len(m.Strings) >= c.limit {
				break collect
			}
			m.Strings = append(m.Strings, StringMatch{
				Offset:     uint64(hit.Base() + hit.Offset()),
				Identifier: identifier,
				Data:       hit.Data(),
			})
		}
	}
	c.matches = append(c.matches, m)
	return false, nil
}

var _ libyara.ScanCallback = (*collector)(nil)
