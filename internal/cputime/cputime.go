// Package cputime reads the CPU time of the calling OS thread, for
// benchmarks that report CPU-ns per operation next to wall time: on a
// shared, loaded machine the wall clock also counts the time a thread
// waited for a core, the thread's CPU time does not.
//
// A benchmark that reads it must keep its goroutine on one thread
// (runtime.LockOSThread) between the two readings.
package cputime

import "time"

// Thread returns the CPU time (user and system) the calling OS thread has
// used, and false where it cannot be read (on systems other than Linux, or
// if the system call fails). It is safe for concurrent use.
func Thread() (time.Duration, bool) { return thread() }
