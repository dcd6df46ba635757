//go:build unix

package fsutil

import (
	"io/fs"
	"syscall"
)

const nonBlock = syscall.O_NONBLOCK

// Owner returns the user id that owns the file fi describes, if the OS
// says (ok false where files have no Unix owner).
func Owner(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
