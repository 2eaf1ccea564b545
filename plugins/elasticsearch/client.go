package elasticsearch

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
)

// retryStatuses are the whole-request answers the client retries: too many
// requests and the server errors a busy or restarting cluster gives.
var retryStatuses = []int{http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// newClient builds the Elasticsearch client: its own HTTP transport (with
// es_timeout as dial and response-header timeout, and es_ca_cert as the only
// trusted root when set), authentication, and retries with backoff.
// retryOnError is told of every network error before a retry.
func newClient(o *options, retryOnError func(*http.Request, error) bool) (*elasticsearch.Client, error) {
	transport, err := newTransport(o)
	if err != nil {
		return nil, err
	}
	cfg := elasticsearch.Config{
		Addresses:     o.hosts,
		Username:      o.username,
		Password:      o.password,
		APIKey:        o.apiKey,
		Transport:     recordingTransport{transport},
		RetryOnStatus: retryStatuses,
		MaxRetries:    o.maxRetries,
		DisableRetry:  !o.retry || o.maxRetries == 0,
		RetryOnError:  retryOnError,
		RetryBackoff:  func(attempt int) time.Duration { return backoff(o.retryBackoff, attempt) },
	}
	client, err := elasticsearch.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	return client, nil
}

func newTransport(o *options) (*http.Transport, error) {
	dialTimeout := min(o.timeout, 30*time.Second)
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: o.timeout,
		ExpectContinueTimeout: time.Second,
	}
	if o.caCert != "" {
		pool, err := readCACert(o.caCert)
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// readCACert reads a PEM file of one or more CA certificates.
func readCACert(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("es_ca_cert: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("es_ca_cert %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("es_ca_cert %s: no PEM certificate in the file", path)
	}
	return pool, nil
}

// backoff is the wait before retry number attempt (1, 2, …): base doubled
// every attempt, at most maxBackoff.
func backoff(base time.Duration, attempt int) time.Duration {
	if base <= 0 || attempt < 1 {
		return 0
	}
	d := base
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= maxBackoff {
			return maxBackoff
		}
	}
	return min(d, maxBackoff)
}
