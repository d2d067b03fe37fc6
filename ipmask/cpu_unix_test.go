//go:build unix

package ipmask_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used, in user and
// system mode, on all its threads (so a collection's work counts too).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
