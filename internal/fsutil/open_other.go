//go:build !unix

package fsutil

import "io/fs"

const nonBlock = 0 // no named pipes to open by path here

// Owner returns ok false: files here have no Unix owner.
func Owner(fs.FileInfo) (uid int, ok bool) { return 0, false }
