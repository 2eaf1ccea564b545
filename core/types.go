package core

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// TimeFormat is the layout of StoqResponse.Time: Python's datetime.isoformat()
// with microseconds and no zone, as stoQ v3 prints it. stoq writes UTC.
const TimeFormat = "2006-01-02T15:04:05.000000"

// PayloadMeta is what is known about a payload before it is scanned: where it
// came from (ExtraData), whether it may be archived and scanned, and which
// workers it must be sent to.
type PayloadMeta struct {
	ShouldArchive bool           `json:"should_archive"`
	ShouldScan    bool           `json:"should_scan"`
	ExtraData     map[string]any `json:"extra_data"`
	DispatchTo    []string       `json:"dispatch_to"`
}

// NewPayloadMeta returns stoQ's default PayloadMeta: archive and scan, no
// extra data, no forced dispatch.
func NewPayloadMeta() *PayloadMeta {
	return &PayloadMeta{ShouldArchive: true, ShouldScan: true, ExtraData: map[string]any{}, DispatchTo: []string{}}
}

// normalized returns a copy of m (or the defaults when m is nil) whose maps
// and slices are non-nil, so that they marshal as {} and [].
func (m *PayloadMeta) normalized() PayloadMeta {
	if m == nil {
		return *NewPayloadMeta()
	}
	out := *m
	if out.ExtraData == nil {
		out.ExtraData = map[string]any{}
	}
	if out.DispatchTo == nil {
		out.DispatchTo = []string{}
	}
	return out
}

// PluginsRun lists, in order, the workers and archivers that ran on a payload.
type PluginsRun struct {
	Workers   []string `json:"workers"`
	Archivers []string `json:"archivers"`
}

// PayloadResults is everything stoq learned about one payload: it is one entry
// of StoqResponse.Results.
type PayloadResults struct {
	PayloadID     string         `json:"payload_id"`
	Size          int            `json:"size"`
	PayloadMeta   PayloadMeta    `json:"payload_meta"`
	Workers       map[string]any `json:"workers"`
	Archivers     map[string]any `json:"archivers"`
	PluginsRun    PluginsRun     `json:"plugins_run"`
	ExtractedFrom []string       `json:"extracted_from"`
	ExtractedBy   []string       `json:"extracted_by"`
}

// Payload is one piece of content under analysis. Content is shared by every
// plugin that sees the payload and must be treated as read-only.
type Payload struct {
	Content []byte
	Results *PayloadResults
	// DispatchMeta holds, per dispatcher name, the meta its DispatcherResponse
	// returned for this payload.
	DispatchMeta map[string]map[string]any
}

// NewPayload wraps content for scanning. A nil meta means NewPayloadMeta().
func NewPayload(content []byte, meta *PayloadMeta) *Payload {
	return &Payload{
		Content: content,
		Results: &PayloadResults{
			PayloadID:     uuid.NewString(),
			Size:          len(content),
			PayloadMeta:   meta.normalized(),
			Workers:       map[string]any{},
			Archivers:     map[string]any{},
			PluginsRun:    PluginsRun{Workers: []string{}, Archivers: []string{}},
			ExtractedFrom: []string{},
			ExtractedBy:   []string{},
		},
		DispatchMeta: map[string]map[string]any{},
	}
}

// ID is the payload's unique id (PayloadResults.PayloadID).
func (p *Payload) ID() string { return p.Results.PayloadID }

// Meta is the payload's PayloadMeta.
func (p *Payload) Meta() *PayloadMeta { return &p.Results.PayloadMeta }

// RequestMeta describes a scan request: whether its payloads may be archived,
// where it came from, and any extra data the submitter attached.
type RequestMeta struct {
	ArchivePayloads bool `json:"archive_payloads"`
	// Source is the request's origin; empty marshals as null.
	Source    string         `json:"source"`
	ExtraData map[string]any `json:"extra_data"`
}

// NewRequestMeta returns stoQ's default RequestMeta (archive_payloads true).
func NewRequestMeta() *RequestMeta {
	return &RequestMeta{ArchivePayloads: true, ExtraData: map[string]any{}}
}

type requestMetaJSON struct {
	ArchivePayloads bool           `json:"archive_payloads"`
	Source          *string        `json:"source"`
	ExtraData       map[string]any `json:"extra_data"`
}

// MarshalJSON writes source as null when it is empty and extra_data as {}
// when it is nil.
func (m RequestMeta) MarshalJSON() ([]byte, error) {
	out := requestMetaJSON{ArchivePayloads: m.ArchivePayloads, ExtraData: m.ExtraData}
	if m.Source != "" {
		out.Source = &m.Source
	}
	if out.ExtraData == nil {
		out.ExtraData = map[string]any{}
	}
	return json.Marshal(out)
}

// UnmarshalJSON accepts what MarshalJSON writes.
func (m *RequestMeta) UnmarshalJSON(b []byte) error {
	var in requestMetaJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	m.ArchivePayloads, m.ExtraData, m.Source = in.ArchivePayloads, in.ExtraData, ""
	if in.Source != nil {
		m.Source = *in.Source
	}
	return nil
}

// Request is a set of payloads scanned together, with the errors collected
// while scanning them.
type Request struct {
	Payloads    []*Payload
	RequestMeta *RequestMeta
	Errors      []Error
}

// NewRequest builds a Request; a nil meta means NewRequestMeta().
func NewRequest(payloads []*Payload, meta *RequestMeta) *Request {
	if meta == nil {
		meta = NewRequestMeta()
	}
	return &Request{Payloads: payloads, RequestMeta: meta, Errors: []Error{}}
}

// Error is a failure recorded in a response: which plugin failed, on which
// payload, and why. PluginName and PayloadID marshal as null when empty.
type Error struct {
	Message    string
	PluginName string
	PayloadID  string
}

// Errorf builds an Error message for a plugin to return in a response; the
// engine fills in PluginName and PayloadID when they are left empty.
func Errorf(format string, args ...any) Error {
	return Error{Message: fmt.Sprintf(format, args...)}
}

// Error formats the error for logs.
func (e Error) Error() string {
	switch {
	case e.PluginName != "" && e.PayloadID != "":
		return fmt.Sprintf("%s (payload %s): %s", e.PluginName, e.PayloadID, e.Message)
	case e.PluginName != "":
		return e.PluginName + ": " + e.Message
	}
	return e.Message
}

type errorJSON struct {
	Error      string  `json:"error"`
	PluginName *string `json:"plugin_name"`
	PayloadID  *string `json:"payload_id"`
}

// MarshalJSON writes {"error", "plugin_name", "payload_id"}, empty names as null.
func (e Error) MarshalJSON() ([]byte, error) {
	out := errorJSON{Error: e.Message}
	if e.PluginName != "" {
		out.PluginName = &e.PluginName
	}
	if e.PayloadID != "" {
		out.PayloadID = &e.PayloadID
	}
	return json.Marshal(out)
}

// UnmarshalJSON accepts what MarshalJSON writes.
func (e *Error) UnmarshalJSON(b []byte) error {
	var in errorJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*e = Error{Message: in.Error}
	if in.PluginName != nil {
		e.PluginName = *in.PluginName
	}
	if in.PayloadID != nil {
		e.PayloadID = *in.PayloadID
	}
	return nil
}

// ExtractedPayload is content a worker carved out of a payload. It joins the
// request as a new payload; a nil PayloadMeta means NewPayloadMeta().
type ExtractedPayload struct {
	Content     []byte
	PayloadMeta *PayloadMeta
}

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

// NewStoqResponse builds the response for a finished request, with a new
// scan id and the current time.
func NewStoqResponse(req *Request) *StoqResponse {
	results := make([]*PayloadResults, len(req.Payloads))
	for i, p := range req.Payloads {
		results[i] = p.Results
	}
	errs := req.Errors
	if errs == nil {
		errs = []Error{}
	}
	meta := req.RequestMeta
	if meta == nil {
		meta = NewRequestMeta()
	}
	return &StoqResponse{
		Time:        time.Now().UTC().Format(TimeFormat),
		Results:     results,
		RequestMeta: meta,
		Errors:      errs,
		Decorators:  map[string]any{},
		ScanID:      uuid.NewString(),
	}
}

// Split returns one response per worker result, as stoQ's split(): each copy
// has a single entry in Results whose Workers map holds only that worker.
// Connectors that index each worker's output as its own document use it.
// Payloads without worker results produce nothing. The copies share their
// inner values with r.
func (r *StoqResponse) Split() []*StoqResponse {
	var out []*StoqResponse
	for _, res := range r.Results {
		for _, name := range sortedKeys(res.Workers) {
			one := *res
			one.Workers = map[string]any{name: res.Workers[name]}
			cp := *r
			cp.Results = []*PayloadResults{&one}
			out = append(out, &cp)
		}
	}
	return out
}
