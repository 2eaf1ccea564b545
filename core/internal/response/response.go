// Package response builds the StoqResponse of a finished request, for the
// engine and for the test kit, so both build it alike.
package response

import (
	"time"

	"github.com/google/uuid"
	"github.com/stoq-go/stoq/core/v3"
)

// New builds the response of req, whose RequestMeta and Errors are set (as
// core.NewRequest sets them), with a new scan id and the current time.
func New(req *core.Request) *core.StoqResponse {
	results := make([]*core.PayloadResults, len(req.Payloads))
	for i, p := range req.Payloads {
		results[i] = p.Results
	}
	return &core.StoqResponse{
		Time:        time.Now().UTC().Format(core.TimeFormat),
		Results:     results,
		RequestMeta: req.RequestMeta,
		Errors:      req.Errors,
		Decorators:  map[string]any{},
		ScanID:      uuid.NewString(),
	}
}
