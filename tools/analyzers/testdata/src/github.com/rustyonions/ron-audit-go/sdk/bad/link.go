package bad

import (
	"strconv"
	_ "unsafe" // want `link.go imports "unsafe"`
)

// A blank import (for go:linkname) is an import too.
var _ = strconv.Itoa
