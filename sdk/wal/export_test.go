package wal

import (
	"os"
	"testing"
)

// FailSegmentFsyncs is failSegmentFsyncs for the tests of package
// wal_test, which drive the WAL through the SDK.
func FailSegmentFsyncs(t *testing.T) { failSegmentFsyncs(t) }

// RestoreFsyncs makes fsyncs work again before the test ends.
func RestoreFsyncs() { syncFile = (*os.File).Sync }
