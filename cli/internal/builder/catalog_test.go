package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveCatalogPrecedence(t *testing.T) {
	home := t.TempDir()
	local := filepath.Join(home, "checkout")
	if err := os.Mkdir(local, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, "stoq.cfg")
	if err := os.WriteFile(cfg, []byte("[core]\nplugin_repo = checkout\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == CatalogEnvVar {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name     string
		flag     string
		envValue string
		cfg      string
		wantURL  string
		wantDir  string
		wantFrom string
	}{
		{"flag wins", "file:///srv/cat", "https://e/x", cfg, "file:///srv/cat", "", "--catalog"},
		{"env next", "", "https://example.org/stoq", cfg, "https://example.org/stoq", "", "$STOQ_CATALOG"},
		{"config file, relative to it", "", "", cfg, "", local, "plugin_repo"},
		{"default", "", "", filepath.Join(home, "missing.cfg"), DefaultCatalog, "", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ResolveCatalog(tt.flag, env(tt.envValue), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.url != tt.wantURL || c.dir != tt.wantDir || !strings.Contains(c.from, tt.wantFrom) {
				t.Errorf("got %+v, want URL %q Dir %q From ~%q", c, tt.wantURL, tt.wantDir, tt.wantFrom)
			}
		})
	}
	if _, err := ResolveCatalog(filepath.Join(home, "nope"), env(""), ""); err == nil {
		t.Error("a missing catalogue folder was accepted")
	}
	bad := filepath.Join(home, "bad.cfg")
	os.WriteFile(bad, []byte("[core\nx"), 0o644)
	if _, err := ResolveCatalog("", env(""), bad); err == nil || !strings.Contains(err.Error(), "bad.cfg") {
		t.Errorf("unreadable config: %v", err)
	}
}
