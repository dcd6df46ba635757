package node_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// appendAll appends one record to each stream and returns the streams
// that refused it with ErrConfig; any other error fails the test.
func appendAll(t *testing.T, l *sdk.Log, streams []string, from int) (refused []string) {
	t.Helper()
	for i, s := range streams {
		_, err := l.Append(record(nodeCrashWriter, s, from+i))
		switch {
		case errors.Is(err, sdk.ErrConfig):
			refused = append(refused, s)
		case err != nil:
			t.Fatalf("append to %s: %v", s, err)
		}
	}
	return refused
}

// TestNodeRotationsReopen: rotations A->B->C, each finished, with chains
// started between them and after them (checkpoint-sealed: no record
// signed but the transitions), across many segments: reopened with C
// every chain takes records; reopened with A or B, none does, as before.
func TestNodeRotationsReopen(t *testing.T) {
	for _, segs := range []bool{false, true} {
		t.Run(map[bool]string{false: "one segment", true: "many segments"}[segs], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			k := []sdk.Signer{nodeCrashKey(t, 0), nodeCrashKey(t, 1), nodeCrashKey(t, 2)}
			opts := node.Options{SealEvery: 100, Every: 100, Interval: -1}
			if segs {
				opts.Durable.WAL = wal.Options{SegmentBytes: wal.MinSegmentBytes}
			}
			opts.Durable.Keys = sdk.NewKeySet(k[0].Public(), k[1].Public(), k[2].Public())
			var streams []string
			for i, key := range k {
				n, _, err := node.Open(dir, key, opts)
				if err != nil {
					t.Fatalf("open with key %d: %v", i, err)
				}
				streams = append(streams, string(rune('a'+i)))
				for j := range 20 {
					if r := appendAll(t, n.Log(), streams, 100*i+10*j); r != nil {
						t.Fatalf("key %d refused %v", i, r)
					}
				}
				if i+1 < len(k) {
					if _, err := n.Log().RotateKey(k[i+1]); err != nil {
						t.Fatalf("rotate to key %d: %v", i+1, err)
					}
					// A chain started after the rotation.
					streams = append(streams, string(rune('a'+i))+"2")
					if r := appendAll(t, n.Log(), streams, 100*i+50); r != nil {
						t.Fatalf("after rotating to key %d, refused %v", i+1, r)
					}
				}
				if err := n.Close(); err != nil {
					t.Fatal(err)
				}
			}
			n, rec, err := node.Open(dir, k[2], opts)
			if err != nil {
				t.Fatalf("reopen with C: %v", err)
			}
			if segs && rec.WAL.Segments < 3 {
				t.Fatalf("%d segments", rec.WAL.Segments)
			}
			refused := appendAll(t, n.Log(), streams, 1000)
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if refused != nil {
				t.Fatalf("reopened with C, chains refused records: %v", refused)
			}
			for i := range 2 {
				n, _, err := node.Open(dir, k[i], opts)
				if err != nil {
					t.Fatalf("reopen with key %d: %v", i, err)
				}
				_, err = n.Log().Append(record(nodeCrashWriter, "a", 2000))
				if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "was retired at") {
					t.Errorf("reopened with retired key %d: %v", i, err)
				}
				_ = n.Close()
			}
		})
	}
}
