package sdk_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// chainRecorder is a ChainFollower recording what it is handed.
type chainRecorder struct {
	followed []sdk.KeyID
	chains   map[string]sdk.KeyID // stream -> the key FollowChain handed it
}

func (f *chainRecorder) Committed(string, string, uint64, canonical.Hash, bool) {}
func (f *chainRecorder) Durable(string, string, uint64, bool)                   {}
func (f *chainRecorder) Retired(string, string, sdk.KeyID, uint64)              {}
func (f *chainRecorder) FollowKey(next sdk.Signer)                              { f.followed = append(f.followed, next.KeyID()) }
func (f *chainRecorder) FollowChain(_, stream string, next sdk.Signer) {
	if f.chains == nil {
		f.chains = map[string]sdk.KeyID{}
	}
	f.chains[stream] = next.KeyID()
}

// TestRotateKeyPartWayHandsChains: a rotation that failed part way (a
// transition's signature failed) leaves the chains it reached, and those
// started since, signed by the new key; FollowKey, for a whole rotation,
// never comes. A ChainFollower (the checkpoint Keeper) was told nothing
// of them, and vouched for none of their records past the transition
// (package node's TestCloseAfterFailedRotationCovers). It is now handed
// exactly the chains the new key signs, and none the rotation did not
// reach; a rotation that wrote no transition (undone) hands it none, and
// finishing the rotation hands it every chain and then FollowKey.
func TestRotateKeyPartWayHandsChains(t *testing.T) {
	streams := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name   string
		after  int // signatures before the one that fails
		handed int // chains the rotation reached
	}{{"part way", len(streams) + 1, 1}, {"undone", len(streams), 0}} {
		t.Run(tc.name, func(t *testing.T) {
			old, next := rotateSigner(t, "part old"), rotateSigner(t, "part next")
			f := &chainRecorder{}
			l := coreLog(t, sdk.Config{Signer: &failOnce{Signer: old, after: tc.after}, Observer: f})
			for i, s := range streams {
				r := coreRecord(i)
				r.Stream = s
				if _, err := l.Append(&r); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := l.RotateKey(next); !errors.Is(err, sdk.ErrSign) {
				t.Fatalf("RotateKey with a transition's signature refused: %v; want ErrSign", err)
			}
			var onNext []string // the chains whose next record next signs
			for i, s := range append(slices.Clone(streams), "new") {
				r := coreRecord(10 + i)
				r.Stream = s
				a, err := l.Append(&r)
				if err != nil {
					t.Fatal(err)
				}
				if a.Record.KeyID == next.KeyID() {
					onNext = append(onNext, s)
				}
			}
			if want := tc.handed; tc.handed > 0 {
				want++ // and the new chain
				if len(onNext) != want {
					t.Fatalf("chains signed by next after the rotation: %v; want %d", onNext, want)
				}
			}
			var handed []string
			for s, id := range f.chains {
				if id != next.KeyID() {
					t.Errorf("FollowChain of %s with key %s; want %s", s, id, next.KeyID())
				}
				handed = append(handed, s)
			}
			slices.Sort(handed)
			slices.Sort(onNext)
			if !slices.Equal(handed, onNext) || len(f.followed) != 0 {
				t.Fatalf("chains handed to the follower: %v, FollowKey %v; want %v, none", handed, f.followed, onNext)
			}
			if _, err := l.RotateKey(next); err != nil {
				t.Fatalf("RotateKey finishing the rotation: %v", err)
			}
			if len(f.chains) != len(streams)+1 || !slices.Equal(f.followed, []sdk.KeyID{next.KeyID()}) {
				t.Fatalf("after the rotation was finished: chains handed %v, FollowKey %v; want all %d, [%s]", f.chains, f.followed, len(streams)+1, next.KeyID())
			}
		})
	}
}
