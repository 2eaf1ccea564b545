package core

import "github.com/google/uuid"

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

// ExtractedPayload is content a worker carved out of a payload. It joins the
// request as a new payload; a nil PayloadMeta means NewPayloadMeta().
type ExtractedPayload struct {
	Content     []byte
	PayloadMeta *PayloadMeta
}
