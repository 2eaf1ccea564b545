package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
)

// What happens once a scan's rounds are over: dest archivers on the
// payloads that may be archived, the response, decorators over it, and
// every connector.

// archive runs every dest archiver on every payload with should_archive,
// when the request allows archiving.
func (s *Stoq) archive(ctx context.Context, st *scanState) {
	if !st.req.RequestMeta.ArchivePayloads || len(s.destArchivers) == 0 {
		return
	}
	type job struct {
		payload *core.Payload
		p       *plugin
	}
	var jobs []job
	for _, payload := range st.req.Payloads {
		if !payload.Results.PayloadMeta.ShouldArchive {
			continue
		}
		for _, a := range s.destArchivers {
			jobs = append(jobs, job{payload, a})
		}
	}
	responses := make([]*core.ArchiverResponse, len(jobs))
	errs := make([]error, len(jobs))
	s.parallel(len(jobs), func(i int) {
		j := jobs[i]
		var resp *core.ArchiverResponse
		errs[i] = s.call(ctx, j.p, ClassArchiver, func(ctx context.Context) error {
			var err error
			resp, err = j.p.instance.(core.Archiver).Archive(ctx, j.payload, st.req)
			return err
		})
		if errs[i] == nil || !isCallFailure(errs[i]) {
			responses[i] = resp
		}
	})
	for i, j := range jobs {
		res := j.payload.Results
		res.PluginsRun.Archivers = append(res.PluginsRun.Archivers, j.p.name)
		if errs[i] != nil {
			st.addError(core.Error{Message: "archiver:failed to archive: " + errs[i].Error(), PluginName: j.p.name, PayloadID: res.PayloadID})
		}
		if r := responses[i]; r != nil {
			for _, e := range r.Errors {
				st.addError(fill(e, j.p.name, res.PayloadID))
			}
			if r.Results != nil {
				res.Archivers[j.p.name] = r.Results
			}
		}
	}
}

// decorate runs every decorator on the finished response and stores their
// results under decorators.
func (s *Stoq) decorate(ctx context.Context, resp *core.StoqResponse) {
	if len(s.decorators) == 0 {
		return
	}
	results := make([]*core.DecoratorResponse, len(s.decorators))
	errs := make([]error, len(s.decorators))
	s.parallel(len(s.decorators), func(i int) {
		p := s.decorators[i]
		var r *core.DecoratorResponse
		errs[i] = s.call(ctx, p, ClassDecorator, func(ctx context.Context) error {
			var err error
			r, err = p.instance.(core.Decorator).Decorate(ctx, resp)
			return err
		})
		if errs[i] == nil || !isCallFailure(errs[i]) {
			results[i] = r
		}
	})
	for i, p := range s.decorators {
		if errs[i] != nil {
			resp.Errors = append(resp.Errors, core.Error{Message: "decorator: " + errs[i].Error(), PluginName: p.name})
		}
		if r := results[i]; r != nil {
			if r.Results != nil {
				resp.Decorators[p.name] = r.Results
			}
			for _, e := range r.Errors {
				resp.Errors = append(resp.Errors, fill(e, p.name, ""))
			}
		}
	}
}

// save hands the response to every connector. A connector's failure is
// logged, the response is spooled for that connector (spool_dir) to be
// re-sent later, and the failure is appended to the returned response's
// errors (after every connector has seen it, so all save the same
// document). When a failed connector's copy could not be spooled either,
// the result is lost for it: save returns a *NotSavedError.
func (s *Stoq) save(ctx context.Context, resp *core.StoqResponse) error {
	if len(s.connectors) == 0 {
		return nil
	}
	errs := make([]error, len(s.connectors))
	s.parallel(len(s.connectors), func(i int) {
		p := s.connectors[i]
		errs[i] = s.call(ctx, p, ClassConnector, func(ctx context.Context) error {
			return p.instance.(core.Connector).Save(ctx, resp)
		})
	})
	var failures []core.Error
	var lost *NotSavedError
	for i, p := range s.connectors {
		if errs[i] == nil {
			continue
		}
		msg := "Failed to save results: " + errs[i].Error()
		if path, err := s.spoolSave(p, resp); err == nil {
			p.log.Error("failed to save results: spooled for a later retry", "scan_id", resp.ScanID, "error", errs[i], "spooled", path)
			msg += " (spooled to " + path + ")"
		} else {
			p.log.Error("failed to save results, and could not spool them: the result is lost", "scan_id", resp.ScanID, "error", errs[i], "spool_error", err)
			msg += " (not spooled: " + err.Error() + ")"
			if lost == nil {
				lost = &NotSavedError{ScanID: resp.ScanID}
			}
			lost.Connectors = append(lost.Connectors, p.name)
			lost.Reasons = append(lost.Reasons, fmt.Errorf("connector %s: %w (not spooled: %v)", p.name, errs[i], err))
		}
		failures = append(failures, core.Error{Message: msg, PluginName: p.name})
	}
	resp.Errors = append(resp.Errors, failures...)
	if lost != nil {
		return lost
	}
	return nil
}

// ErrNotSaved is matched (errors.Is) by the error of a scan whose response
// a connector failed to save and that could not be spooled for it either:
// that connector never got the result, and no later run will re-send it.
// The stoq command exits non-zero on it.
var ErrNotSaved = errors.New("result neither saved nor spooled")

// NotSavedError is the error ScanRequest and Scan return, beside the
// response, when one or more connectors failed to save it and spooling it
// for them failed too (no spool_dir, the spool unwritable, or a connector
// that does not spool, such as stdout). The response itself is complete:
// the error only says where it did not arrive.
type NotSavedError struct {
	ScanID     string   // the response's scan_id
	Connectors []string // the connectors that did not get it
	Reasons    []error  // why, one per connector: its failure and the spool's
}

// Error names the scan and each connector's failure, on one line.
func (e *NotSavedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "result of scan %s was neither saved nor spooled", e.ScanID)
	for i, r := range e.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(r.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotSaved) true.
func (e *NotSavedError) Is(target error) bool { return target == ErrNotSaved }

// Unwrap returns the reasons.
func (e *NotSavedError) Unwrap() []error { return e.Reasons }
