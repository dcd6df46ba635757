package wal

import (
	"errors"
	"testing"
)

// FuzzParseFsyncPolicy: ParseFsyncPolicy takes exactly the names String
// gives the three policies, in one spelling (no other case, no spaces),
// and gives back the policy whose String is the input; anything else is
// an ErrConfig error. Seeds: the three names and near misses
// (testdata/fuzz/FuzzParseFsyncPolicy).
func FuzzParseFsyncPolicy(f *testing.F) {
	names := map[string]bool{}
	for _, p := range []FsyncPolicy{FsyncBatch, FsyncAlways, FsyncNever} {
		names[p.String()] = true
		f.Add(p.String())
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseFsyncPolicy(s)
		if err != nil {
			if names[s] {
				t.Fatalf("%q refused: %v", s, err)
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("%q: %v, want ErrConfig", s, err)
			}
			return
		}
		if !names[s] || p.String() != s {
			t.Fatalf("%q accepted as %v (%q)", s, p, p.String())
		}
	})
}
