package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

func writeCfg(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stoq.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSettingsPrecedence pins the one order of [core] sources: command
// line > options > stoq.cfg > program defaults > defaults, with an unset
// key never confused with a zero value.
func TestSettingsPrecedence(t *testing.T) {
	cfg := writeCfg(t, "[core]\nmax_queue = 7\nmax_recursion = 0\nprovider_consumers = 3\nmax_required_worker_depth = 4\n")
	s := stoqtest.Engine(t, engine.WithConfigFile(cfg),
		engine.WithDefault("max_queue", "50"), engine.WithDefault("log_backup_count", "9"),
		engine.WithSetting("provider_consumers", "5"), engine.WithSetting("max_required_worker_depth", "6"),
		engine.WithCommandLine("--depth", "max_required_worker_depth", "8"))
	got := s.Settings()
	for name, pair := range map[string][2]int{
		"max_queue (stoq.cfg over program default)":       {got.MaxQueue, 7},
		"max_recursion = 0 in stoq.cfg means 0":           {got.MaxRecursion, 0},
		"provider_consumers (option over stoq.cfg)":       {got.ProviderConsumers, 5},
		"max_required_worker_depth (command line wins)":   {got.MaxRequiredWorkerDepth, 8},
		"log_backup_count (program default over default)": {got.LogBackupCount, 9},
		"log_maxbytes (default)":                          {got.LogMaxBytes, engine.DefaultLogMaxBytes},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: %d, want %d", name, pair[0], pair[1])
		}
	}
}

func TestWithMaxRecursionZeroIsReportedAndUsed(t *testing.T) {
	w := register(t, "w", &fnWorker{}, nil)
	for name, opt := range map[string]engine.Option{
		"option":       engine.WithMaxRecursion(0),
		"command line": engine.WithCommandLine("--max-recursion", "max_recursion", "0"),
		"stoq.cfg":     engine.WithConfigFile(writeCfg(t, "[core]\nmax_recursion = 0\n")),
	} {
		t.Run(name, func(t *testing.T) {
			s := newEngine(t, opt)
			if got := s.Settings().MaxRecursion; got != 0 {
				t.Fatalf("Settings().MaxRecursion = %d, want 0", got)
			}
			resp := scan(t, s, "root", w)
			if len(resp.Results[0].PluginsRun.Workers) != 0 {
				t.Errorf("a worker ran with max_recursion 0: %v", resp.Results[0].PluginsRun.Workers)
			}
			if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "Final worker round (0) reached") ||
				resp.Errors[0].PayloadID != resp.Results[0].PayloadID {
				t.Errorf("errors %v, want the root payload's final-round error", errorsOf(resp))
			}
		})
	}
}

func TestSettingsAreCheckedStrictlyAndNameTheirSource(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(t *testing.T) []engine.Option
		wantErr []string
	}{
		{"trailing garbage", func(t *testing.T) []engine.Option {
			return []engine.Option{engine.WithConfigFile(writeCfg(t, "[core]\nmax_queue = 12abc\n"))}
		}, []string{"[core] max_queue", `"12abc"`, "want an integer from 1 to"}},
		{"exponent", func(t *testing.T) []engine.Option {
			return []engine.Option{engine.WithConfigFile(writeCfg(t, "[core]\nmax_recursion = 1e3\n"))}
		}, []string{"[core] max_recursion", `"1e3"`}},
		{"out of range", func(t *testing.T) []engine.Option {
			return []engine.Option{engine.WithConfigFile(writeCfg(t, "[core]\nmax_queue = 10000000000\n"))}
		}, []string{"max_queue", "from 1 to 1000000"}},
		{"negative from the command line", func(*testing.T) []engine.Option {
			return []engine.Option{engine.WithCommandLine("--max-recursion", "max_recursion", "-1")}
		}, []string{`--max-recursion "-1"`, "from 0 to 1000"}},
		{"duration overflow", func(t *testing.T) []engine.Option {
			return []engine.Option{engine.WithConfigFile(writeCfg(t, "[core]\ntimeout = 1e300\n"))}
		}, []string{"[core] timeout", "want seconds"}},
		{"bad log level flag", func(*testing.T) []engine.Option {
			return []engine.Option{engine.WithCommandLine("--log-level", "log_level", "loud")}
		}, []string{`--log-level "loud"`, "want debug, info"}},
		{"binary value quoted safely", func(t *testing.T) []engine.Option {
			return []engine.Option{engine.WithConfigFile(writeCfg(t, "[core]\nmax_queue = \x1b[31m\xff\n"))}
		}, []string{`\x1b[31m\xff`}},
		{"bad plugin name in a role", func(*testing.T) []engine.Option {
			return []engine.Option{engine.WithSetting("connectors", "ok, Not OK")}
		}, []string{"engine option connectors", `"Not OK" is not a plugin name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := engine.New(append(tt.opts(t), engine.WithLogger(stoqtest.Discard()))...)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\x1b") || !utf8.ValidString(err.Error()) {
				t.Errorf("error %q carries raw control bytes", err)
			}
		})
	}
}

func TestUnknownCoreKeysAreWarnedAbout(t *testing.T) {
	var logs strings.Builder
	s, err := engine.New(engine.WithConfigFile(writeCfg(t, "[core]\nmax_queu = 5\nplugin_repo = /x\n")), engine.WithLogOutput(&logs))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(logs.String(), "max_queu: not a [core] setting") {
		t.Errorf("logs %q, want a warning about max_queu", logs.String())
	}
	if strings.Contains(logs.String(), "plugin_repo") {
		t.Errorf("plugin_repo (the installer's key) warned about: %q", logs.String())
	}
}

func TestListSettingsFromTheCommandLineReplaceStoqCfgs(t *testing.T) {
	a := register(t, "a", &memConnector{}, nil)
	b := register(t, "b", &memConnector{}, nil)
	c := register(t, "c", &memConnector{}, nil)
	s := newEngine(t, engine.WithConfigFile(writeCfg(t, "[core]\nconnectors = "+a+"\n")),
		engine.WithCommandLine("-C", "connectors", b), engine.WithCommandLine("-C", "connectors", c))
	if got := s.Settings().Connectors; !equalStrings(got, []string{b, c}) {
		t.Errorf("connectors %v, want the command line's %v", got, []string{b, c})
	}
	s = newEngine(t, engine.WithDefault("connectors", a))
	if got := s.Settings().Connectors; !equalStrings(got, []string{a}) {
		t.Errorf("connectors %v, want the program default", got)
	}
}

// TestProviderRequestGetsRunMetaOnlyWithoutItsOwn follows stoQ's master:
// a provider's Request whose meta equals the default takes the run's.
func TestProviderRequestGetsRunMetaOnlyWithoutItsOwn(t *testing.T) {
	for _, tt := range []struct {
		name   string
		meta   *core.RequestMeta
		wantID string
	}{
		{"no meta of its own", nil, "2"},
		{"its own meta", &core.RequestMeta{ArchivePayloads: true, ExtraData: map[string]any{"dummy": "1"}}, "1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cn := &memConnector{}
			c := register(t, "c", cn, nil)
			p := register(t, "p", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
				return q.PutRequest(ctx, core.NewRequest([]*core.Payload{core.NewPayload([]byte("x"), nil)}, tt.meta))
			}}, nil)
			s := newEngine(t, engine.WithProviders(p), engine.WithConnectors(c))
			runMeta := &core.RequestMeta{ArchivePayloads: true, ExtraData: map[string]any{"dummy": "2"}}
			if err := s.Run(context.Background(), runMeta); err != nil {
				t.Fatal(err)
			}
			saved := cn.responses()
			if len(saved) != 1 || saved[0].RequestMeta.ExtraData["dummy"] != tt.wantID {
				t.Errorf("saved request meta %+v, want dummy=%s", saved[0].RequestMeta, tt.wantID)
			}
		})
	}
}

// A plugin named twice for a role plays it once, and Settings says so.
func TestARoleListHoldsEachPluginOnce(t *testing.T) {
	cn := &memConnector{}
	a := register(t, "a", cn, nil)
	b := register(t, "b", &memConnector{}, nil)
	s := newEngine(t, engine.WithConnectors(a, b, a))
	if got := s.Settings().Connectors; !equalStrings(got, []string{a, b}) {
		t.Errorf("connectors %v, want %v", got, []string{a, b})
	}
	scan(t, s, "x")
	if n := len(cn.responses()); n != 1 {
		t.Errorf("connector named twice saved %d responses, want 1", n)
	}
}
