//go:build !unix

package fsutil

const nonBlock = 0 // no named pipes to open by path here
