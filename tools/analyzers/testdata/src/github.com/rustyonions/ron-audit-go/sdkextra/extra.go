// Package sdkextra shares sdk's prefix but is not below sdk/: allowed.
package sdkextra

import "unsafe"

// Size uses unsafe so that the import compiles.
func Size() uintptr { return unsafe.Sizeof(0) }
