package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// This file turns what the cluster answered, or why it could not be asked,
// into errors a user can act on: which host, which user, what the cluster
// said. A refused password is not an unreachable cluster, and a
// certificate the client does not trust is neither.

// failureKind sorts the failures of a request to the cluster.
type failureKind int

const (
	// unreachable: no answer (connection refused, reset, timeout, DNS).
	unreachable failureKind = iota + 1
	// tlsFailure: the TLS handshake failed (an untrusted or mismatched
	// certificate, a server that does not speak TLS).
	tlsFailure
	// credentialsRefused: 401, the cluster does not accept who we say we are.
	credentialsRefused
	// requestRefused: 403, the user may not do this.
	requestRefused
	// statusFailure: any other error status of a whole request.
	statusFailure
	// notElasticsearch: the server answered without the product header
	// the official client requires.
	notElasticsearch
)

// clusterError is a failed request to the cluster, described for a person.
type clusterError struct {
	kind   failureKind
	host   string // host:port the request went to, when known
	status int    // HTTP status, 0 without an answer
	// reason is the error the cluster gave (its error.reason), or the
	// network or TLS error.
	reason    string
	principal string // who the connector authenticates as, in words
	err       error
}

func (e *clusterError) Error() string {
	at := "Elasticsearch"
	if e.host != "" {
		at += " at " + e.host
	}
	status := fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
	if e.reason != "" {
		status += ": " + e.reason
	}
	switch e.kind {
	case tlsFailure:
		host := e.host
		if host == "" {
			host = "the cluster"
		}
		return fmt.Sprintf("TLS connection to %s failed: %s%s", host, e.reason, tlsHint(e.err))
	case credentialsRefused:
		if e.principal == "" {
			return fmt.Sprintf("%s requires credentials (%s): set es_username and es_password, or es_api_key", at, status)
		}
		return fmt.Sprintf("%s refused the credentials of %s (%s)", at, e.principal, status)
	case requestRefused:
		who := e.principal
		if who == "" {
			who = "anonymous access"
		}
		return fmt.Sprintf("%s refused the request for %s (%s)", at, who, status)
	case statusFailure:
		return fmt.Sprintf("%s answered %s", at, status)
	case notElasticsearch:
		server := "the server"
		if e.host != "" {
			server += " at " + e.host
		}
		return server + " is not Elasticsearch: its answers lack the header X-Elastic-Product: Elasticsearch that the client requires"
	}
	return fmt.Sprintf("%s unreachable: %s", at, e.reason)
}

func (e *clusterError) Unwrap() error { return e.err }

// tlsHint says what usually fixes a TLS failure.
func tlsHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return " (set es_ca_cert to the PEM file of the CA that signed the cluster's certificate)"
	case errors.As(err, &hostname):
		return " (es_host must name the cluster as its certificate does)"
	case errors.As(err, &record):
		return " (the server does not speak TLS: is es_host https:// where it should be http://?)"
	}
	return ""
}

// isTLSError reports whether err comes from a TLS handshake. Such failures
// do not go away by retrying a second later.
func isTLSError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &record) || errors.As(err, &alert)
}

// networkFailure describes a request that got no answer.
func (p *Plugin) networkFailure(host string, err error) *clusterError {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && host == "" {
			host = u.Host
		}
		err = ue.Err
	}
	kind := unreachable
	switch {
	case isTLSError(err):
		kind = tlsFailure
	case strings.Contains(err.Error(), "server is not Elasticsearch"):
		// The official client's product check (its error has no type).
		kind = notElasticsearch
	}
	return &clusterError{kind: kind, host: host, reason: err.Error(), principal: p.principal(), err: err}
}

// statusFailure describes an error answer to a whole request.
func (p *Plugin) statusFailure(host string, status int, reason string) *clusterError {
	kind := statusFailure
	switch status {
	case http.StatusUnauthorized:
		kind = credentialsRefused
	case http.StatusForbidden:
		kind = requestRefused
	}
	return &clusterError{kind: kind, host: host, status: status, reason: reason, principal: p.principal()}
}

// principal names who the connector authenticates as, never with a
// secret: `user "elastic"`, `the API key "VuaCfGcB…"` (its id), or ""
// when it sends no credentials.
func (p *Plugin) principal() string {
	if p.opts.apiKey != "" {
		if raw, err := base64.StdEncoding.DecodeString(p.opts.apiKey); err == nil {
			if id, _, ok := strings.Cut(string(raw), ":"); ok && id != "" {
				return fmt.Sprintf("the API key %q", id)
			}
		}
		return "the API key of es_api_key"
	}
	if p.opts.username != "" {
		return fmt.Sprintf("user %q", p.opts.username)
	}
	for _, h := range p.opts.hosts {
		if u, err := url.Parse(h); err == nil && u.User != nil && u.User.Username() != "" {
			return fmt.Sprintf("user %q", u.User.Username())
		}
	}
	return ""
}

// exchange records what happened to a request on the wire: the transport
// fills it for any request whose context carries one.
type exchange struct {
	mu     sync.Mutex
	host   string
	status int
	reason string
	// flushErrs are the errors noteFlushError described for this flush.
	flushErrs []error
}

type exchangeKey struct{}

func withExchange(ctx context.Context) (context.Context, *exchange) {
	x := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, x), x
}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

func (x *exchange) snapshot() (host string, status int, reason string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.host, x.status, x.reason
}

// recordingTransport notes, for requests that carry an exchange, the host
// each attempt went to and the status and error reason of error answers.
type recordingTransport struct{ next http.RoundTripper }

// maxErrorBody bounds what is read of an error answer to find its reason.
const maxErrorBody = 64 << 10

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeOf(req.Context())
	if x != nil {
		x.mu.Lock()
		x.host, x.status, x.reason = req.URL.Host, 0, ""
		x.mu.Unlock()
	}
	res, err := t.next.RoundTrip(req)
	if x == nil || err != nil || res.StatusCode < 300 {
		return res, err
	}
	head, rerr := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	res.Body = readCloser{io.MultiReader(bytes.NewReader(head), res.Body), res.Body}
	x.mu.Lock()
	x.status = res.StatusCode
	if rerr == nil {
		x.reason = errorReason(head)
	}
	x.mu.Unlock()
	return res, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// errorReason is the reason of an Elasticsearch error body
// ({"error":{"type":…,"reason":…},"status":…}, or {"error":"…"}), or "".
func errorReason(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(e.Error, &s) == nil {
		return s
	}
	var obj struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(e.Error, &obj) != nil {
		return ""
	}
	if obj.Reason == "" {
		return obj.Type
	}
	return obj.Reason
}
