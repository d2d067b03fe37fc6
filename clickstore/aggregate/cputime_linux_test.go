package aggregate

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used, which,
// unlike the wall clock, does not count time the thread spent waiting for
// a core on a loaded machine.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
