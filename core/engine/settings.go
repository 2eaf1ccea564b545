package engine

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/internal/configparser"
)

// This file is the one place where the [core] settings are decided: which
// keys exist, their defaults and valid ranges, and which source wins.
//
// Every setting is a stoq.cfg [core] key. Its value comes from the highest
// of these layers that sets it (an empty value sets nothing):
//
//	command line   WithCommandLine (the stoq command's flags)
//	options        WithSetting and the typed options (WithMaxRecursion, WithConnectors, ...)
//	stoq.cfg       the [core] section of WithConfigFile / WithConfig
//	program        WithDefault: a program's own defaults (the stoq command's spool folder)
//	defaults       the table below
//
// "Unset" is the absence of the key in a layer, never a zero value, so
// max_recursion = 0 means no extraction round wherever it is written.
// plugin_dir_list is the exception that accumulates: the folders of every
// layer are searched, highest layer first.

// Settings are the engine's [core] settings as New resolved them: the
// values the engine uses.
type Settings struct {
	MaxQueue               int           // max_queue: run-mode queue size (100)
	ProviderConsumers      int           // provider_consumers: run-mode scanners (2)
	MaxRecursion           int           // max_recursion: scan rounds (10); 0 runs no round
	MaxRequiredWorkerDepth int           // max_required_worker_depth (10)
	MaxPayloads            int           // max_payloads: payloads in one request, roots included (1,000)
	MaxExtractedBytes      int64         // max_extracted_bytes: extracted content in one request (1 GiB); 0 extracts nothing
	MaxPayloadSize         int64         // max_payload_size: the largest payload loaded and scanned (4 GiB)
	Concurrency            int           // max_concurrency: plugin calls in flight (2×GOMAXPROCS, at least 4)
	DefaultTimeout         time.Duration // timeout: a plugin call's deadline when the plugin sets none (60 s)
	PluginDirs             []string      // plugin_dir_list: folders of installed plugins
	Providers              []string      // providers
	SourceArchivers        []string      // source_archivers
	DestArchivers          []string      // dest_archivers
	Connectors             []string      // connectors
	Dispatchers            []string      // dispatchers
	Decorators             []string      // decorators
	AlwaysDispatch         []string      // always_dispatch
	SpoolDir               string        // spool_dir: where responses a connector failed to save wait
	SpoolRetryInterval     time.Duration // spool_retry_interval: how often Run re-sends them (60 s)
	LogDir                 string        // log_dir: also log to LOG_DIR/stoq.log
	LogLevel               string        // log_level (info)
	LogMaxBytes            int           // log_maxbytes (1500000)
	LogBackupCount         int           // log_backup_count (5)
	LogSyntax              string        // log_syntax: text or json
}

// Defaults of the [core] settings.
const (
	DefaultMaxQueue               = 100
	DefaultProviderConsumers      = 2
	DefaultMaxRecursion           = 10
	DefaultMaxRequiredWorkerDepth = 10
	// DefaultMaxPayloads is the payloads of one request, as Assemblyline's
	// 500 extracted files or Strelka's limits: a hostile file that carves
	// into thousands of payloads stops there.
	DefaultMaxPayloads = 1000
	// DefaultMaxPayloadSize is 4 GiB: a root payload is mapped, not read,
	// so its size costs address space and page cache rather than heap, and
	// disk images and ISOs up to 4 GiB are scanned by default.
	DefaultMaxPayloadSize = 4 << 30
	// DefaultMaxExtractedBytes is 1 GiB, a quarter of DefaultMaxPayloadSize:
	// extracted content (decompressed members, carved files) stays in
	// memory until the response is saved, so this bounds a request's heap
	// (twice that with the default two provider_consumers), and, at the
	// workers' speeds (hash about 1 GB/s, yara a few hundred MB/s), the
	// seconds each worker spends on what one payload unpacked into.
	DefaultMaxExtractedBytes  = 1 << 30
	DefaultPluginTimeout      = 60 * time.Second
	DefaultSpoolRetryInterval = 60 * time.Second
	DefaultLogMaxBytes        = 1500000
	DefaultLogBackupCount     = 5
)

// setting is one [core] key: its default as stoq.cfg would spell it, and
// how a value is checked and stored.
type setting struct {
	key   string
	def   string
	apply func(s *Settings, value string) error // the error says what is wanted
	list  bool                                  // a list of plugin names: command-line values accumulate
}

// ignoredKeys are [core] keys that belong to other parts of stoq: they are
// neither settings of the engine nor mistakes.
var ignoredKeys = map[string]bool{
	"plugin_repo": true, // the catalogue stoq install reads (cli)
}

// coreSettings is every [core] setting of the engine.
var coreSettings = []setting{
	intSetting("max_queue", DefaultMaxQueue, 1, 1_000_000, func(s *Settings) *int { return &s.MaxQueue }),
	intSetting("provider_consumers", DefaultProviderConsumers, 1, 1024, func(s *Settings) *int { return &s.ProviderConsumers }),
	intSetting("max_recursion", DefaultMaxRecursion, 0, 1000, func(s *Settings) *int { return &s.MaxRecursion }),
	intSetting("max_required_worker_depth", DefaultMaxRequiredWorkerDepth, 0, 1000, func(s *Settings) *int { return &s.MaxRequiredWorkerDepth }),
	intSetting("max_payloads", DefaultMaxPayloads, 1, 10_000_000, func(s *Settings) *int { return &s.MaxPayloads }),
	sizeSetting("max_extracted_bytes", DefaultMaxExtractedBytes, 0, func(s *Settings) *int64 { return &s.MaxExtractedBytes }),
	sizeSetting("max_payload_size", DefaultMaxPayloadSize, 1, func(s *Settings) *int64 { return &s.MaxPayloadSize }),
	intSetting("max_concurrency", defaultConcurrency(), 1, 4096, func(s *Settings) *int { return &s.Concurrency }),
	durationSetting("timeout", DefaultPluginTimeout, 24*time.Hour, func(s *Settings) *time.Duration { return &s.DefaultTimeout }),
	listSetting("providers", func(s *Settings) *[]string { return &s.Providers }),
	listSetting("source_archivers", func(s *Settings) *[]string { return &s.SourceArchivers }),
	listSetting("dest_archivers", func(s *Settings) *[]string { return &s.DestArchivers }),
	listSetting("connectors", func(s *Settings) *[]string { return &s.Connectors }),
	listSetting("dispatchers", func(s *Settings) *[]string { return &s.Dispatchers }),
	listSetting("decorators", func(s *Settings) *[]string { return &s.Decorators }),
	listSetting("always_dispatch", func(s *Settings) *[]string { return &s.AlwaysDispatch }),
	stringSetting("spool_dir", func(s *Settings) *string { return &s.SpoolDir }),
	durationSetting("spool_retry_interval", DefaultSpoolRetryInterval, 24*time.Hour, func(s *Settings) *time.Duration { return &s.SpoolRetryInterval }),
	stringSetting("log_dir", func(s *Settings) *string { return &s.LogDir }),
	{key: "log_level", def: "info", apply: func(s *Settings, v string) error {
		if _, err := parseLevel(v); err != nil {
			return err
		}
		s.LogLevel = strings.ToLower(strings.TrimSpace(v))
		return nil
	}},
	intSetting("log_maxbytes", DefaultLogMaxBytes, 1, 1<<40, func(s *Settings) *int { return &s.LogMaxBytes }),
	intSetting("log_backup_count", DefaultLogBackupCount, 0, 10_000, func(s *Settings) *int { return &s.LogBackupCount }),
	{key: "log_syntax", def: "text", apply: func(s *Settings, v string) error {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "text" && v != "json" {
			return fmt.Errorf("want text or json")
		}
		s.LogSyntax = v
		return nil
	}},
}

func intSetting(key string, def, lo, hi int, field func(*Settings) *int) setting {
	return setting{key: key, def: strconv.Itoa(def), apply: func(s *Settings, v string) error {
		n, ok := configparser.ParseInt(v)
		if !ok || n < lo || n > hi {
			return fmt.Errorf("want an integer from %d to %d", lo, hi)
		}
		*field(s) = n
		return nil
	}}
}

// maxSize bounds the byte-size settings: 1 PiB, past any real payload.
const maxSize = 1 << 50

// sizeSetting is a size in bytes: a whole number, optionally with a binary
// unit (KiB, MiB, GiB, TiB).
func sizeSetting(key string, def, lo int64, field func(*Settings) *int64) setting {
	return setting{key: key, def: strconv.FormatInt(def, 10), apply: func(s *Settings, v string) error {
		n, ok := configparser.ParseSize(v)
		if !ok || n < lo || n > maxSize {
			return fmt.Errorf("want a size in bytes from %d to %d (1 PiB), such as 1073741824 or 1GiB", lo, int64(maxSize))
		}
		*field(s) = n
		return nil
	}}
}

func durationSetting(key string, def, most time.Duration, field func(*Settings) *time.Duration) setting {
	return setting{key: key, def: strconv.FormatFloat(def.Seconds(), 'f', -1, 64), apply: func(s *Settings, v string) error {
		d, ok := configparser.ParseDuration(v)
		if !ok || d <= 0 || d > most {
			return fmt.Errorf("want seconds or a duration such as 1m30s, more than 0 and at most %s", most)
		}
		*field(s) = d
		return nil
	}}
}

func listSetting(key string, field func(*Settings) *[]string) setting {
	return setting{key: key, list: true, apply: func(s *Settings, v string) error {
		names := configparser.SplitList(v)
		for _, n := range names {
			if !core.ValidPluginName(n) {
				return fmt.Errorf("%q is not a plugin name (lowercase letters, digits, '_' and '-')", n)
			}
		}
		var unique []string // a plugin named twice plays its role once
		for _, n := range names {
			if !slices.Contains(unique, n) {
				unique = append(unique, n)
			}
		}
		*field(s) = unique
		return nil
	}}
}

func stringSetting(key string, field func(*Settings) *string) setting {
	return setting{key: key, apply: func(s *Settings, v string) error {
		*field(s) = strings.TrimSpace(v)
		return nil
	}}
}

func defaultConcurrency() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// settingsLayer is one source of [core] values; describe names a key and
// its (quoted) value as the user wrote them, for errors:
// `--max-recursion "-1"`, `/etc/stoq.cfg: [core] max_queue = "12abc"`.
type settingsLayer struct {
	values   map[string]string
	describe func(key, quotedValue string) string
}

// layerValues is a settings layer being built by options: list-valued keys
// given twice accumulate, as the typed role options always have.
type layerValues map[string]string

func (l layerValues) set(key, value string) { l[key] = value }
func (l layerValues) appendList(key string, names []string) {
	if len(names) == 0 {
		return
	}
	if old := l[key]; old != "" {
		l[key] = old + "," + strings.Join(names, ",")
		return
	}
	l[key] = strings.Join(names, ",")
}

// resolveSettings decides every [core] setting from layers, lowest
// precedence first, and reports keys no one reads (returned as warnings:
// a stoQ stoq.cfg may carry keys this engine does not have).
func resolveSettings(layers []settingsLayer) (Settings, []string, error) {
	var s Settings
	known := map[string]bool{"plugin_dir_list": true}
	for _, st := range coreSettings {
		known[st.key] = true
		value, from := st.def, -1
		for i, l := range layers {
			if v, ok := l.values[st.key]; ok && strings.TrimSpace(v) != "" {
				value, from = v, i
			}
		}
		if value == "" {
			continue
		}
		if err := st.apply(&s, value); err != nil {
			where := "default " + st.key + " = " + quote(value)
			if from >= 0 {
				where = layers[from].describe(st.key, quote(value))
			}
			return Settings{}, nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	for i := len(layers) - 1; i >= 0; i-- {
		s.PluginDirs = append(s.PluginDirs, configparser.SplitList(layers[i].values["plugin_dir_list"])...)
	}
	var warnings []string
	for _, l := range layers {
		for _, key := range slices.Sorted(maps.Keys(l.values)) {
			if !known[key] && !ignoredKeys[key] {
				warnings = append(warnings, l.describe(printableKey(key), "")+": not a [core] setting of this stoq (ignored)")
			}
		}
	}
	return s, warnings, nil
}

// printableKey is a key as the user wrote it when it is plain text,
// quoted otherwise (a key read from a binary file).
func printableKey(k string) string {
	for _, r := range k {
		if r <= ' ' || r > '~' {
			return quote(k)
		}
	}
	return k
}

// quote prints a value for an error message (configparser.Quote).
func quote(v string) string { return configparser.Quote(v) }
