// Package canonical is a root itself: its unsafe import is reported.
package canonical

import "unsafe" // want `canonical.go imports "unsafe" in package github.com/rustyonions/ron-audit-go/canonical:`

// Size uses unsafe so that the import compiles.
func Size() uintptr { return unsafe.Sizeof(0) }
