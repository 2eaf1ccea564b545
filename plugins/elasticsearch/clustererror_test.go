package elasticsearch

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// The errors the connector gives say what happened: which host, which
// user, what the cluster said; a refused password is never "unreachable"
// and never shown.

const secret = "hunter2-s3cret"

// logQuoted is s as the text log handler writes it inside a quoted value.
func logQuoted(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }

func hostOf(url string) string {
	return strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
}

// spooledErrors are the reasons of the documents waiting in p's spool.
func spooledErrors(t *testing.T, p *Plugin) []string {
	t.Helper()
	var out []string
	for _, f := range spoolFiles(t, p.spool.dir) {
		out = append(out, readSpoolFile(t, f).Error)
	}
	return out
}

func mustContainAll(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, s)
		}
	}
	for _, bad := range []string{secret, "unreachable"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s says %q:\n%s", what, bad, s)
		}
	}
}

func TestWrongPasswordAtStartStopsNew(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.users = map[string]string{"elastic": "the-right-one"} })
	var logs logBuffer
	_, err := tryNewLogging(t, es.URL(), map[string]string{"es_username": "elastic", "es_password": secret}, &logs)
	if err == nil {
		t.Fatal("New succeeded with a password the cluster refuses")
	}
	mustContainAll(t, "the error", err.Error(), "Elasticsearch at "+hostOf(es.URL())+` refused the credentials of user "elastic"`,
		"401 Unauthorized", "unable to authenticate user [elastic]")
	mustContainAll(t, "the log", logs.String(), "refused the connector's credentials at start: the connector does not start")
	if calls := es.templateCallLog(); len(calls) != 0 {
		t.Errorf("the template calls were answered: %v", calls)
	}
}

func TestRefusedCredentialsSpoolWithTheReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{"basic", map[string]string{"es_username": "elastic", "es_password": secret}, `refused the credentials of user "elastic" (401 Unauthorized: unable to authenticate user [elastic]`},
		{"user in the URL", map[string]string{}, `refused the credentials of user "analyst" (401 Unauthorized`},
		{"API key", map[string]string{"es_api_key": base64.StdEncoding.EncodeToString([]byte("VuaCfGcBCdbkQm-e5aOx:" + secret))},
			`refused the credentials of the API key "VuaCfGcBCdbkQm-e5aOx" (401 Unauthorized`},
		{"none", map[string]string{}, "requires credentials (401 Unauthorized: missing authentication credentials for REST request [/_bulk]): set es_username and es_password, or es_api_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			es.set(func(f *fakeES) {
				f.users = map[string]string{"elastic": "the-right-one"}
				f.apiKeys = map[string]string{}
			})
			url := es.URL()
			if tc.name == "user in the URL" {
				url = strings.Replace(url, "http://", "http://analyst:"+secret+"@", 1)
			}
			opts := map[string]string{"manage_template": "false", "es_max_retries": "1"}
			for k, v := range tc.opts {
				opts[k] = v
			}
			var logs logBuffer
			p := newPluginLogging(t, url, opts, &logs)
			mustSave(t, p, hashResponse())
			if err := p.HealthCheck(context.Background()); err != nil {
				mustContainAll(t, "HealthCheck", err.Error(), "401 Unauthorized")
			} else {
				t.Error("HealthCheck passed with refused credentials")
			}
			mustClose(t, p)
			errs := spooledErrors(t, p)
			if len(errs) != 1 {
				t.Fatalf("spool %v", errs)
			}
			mustContainAll(t, "the spool file", errs[0], "Elasticsearch at "+hostOf(es.URL()), tc.want)
			mustContainAll(t, "the log", logs.String(), "refused the connector's credentials: spooling results", logQuoted(tc.want))
		})
	}
}

// TestPasswordChangedWhileRunning: accepted at start, refused later,
// accepted again: spooled with the reason meanwhile, then re-sent.
func TestPasswordChangedWhileRunning(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.users = map[string]string{"elastic": secret} })
	p := newPlugin(t, es.URL(), map[string]string{"es_username": "elastic", "es_password": secret,
		"flush_interval": "0.005", "spool_retry_interval": "0.01"})
	es.set(func(f *fakeES) { f.users = map[string]string{"elastic": "rotated"} })
	resp := hashResponse()
	mustSave(t, p, resp)
	waitFor(t, "the document in the spool", func() bool { n, _ := p.spool.counts(); return n == 1 })
	if errs := spooledErrors(t, p); len(errs) == 1 {
		mustContainAll(t, "the spool file", errs[0], `refused the credentials of user "elastic" (401`)
	}
	es.set(func(f *fakeES) { f.users = map[string]string{"elastic": secret} })
	waitFor(t, "the re-sent document", func() bool { _, ok := es.doc("stoq-2026-11", resp.ScanID); return ok })
	mustClose(t, p)
}

func TestForbiddenRequestSpoolsNamingTheUser(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) {
		f.users = map[string]string{"reader": secret}
		f.forbid = func(r *http.Request, _ string) string {
			if r.URL.Path == "/_bulk" {
				return "indices:data/write/bulk"
			}
			return ""
		}
	})
	var logs logBuffer
	p := newPluginLogging(t, es.URL(), map[string]string{"es_username": "reader", "es_password": secret}, &logs)
	mustSave(t, p, hashResponse())
	mustClose(t, p)
	errs := spooledErrors(t, p)
	if len(errs) != 1 {
		t.Fatalf("spool %v", errs)
	}
	want := `refused the request for user "reader" (403 Forbidden: action [indices:data/write/bulk] is unauthorized for user [reader]`
	mustContainAll(t, "the spool file", errs[0], "Elasticsearch at "+hostOf(es.URL()), want)
	mustContainAll(t, "the log", logs.String(), "refused the connector's request", logQuoted(want))
}

// TestForbiddenInfoIsHealthy: a user who may write documents but not read
// cluster information (GET / answers 403) is fine.
func TestForbiddenInfoIsHealthy(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) {
		f.users = map[string]string{"writer": secret}
		f.forbid = func(r *http.Request, _ string) string {
			if r.URL.Path == "/" {
				return "cluster:monitor/main"
			}
			return ""
		}
	})
	p := newPlugin(t, es.URL(), map[string]string{"es_username": "writer", "es_password": secret})
	if err := p.HealthCheck(context.Background()); err != nil {
		t.Errorf("HealthCheck: %v", err)
	}
	mustClose(t, p)
}

// tlsFake is the fake behind TLS, with its CA in a PEM file.
func tlsFake(t *testing.T) (*fakeES, string) {
	es := newFakeESHandler(t)
	es.srv = httptest.NewUnstartedServer(es)
	es.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	es.srv.StartTLS()
	t.Cleanup(es.srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: es.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return es, ca
}

func TestTLSFailuresNameTheHost(t *testing.T) {
	es, ca := tlsFake(t)
	_, port, _ := net.SplitHostPort(hostOf(es.URL()))
	plain := newFakeES(t)
	for _, tc := range []struct {
		name, url string
		opts      map[string]string
		want      []string
	}{
		{"unknown authority", es.URL(), nil, []string{"TLS connection to " + hostOf(es.URL()) + " failed",
			"certificate signed by unknown authority", "set es_ca_cert"}},
		{"name not in the certificate", "https://localhost:" + port, map[string]string{"es_ca_cert": ca},
			[]string{"TLS connection to localhost:" + port + " failed", "localhost", "es_host must name the cluster as its certificate does"}},
		{"not a TLS server", strings.Replace(plain.URL(), "http://", "https://", 1), nil,
			[]string{"TLS connection to " + hostOf(plain.URL()) + " failed", "does not look like a TLS handshake", "the server does not speak TLS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			opts := map[string]string{"es_max_retries": "3"}
			for k, v := range tc.opts {
				opts[k] = v
			}
			p := newPluginLogging(t, tc.url, opts, &logs)
			mustSave(t, p, hashResponse())
			err := p.HealthCheck(context.Background())
			mustClose(t, p)
			errs := spooledErrors(t, p)
			if len(errs) != 1 {
				t.Fatalf("spool %v", errs)
			}
			mustContainAll(t, "the spool file", errs[0], tc.want...)
			for _, w := range append([]string{"TLS connection to Elasticsearch failed"}, tc.want...) {
				mustContainAll(t, "the log", logs.String(), logQuoted(w))
			}
			if err == nil {
				t.Fatal("HealthCheck passed")
			}
			mustContainAll(t, "HealthCheck", err.Error(), tc.want...)
		})
	}
}

func TestUnreachableNamesTheHost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs logBuffer
	p := newPluginLogging(t, "http://"+addr, map[string]string{"es_max_retries": "1"}, &logs)
	mustSave(t, p, hashResponse())
	mustClose(t, p)
	errs := spooledErrors(t, p)
	if len(errs) != 1 || !strings.Contains(errs[0], "Elasticsearch at "+addr+" unreachable") || !strings.Contains(errs[0], "connection refused") {
		t.Errorf("spool %v", errs)
	}
	if !strings.Contains(logs.String(), "Elasticsearch unreachable: spooling results until it answers") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestWrongPasswordStopsTheEngine: the connector's refusal at start fails
// engine.New, so `stoq scan` and `stoq run` stop with the message (and a
// non-zero exit) instead of spooling every result.
func TestWrongPasswordStopsTheEngine(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.users = map[string]string{"elastic": "the-right-one"} })
	_, err := engine.New(engine.WithConnectors("elasticsearch"), engine.WithLogger(stoqtest.Logger(t)),
		engine.WithPluginOptions(map[string]map[string]string{"elasticsearch": testOptions(t, es.URL(),
			map[string]string{"es_username": "elastic", "es_password": secret})}))
	if err == nil {
		t.Fatal("the engine started")
	}
	mustContainAll(t, "the error", err.Error(), `connector "elasticsearch"`, `refused the credentials of user "elastic" (401 Unauthorized`)
}
