package checkpoint

import (
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestKeeperFollowChain: a chain handed to another key chain by chain
// (FollowChain: a rotation that failed part way, its FollowKey never to
// come) is checkpointed past its transition with that key, up to its
// last record, and the key it retired signs nothing past there; a chain
// the rotation did not reach keeps the Keeper's key. Before FollowChain,
// the Keeper stops the handed chain at its transition (Retired).
func TestKeeperFollowChain(t *testing.T) {
	old, next := rotationKey(t, "followchain old"), rotationKey(t, "followchain next")
	k, err := NewKeeper(t.TempDir(), old, KeeperOptions{Every: 1 << 20, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"handed", "unreached"} {
		for seq := uint64(1); seq <= 4; seq++ {
			k.Committed("w", s, seq, canonical.Hash{byte(seq)}, false)
			if s == "handed" && seq == 2 {
				k.Retired("w", s, old.KeyID(), 2) // the transition
			}
		}
		k.Durable("w", s, 4, false)
	}
	if got := k.SignerAt("w", "handed", 4); got != nil {
		t.Fatalf("before FollowChain: the handed chain at 4 signed by %s; want none", got.KeyID())
	}
	k.FollowChain("w", "handed", next)
	for _, c := range []struct {
		stream string
		size   int64
		want   sdk.KeyID
	}{{"handed", 2, old.KeyID()}, {"handed", 4, next.KeyID()}, {"unreached", 4, old.KeyID()}} {
		got := k.SignerAt("w", c.stream, c.size)
		if got == nil || got.KeyID() != c.want {
			t.Errorf("SignerAt(%s, %d) = %v; want key %s", c.stream, c.size, got, c.want)
		}
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"handed", "unreached"} {
		cps := k.Newest()
		found := false
		for _, cp := range cps {
			if cp.Stream == s {
				found = true
				if cp.Size != 4 {
					t.Errorf("%s: newest checkpoint at %d; want 4, its last record", s, cp.Size)
				}
			}
		}
		if !found {
			t.Errorf("%s: no checkpoint", s)
		}
	}
	notes, err := LoadHistory(k.dir, "w", "handed")
	if err != nil || len(notes) != 1 {
		t.Fatalf("history of the handed chain: %d notes, %v", len(notes), err)
	}
	if _, err := Open(notes[0], KeyVerifiers(next.Public())); err != nil {
		t.Errorf("the handed chain's checkpoint at 4 with the key it was handed: %v", err)
	}
}
