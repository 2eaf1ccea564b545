package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// This file is the index template: the mapping every index the connector
// writes to is created with, and its installation.
//
// stoq's response has a fixed frame (ids, sizes, flags, plugin names, the
// time, errors) and free-form parts: what each worker, archiver and
// decorator returned, and the extra_data of payloads and requests. The frame
// is mapped field by field. The free-form parts are each one field of type
// flattened: Elasticsearch indexes every leaf of such an object as a
// keyword under its dotted path (results.workers.yara.matches.rule,
// results.workers.exif.FileType), whatever its JSON type, without adding a
// field to the mapping per key. So no result can conflict with another (a
// number here, a string there, an object elsewhere), no key can grow the
// mapping towards index.mapping.total_fields.limit, and no date-looking
// string becomes a date field. Leaves longer than ignoreAbove characters are
// kept in the document's _source but not indexed, which keeps every indexed
// term under Lucene's limit of 32,766 bytes. Fields the template does not
// name are kept in _source and not indexed (dynamic: false): nothing a
// response holds can make the cluster refuse it.

// templateVersion is the version of the template below. Raise it with
// every change: a cluster holding a lower version gets the new one, a
// cluster holding this version or a higher one keeps what it has.
const templateVersion = 1

// ignoreAbove is the longest value, in characters, that is indexed.
// Elasticsearch counts characters (UTF-16 units), Lucene bytes: a unit is
// at most 3 bytes of UTF-8, so 8,191 units are at most 24,573 bytes, which
// leaves room under 32,766 for the key path a flattened field indexes with
// each value.
const ignoreAbove = 8191

// flattenedDepthLimit is the deepest nesting of objects a flattened field
// takes (Elasticsearch's default is 20). The deepest catalogue result is a
// few levels; this leaves room for third-party plugins.
const flattenedDepthLimit = 64

// templatePriorityBase plus the length of es_index is the template's
// priority. Elasticsearch applies the matching template of highest priority
// and refuses two templates of equal priority whose patterns overlap. Two
// es_index values whose patterns overlap ("stoq" and "stoq-malware") have
// different lengths, so different priorities, and the longer, more
// specific one wins for its own indices; two values of the same length
// cannot overlap. 200 is above the built-in templates (100).
const templatePriorityBase = 200

// templateName is the name of the index template for es_index.
func templateName(index string) string { return "stoq-" + index }

// indexTemplate is the body of PUT _index_template/<name> for es_index.
func indexTemplate(index string) map[string]any {
	keyword := map[string]any{"type": "keyword", "ignore_above": ignoreAbove}
	boolean := map[string]any{"type": "boolean"}
	flattened := map[string]any{"type": "flattened", "ignore_above": ignoreAbove, "depth_limit": flattenedDepthLimit}
	object := func(props map[string]any) map[string]any { return map[string]any{"properties": props} }
	return map[string]any{
		// The indices the connector writes: es_index, es_index-YYYY-MM,
		// es_index-WORKER and es_index-WORKER-YYYY-MM.
		"index_patterns": []string{index, index + "-*"},
		"priority":       templatePriorityBase + len(index),
		"version":        templateVersion,
		"_meta": map[string]any{
			"description": "stoq scan results, written by stoq's elasticsearch connector",
			"managed_by":  "stoq elasticsearch connector",
			"es_index":    index,
		},
		"template": map[string]any{
			"mappings": map[string]any{
				"dynamic":           false,
				"date_detection":    false,
				"numeric_detection": false,
				"properties": map[string]any{
					"time":    map[string]any{"type": "date", "format": "strict_date_optional_time||epoch_millis", "ignore_malformed": true},
					"scan_id": keyword,
					"results": object(map[string]any{
						"payload_id": keyword,
						"size":       map[string]any{"type": "long", "ignore_malformed": true},
						"payload_meta": object(map[string]any{
							"should_archive": boolean,
							"should_scan":    boolean,
							"extra_data":     flattened,
							"dispatch_to":    keyword,
						}),
						"workers":        flattened,
						"archivers":      flattened,
						"plugins_run":    object(map[string]any{"workers": keyword, "archivers": keyword}),
						"extracted_from": keyword,
						"extracted_by":   keyword,
					}),
					"request_meta": object(map[string]any{
						"archive_payloads": boolean,
						"source":           keyword,
						"extra_data":       flattened,
					}),
					"errors": object(map[string]any{
						"error":       map[string]any{"type": "text", "fields": map[string]any{"keyword": keyword}},
						"plugin_name": keyword,
						"payload_id":  keyword,
					}),
					"decorators": flattened,
				},
			},
		},
	}
}

// templateGate makes sure the index template is settled before any
// document is sent, so that no index is created with the cluster's dynamic
// mapping. It is settled when the template is installed or left alone, when
// manage_template is off, or when the cluster refused to let the connector
// manage templates (logged; documents are then indexed with whatever
// mapping the cluster gives).
type templateGate struct {
	mu      sync.Mutex
	settled bool
}

func (g *templateGate) isSettled() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.settled
}

// ensureTemplate settles the template, asking the cluster if that has not
// been done. A nil error means documents may be sent. Network errors are
// not retried: the caller spools and the cluster is asked again later.
func (p *Plugin) ensureTemplate(ctx context.Context) error {
	g := &p.template
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.settled {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, noRetryKey{}, true), p.opts.timeout)
	defer cancel()
	err := p.installTemplate(ctx)
	if err == nil {
		g.settled = true
		return nil
	}
	if ce, ok := err.(*clusterError); ok {
		switch {
		case ce.kind == requestRefused, ce.kind == statusFailure && ce.status < 500:
			// The cluster answered and will not change its mind soon: a
			// user without manage_index_templates, a server without
			// composable templates. Documents go on without the template.
			p.log.Warn("cannot install the index template: indexing with the mapping the cluster gives "+
				"(results the dynamic mapping refuses go to the rejected folder); "+
				"grant manage_index_templates, or set manage_template = false if an administrator installs it",
				"template", templateName(p.opts.index), "error", ce.Error())
			g.settled = true
			return nil
		default:
			// Unreachable, TLS failing, credentials refused, 5xx: Saves
			// spool directly until the re-sender finds the cluster back.
			p.markDown(ce)
		}
	}
	return fmt.Errorf("index template %s not installed yet: %w", templateName(p.opts.index), err)
}

// installTemplate reads the cluster's template of that name and installs
// ours when there is none, or when the one there has a lower version (or
// none).
func (p *Plugin) installTemplate(ctx context.Context) error {
	name := templateName(p.opts.index)
	theirs, found, err := p.getTemplateVersion(ctx, name)
	if err != nil {
		return err
	}
	switch {
	case found && theirs != nil && *theirs == templateVersion:
		p.log.Debug("index template up to date", "template", name, "version", templateVersion)
		return nil
	case found && theirs != nil && *theirs > templateVersion:
		p.log.Info("index template left alone: the cluster's version is newer than the connector's",
			"template", name, "cluster_version", *theirs, "connector_version", templateVersion)
		return nil
	case found:
		old := "none"
		if theirs != nil {
			old = fmt.Sprint(*theirs)
		}
		if err := p.putTemplate(ctx, name, false); err != nil {
			return err
		}
		p.log.Info("index template replaced by a newer version", "template", name,
			"old_version", old, "version", templateVersion)
		return nil
	}
	err = p.putTemplate(ctx, name, true)
	if ce, ok := err.(*clusterError); ok && ce.status == http.StatusBadRequest {
		// Another stoq process created it between our GET and PUT: look
		// again (once).
		if theirs, found, gerr := p.getTemplateVersion(ctx, name); gerr == nil && found {
			if theirs == nil || *theirs < templateVersion {
				return p.putTemplate(ctx, name, false)
			}
			return nil
		}
	}
	if err != nil {
		return err
	}
	p.log.Info("index template installed", "template", name, "version", templateVersion,
		"index_patterns", []string{p.opts.index, p.opts.index + "-*"}, "priority", templatePriorityBase+len(p.opts.index))
	return nil
}

// getTemplateVersion returns the version of the named template (nil when
// it has none) and whether it exists.
func (p *Plugin) getTemplateVersion(ctx context.Context, name string) (*int, bool, error) {
	res, ce := p.ownRequest(ctx, func(ctx context.Context) (*esapi.Response, error) {
		return p.client.Indices.GetIndexTemplate(p.client.Indices.GetIndexTemplate.WithContext(ctx),
			p.client.Indices.GetIndexTemplate.WithName(name))
	}, http.StatusNotFound)
	if ce != nil {
		return nil, false, ce
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	var body struct {
		IndexTemplates []struct {
			Name          string `json:"name"`
			IndexTemplate struct {
				Version *int `json:"version"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, false, fmt.Errorf("reading index template %s: %w", name, err)
	}
	for _, t := range body.IndexTemplates {
		if t.Name == name {
			return t.IndexTemplate.Version, true, nil
		}
	}
	return nil, false, nil
}

// putTemplate writes our template; with create, only if none exists.
func (p *Plugin) putTemplate(ctx context.Context, name string, create bool) error {
	body, err := json.Marshal(indexTemplate(p.opts.index))
	if err != nil {
		return err
	}
	res, ce := p.ownRequest(ctx, func(ctx context.Context) (*esapi.Response, error) {
		opts := []func(*esapi.IndicesPutIndexTemplateRequest){
			p.client.Indices.PutIndexTemplate.WithContext(ctx),
			p.client.Indices.PutIndexTemplate.WithCause("stoq elasticsearch connector"),
		}
		if create {
			opts = append(opts, p.client.Indices.PutIndexTemplate.WithCreate(true))
		}
		return p.client.Indices.PutIndexTemplate(name, bytes.NewReader(body), opts...)
	})
	if ce != nil {
		return ce
	}
	res.Body.Close()
	return nil
}

// ownRequest sends one of the connector's own requests (not a bulk one),
// with an exchange that records where it went and how it was answered. A
// request that got no answer, and an error answer whose status is not in
// accept, is a *clusterError; otherwise the answer is the caller's, to read
// and close. Callers returning an error check the *clusterError for nil
// first: a nil *clusterError returned as an error is not a nil error.
func (p *Plugin) ownRequest(ctx context.Context, send func(context.Context) (*esapi.Response, error), accept ...int) (*esapi.Response, *clusterError) {
	ctx, x := withExchange(ctx)
	res, err := send(ctx)
	if err != nil {
		host, _, _ := x.snapshot()
		return nil, p.networkFailure(host, err)
	}
	if res.IsError() && !slices.Contains(accept, res.StatusCode) {
		res.Body.Close()
		host, _, reason := x.snapshot()
		return nil, p.statusFailure(host, res.StatusCode, reason)
	}
	return res, nil
}
