//go:build cgo

package pe

// #cgo LDFLAGS: -lm
// #include <math.h>
import "C"

// clog is the C library's log, the function Python's math.log calls.
func clog(x float64) float64 { return float64(C.log(C.double(x))) }
