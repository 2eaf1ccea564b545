package core

import (
	"bytes"
	"encoding/json"
	"fmt"
)

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
	return marshalUnescaped(out)
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

// marshalUnescaped is json.Marshal without HTML escaping: a response's text
// keeps <, > and & as Python's json.dumps does, and a type's MarshalJSON
// output is not unescaped by an Encoder with SetEscapeHTML(false).
func marshalUnescaped(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
