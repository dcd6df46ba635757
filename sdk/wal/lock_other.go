//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wal

import (
	"errors"
	"os"
	"runtime"
)

const (
	noFollow      = 0
	lockOpenFlags = 0
)

func tryLock(*os.File) (bool, error) {
	return false, errors.New("file locking (flock) is not supported on " + runtime.GOOS)
}

func unlock(*os.File) error { return nil }
