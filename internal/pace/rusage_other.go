//go:build !unix

package pace

// InvoluntarySwitches is -1: not measured here.
func InvoluntarySwitches() int64 { return -1 }
