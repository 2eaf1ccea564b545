//go:build !cgo

package pe

import "math"

// clog is Go's math.Log where the C library's log is not available.
func clog(x float64) float64 { return math.Log(x) }
