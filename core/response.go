package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
)

// TimeFormat is the layout of StoqResponse.Time: Python's datetime.isoformat()
// with microseconds and no zone, as stoQ v3 prints it. stoq writes UTC.
const TimeFormat = "2006-01-02T15:04:05.000000"

// WorkerResponse is what a Worker returns. Results, when not nil, is stored
// under the worker's name in PayloadResults.Workers and must marshal to JSON.
type WorkerResponse struct {
	Results    any
	Extracted  []ExtractedPayload
	Errors     []Error
	DispatchTo []string
}

// DispatcherResponse names the workers a payload must be sent to; Meta, when
// not nil, is stored in Payload.DispatchMeta under the dispatcher's name.
// ShouldArchive, when not nil, sets the payload's should_archive once the
// round's dispatchers have all returned (a false from any dispatcher wins):
// dispatchers must not write PayloadMeta themselves, as they run
// concurrently.
type DispatcherResponse struct {
	PluginNames   []string
	Meta          map[string]any
	Errors        []Error
	ShouldArchive *bool
}

// ArchiverResponse is what an Archiver returns; for a source archiver's Get,
// Results is the task's metadata (for example a path or an object key).
type ArchiverResponse struct {
	Results any
	Errors  []Error
}

// DecoratorResponse is what a Decorator returns; Results is stored in
// StoqResponse.Decorators under the decorator's name.
type DecoratorResponse struct {
	Results any
	Errors  []Error
}

// StoqResponse is the result of one scan: the JSON document connectors save.
// Field order is the key order of the JSON.
type StoqResponse struct {
	Time        string            `json:"time"`
	Results     []*PayloadResults `json:"results"`
	RequestMeta *RequestMeta      `json:"request_meta"`
	Errors      []Error           `json:"errors"`
	Decorators  map[string]any    `json:"decorators"`
	ScanID      string            `json:"scan_id"`
}

// Split returns one response per worker result, as stoQ's split(): each copy
// has a single entry in Results whose Workers map holds only that worker.
// Connectors that index each worker's output as its own document use it.
// Payloads without worker results produce nothing. The copies share their
// inner values with r.
func (r *StoqResponse) Split() []*StoqResponse {
	var out []*StoqResponse
	for _, res := range r.Results {
		for _, name := range slices.Sorted(maps.Keys(res.Workers)) {
			one := *res
			one.Workers = map[string]any{name: res.Workers[name]}
			cp := *r
			cp.Results = []*PayloadResults{&one}
			out = append(out, &cp)
		}
	}
	return out
}

// Encode writes r as JSON followed by a newline, as stoQ prints responses:
// indented with four spaces, or on one line when compact, and with <, >
// and & left as they are (Python's json.dumps does not escape them, and
// consumers compare the text). Every connector that writes responses as
// JSON text uses it, so they all write the same bytes.
func (r *StoqResponse) Encode(w io.Writer, compact bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if !compact {
		enc.SetIndent("", "    ")
	}
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding response %s: %w", r.ScanID, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
