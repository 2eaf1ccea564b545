// Package yara is stoq's yara plugin, a Worker and a Dispatcher in one, as
// stoQ's: the worker reports the rules of worker_rules that a payload
// matches, and the dispatcher sends a payload to the worker plugins that the
// meta "plugin" of its matching dispatch_rules names.
//
// It links libyara through github.com/hillu/go-yara/v4 (cgo; Debian's
// libyara-dev 4.2 is required, go-yara is pinned to v4.2.4, the last release
// that builds against it).
//
// # Results
//
// The worker returns {"matches": [match, …]} and the dispatcher puts one
// match per worker it dispatches to in its dispatch meta
// ({"pecarve": match}), both in stoQ's shape:
//
//	{"tags": [], "namespace": "default", "rule": "…", "meta": {…},
//	 "strings": [[offset, "$identifier", "data"], …]}
//
// Meta values keep their yara types (string, integer, boolean). Matched data
// is text written by EscapeData: printable UTF-8 as it is, a backslash as
// `\\`, other bytes as `\xNN`; UnescapeData restores the exact bytes.
//
// # Rules
//
// Rules compile once, when the plugin is constructed; a missing file or a
// rule that does not compile is a constructor error that names the option,
// the file and the line. Relative paths are resolved against the plugin's
// folder (the working directory when there is none, as core.Config.Path
// does); when the file is not there and the path names one of the rule
// files shipped with the plugin (rules/stoq.yar, rules/dispatcher.yar), the
// copy embedded in the binary is used, so the defaults work in a binary
// built without an installed plugin folder.
//
// # Dispatching
//
// As stoQ's dispatcher, for each matching rule: meta plugin = "a, b" names
// the workers (case-insensitive, comma-separated); the match is that
// worker's entry in the dispatch meta (a later rule naming the same worker
// replaces it); meta save = "False" (any case, or the boolean false) sets the
// payload's should_archive to false; a rule with meta
// xor_plaintext_for_string_NAME = "known text" gets the XOR key of its
// string $NAME added to its meta (see xor_first_match). stoQ derived XOR keys
// only for rules dispatching to its xordecode plugin; stoq derives them for
// every dispatch rule carrying that meta.
//
// save = "False" is returned as DispatcherResponse.ShouldArchive, which the
// engine applies once every dispatcher of the round has returned (stoQ's
// dispatcher wrote the payload's meta itself; here dispatchers run
// concurrently, so they must not).
//
// # Options
//
//   - worker_rules (rules/stoq.yar): rules of the worker; empty: no worker
//     rules (Scan fails).
//   - dispatch_rules (rules/dispatcher.yar): rules of the dispatcher; empty:
//     nothing is dispatched.
//   - strings_limit (empty: no limit, as stoQ): at most this many strings are
//     reported per matching rule; 0 reports none.
//   - timeout (60): the engine's deadline for each call of the plugin, as
//     for every plugin. libyara's scan timeout is the time left before the
//     call's deadline, rounded up to a whole second (libyara counts seconds);
//     60 s for a call without a deadline.
//   - xor_first_match (true): report the first XOR key found as meta xorkey
//     (true) or every one as meta xor_info (false).
//
// # Concurrency
//
// Scans run concurrently: the compiled rules are shared, and each scan uses
// a libyara scanner of its own, taken from a small free list.
package yara

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed yara.stoq
var manifest []byte

func init() { core.Register("yara", manifest, New) }

// The defaults of the options, as in yara.stoq.
const (
	defaultWorkerRules   = "rules/stoq.yar"
	defaultDispatchRules = "rules/dispatcher.yar"
	defaultTimeout       = 60 * time.Second
)

// Plugin is the yara worker and dispatcher.
type Plugin struct {
	worker        *ruleset // nil without worker_rules
	dispatch      *ruleset // nil without dispatch_rules
	stringsLimit  int      // negative: no limit
	xorFirstMatch bool
	log           *slog.Logger
}

// New reads the options and compiles the rules.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{stringsLimit: -1, log: log}
	var err error
	if strings.TrimSpace(cfg.String("strings_limit", "")) != "" {
		if p.stringsLimit, err = cfg.Int("strings_limit", -1); err != nil {
			return nil, err
		}
		if p.stringsLimit < 0 {
			return nil, cfg.OptionError("strings_limit", "want a number of strings, 0 or more (empty: no limit)")
		}
	}
	if p.xorFirstMatch, err = cfg.Bool("xor_first_match", true); err != nil {
		return nil, err
	}
	if p.worker, err = loadRules("worker_rules", cfg.String("worker_rules", defaultWorkerRules), cfg.Path("worker_rules", defaultWorkerRules), log); err != nil {
		return nil, err
	}
	if p.dispatch, err = loadRules("dispatch_rules", cfg.String("dispatch_rules", defaultDispatchRules), cfg.Path("dispatch_rules", defaultDispatchRules), log); err != nil {
		p.worker.close()
		return nil, err
	}
	log.Debug("yara configured", "worker_rules", p.worker.describe(), "dispatch_rules", p.dispatch.describe(),
		"strings_limit", p.stringsLimit, "xor_first_match", p.xorFirstMatch)
	return p, nil
}

func (rs *ruleset) describe() string {
	if rs == nil {
		return "(none)"
	}
	return rs.source
}

// Scan reports the worker rules that the payload matches.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	if p.worker == nil {
		return nil, errors.New("yara: no worker_rules configured")
	}
	matches, err := p.worker.scan(ctx, payload.Content, p.stringsLimit, p.scanTimeout(ctx))
	if err != nil {
		return nil, err
	}
	return &core.WorkerResponse{Results: Results{Matches: matches}}, nil
}

// GetDispatches names the workers that the meta "plugin" of matching
// dispatch rules asks for; each one's dispatch meta is the match.
func (p *Plugin) GetDispatches(ctx context.Context, payload *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
	resp := &core.DispatcherResponse{Meta: map[string]any{}}
	if p.dispatch == nil {
		return resp, nil
	}
	matches, err := p.dispatch.scan(ctx, payload.Content, p.stringsLimit, p.scanTimeout(ctx))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range matches {
		m := &matches[i]
		if saveFalse(m.Meta["save"]) {
			dontArchive := false
			resp.ShouldArchive = &dontArchive
		}
		names, err := pluginNames(m)
		if err != nil {
			resp.Errors = append(resp.Errors, core.Errorf("%v", err))
			continue
		}
		extractXORKeys(m, p.xorFirstMatch)
		for _, name := range names {
			if !seen[name] {
				seen[name] = true
				resp.PluginNames = append(resp.PluginNames, name)
			}
			resp.Meta[name] = *m
		}
	}
	return resp, nil
}

// saveFalse reports whether meta save asks not to archive the payload:
// the text "false" in any case (stoQ's test) or the boolean false.
func saveFalse(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.EqualFold(strings.TrimSpace(v), "false")
	case bool:
		return !v
	}
	return false
}

// pluginNames splits meta plugin: comma-separated, trimmed, lowercased,
// without duplicates, in order.
func pluginNames(m *Match) ([]string, error) {
	v, ok := m.Meta["plugin"]
	if !ok {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("yara: dispatch rule %s: meta plugin must be a string of plugin names, not %v", m.Rule, v)
	}
	var names []string
	for _, n := range strings.Split(strings.ToLower(s), ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// scanTimeout is libyara's timeout for a scan: the time left before ctx's
// deadline (the engine's timeout option; defaultTimeout without one), in
// whole seconds (libyara counts seconds, and 0 would mean none), at least
// one.
func (p *Plugin) scanTimeout(ctx context.Context) time.Duration {
	t := defaultTimeout
	if deadline, ok := ctx.Deadline(); ok {
		t = time.Until(deadline)
	}
	secs := (t + time.Second - 1) / time.Second
	if secs < 1 {
		secs = 1
	}
	return secs * time.Second
}

// ContentOnly tells the engine that the dispatcher's answer depends on the
// payload's content alone (the rules see nothing else), so it asks once per
// payload instead of in every round of a scan.
func (p *Plugin) ContentOnly() {}

// Close waits for scans in progress and frees the compiled rules.
func (p *Plugin) Close() error {
	p.worker.close()
	p.dispatch.close()
	return nil
}

var (
	_ core.Worker            = (*Plugin)(nil)
	_ core.Dispatcher        = (*Plugin)(nil)
	_ core.ContentDispatcher = (*Plugin)(nil)
	_ core.Closer            = (*Plugin)(nil)
)
