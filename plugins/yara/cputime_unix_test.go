//go:build unix

package yara

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time the test process has used (user + system):
// the benchmarks report it per operation, a figure that the other work on a
// shared machine disturbs far less than wall time.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
