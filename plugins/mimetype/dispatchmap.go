package mimetype

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/stoq-go/stoq/core/v3"
)

// Limits on a dispatch_map, so that a mistaken value (a file pasted into
// the option) is refused rather than slowing every dispatch.
const (
	maxRules       = 10_000
	maxPatternSize = 255
)

// rule is one line of a dispatch_map: payloads whose MIME type matches the
// glob go to the plugins.
type rule struct {
	pattern string // lowercased
	plugins []string
}

// dispatchMap is a parsed dispatch_map, rules in the order written.
type dispatchMap []rule

// parseDispatchMap reads option dispatch_map. Each rule is
//
//	GLOB = PLUGIN[, PLUGIN ...]
//
// one per line (a multi-line INI value: continuation lines are indented)
// or several on a line separated by ';' (handy on the command line). ':'
// may stand for '='. Blank lines and lines starting with '#' or ';' are
// skipped. The glob is matched against the whole MIME type, ignoring case:
// '*' matches any run of characters ('/' included), '?' any one character,
// everything else itself. Plugin names are separated by commas or spaces,
// and lowercased.
func parseDispatchMap(value string) (dispatchMap, error) {
	var out dispatchMap
	for lineNo, line := range strings.Split(value, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		for text := range strings.SplitSeq(line, ";") {
			text = strings.TrimSpace(text)
			if text == "" {
				continue
			}
			r, err := parseRule(text)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: %w", lineNo+1, text, err)
			}
			if len(out) == maxRules {
				return nil, fmt.Errorf("more than %d rules", maxRules)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

var errRuleSyntax = errors.New("want GLOB = PLUGIN[, PLUGIN ...]")

func parseRule(text string) (rule, error) {
	sep := strings.IndexAny(text, "=:")
	if sep < 0 {
		return rule{}, errRuleSyntax
	}
	pattern := strings.ToLower(strings.TrimSpace(text[:sep]))
	switch {
	case pattern == "":
		return rule{}, fmt.Errorf("no MIME type glob before %q: %w", text[sep], errRuleSyntax)
	case len(pattern) > maxPatternSize:
		return rule{}, fmt.Errorf("glob longer than %d characters", maxPatternSize)
	case strings.IndexFunc(pattern, unicode.IsSpace) >= 0:
		return rule{}, errors.New("a MIME type glob has no spaces")
	}
	var plugins []string
	for _, name := range strings.FieldsFunc(text[sep+1:], func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		name = strings.ToLower(name)
		if !core.ValidPluginName(name) {
			return rule{}, fmt.Errorf("%q is not a plugin name (lowercase letters, digits, '_' and '-')", name)
		}
		if !slices.Contains(plugins, name) {
			plugins = append(plugins, name)
		}
	}
	if len(plugins) == 0 {
		return rule{}, fmt.Errorf("no plugin after %q: %w", text[sep], errRuleSyntax)
	}
	return rule{pattern: pattern, plugins: plugins}, nil
}

// route returns the plugins that mimetype goes to, in the order of the
// rules and without duplicates, and for each one the glob of the first rule
// that named it.
func (m dispatchMap) route(mimetype string) (plugins []string, patterns map[string]string) {
	mt := strings.ToLower(mimetype)
	for _, r := range m {
		if !globMatch(r.pattern, mt) {
			continue
		}
		for _, p := range r.plugins {
			if patterns == nil {
				patterns = map[string]string{}
			}
			if _, seen := patterns[p]; !seen {
				patterns[p] = r.pattern
				plugins = append(plugins, p)
			}
		}
	}
	return plugins, patterns
}

// globMatch reports whether pattern ('*' any run of bytes, '?' any one
// byte, other bytes themselves) matches all of s. It backtracks only to
// the last '*', so it takes time proportional to len(pattern)*len(s) at
// worst, never exponential.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
