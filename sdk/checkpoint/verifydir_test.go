package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// VerifyDir: a durable log and the checkpoints kept with it, verified in
// one pass, as ronaudit verify verifies them.

const vdWriter, vdStream = "svc@inst-1", "caps"

// sealedLog writes, in dir/wal, a checkpoint-sealed log a Keeper seals
// (its history in dir/wal/checkpoints, a checkpoint every 3 durable
// records and on Close): records from..from+n-1 of keeperAppend, and, with
// rotateTo set, a rotation to it after the first 3 (the transition is seq
// 4). It returns the log directory.
func sealedLog(t *testing.T, dir string, from, n int, rotateTo *sdk.Ed25519Signer) string {
	t.Helper()
	k1 := rotationKey(t, "verifydir first key")
	wdir := filepath.Join(dir, "wal")
	keeper, err := NewKeeper(filepath.Join(wdir, "checkpoints"), k1, KeeperOptions{Every: 3, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: keeper, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if i == from+3 && rotateTo != nil {
			if _, err := l.RotateKey(rotateTo); err != nil {
				t.Fatal(err)
			}
		}
		keeperAppend(t, l, i, 1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Close(); err != nil {
		t.Fatal(err)
	}
	return wdir
}

// notePath is the file of the kept checkpoint of size n.
func notePath(wdir string, n int64) string {
	return filepath.Join(wdir, "checkpoints", dirName(vdWriter), dirName(vdStream), noteFile(n))
}

// wantDirError checks err is a *DirError of the chain, at seq, naming
// path, matching target.
func wantDirError(t *testing.T, err error, seq uint64, path string, target error) {
	t.Helper()
	var de *DirError
	if !errors.As(err, &de) || !errors.Is(err, target) {
		t.Fatalf("err = %T %v, want a *DirError matching %v", err, err, target)
	}
	if de.WriterID != vdWriter || de.Stream != vdStream || de.Seq != seq || de.Path != path {
		t.Errorf("DirError names %s seq %d %s, want %s seq %d %s", names.Chain(de.WriterID, de.Stream), de.Seq, de.Path,
			names.Chain(vdWriter, vdStream), seq, path)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, names.Chain(vdWriter, vdStream)) {
		t.Errorf("message %q does not name the chain and the file", msg)
	}
}

// TestVerifyDirRotatedFirstKeyOnly: an auditor holding only the first key
// verifies a rotated, Keeper-sealed log: the checkpoints the second key
// signed are trusted through the verified transition, and they seal the
// chain to its head, where sdk.VerifyDir (no checkpoints) finds an
// unsealed tail. A checkpoint the retired key signed past its transition
// is refused (InForce).
func TestVerifyDirRotatedFirstKeyOnly(t *testing.T) {
	k1, k2 := rotationKey(t, "verifydir first key"), rotationKey(t, "verifydir second key")
	wdir := sealedLog(t, t.TempDir(), 0, 6, k2) // 7 records: checkpoints at 3 (k1), 6 and 7 (k2)
	if _, err := sdk.VerifyDir(wdir, sdk.NewKeySet(k1.Public()), false, nil); !errors.Is(err, sdk.ErrUnsealedTail) {
		t.Fatalf("sdk.VerifyDir of the sealed log: %v, want unsealed_tail", err)
	}
	var progressed uint64
	res, err := VerifyDir(wdir, keysOf(k1), DirOptions{Progress: func(n uint64, _ wal.Position) { progressed = n }})
	if err != nil {
		t.Fatalf("VerifyDir with the first key: %v", err)
	}
	if len(res.Heads) != 1 || res.Heads[0].Seq != 7 || res.Heads[0].SealedSeq != 7 {
		t.Errorf("heads %+v, want %s sealed to seq 7", res.Heads, names.Chain(vdWriter, vdStream))
	}
	if res.Used != 3 || len(res.Unused) != 0 || len(res.Retired) != 1 || res.Records != 7 || progressed != 7 {
		t.Errorf("used %d unused %v retired %d records %d progress %d, want 3, none, 1, 7, 7", res.Used, res.Unused, len(res.Retired), res.Records, progressed)
	}

	// What whoever kept k1 could still sign: the 7 records, past k1's
	// retirement at seq 4, in place of k2's checkpoint.
	tree := NewTree()
	for _, r := range durableChain(t, wdir) {
		tree.Append(r.Hash)
	}
	forged, err := Sign(Origin(vdWriter, vdStream), 7, tree.Root(), NewNoteSigner(k1, KeyName(vdWriter)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notePath(wdir, 7), forged, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyDir(wdir, keysOf(k1), DirOptions{})
	wantDirError(t, err, 7, notePath(wdir, 7), ErrRetiredKey)
}

func keysOf(ks ...*sdk.Ed25519Signer) (pubs []ed25519.PublicKey) {
	for _, k := range ks {
		pubs = append(pubs, k.Public())
	}
	return pubs
}

// TestVerifyDirTamperedRecord: a record changed in the log is the log's
// failure, a *sdk.DurableError naming it, before any checkpoint is read.
func TestVerifyDirTamperedRecord(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	wdir := sealedLog(t, t.TempDir(), 0, 5, nil)
	var at []wal.Position
	if _, err := sdk.ReadDir(wdir, func(_ sdk.Sealed, pos wal.Position) error { at = append(at, pos); return nil }); err != nil {
		t.Fatal(err)
	}
	patchFrame(t, at[1], func(p []byte) { p[74] ^= 1 }) // the stored hash of seq 2
	res, err := VerifyDir(wdir, keysOf(k1), DirOptions{})
	var dur *sdk.DurableError
	if !errors.As(err, &dur) || !errors.Is(err, sdk.ErrHashMismatch) || dur.Seq != 2 || dur.Position != at[1] {
		t.Fatalf("err = %T %v, want a *sdk.DurableError hash_mismatch at seq 2, %v", err, err, at[1])
	}
	if errors.As(err, new(*DirError)) || res.Records != 1 || res.Used != 0 {
		t.Errorf("records %d used %d (%T): the checkpoints are judged only once the log holds", res.Records, res.Used, err)
	}
}

// TestVerifyDirRolledBack: a log cut below its kept checkpoints fails as
// rolled back, naming the chain, the checkpoint's size and its file: a
// torn last record, and a chain whose records are all gone.
func TestVerifyDirRolledBack(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	wdir := sealedLog(t, t.TempDir(), 0, 4, nil) // checkpoints at 3 and 4
	seg := filepath.Join(wdir, wal.SegmentName(1))
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-10); err != nil { // record 4 torn off
		t.Fatal(err)
	}
	res, err := VerifyDir(wdir, keysOf(k1), DirOptions{})
	wantDirError(t, err, 4, notePath(wdir, 4), ErrRollback)
	if res.WAL.TornBytes == 0 || res.Heads[0].Seq != 3 {
		t.Errorf("torn %d bytes, head %+v: want the torn tail reported and 3 records", res.WAL.TornBytes, res.Heads)
	}

	// Another log that never held the chain, with its history.
	other := sealedLog(t, t.TempDir(), 0, 0, nil)
	if err := os.RemoveAll(filepath.Join(other, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(wdir, "checkpoints"), filepath.Join(other, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(other, "checkpoints", dirName(vdWriter), dirName(vdStream), noteFile(4))); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyDir(other, keysOf(k1), DirOptions{})
	wantDirError(t, err, 3, notePath(other, 3), ErrRollback)
}

// TestVerifyDirForked: a log whose records differ from those its kept
// checkpoints vouch for (as many, other bytes) fails as forked.
func TestVerifyDirForked(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	a := sealedLog(t, t.TempDir(), 0, 4, nil)
	b := sealedLog(t, t.TempDir(), 100, 4, nil)
	note, err := os.ReadFile(notePath(a, 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notePath(b, 4), note, 0o600); err != nil {
		t.Fatal(err)
	}
	// b's own checkpoint at 3 holds and is checked first.
	res, err := VerifyDir(b, keysOf(k1), DirOptions{})
	wantDirError(t, err, 4, notePath(b, 4), ErrFork)
	if res.Used != 1 {
		t.Errorf("used %d checkpoints before the fork, want 1 (size 3)", res.Used)
	}
}

// TestVerifyDirUnknownKeyNote: a kept checkpoint signed by a key the
// auditor does not hold is no evidence either way: reported in Unused, not
// used, and the log verifies on its other checkpoints. Without any key,
// no checkpoint is checked: all are Unused, and the records seal nothing.
func TestVerifyDirUnknownKeyNote(t *testing.T) {
	k1, stranger := rotationKey(t, "verifydir first key"), rotationKey(t, "someone else")
	wdir := sealedLog(t, t.TempDir(), 0, 4, nil)
	tree := NewTree()
	for _, r := range durableChain(t, wdir)[:2] {
		tree.Append(r.Hash)
	}
	msg, err := Sign(Origin(vdWriter, vdStream), 2, tree.Root(), NewNoteSigner(stranger, KeyName(vdWriter)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notePath(wdir, 2), msg, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := VerifyDir(wdir, keysOf(k1), DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Unused, []string{notePath(wdir, 2)}) || res.Used != 2 || res.Heads[0].SealedSeq != 4 {
		t.Errorf("unused %v used %d sealed %d, want [%s] 2 4", res.Unused, res.Used, res.Heads[0].SealedSeq, notePath(wdir, 2))
	}

	// The stranger's alone does not seal the chain.
	if _, err := VerifyDir(wdir, keysOf(stranger), DirOptions{}); !errors.Is(err, sdk.ErrUnsealedTail) {
		t.Errorf("with the stranger's key only: %v, want unsealed_tail", err)
	}
	res, err = VerifyDir(wdir, nil, DirOptions{AllowUnsealedTail: true})
	if err != nil || len(res.Unused) != 3 || res.Used != 0 || res.Heads[0].SealedSeq != 0 {
		t.Errorf("no keys: %v, unused %v used %d sealed %d: want every checkpoint unused, nothing sealed", err, res.Unused, res.Used, res.Heads[0].SealedSeq)
	}
}

// TestVerifyDirNoCheckpointsDir: no dir/checkpoints is a log none are kept
// for: a Keeper-sealed log then has an unsealed tail from seq 1 (a
// *sdk.DurableError naming the chain and seq), accepted with
// AllowUnsealedTail. A checkpoints path that is there and is not a
// directory that can be read is a *DirError naming it.
func TestVerifyDirNoCheckpointsDir(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	wdir := sealedLog(t, t.TempDir(), 0, 4, nil)
	cpDir := filepath.Join(wdir, "checkpoints")
	saved := filepath.Join(t.TempDir(), "saved")
	if err := os.Rename(cpDir, saved); err != nil {
		t.Fatal(err)
	}
	_, err := VerifyDir(wdir, keysOf(k1), DirOptions{})
	var dur *sdk.DurableError
	if !errors.As(err, &dur) || !errors.Is(err, sdk.ErrUnsealedTail) || dur.WriterID != vdWriter || dur.Stream != vdStream || dur.Seq != 1 {
		t.Fatalf("no checkpoints: %T %v, want a *sdk.DurableError unsealed_tail at %s seq 1", err, err, names.Chain(vdWriter, vdStream))
	}
	res, err := VerifyDir(wdir, keysOf(k1), DirOptions{AllowUnsealedTail: true})
	if err != nil || res.Heads[0].Seq != 4 || res.Heads[0].SealedSeq != 0 || res.Used != 0 || res.Unused != nil {
		t.Errorf("no checkpoints, tail allowed: %v %+v", err, res)
	}

	for name, mk := range map[string]func() error{
		"dangling link": func() error { return os.Symlink(filepath.Join(t.TempDir(), "gone"), cpDir) },
		"regular file":  func() error { return os.WriteFile(cpDir, []byte("x"), 0o600) },
	} {
		if err := mk(); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyDir(wdir, keysOf(k1), DirOptions{AllowUnsealedTail: true})
		var de *DirError
		if !errors.As(err, &de) || de.Path != cpDir || de.WriterID != "" || !strings.Contains(err.Error(), cpDir+" is not a directory that can be read") {
			t.Errorf("%s in place of the checkpoints directory: %T %v, want a *DirError naming %s", name, err, err, cpDir)
		}
		if err := os.Remove(cpDir); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRootStream: the roots VerifyDir keeps as records stream by are the
// Tree's, at every size.
func TestRootStream(t *testing.T) {
	const n = 130
	tree := NewTree()
	r := &rootStream{want: map[int64]bool{}, at: map[int64]tlog.Hash{}}
	for i := int64(1); i <= n; i += 3 {
		r.want[i] = true
	}
	for i := range n {
		var h [32]byte
		h[0], h[1] = byte(i), byte(i>>8)
		tree.Append(h)
		r.add(h)
		if got, want := r.edge.Root(), tree.Root(); got != want {
			t.Fatalf("root of %d leaves %x, tree says %x", i+1, got, want)
		}
	}
	for size := int64(0); size <= n; size++ {
		got, err := r.rootAt(size)
		want, _ := tree.RootAt(size)
		switch {
		case r.want[size] || size == 0 || size == n:
			if err != nil || got != want {
				t.Errorf("rootAt(%d) = %x, %v; want %x", size, got, err, want)
			}
		case !errors.Is(err, ErrRange):
			t.Errorf("rootAt(%d) of a size not kept: %v, want out_of_range", size, err)
		}
	}
	if r.edge.Len() > 8 {
		t.Errorf("%d hashes kept for %d leaves, want one per 1 bit of the size", r.edge.Len(), n)
	}
}

// TestVerifyDirChainDirNotADir: a chain's directory under dir/checkpoints
// that is there but is not a directory (a file in its place) is not a
// chain none are kept for: HistoryChains refuses it, and VerifyDir
// must fail with a *DirError naming it and the chain, even when an
// unsealed tail is allowed (the records it vouched for would otherwise
// verify as merely unsealed). An empty chain directory is one none are
// kept for.
func TestVerifyDirChainDirNotADir(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	wdir := sealedLog(t, t.TempDir(), 0, 4, nil)
	chainDir := filepath.Join(wdir, "checkpoints", dirName(vdWriter), dirName(vdStream))
	if err := os.RemoveAll(chainDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(chainDir, 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := VerifyDir(wdir, keysOf(k1), DirOptions{AllowUnsealedTail: true})
	if err != nil || res.Used != 0 || res.Heads[0].SealedSeq != 0 {
		t.Fatalf("empty chain directory, tail allowed: %v, used %d, sealed %d: want none kept", err, res.Used, res.Heads[0].SealedSeq)
	}
	if err := os.Remove(chainDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chainDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyDir(wdir, keysOf(k1), DirOptions{AllowUnsealedTail: true})
	var de *DirError
	if !errors.As(err, &de) || de.Path != chainDir || de.WriterID != vdWriter || de.Stream != vdStream || de.Seq != 0 {
		t.Errorf("a file in place of the chain's directory: %T %v, want a *DirError of %s naming %s", err, err, names.Chain(vdWriter, vdStream), chainDir)
	}
}

// notADir puts a regular file at path, in place of a directory.
func notADir(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryChainsNotADir: an entry of the history named as a writer's
// or a stream's directory that is not one (a file in its place) may
// stand for checkpoints nobody can see, even of a chain the log no longer
// has: HistoryChains fails naming it (an *fs.PathError of "not a
// directory"), as VerifyDir does for a chain of the log, instead of
// passing it over; so VerifyDir fails on it whatever chains the log has,
// with a *DirError naming the path (and the chain, for a stream's). An
// entry not so named is not the history's and is still passed over.
func TestHistoryChainsNotADir(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	for _, level := range []string{"writer", "stream"} {
		t.Run(level, func(t *testing.T) {
			wdir := sealedLog(t, t.TempDir(), 0, 4, nil)
			cpDir := filepath.Join(wdir, "checkpoints")
			notADir(t, filepath.Join(cpDir, "not a chain")) // no escaped component: not the history's
			notADir(t, filepath.Join(cpDir, dirName(vdWriter), "%zz"))
			if chains, err := HistoryChains(cpDir); err != nil || len(chains) != 1 {
				t.Fatalf("HistoryChains with entries not so named: %v, %v; want the one chain", chains, err)
			}
			path := filepath.Join(cpDir, "gone@inst-9")
			if level == "stream" {
				path = filepath.Join(cpDir, dirName(vdWriter), "gone")
			}
			notADir(t, path)

			chains, err := HistoryChains(cpDir)
			var pe *fs.PathError
			if chains != nil || !errors.As(err, &pe) || pe.Path != path || !strings.Contains(err.Error(), path+": not a directory") {
				t.Fatalf("HistoryChains with a file at %s: %v, %v; want an *fs.PathError naming it", path, chains, err)
			}
			_, err = VerifyDir(wdir, keysOf(k1), DirOptions{AllowUnsealedTail: true})
			var de *DirError
			if !errors.As(err, &de) || de.Path != path || de.Seq != 0 {
				t.Fatalf("VerifyDir with a file at %s: %T %v, want a *DirError naming it", path, err, err)
			}
			want := map[string][2]string{"writer": {}, "stream": {vdWriter, "gone"}}[level]
			if got := [2]string{de.WriterID, de.Stream}; got != want {
				t.Errorf("VerifyDir with a file at %s names chain %q, want %q", path, got, want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("VerifyDir's error does not name %s: %v", path, err)
			}
		})
	}
}

// TestVerifyDirRefusesRenamedCheckpoint: a kept checkpoint's file name
// is its size (the Keeper reads the newest by name, and signs nothing
// up to it), and the name is not signed: the newest checkpoint renamed
// to a larger size still verifies by its content, and a Keeper reopened
// on it would take the chain as checkpointed up to the name's size and
// write no checkpoint below it. So VerifyDir refuses a file whose name
// is not its checkpoint's size (ReasonFormat, naming the file), and so
// does the Keeper when the log is opened.
func TestVerifyDirRefusesRenamedCheckpoint(t *testing.T) {
	signer := keeperSigner(t)
	wdir := filepath.Join(t.TempDir(), "wal")
	cdir := filepath.Join(wdir, "checkpoints")
	k, _ := NewKeeper(cdir, signer, KeeperOptions{Every: 5, Interval: -1})
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 7)
	l.Close()
	if err := k.Close(); err != nil { // checkpoints at 5 and 7
		t.Fatal(err)
	}
	pubs := []ed25519.PublicKey{signer.Public()}
	if _, err := VerifyDir(wdir, pubs, DirOptions{}); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	chainDir := filepath.Join(cdir, dirName("svc@inst-1"), "caps")
	renamed := filepath.Join(chainDir, noteFile(999))
	if err := os.Rename(filepath.Join(chainDir, noteFile(7)), renamed); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyDir(wdir, pubs, DirOptions{})
	var de *DirError
	if !errors.Is(err, ErrFormat) || !errors.As(err, &de) || de.Path != renamed {
		t.Fatalf("VerifyDir with the checkpoint at 7 named for 999: %v; want ErrFormat naming %s", err, renamed)
	}
	t.Log(err)

	k2, _ := NewKeeper(cdir, signer, KeeperOptions{Every: 5, Interval: -1})
	l2, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k2}, sdk.DurableOptions{})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), renamed) {
		if l2 != nil {
			l2.Close()
		}
		k2.Close()
		t.Fatalf("OpenDurable with the newest checkpoint named for 999: %v; want ErrFormat naming %s", err, renamed)
	}
	k2.Close()
}
