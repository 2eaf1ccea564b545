package redis

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/stoq-go/stoq/core/v3"
)

// A task is one entry of the task stream, with these fields:
//
//	content       the payload's bytes, or
//	archived      JSON object: source archiver name → its task, such as
//	              {"redis": {"sha256": "…"}} (loaded by this plugin) or
//	              {"filedir": {"path": "/archive/…"}} (loaded through -S filedir)
//	payload_meta  optional JSON, stoQ's PayloadMeta: should_archive, should_scan,
//	              extra_data, dispatch_to (missing keys keep stoQ's defaults)
//	request_meta  optional JSON, stoQ's RequestMeta: archive_payloads, source,
//	              extra_data (without it, the run's --request-source and
//	              --request-extra apply)
//
// Exactly one of content and archived is set. Fields the plugin does not
// know are kept (they are copied to the dead-letter stream) and ignored.
const (
	fieldContent     = "content"
	fieldArchived    = "archived"
	fieldPayloadMeta = "payload_meta"
	fieldRequestMeta = "request_meta"
)

// Fields a dead-letter entry adds to the task's.
const (
	fieldDeadID         = "id"
	fieldDeadDeliveries = "deliveries"
	fieldDeadError      = "error"
)

// selfArchiver is the archived key this plugin loads itself.
const selfArchiver = "redis"

// queuedTask is a task entry, decoded.
type queuedTask struct {
	id          string
	content     []byte         // set for a content task
	archived    map[string]any // set for an archived task
	ref         string         // sha256 of archived {"redis": {"sha256": …}}, the plugin's own
	payloadMeta *core.PayloadMeta
	requestMeta *core.RequestMeta // nil: the run's
}

// errMalformed marks a task that can never be scanned, whoever takes it.
var errMalformed = errors.New("malformed task")

// decodeTask reads the fields of stream entry id. A task that can never be
// scanned is an error matching errMalformed, naming what is wrong.
func decodeTask(id string, values map[string]any) (*queuedTask, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", errMalformed, id, fmt.Sprintf(format, args...))
	}
	t := &queuedTask{id: id}
	content, hasContent := values[fieldContent]
	archived, hasArchived := values[fieldArchived]
	switch {
	case hasContent && hasArchived:
		return nil, bad("it has both %s and %s", fieldContent, fieldArchived)
	case hasContent:
		b, ok := asBytes(content)
		if !ok {
			return nil, bad("field %s is a %T, want bytes", fieldContent, content)
		}
		t.content = b
	case hasArchived:
		b, ok := asBytes(archived)
		if !ok {
			return nil, bad("field %s is a %T, want JSON", fieldArchived, archived)
		}
		if err := decodeJSON(b, &t.archived); err != nil || len(t.archived) == 0 {
			return nil, bad("field %s is not a JSON object naming a source archiver: %s", fieldArchived, jsonProblem(err))
		}
		for _, name := range slices.Sorted(maps.Keys(t.archived)) {
			if !core.ValidPluginName(name) {
				return nil, bad("field %s names %q, which is not a plugin name", fieldArchived, name)
			}
		}
		if ref, ok := t.archived[selfArchiver]; ok && len(t.archived) == 1 {
			sum, err := refSHA256(ref)
			if err != nil {
				return nil, bad("field %s: %v", fieldArchived, err)
			}
			t.ref = sum
		}
	default:
		return nil, bad("it has neither %s nor %s", fieldContent, fieldArchived)
	}
	t.payloadMeta = core.NewPayloadMeta()
	if v, ok := values[fieldPayloadMeta]; ok {
		b, _ := asBytes(v)
		if err := decodeJSON(b, t.payloadMeta); err != nil {
			return nil, bad("field %s: %s", fieldPayloadMeta, jsonProblem(err))
		}
		if t.payloadMeta.ExtraData == nil {
			t.payloadMeta.ExtraData = map[string]any{}
		}
		if t.payloadMeta.DispatchTo == nil {
			t.payloadMeta.DispatchTo = []string{}
		}
	}
	if v, ok := values[fieldRequestMeta]; ok {
		b, _ := asBytes(v)
		t.requestMeta = core.NewRequestMeta()
		if err := decodeJSON(b, t.requestMeta); err != nil {
			return nil, bad("field %s: %s", fieldRequestMeta, jsonProblem(err))
		}
		if t.requestMeta.ExtraData == nil {
			t.requestMeta.ExtraData = map[string]any{}
		}
	}
	return t, nil
}

// asBytes reads a field value as go-redis returns it.
func asBytes(v any) ([]byte, bool) {
	switch v := v.(type) {
	case string:
		return []byte(v), true
	case []byte:
		return v, true
	}
	return nil, false
}

// decodeJSON decodes one JSON object into dst, numbers kept as
// json.Number (so extra_data round-trips exactly), nothing after it.
func decodeJSON(b []byte, dst any) error {
	if len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("text after the JSON object")
	}
	return nil
}

func jsonProblem(err error) string {
	if err == nil {
		return "an empty object"
	}
	return err.Error()
}

// refSHA256 reads {"sha256": HEX} (or the hex alone) and returns the
// digest in lowercase.
func refSHA256(ref any) (string, error) {
	var s string
	switch r := ref.(type) {
	case string:
		s = r
	case map[string]any:
		v, ok := r["sha256"].(string)
		if !ok {
			return "", fmt.Errorf(`a %s task wants {"sha256": "64 hex digits"}, got %v`, selfArchiver, r)
		}
		s = v
	default:
		return "", fmt.Errorf(`a %s task wants {"sha256": "64 hex digits"}, got a %T`, selfArchiver, ref)
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", fmt.Errorf("sha256 %q is not 64 hex digits", s)
	}
	return s, nil
}

// scanIDNamespace is the UUID namespace of the scan ids of queued tasks.
var scanIDNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/stoq-go/stoq/plugins/redis#scan_id"))

// scanIDFor is the scan_id of the response to entry id of stream: the same
// for every delivery of the task, different for every other task.
func scanIDFor(stream, id string) string {
	return uuid.NewSHA1(scanIDNamespace, []byte(stream+"\x00"+id)).String()
}

// encodeTask returns the fields of a task for XADD: content inline, or
// archived when ref (a sha256 in this plugin's archive) is set. A nil
// requestMeta leaves the run's.
func encodeTask(content []byte, ref string, payloadMeta *core.PayloadMeta, requestMeta *core.RequestMeta) ([]any, error) {
	var fields []any
	if ref != "" {
		archived, err := json.Marshal(map[string]any{selfArchiver: map[string]string{"sha256": ref}})
		if err != nil {
			return nil, err
		}
		fields = append(fields, fieldArchived, archived)
	} else {
		fields = append(fields, fieldContent, content)
	}
	if payloadMeta != nil {
		b, err := json.Marshal(payloadMeta)
		if err != nil {
			return nil, fmt.Errorf("encoding payload_meta: %w", err)
		}
		fields = append(fields, fieldPayloadMeta, b)
	}
	if requestMeta != nil {
		b, err := json.Marshal(requestMeta)
		if err != nil {
			return nil, fmt.Errorf("encoding request_meta: %w", err)
		}
		fields = append(fields, fieldRequestMeta, b)
	}
	return fields, nil
}

// deadLetterFields are a task's fields for the dead-letter stream, with
// its id, the number of deliveries and why it ended there. They keep the
// task's own fields (a field called like the added ones is renamed
// task_NAME), so the task can be queued again as it was.
func deadLetterFields(id string, values map[string]any, deliveries int64, reason string) []any {
	fields := make([]any, 0, 2*len(values)+6)
	for _, k := range slices.Sorted(maps.Keys(values)) {
		name := k
		if k == fieldDeadID || k == fieldDeadDeliveries || k == fieldDeadError {
			name = "task_" + k
		}
		fields = append(fields, name, values[k])
	}
	return append(fields, fieldDeadID, id, fieldDeadDeliveries, deliveries, fieldDeadError, reason)
}
