// Package clean is below sdk/ and imports no unsafe: nothing to report.
package clean

import "strconv"

// Itoa is here so the package has code.
func Itoa(i int) string { return strconv.Itoa(i) }
