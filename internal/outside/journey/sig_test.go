package journey_test

import "syscall"

var sigterm = syscall.SIGTERM
