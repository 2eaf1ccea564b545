// Package iocextract is stoq's IOC extraction worker: it finds the
// indicators of compromise in a payload's text (md5, sha1, sha256 and
// sha512 digests, IPv4 and IPv6 addresses, MAC addresses, e-mail
// addresses, domain names and URLs), plain or defanged ("hxxp://evil[.]com",
// "1.2.3[.]4", "admin[@]example(dot)org"), and returns them normalized, as
// stoQ's iocextract plugin does:
//
//	{"domain": ["evil.com", "example.org"], "email": ["admin@example.org"], "ipv4": ["1.2.3.4"], "url": ["http://evil.com"]}
//
// Only the types found are present; each type's values are distinct and
// sorted. Hashes and domain names are lowercased; domain names found in
// URLs and e-mail addresses are reported as domains too. The rules that
// decide what is an indicator are those of package internal/ioc, listed
// in the README.
//
// # Options
//
//   - iana_tld_file (tlds-alpha-by-domain.txt): the list of top-level
//     domains a domain name must end with, in the format of IANA's file.
//     The list shipped with the plugin is embedded in the binary and used
//     when the file is not found in the plugin's folder; another path must
//     exist. It is never downloaded.
//   - iana_url: stoQ's address to download the list from; accepted for
//     stoq.cfg compatibility and never used (no network at scan time).
//   - whitelist_file (whitelist.txt): comma-separated whitelist files in
//     stoQ's format (see ioc.Whitelist); the shipped whitelist.txt is
//     embedded likewise. Empty: no whitelist.
//   - max_iocs_per_type (100000): most distinct values reported per type;
//     past it the response carries an Error naming the type. 0: no limit.
//
// Relative paths are resolved against the plugin's folder.
package iocextract

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/plugins/iocextract/v3/internal/ioc"
)

//go:embed iocextract.stoq
var manifest []byte

func init() { core.Register("iocextract", manifest, New) }

// The data files shipped with the plugin, embedded so that the defaults
// work in a binary built without an installed plugin folder.
var (
	//go:embed tlds-alpha-by-domain.txt
	shippedTLDs []byte
	//go:embed whitelist.txt
	shippedWhitelist []byte
)

// Option defaults, stoQ's file names.
const (
	defaultTLDFile       = "tlds-alpha-by-domain.txt"
	defaultWhitelistFile = "whitelist.txt"
	defaultMaxPerType    = 100_000
)

// Plugin is the iocextract worker.
type Plugin struct {
	extractor *ioc.Extractor
	limit     int
}

// New reads the TLD list and the whitelists and builds the extractor once;
// a missing or malformed file stops the plugin from loading with an
// OptionError naming it.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	tldText, tldSource, err := readDataFile(cfg, "iana_tld_file", defaultTLDFile, shippedTLDs)
	if err != nil {
		return nil, err
	}
	tlds, err := ioc.ParseTLDs(tldText)
	if err != nil {
		return nil, cfg.OptionError("iana_tld_file", fmt.Sprintf("%s: %v", tldSource, err))
	}

	var whitelist ioc.Whitelist
	var sources []string
	for _, name := range cfg.List("whitelist_file", []string{defaultWhitelistFile}) {
		text, source, err := readListedFile(cfg, "whitelist_file", name, defaultWhitelistFile, shippedWhitelist)
		if err != nil {
			return nil, err
		}
		for _, w := range whitelist.Add(text, source) {
			log.Warn("iocextract whitelist: " + w)
		}
		sources = append(sources, source)
	}

	limit, err := cfg.Int("max_iocs_per_type", defaultMaxPerType)
	if err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, cfg.OptionError("max_iocs_per_type", "want 0 (no limit) or a positive number of values per type")
	}
	log.Debug("iocextract configured", "tlds", len(tlds), "iana_tld_file", tldSource,
		"whitelist_file", strings.Join(sources, ","), "max_iocs_per_type", limit)
	return &Plugin{extractor: ioc.NewExtractor(tlds, whitelist.Allows, limit), limit: limit}, nil
}

// readDataFile reads the file that option key names; see readListedFile.
func readDataFile(cfg *core.Config, key, def string, shipped []byte) ([]byte, string, error) {
	name := strings.TrimSpace(cfg.String(key, def))
	if name == "" {
		name = def
	}
	return readListedFile(cfg, key, name, def, shipped)
}

// readListedFile reads name, one file of option key, resolved against the
// plugin's folder when relative. When it is the shipped file's name and
// is not there, the copy embedded in the binary is used. It returns the
// content and where it came from.
func readListedFile(cfg *core.Config, key, name, shippedName string, shipped []byte) ([]byte, string, error) {
	path := cfg.Resolve(name)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return data, path, nil
	case errors.Is(err, fs.ErrNotExist) && filepath.Clean(name) == shippedName:
		return shipped, "embedded " + shippedName, nil
	default:
		return nil, "", cfg.OptionError(key, fmt.Sprintf("reading %s: %v", path, err))
	}
}

// Scan returns the indicators found in the payload's content. When more
// distinct values of a type are found than max_iocs_per_type, the first
// ones found are returned with an Error. When ctx ends first, what was
// found so far is returned with ctx's error.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	found, err := p.extractor.Extract(ctx, payload.Content)
	resp := &core.WorkerResponse{Results: found.IOCs}
	for _, t := range found.Limited {
		resp.Errors = append(resp.Errors, core.Errorf(
			"more than %d distinct %s values: only the first %d found are reported (option max_iocs_per_type)", p.limit, t, p.limit))
	}
	if err != nil {
		return resp, fmt.Errorf("stopped after %d of %d bytes: %w", found.Read, found.Total, err)
	}
	return resp, nil
}

var _ core.Worker = (*Plugin)(nil)
