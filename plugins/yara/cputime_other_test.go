//go:build !unix

package yara

import "time"

// processCPUTime is not measured here; the benchmarks report 0.
func processCPUTime() time.Duration { return 0 }
