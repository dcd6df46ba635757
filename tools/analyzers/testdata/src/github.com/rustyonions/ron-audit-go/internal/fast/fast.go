// Package fast is outside sdk/ and canonical/: unsafe is allowed here.
package fast

import "unsafe"

// Size uses unsafe so that the import compiles.
func Size() uintptr { return unsafe.Sizeof(0) }
