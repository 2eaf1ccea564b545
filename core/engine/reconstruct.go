package engine

import (
	"context"

	"github.com/stoq-go/stoq/core/v3"
)

// ReconstructAllSubresponses returns, for every payload of resp, a response
// rooted at that payload: its result followed by every result extracted
// from it, directly or not, with the request meta, time and scan id of resp
// and the decorators run again on it. It is stoQ's
// reconstruct_all_subresponses, used to save each extracted file's analysis
// as a document of its own.
func (s *Stoq) ReconstructAllSubresponses(ctx context.Context, resp *core.StoqResponse) []*core.StoqResponse {
	out := make([]*core.StoqResponse, 0, len(resp.Results))
	for i, root := range resp.Results {
		parents := map[string]struct{}{root.PayloadID: {}}
		relevant := []*core.PayloadResults{root}
		for _, r := range resp.Results[i+1:] {
			for _, from := range r.ExtractedFrom {
				if _, ok := parents[from]; ok {
					parents[r.PayloadID] = struct{}{}
					relevant = append(relevant, r)
					break
				}
			}
		}
		sub := &core.StoqResponse{
			Time:        resp.Time,
			Results:     relevant,
			RequestMeta: resp.RequestMeta,
			Errors:      []core.Error{},
			Decorators:  map[string]any{},
			ScanID:      resp.ScanID,
		}
		for _, e := range resp.Errors {
			if _, ok := parents[e.PayloadID]; ok {
				sub.Errors = append(sub.Errors, e)
			}
		}
		s.decorate(ctx, sub)
		out = append(out, sub)
	}
	return out
}
