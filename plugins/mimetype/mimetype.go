// Package mimetype is stoq's mimetype plugin, a Worker and a Dispatcher in
// one. The worker reports a payload's MIME type as libmagic (the library
// behind `file`) determines it, in stoQ's shape:
//
//	{"mimetype": "application/vnd.microsoft.portable-executable"}
//
// and the dispatcher routes payloads to plugins by that MIME type, with a
// table (option dispatch_map) instead of yara rules:
//
//	dispatch_map =
//	    application/zip = decompress
//	    application/vnd.microsoft.portable-executable = peinfo, pecarve
//	    message/rfc822 = smtp
//
// # Same answers as `file`
//
// The answer is the one `file --mime-type -b` gives for a file holding the
// payload's bytes, not the one of libmagic's magic_buffer, which differs
// for PIE executables and for formats recognised by the end of the file:
// see package internal/magic for why, and for how the bytes reach
// libmagic (an in-memory file and magic_descriptor). libmagic examines the
// first read_bytes bytes (7 MiB by default, as `file`), and the last
// read_bytes bytes for rules anchored at the end of a file. An empty
// payload is inode/x-empty, as `file` says of an empty file.
//
// # Options
//
//   - read_bytes (7340032): bytes libmagic examines, a positive integer.
//   - magic_file (empty): magic database(s) to load instead of libmagic's
//     default, colon-separated; relative paths are resolved against the
//     plugin's folder.
//   - dispatch_map (a table for decompress, peinfo, pecarve, smtp and ole):
//     the dispatcher's rules, GLOB = PLUGIN[, PLUGIN ...], one per line or
//     separated by ';'. See parseDispatchMap for the syntax.
//
// # Dispatching
//
// A payload goes to the plugins of every rule whose glob matches its MIME
// type, in table order, each once. The dispatch meta
// (payload.DispatchMeta["mimetype"]) is
//
//	{"mimetype": "application/zip", "patterns": {"decompress": "application/zip"}}
//
// with the glob that sent the payload to each plugin; workers that need the
// MIME type (decompress choosing an archive format) can read it there. The
// dispatcher is a core.ContentDispatcher: its answer depends on the content
// alone, so the engine asks it once per payload.
//
// # Concurrency and cost
//
// libmagic is not thread-safe: each call borrows a magic cookie of its own
// from a pool of at most GOMAXPROCS cookies, made as needed, and waits (as
// long as its context allows) when all are busy. When the dispatcher and
// the worker both run on a payload, the worker reuses the dispatcher's
// answer, which the engine keeps in payload.DispatchMeta before the
// round's workers run, so libmagic examines each payload once.
package mimetype

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/plugins/mimetype/v3/internal/magic"
)

//go:embed mimetype.stoq
var manifest []byte

func init() { core.Register("mimetype", manifest, New) }

// defaultReadBytes is the default of option read_bytes: `file`'s 7 MiB.
const defaultReadBytes = magic.DefaultLimit

// Plugin is the mimetype worker and dispatcher.
type Plugin struct {
	name   string // the name the engine files the dispatch meta under
	pool   *magic.Pool
	routes dispatchMap
}

// New reads the options, parses dispatch_map and loads the magic database
// once, so that a missing database is a constructor error.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	readBytes, err := cfg.Int("read_bytes", defaultReadBytes)
	if err != nil {
		return nil, err
	}
	if readBytes <= 0 {
		return nil, cfg.OptionError("read_bytes", "want a number of bytes, 1 or more (file reads 7340032)")
	}
	routes, err := parseDispatchMap(cfg.String("dispatch_map", ""))
	if err != nil {
		return nil, cfg.OptionError("dispatch_map", err.Error())
	}
	if err := checkStrayRules(cfg); err != nil {
		return nil, err
	}
	dbPath := magicFilePath(cfg)
	pool, err := magic.NewPool(dbPath, readBytes, runtime.GOMAXPROCS(0))
	if err != nil {
		if dbPath != "" {
			return nil, cfg.OptionError("magic_file", err.Error())
		}
		return nil, fmt.Errorf("mimetype: %w (is Debian's libmagic-mgc installed?)", err)
	}
	log.Debug("mimetype configured", "read_bytes", readBytes, "magic_file", dbPath,
		"dispatch_rules", len(routes), "libmagic", magic.Version())
	return &Plugin{name: cfg.Name(), pool: pool, routes: routes}, nil
}

// magicFilePath resolves option magic_file: each colon-separated path
// relative to the plugin's folder (core.Config.Resolve).
func magicFilePath(cfg *core.Config) string {
	var paths []string
	for p := range strings.SplitSeq(cfg.String("magic_file", ""), ":") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, cfg.Resolve(p))
		}
	}
	return strings.Join(paths, ":")
}

// checkStrayRules catches a dispatch_map cut short: a rule that is not
// indented ends the multi-line value, and it and the rules after it are
// read as options of their own ("application/zip" = "decompress"). No
// option of this plugin has a '/' in its name, so such a key can only be a
// lost rule.
func checkStrayRules(cfg *core.Config) error {
	for _, key := range cfg.Keys() {
		if strings.Contains(key, "/") || strings.Contains(key, "*") {
			return cfg.OptionError(key, "this looks like a dispatch_map rule that became an option of its own: "+
				"a line that is not indented inside dispatch_map ends it; indent the rules")
		}
	}
	return nil
}

// Results is the worker's result: stoQ's {"mimetype": "..."}.
type Results = map[string]string

// Scan reports the payload's MIME type. When the dispatcher has already
// answered for this payload, its answer (in the dispatch meta the engine
// keeps) is reused rather than asked again.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	mt, ok := payload.DispatchMeta[p.name]["mimetype"].(string)
	if !ok {
		var err error
		if mt, err = p.identify(ctx, payload.Content); err != nil {
			return nil, err
		}
	}
	return &core.WorkerResponse{Results: Results{"mimetype": mt}}, nil
}

// GetDispatches sends the payload to the plugins that dispatch_map names
// for its MIME type; the meta names the MIME type and the glob that chose
// each plugin.
func (p *Plugin) GetDispatches(ctx context.Context, payload *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
	mt, err := p.identify(ctx, payload.Content)
	if err != nil {
		return nil, err
	}
	plugins, patterns := p.routes.route(mt)
	meta := map[string]any{"mimetype": mt}
	if patterns == nil {
		patterns = map[string]string{}
	}
	meta["patterns"] = patterns
	return &core.DispatcherResponse{PluginNames: slices.Clip(plugins), Meta: meta}, nil
}

func (p *Plugin) identify(ctx context.Context, content []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	mt, err := p.pool.Identify(ctx, content)
	if err != nil {
		return "", fmt.Errorf("mimetype: %d bytes: %w", len(content), err)
	}
	return mt, nil
}

// ContentOnly tells the engine that the dispatcher's answer depends on the
// payload's content alone, so it asks once per payload.
func (p *Plugin) ContentOnly() {}

// Close waits for calls in progress and frees the magic cookies.
func (p *Plugin) Close() error {
	p.pool.Close()
	return nil
}

var (
	_ core.Worker            = (*Plugin)(nil)
	_ core.Dispatcher        = (*Plugin)(nil)
	_ core.ContentDispatcher = (*Plugin)(nil)
	_ core.Closer            = (*Plugin)(nil)
)
