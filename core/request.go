package core

import (
	"bytes"
	"encoding/json"
)

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
	return marshalUnescaped(out)
}

// UnmarshalJSON accepts what MarshalJSON writes. Numbers in extra_data are
// read as json.Number, so that a meta read back (a spooled response, a
// queued task's) is written again with every digit it had.
func (m *RequestMeta) UnmarshalJSON(b []byte) error {
	var in requestMetaJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
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

// NewRequest builds a Request; a nil meta means NewRequestMeta(). In run
// mode, a provider's request whose meta equals NewRequestMeta() (nil
// included) is given the run's request meta, as stoQ does: a provider
// queueing NewRequest(payloads, nil) inherits --request-source and
// --request-extra.
func NewRequest(payloads []*Payload, meta *RequestMeta) *Request {
	if meta == nil {
		meta = NewRequestMeta()
	}
	return &Request{Payloads: payloads, RequestMeta: meta, Errors: []Error{}}
}
