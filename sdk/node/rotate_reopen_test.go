package node_test

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// gated signs as its Signer, but once armed, its next Sign waits for
// release (after saying so on entered): a rotation held at its first
// transition's signature.
type gated struct {
	sdk.Signer
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Sign(msg []byte, sig *sdk.Signature) error {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.entered)
		<-g.release
	}
	return g.Signer.Sign(msg, sig)
}

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

// TestNodeRotationFinishedNewChainDuringRotation: a chain started while
// RotateKey writes its transitions begins with the new key (sdk/rotate.go:
// l.signer = next before the transitions) and needs none. Its first record
// may come before the rotation's first transition in the log. The rotation
// finished: reopened with the new key, that chain must take records.
func TestNodeRotationFinishedNewChainDuringRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	old, next := nodeCrashKey(t, 0), nodeCrashKey(t, 1)
	opts := node.Options{SealEvery: 100, Every: 100, Interval: -1}
	g := &gated{Signer: old, entered: make(chan struct{}), release: make(chan struct{})}
	n, _, err := node.Open(dir, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := appendAll(t, n.Log(), []string{"a", "b"}, 0); r != nil {
		t.Fatal(r)
	}
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	done := make(chan error, 1)
	go func() { _, err := n.Log().RotateKey(next); done <- err }()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the rotation never signed a transition")
	}
	// The rotation holds its first transition: a new chain now.
	if r := appendAll(t, n.Log(), []string{"z"}, 5); r != nil {
		t.Fatalf("a chain started during the rotation refused a record: %v", r)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatalf("the rotation: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{old.Public(), next.Public()}, checkpoint.DirOptions{})
	if err != nil || len(sum.Retired) != 2 {
		t.Fatalf("the finished rotation: %d transitions, %v", len(sum.Retired), err)
	}

	opts.Durable.Keys = sdk.NewKeySet(old.Public(), next.Public())
	n, _, err = node.Open(dir, next, opts)
	if err != nil {
		t.Fatalf("reopen with the new key: %v", err)
	}
	refused := appendAll(t, n.Log(), []string{"a", "b", "z"}, 10)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if refused != nil {
		t.Fatalf("after a finished rotation, reopened with its new key, chains refused records: %v", refused)
	}
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
