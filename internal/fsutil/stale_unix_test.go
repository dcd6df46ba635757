//go:build unix

package fsutil

import "github.com/rustyonions/ron-audit-go/internal/fsutil/fifotest"

func init() { makeFIFO = fifotest.Make }
