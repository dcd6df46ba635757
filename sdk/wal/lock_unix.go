//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wal

import (
	"errors"
	"os"
	"syscall"
)

// noFollow makes an open of a symbolic link fail: the writer opens LOCK
// and the segment it appends to only as files of the log directory.
const noFollow = syscall.O_NOFOLLOW

// lockOpenFlags open LOCK without following a symbolic link (the open
// fails) and without blocking on a named pipe.
const lockOpenFlags = noFollow | syscall.O_NONBLOCK

// flock applies flock(2) operation how to f.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// tryLock takes an exclusive lock on f without waiting. held reports that
// another open file description holds it.
func tryLock(f *os.File) (held bool, err error) {
	err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	return errors.Is(err, syscall.EWOULDBLOCK), err
}

func unlock(f *os.File) error { return flock(f, syscall.LOCK_UN) }
