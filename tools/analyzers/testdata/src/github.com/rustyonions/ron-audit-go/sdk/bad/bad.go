// Package bad is below sdk/: its unsafe import is reported.
package bad

import "unsafe" // want `bad.go imports "unsafe" in package github.com/rustyonions/ron-audit-go/sdk/bad: the SDK and the canonical format promise no unsafe code`

// Size uses unsafe so that the import compiles.
func Size() uintptr { return unsafe.Sizeof(0) }
