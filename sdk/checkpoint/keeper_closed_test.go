package checkpoint

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// listTree lists every path under dir, relative to it, in order.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeeperClosedWritesNothing: once Close has returned, a host may copy,
// archive or remove the Keeper's directory. The calls that may still come
// (a Pending.Wait returning late, a rotation's late FollowKey and
// Retired, a ticker's last Tick, a Seal of a Log closed after the Keeper)
// must write nothing there: SealChain and Checkpoint say the Keeper is
// closed, the rest are no-ops for the directory.
func TestKeeperClosedWritesNothing(t *testing.T) {
	const w, s = "svc@inst-1", "caps"
	dir := filepath.Join(t.TempDir(), "cp")
	now := time.Unix(1_000_000_000, 0)
	var failed []error
	var written []int64
	k, err := NewKeeper(dir, keeperSigner(t), KeeperOptions{Every: 1, Interval: time.Minute,
		Clock:        func() time.Time { return now },
		OnFailure:    func(err error) { failed = append(failed, err) },
		OnCheckpoint: func(cp Checkpoint, _ time.Duration) { written = append(written, cp.Size) }})
	if err != nil {
		t.Fatal(err)
	}
	h := func(b byte) (x canonical.Hash) { x[0] = b; return x }
	k.Committed(w, s, 1, h(1), false)
	k.Durable(w, s, 1, false)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, dir)
	if len(written) != 1 {
		t.Fatalf("checkpoints before Close: %v, want one of size 1", written)
	}

	// Late Observer calls: records that became durable after the Keeper
	// closed, a chain it never saw, a rotation's, a ticker's.
	k.Committed(w, s, 2, h(2), false)
	k.Durable(w, s, 2, false)
	k.Committed("svc@inst-2", "other", 1, h(3), false)
	k.Durable("svc@inst-2", "other", 1, false)
	next := rotationKey(t, "the next key")
	k.Retired(w, s, keeperSigner(t).KeyID(), 2)
	k.FollowKey(next)
	k.Committed(w, s, 3, h(4), false)
	k.Durable(w, s, 3, false)
	now = now.Add(time.Hour)
	if err := k.Tick(); err != nil {
		t.Errorf("Tick after Close: %v, want nil (nothing failed; nothing is written)", err)
	}
	seq, err := k.SealChain(w, s)
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrSign) || !strings.Contains(err.Error(), "Keeper is closed") {
		t.Errorf("SealChain after Close: %v, want ErrClosed and ErrSign saying the Keeper is closed", err)
	}
	if seq != 1 {
		t.Errorf("SealChain after Close says seq %d is vouched for, want 1 (the newest checkpoint)", seq)
	}
	if note, err := k.Checkpoint(w, s); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrSign) || !strings.Contains(err.Error(), "Keeper is closed") || note != nil {
		t.Errorf("Checkpoint after Close: %d bytes, %v, want ErrClosed and ErrSign saying the Keeper is closed", len(note), err)
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if after := listTree(t, dir); !slices.Equal(before, after) {
		t.Errorf("the directory changed after Close:\nbefore %q\nafter  %q", before, after)
	}
	if len(written) != 1 || len(failed) != 0 || k.Err() != nil {
		t.Errorf("after Close: checkpoints %v, OnFailure %v, Err %v; want [1], none, nil", written, failed, k.Err())
	}
}

// TestKeeperClosedBeforeLog: a host that closes the Keeper before the Log
// under the checkpoint-sealed policy gets the Log's Close failing (its
// seal of the tail cannot be a checkpoint), not a checkpoint written into
// a directory it may already be archiving.
func TestKeeperClosedBeforeLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cp")
	signer := keeperSigner(t)
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 1000, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer, Observer: k, SealEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 2)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, dir)
	keeperAppend(t, l, 2, 1)
	if err := l.Close(); !errors.Is(err, sdk.ErrSign) || !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "Keeper is closed") {
		t.Errorf("Log.Close after Keeper.Close: %v, want sdk.ErrSign and ErrClosed saying the Keeper is closed", err)
	}
	if after := listTree(t, dir); !slices.Equal(before, after) {
		t.Errorf("the directory changed after Close:\nbefore %q\nafter  %q", before, after)
	}
}

// TestKeeperErrClosedOnlyWhenClosed: ErrClosed tells a Keeper closed from
// one that failed to sign or write: both are an *Error of ReasonSign,
// and a caller must not have to read the message to tell them apart. A
// checkpoint that fails to write (its directory a file) is ErrSign, not
// ErrClosed.
func TestKeeperErrClosedOnlyWhenClosed(t *testing.T) {
	const w, s = "w", "s"
	dir := filepath.Join(t.TempDir(), "cp")
	k, err := NewKeeper(dir, keeperSigner(t), KeeperOptions{Every: 1000, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := func(b byte) (x canonical.Hash) { x[0] = b; return x }
	k.Committed(w, s, 1, h(1), false)
	k.Durable(w, s, 1, false)
	// The chain's directory a file: the checkpoint cannot be written.
	if err := os.WriteFile(filepath.Join(dir, w), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Checkpoint(w, s); !errors.Is(err, ErrSign) || errors.Is(err, ErrClosed) {
		t.Errorf("Checkpoint that cannot be written: %v; want ErrSign, not ErrClosed", err)
	}
}
