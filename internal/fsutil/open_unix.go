//go:build unix

package fsutil

import "syscall"

const nonBlock = syscall.O_NONBLOCK
