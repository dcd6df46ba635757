package bad_test

import (
	"testing"
	"unsafe" // want `bad_test.go imports "unsafe" in package github.com/rustyonions/ron-audit-go/sdk/bad_test`
)

// Tests of the SDK are held to the same rule.
func TestSize(t *testing.T) { _ = unsafe.Sizeof(t) }
