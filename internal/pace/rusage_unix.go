//go:build unix

package pace

import "syscall"

// InvoluntarySwitches returns how many times the OS has preempted this
// process's threads so far (getrusage's ru_nivcsw), or -1. A load
// generator reports the difference over its run: each is a thread that
// wanted to go on running and had to wait for a CPU, a scheduler slice
// (4 ms at CONFIG_HZ=250) at worst.
func InvoluntarySwitches() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return int64(ru.Nivcsw)
}
