package checkpoint

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// keeperSigner is the key the Keeper tests sign with; the rotation tests
// name it rotationKey(t, "keeper test key"), their first key.
func keeperSigner(t *testing.T) *sdk.Ed25519Signer { return rotationKey(t, "keeper test key") }

// keeperRecord is record i (0-based) of the chain the Keeper tests
// append to, svc@inst-1/caps.
func keeperRecord(i int) canonical.AuditRecord {
	return canonical.AuditRecord{WriterID: "svc@inst-1", Stream: "caps", TsMs: uint64(1000 + i), Reason: "r" + strconv.Itoa(i)}
}

// keeperAppend appends records from..from+n-1 of keeperRecord's chain.
func keeperAppend(t *testing.T, l *sdk.Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		r := keeperRecord(i)
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
}

// tenRecordHistory leaves in cpDir what a Keeper checkpointing every 5
// records keeps of the first 10 of keeperAppend's chain (a log in RAM):
// checkpoints at 5 and 10. k is that Keeper, closed. The tests of a
// history that the log no longer matches start from it.
func tenRecordHistory(t *testing.T, signer sdk.Signer) (cpDir string, k *Keeper) {
	t.Helper()
	cpDir = filepath.Join(t.TempDir(), "cp")
	k, err := NewKeeper(cpDir, signer, KeeperOptions{Every: 5, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer, Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 10)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	return cpDir, k
}

func openHistory(t *testing.T, k *Keeper) []Checkpoint {
	t.Helper()
	paths, err := k.History("svc@inst-1", "caps")
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Verifier("svc@inst-1")
	if err != nil {
		t.Fatal(err)
	}
	var out []Checkpoint
	for _, p := range paths {
		msg, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", p, fi.Mode())
		}
		cp, err := Open(msg, note.VerifierList(v))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, cp)
	}
	return out
}

// TestKeeperCadence: checkpoints every N durable records and on Close,
// each consistent with the one before and proving its records.
func TestKeeperCadence(t *testing.T) {
	signer := keeperSigner(t)
	k, err := NewKeeper(filepath.Join(t.TempDir(), "cp"), signer, KeeperOptions{Every: 10, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer, Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 35)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	hist := openHistory(t, k)
	var sizes []int64
	for _, cp := range hist {
		sizes = append(sizes, cp.Size)
	}
	if len(sizes) != 4 || sizes[0] != 10 || sizes[1] != 20 || sizes[2] != 30 || sizes[3] != 35 {
		t.Fatalf("checkpoint sizes %v", sizes)
	}
	tree := k.Tree("svc@inst-1", "caps")
	for i := 1; i < len(hist); i++ {
		p, err := tree.ConsistencyProof(hist[i-1].Size, hist[i].Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyConsistency(hist[i-1], hist[i], p); err != nil {
			t.Fatal(err)
		}
	}
	// Record 7 is in the last checkpoint, by the hash the Log gave it.
	it := l.Store().Iter("svc@inst-1", "caps")
	var recs []sdk.Sealed
	for it.Next() {
		recs = append(recs, it.Entry())
	}
	p, err := tree.InclusionProof(6, 35)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(hist[3], 6, recs[6].Hash, p); err != nil {
		t.Fatal(err)
	}
}

// TestKeeperDurableRestart: after a crash (no Close), reopening replays the
// log through a new Keeper, which rebuilds the tree and goes on.
func TestKeeperDurableRestart(t *testing.T) {
	dir := t.TempDir()
	signer := keeperSigner(t)
	open := func() (*sdk.Log, *Keeper) {
		k, err := NewKeeper(filepath.Join(dir, "checkpoints"), signer, KeeperOptions{Every: 10, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l, k
	}
	l, k := open()
	keeperAppend(t, l, 0, 25)
	l.Close() // the Keeper is not closed: no checkpoint at 25
	if n := len(openHistory(t, k)); n != 2 {
		t.Fatalf("%d checkpoints before the crash", n)
	}

	l, k = open()
	if k.Tree("svc@inst-1", "caps").Size() != 25 || k.Err() != nil {
		t.Fatalf("tree not rebuilt: %d %v", k.Tree("svc@inst-1", "caps").Size(), k.Err())
	}
	keeperAppend(t, l, 25, 10)
	l.Close()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	hist := openHistory(t, k)
	last := hist[len(hist)-1]
	if last.Size != 35 || hist[len(hist)-2].Size < 30 {
		t.Fatalf("history %v", hist)
	}
	root, _ := k.Tree("svc@inst-1", "caps").RootAt(20)
	if hist[1].Size != 20 || hist[1].Root != root {
		t.Fatal("the checkpoint of size 20 does not match the rebuilt tree")
	}
}

func TestKeeperInterval(t *testing.T) {
	now := time.Unix(1764201600, 0)
	signer := keeperSigner(t)
	k, err := NewKeeper(filepath.Join(t.TempDir(), "cp"), signer, KeeperOptions{Every: 1000, Interval: time.Minute, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := sdk.New(sdk.Config{Signer: signer, Observer: k})
	keeperAppend(t, l, 0, 3)
	if n := len(openHistory(t, k)); n != 0 {
		t.Fatalf("%d checkpoints before the interval", n)
	}
	now = now.Add(61 * time.Second)
	keeperAppend(t, l, 3, 1)
	if h := openHistory(t, k); len(h) != 1 || h[0].Size != 4 {
		t.Fatalf("after the interval: %v", h)
	}
}

func TestKeeperMidChain(t *testing.T) {
	k, err := NewKeeper(filepath.Join(t.TempDir(), "cp"), keeperSigner(t), KeeperOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k.Committed("w", "s", 5, canonical.Hash{}, false)
	if k.Err() == nil {
		t.Fatal("a chain seen from seq 5 was accepted")
	}
}

// TestCheckpointSealedPolicy: under the checkpoint-sealed policy with a
// Keeper, records are not signed; the Keeper's checkpoints seal the chain,
// and a verifier holding them finds every record vouched for, a cut chain
// rolled back, and records past the last checkpoint an unsealed tail.
func TestCheckpointSealedPolicy(t *testing.T) {
	signer := keeperSigner(t)
	dir := filepath.Join(t.TempDir(), "cp")
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 10, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer, SealEvery: 1000, Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 25)
	recs := chainRecsOf(l)
	for _, r := range recs {
		if r.Signed {
			t.Fatal("a record was signed: the checkpoints should seal the chain")
		}
	}
	v, _ := k.Verifier("svc@inst-1")
	vs := note.VerifierList(v)
	hist, _ := LoadHistory(dir, "svc@inst-1", "caps")
	if len(hist) != 2 { // 10 and 20
		t.Fatalf("%d checkpoints", len(hist))
	}
	_, err = VerifyChain(sdk.NewSliceIterator(recs), nil, vs, hist, sdk.VerifyOptions{})
	if !errors.Is(err, sdk.ErrUnsealedTail) {
		t.Fatalf("21-25 not sealed yet: %v", err)
	}
	head, err := l.Seal("svc@inst-1", "caps") // asks the Keeper
	if err != nil || head.SealedSeq != 25 {
		t.Fatalf("seal: %+v %v", head, err)
	}
	hist, _ = LoadHistory(dir, "svc@inst-1", "caps")
	res, err := VerifyChain(sdk.NewSliceIterator(recs), nil, vs, hist, sdk.VerifyOptions{})
	if err != nil || res.Head.SealedSeq != 25 || res.Records != 25 {
		t.Fatalf("sealed chain: %+v %v", res, err)
	}
	// Cut back to 15 records: the checkpoint of 25 says more existed.
	if _, err := VerifyChain(sdk.NewSliceIterator(recs[:15]), nil, vs, hist, sdk.VerifyOptions{}); !errors.Is(err, ErrRollback) {
		t.Fatalf("cut chain: %v", err)
	}
	// Every record gone: rolled back too, not origin_mismatch ("is of
	// ron-audit/svc@inst-1/caps, not of ron-audit//"): an empty iterator
	// names no chain, and the caller gave this chain's checkpoints.
	if _, err := VerifyChain(sdk.NewSliceIterator(nil), nil, vs, hist, sdk.VerifyOptions{}); !errors.Is(err, ErrRollback) ||
		!strings.Contains(err.Error(), "the log has 0 records of svc@inst-1/caps") {
		t.Fatalf("no record left: %v", err)
	}
	start := &sdk.Head{WriterID: "svc@inst-1", Stream: "caps"}
	if _, err := VerifyChain(sdk.NewSliceIterator(nil), nil, vs, hist, sdk.VerifyOptions{Start: start}); !errors.Is(err, ErrRollback) {
		t.Fatalf("no record left after a start of the chain: %v", err)
	}
	start.Stream = "other"
	if _, err := VerifyChain(sdk.NewSliceIterator(nil), nil, vs, hist, sdk.VerifyOptions{Start: start}); !errors.Is(err, ErrOriginMismatch) {
		t.Fatalf("another chain's checkpoints: %v", err)
	}
	// A forged checkpoint is refused.
	forged := append([]byte(nil), hist[0]...)
	forged[len("ron-audit/svc@inst-1/caps\n")] = '9'
	if _, err := VerifyChain(sdk.NewSliceIterator(recs), nil, vs, [][]byte{forged}, sdk.VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged checkpoint: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func chainRecsOf(l *sdk.Log) []sdk.Sealed {
	var recs []sdk.Sealed
	for it := l.Store().Iter("svc@inst-1", "caps"); it.Next(); {
		recs = append(recs, it.Entry())
	}
	return recs
}

// TestKeeperRefusesRollback: a Keeper whose history vouches for more than
// the log holds (the log was restored from an old copy) signs nothing.
func TestKeeperRefusesRollback(t *testing.T) {
	signer := keeperSigner(t)
	cpDir, k := tenRecordHistory(t, signer)
	// A new log (in RAM, so empty) with the same checkpoint history.
	k2, _ := NewKeeper(cpDir, signer, KeeperOptions{Every: 5, Interval: -1})
	l2, _ := sdk.New(sdk.Config{Signer: signer, Observer: k2})
	keeperAppend(t, l2, 0, 6)
	if err := k2.Close(); !errors.Is(err, ErrRollback) {
		t.Fatalf("rolled back log: %v", err)
	}
	// A log that rewrote history forks from the checkpoints.
	k3, _ := NewKeeper(cpDir, signer, KeeperOptions{Every: 5, Interval: -1})
	l3, _ := sdk.New(sdk.Config{Signer: signer, Observer: k3})
	keeperAppend(t, l3, 100, 12)
	if err := k3.Close(); !errors.Is(err, ErrFork) {
		t.Fatalf("forked log: %v", err)
	}
	if n := len(openHistory(t, k)); n != 2 { // 5 and 10 only
		t.Fatalf("%d checkpoints: the Keeper signed a rollback or a fork", n)
	}
}

// TestOpenDurableRefusesLostRecords: a durable log that lost records its
// checkpoints vouch for (the tail cut, every segment gone, or rewritten) is
// refused by OpenDurable with the Keeper as Observer, before it cuts the
// torn tail or appends anything: the bytes on disk stay as they were and
// no checkpoint is added. An intact log reopens.
func TestOpenDurableRefusesLostRecords(t *testing.T) {
	signer := keeperSigner(t)
	build := func(t *testing.T, n int) (string, string) {
		dir := t.TempDir()
		wdir, cpDir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
		k, err := NewKeeper(cpDir, signer, KeeperOptions{Every: 5, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keeperAppend(t, l, 0, n)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := k.Close(); err != nil { // a checkpoint at n
			t.Fatal(err)
		}
		return wdir, cpDir
	}
	open := func(wdir, cpDir string) error {
		k, err := NewKeeper(cpDir, signer, KeeperOptions{Every: 5, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		if err == nil {
			l.Close()
		}
		return err
	}
	files := func(dirs ...string) map[string]string {
		out := map[string]string{}
		for _, d := range dirs {
			filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() && filepath.Base(p) != "LOCK" {
					b, _ := os.ReadFile(p)
					out[p] = string(b)
				}
				return nil
			})
		}
		return out
	}
	segOf := func(t *testing.T, wdir string) string {
		segs, _ := filepath.Glob(filepath.Join(wdir, "*.seg"))
		if len(segs) != 1 {
			t.Fatalf("segments %v", segs)
		}
		return segs[0]
	}

	t.Run("intact", func(t *testing.T) {
		wdir, cpDir := build(t, 12)
		if err := open(wdir, cpDir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tail cut", func(t *testing.T) {
		wdir, cpDir := build(t, 12)
		seg := segOf(t, wdir)
		b, _ := os.ReadFile(seg)
		os.WriteFile(seg, b[:len(b)-10], 0o600) // record 12 now looks torn
		before := files(wdir, cpDir)
		err := open(wdir, cpDir)
		if !errors.Is(err, ErrRollback) {
			t.Fatalf("open after the checkpointed record 12 was cut: %v", err)
		}
		for _, want := range []string{"svc@inst-1/caps", "11 records", "vouches for 12", "torn tail", "00000000000000000012.note"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if after := files(wdir, cpDir); !maps.Equal(before, after) {
			t.Fatal("the refused open changed the log or its checkpoints")
		}
	})
	t.Run("segments gone", func(t *testing.T) {
		wdir, cpDir := build(t, 12)
		os.Remove(segOf(t, wdir))
		err := open(wdir, cpDir)
		if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "0 records") {
			t.Fatalf("open with every segment gone: %v", err)
		}
		if segs, _ := filepath.Glob(filepath.Join(wdir, "*.seg")); len(segs) != 0 {
			t.Fatalf("the refused open created %v", segs)
		}
	})
	t.Run("rewritten", func(t *testing.T) {
		wdir, cpDir := build(t, 12)
		other, _ := build(t, 0)
		os.Remove(segOf(t, wdir))
		k, _ := NewKeeper(filepath.Join(t.TempDir(), "cp"), signer, KeeperOptions{Interval: -1})
		l, _, err := sdk.OpenDurable(other, sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keeperAppend(t, l, 100, 12) // a different history of the same length
		l.Close()
		if err := os.Rename(segOf(t, other), filepath.Join(wdir, filepath.Base(segOf(t, other)))); err != nil {
			t.Fatal(err)
		}
		if err := open(wdir, cpDir); !errors.Is(err, ErrFork) {
			t.Fatalf("open of a rewritten log: %v", err)
		}
	})
}

// TestRetiredKeyCheckpoint: after a key transition at seq 4, a checkpoint
// signed by the retired key vouches for at most 4 records. Someone holding
// only the old key who rewrites records 5-7 unsigned and checkpoints them
// with it is refused (ErrRetiredKey); the old key's checkpoint up to the
// transition and the new key's of the whole chain hold.
func TestRetiredKeyCheckpoint(t *testing.T) {
	k1 := keeperSigner(t)
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "the next key")
	k2, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: k1})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	if heads, err := l.RotateKey(k2); err != nil || heads[0].Seq != 4 {
		t.Fatalf("rotate: %+v %v", heads, err)
	}
	keeperAppend(t, l, 3, 3)
	genuine := chainRecsOf(l)

	prev := genuine[3].Hash
	forged := append([]sdk.Sealed(nil), genuine[:4]...)
	for seq := uint64(5); seq <= 7; seq++ {
		r := canonical.AuditRecord{WriterID: "svc@inst-1", Stream: "caps", Seq: seq, TsMs: 9000, Reason: "forged", Prev: prev[:]}
		b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		prev = canonical.RecordHash(b)
		forged = append(forged, sdk.Sealed{Bytes: b, Hash: prev})
	}
	checkpointOf := func(recs []sdk.Sealed, size int, signers ...sdk.Signer) []byte {
		tree := NewTree()
		for _, r := range recs[:size] {
			tree.Append(r.Hash)
		}
		var ns []note.Signer
		for _, s := range signers {
			ns = append(ns, NewNoteSigner(s, KeyName("svc@inst-1")))
		}
		msg, err := note.Sign(&note.Note{Text: Text(Origin("svc@inst-1", "caps"), int64(size), tree.Root())}, ns...)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	v1, _ := NoteVerifier(KeyName("svc@inst-1"), k1.Public())
	v2, _ := NoteVerifier(KeyName("svc@inst-1"), k2.Public())
	vs := note.VerifierList(v1, v2)
	keys := sdk.NewKeySet(k1.Public()) // k2 is learned from the transition
	verify := func(recs []sdk.Sealed, cp []byte) error {
		_, err := VerifyChain(sdk.NewSliceIterator(recs), keys, vs, [][]byte{cp}, sdk.VerifyOptions{})
		return err
	}

	if err := verify(forged, checkpointOf(forged, 7, k1)); !errors.Is(err, ErrRetiredKey) {
		t.Fatalf("forged records vouched for by the retired key: %v", err)
	}
	// The same under another key name, which a verifier also trusts k1
	// under (a witness list, say): still k1, still retired.
	tree := NewTree()
	for _, r := range forged {
		tree.Append(r.Hash)
	}
	other, err := note.Sign(&note.Note{Text: Text(Origin("svc@inst-1", "caps"), 7, tree.Root())}, NewNoteSigner(k1, "witness"))
	if err != nil {
		t.Fatal(err)
	}
	vw, _ := NoteVerifier("witness", k1.Public())
	if _, err := VerifyChain(sdk.NewSliceIterator(forged), keys, note.VerifierList(v1, v2, vw), [][]byte{other}, sdk.VerifyOptions{}); !errors.Is(err, ErrRetiredKey) {
		t.Fatalf("the retired key under another name: %v", err)
	}
	if err := verify(genuine, checkpointOf(genuine, 7, k1)); !errors.Is(err, ErrRetiredKey) || !strings.Contains(err.Error(), "retired at seq 4") {
		t.Fatalf("the retired key's checkpoint past its transition: %v", err)
	}
	for _, ok := range []struct {
		name string
		cp   []byte
	}{
		{"old key up to the transition", checkpointOf(genuine, 4, k1)},
		{"new key", checkpointOf(genuine, 7, k2)},
		{"both keys", checkpointOf(genuine, 7, k1, k2)},
	} {
		if err := verify(genuine, ok.cp); err != nil {
			t.Errorf("%s: %v", ok.name, err)
		}
	}
	res, err := sdk.VerifyChain(sdk.NewSliceIterator(genuine), keys, sdk.VerifyOptions{})
	if err != nil || len(res.Retired) != 1 || res.Retired[0].Seq != 4 || res.Retired[0].KeyID != k1.KeyID() || !res.Retired[0].Pub.Equal(k1.Public()) {
		t.Fatalf("Result.Retired %+v, %v", res.Retired, err)
	}
}

// TestKeeperAcrossRotate: a Keeper kept across Log.RotateKey signs with
// the new key from the rotation on (FollowKey), so the chain with its
// checkpoints verifies; it signed later checkpoints with the retired key,
// which InForce refuses.
func TestKeeperAcrossRotate(t *testing.T) {
	k1 := keeperSigner(t)
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "the next key")
	k2, _ := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	dir := filepath.Join(t.TempDir(), "cp")
	k, err := NewKeeper(dir, k1, KeeperOptions{Every: 2, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: k1, Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	if _, err := l.RotateKey(k2); err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 3, 3)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	hist, _ := LoadHistory(dir, "svc@inst-1", "caps")
	v1, _ := NoteVerifier(KeyName("svc@inst-1"), k1.Public())
	v2, _ := NoteVerifier(KeyName("svc@inst-1"), k2.Public())
	res, err := VerifyChain(sdk.NewSliceIterator(chainRecsOf(l)), sdk.NewKeySet(k1.Public()), note.VerifierList(v1, v2), hist, sdk.VerifyOptions{})
	if err != nil || res.Records != 7 {
		t.Fatalf("rotated chain with its checkpoints: %+v %v", res, err)
	}
}

// TestRotateBack: a key a chain retired cannot sign it again; RotateKey
// to it is refused and changes nothing, in RAM and after a reopen.
func TestRotateBack(t *testing.T) {
	k1 := keeperSigner(t)
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "the next key")
	k2, _ := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	wdir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 2)
	if _, err := l.RotateKey(k2); err != nil {
		t.Fatal(err)
	}
	before := l.Heads()
	if _, err := l.RotateKey(k1); !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "retired at svc@inst-1/caps seq 3") {
		t.Fatalf("rotate back to the retired key: %v", err)
	}
	if after := l.Heads(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("the refused rotation changed the chain: %+v -> %+v", before, after)
	}
	l.Close()
	l, _, err = sdk.OpenDurable(wdir, sdk.Config{Signer: k2}, sdk.DurableOptions{Keys: sdk.NewKeySet(k1.Public(), k2.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.RotateKey(k1); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("rotate back after a reopen: %v", err)
	}
}

// TestKeeperDirNames: chains named "." or ".." keep their checkpoints in
// their own directories under the Keeper's (they named the directory
// itself or its parent), chains (a, .) and (., a) do not share one, and a
// writer directory that is a symbolic link is still found by the replay
// check.
func TestKeeperDirNames(t *testing.T) {
	signer := keeperSigner(t)
	root := t.TempDir()
	dir := filepath.Join(root, "log", "checkpoints")
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 1, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer, Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	for _, ws := range [][2]string{{"..", ".."}, {".", "a"}, {"a", "."}, {"svc", "s"}} {
		r := canonical.AuditRecord{WriterID: ws[0], Stream: ws[1], TsMs: 1}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	outside, _ := filepath.Glob(filepath.Join(root, "*", "*.note"))
	outside2, _ := filepath.Glob(filepath.Join(root, "*.note"))
	if len(outside)+len(outside2) != 0 {
		t.Fatalf("checkpoints written outside the Keeper's directory: %v %v", outside, outside2)
	}
	chains, err := HistoryChains(dir)
	if err != nil || len(chains) != 4 {
		t.Fatalf("HistoryChains: %v %v", chains, err)
	}
	// Move a writer's directory elsewhere and link it back: still checked.
	elsewhere := filepath.Join(root, "elsewhere")
	if err := os.Rename(filepath.Join(dir, "svc"), elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "svc")); err != nil {
		t.Skip("symlink:", err)
	}
	for _, ws := range [][2]string{{"..", ".."}, {".", "a"}, {"a", "."}} {
		os.RemoveAll(filepath.Join(dir, dirName(ws[0]), dirName(ws[1])))
	}
	k2, _ := NewKeeper(dir, signer, KeeperOptions{Interval: -1})
	if err := k2.CheckReplay(); !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "svc/s") {
		t.Fatalf("a linked writer directory with no records replayed: %v", err)
	}
}

// TestKeeperReplaySignsOnlyChecked: a reopened log replays its records
// through the Keeper, which signs a checkpoint when Every records are
// durable past its last one. It must never sign over a record whose
// signature is bad, although the replay checks signatures in batches
// after the records pass by: the Keeper hears Durable only once they hold.
func TestKeeperReplaySignsOnlyChecked(t *testing.T) {
	dir := t.TempDir()
	signer := keeperSigner(t)
	open := func() (*sdk.Log, *Keeper, error) {
		k, err := NewKeeper(filepath.Join(dir, "checkpoints"), signer, KeeperOptions{Every: 2, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		return l, k, err
	}
	l, _, err := open()
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 2) // checkpoint at 2
	l.Close()
	// Records 3 and 4 land with no Keeper watching (a crash before it
	// signed, say); then record 3's signature is damaged.
	l, _, err = sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 2, 2)
	l.Close()
	var at wal.Position
	if _, err := sdk.ReadDir(filepath.Join(dir, "wal"), func(rec sdk.Sealed, pos wal.Position) error {
		if v, err := canonical.OpenAuditRecord(rec.Bytes); err == nil && v.Seq() == 3 {
			at = pos
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	patchFrame(t, at, func(payload []byte) { payload[10] ^= 1 }) // a signature byte

	_, k, err := open()
	if !errors.Is(err, sdk.ErrBadSignature) {
		t.Fatalf("reopen: %v, want a bad signature", err)
	}
	if n := k.Tree("svc@inst-1", "caps").Size(); n != 2 {
		t.Fatalf("the Keeper heard of %d records, want the 2 that hold", n)
	}
	paths, err := HistoryPaths(filepath.Join(dir, "checkpoints"), "svc@inst-1", "caps")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 || !strings.HasSuffix(paths[0], "00000000000000000002.note") {
		t.Fatalf("checkpoints after the failed replay: %v (the Keeper signed over the bad signature)", paths)
	}
}

// patchFrame rewrites the payload of the WAL frame at pos with edit and
// fixes its CRC, as someone with write access to the log could.
func patchFrame(t *testing.T, pos wal.Position, edit func(payload []byte)) {
	t.Helper()
	f, err := os.OpenFile(pos.File, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hdr [wal.FrameHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], pos.Offset); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, binary.LittleEndian.Uint32(hdr[:4]))
	if _, err := f.ReadAt(payload, pos.Offset+wal.FrameHeaderSize); err != nil {
		t.Fatal(err)
	}
	edit(payload)
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	if _, err := f.WriteAt(hdr[:], pos.Offset); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(payload, pos.Offset+wal.FrameHeaderSize); err != nil {
		t.Fatal(err)
	}
}

// TestKeeperCommittedReadsNoHistory: Committed, which the Log calls under
// the chain's append lock, does not read the chain's checkpoint history
// (on a chain's first record that would be a directory listing and a
// note read on the append path); the first call that needs it does, once, and
// still checks against it (a rolled-back log is refused).
func TestKeeperCommittedReadsNoHistory(t *testing.T) {
	signer := keeperSigner(t)
	cpDir, k := tenRecordHistory(t, signer)

	chainDir := k.chainDir("svc@inst-1", "caps")
	var reads atomic.Int32
	t.Cleanup(func() { readDir = os.ReadDir })
	readDir = func(dir string) ([]os.DirEntry, error) {
		if dir == chainDir {
			reads.Add(1)
		}
		return os.ReadDir(dir)
	}
	k2, _ := NewKeeper(cpDir, signer, KeeperOptions{Every: 5, Interval: -1})
	for seq := uint64(1); seq <= 6; seq++ {
		k2.Committed("svc@inst-1", "caps", seq, canonical.Hash{byte(seq), 0xEE}, false)
	}
	if n := reads.Load(); n != 0 {
		t.Fatalf("Committed listed the chain's history %d times", n)
	}
	k2.Durable("svc@inst-1", "caps", 6, false) // is a checkpoint due? The history says
	if n := reads.Load(); n != 1 {
		t.Fatalf("Durable listed the chain's history %d times, want 1", n)
	}
	if err := k2.Close(); !errors.Is(err, ErrRollback) {
		t.Fatalf("a log of 6 records under a history of 10: %v, want ErrRollback", err)
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("history listed %d times, want once", n)
	}
}

// TestKeeperUnlistableHistory: a chain directory the Keeper cannot list
// (mode 0300 for a user who is not root, or an I/O error) is not taken as
// an empty history: a rolled-back log would then sign a checkpoint that
// forks from the ones there (sizes 3 and 6 of a rewritten log signed
// beside 5 and 10, and Close nil).
// The Keeper signs nothing and fails naming the chain and the cause: the
// file system's error, not a *Error (no checkpoint failed a check).
func TestKeeperUnlistableHistory(t *testing.T) {
	signer := keeperSigner(t)
	cpDir, k := tenRecordHistory(t, signer)
	before := len(openHistory(t, k))

	chainDir := k.chainDir("svc@inst-1", "caps")
	t.Cleanup(func() { readDir = os.ReadDir })
	readDir = func(dir string) ([]os.DirEntry, error) {
		if dir == chainDir {
			return nil, &os.PathError{Op: "open", Path: dir, Err: syscall.EACCES}
		}
		return os.ReadDir(dir)
	}
	// A log rewritten from scratch: 6 records, of other content, with
	// checkpoints every 3 (sizes 3 and 6: no name the history has taken).
	k2, _ := NewKeeper(cpDir, signer, KeeperOptions{Every: 3, Interval: -1})
	l2, _ := sdk.New(sdk.Config{Signer: signer, Observer: k2})
	keeperAppend(t, l2, 100, 6)
	err := k2.Close()
	if ce := (*Error)(nil); errors.As(err, &ce) || !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), "svc@inst-1/caps") {
		t.Fatalf("Close with an unlistable history: %v, want the file system's error (EACCES, no verdict on a checkpoint) naming the chain", err)
	}
	readDir = os.ReadDir
	if n := len(openHistory(t, k)); n != before {
		t.Fatalf("%d checkpoints, %d before: the Keeper signed against a history it could not read", n, before)
	}
}

// TestKeeperNeverReplacesCheckpoint: a checkpoint file that appears at
// the name the Keeper is about to write (another Keeper on the same
// directory, after this one read the history) is evidence someone may
// already hold: it is not replaced (a rename would replace it, so the
// Keeper must not write it by one), and the Keeper fails with ReasonFork naming the file. The same bytes, a second
// Keeper signing the same checkpoint, are not a failure.
func TestKeeperNeverReplacesCheckpoint(t *testing.T) {
	const w, s = "svc@inst-1", "caps"
	signer := keeperSigner(t)
	leaves := make([]canonical.Hash, 8)
	for i := range leaves {
		leaves[i][0], leaves[i][1] = byte(i), 0xAA
	}
	feed := func(k *Keeper, n int) {
		for i := 1; i <= n; i++ {
			k.Committed(w, s, uint64(i), leaves[i-1], false)
		}
	}

	// Another's file at size 4: kept, and the Keeper fails naming it.
	dir := t.TempDir()
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 4, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	feed(k, 4)
	k.Durable(w, s, 3, false) // the chain's history is read now (empty); no checkpoint is due
	path := filepath.Join(k.chainDir(w, s), noteFile(4))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("another keeper's checkpoint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k.Durable(w, s, 4, false)
	if b, _ := os.ReadFile(path); string(b) != "another keeper's checkpoint\n" {
		t.Errorf("%s replaced: now %q", path, b)
	}
	err = k.Err()
	if !errors.Is(err, ErrFork) || !strings.Contains(err.Error(), path) {
		t.Errorf("Keeper.Err() = %v, want ReasonFork naming %s", err, path)
	}

	// The same checkpoint, written by a second Keeper first: no failure.
	dir = t.TempDir()
	k1, err := NewKeeper(dir, signer, KeeperOptions{Every: 4, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := NewKeeper(dir, signer, KeeperOptions{Every: 4, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	feed(k1, 4)
	feed(k2, 4)
	k2.Durable(w, s, 3, false) // k2 reads the history (empty) before k1 writes
	k1.Durable(w, s, 4, false)
	k2.Durable(w, s, 4, false)
	if err := errors.Join(k1.Err(), k2.Err()); err != nil {
		t.Errorf("two Keepers writing the same checkpoint: %v", err)
	}
	if paths, err := HistoryPaths(dir, w, s); err != nil || len(paths) != 1 {
		t.Errorf("history %v, %v; want the one checkpoint", paths, err)
	}
}

// TestKeeperNewest: the newest checkpoint of each chain, from the history
// a new Keeper read or from what it wrote since, in origin order; a chain
// without one is left out.
func TestKeeperNewest(t *testing.T) {
	dir := t.TempDir()
	signer := keeperSigner(t)
	var leaf canonical.Hash
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 2, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 5; i++ {
		k.Committed("w", "b", i, leaf, false)
		k.Durable("w", "b", i, false) // checkpoints at 2, 4
	}
	k.Committed("w", "a", 1, leaf, false) // no checkpoint
	k.Durable("w", "a", 1, false)
	k.Committed("v", "z", 1, leaf, false)
	k.Committed("v", "z", 2, leaf, false)
	k.Durable("v", "z", 2, false) // checkpoint at 2
	got := k.Newest()
	if len(got) != 2 || got[0].Origin != Origin("v", "z") || got[0].Size != 2 ||
		got[1].Origin != Origin("w", "b") || got[1].Size != 4 || got[1].WriterID != "w" || got[1].Stream != "b" {
		t.Fatalf("Newest() = %+v, want v/z at 2 and w/b at 4", got)
	}
	// A new Keeper knows a chain's newest once it has seen the chain.
	k2, err := NewKeeper(dir, signer, KeeperOptions{Every: 2, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	k2.Committed("w", "b", 1, leaf, false)
	if got := k2.Newest(); len(got) != 1 || got[0].Size != 4 {
		t.Fatalf("new Keeper: Newest() = %+v, want w/b at 4 from the history", got)
	}
}

// A crash while a checkpoint was written left a ".tmp-" file in its
// chain's directory: the next Keeper removes it when it first writes a
// checkpoint of the chain, and counts it; a fresh one (another writer's,
// being written), a file of another name and a directory of a temporary
// name stay, and so does every checkpoint. Nothing else ever removes one,
// so without the sweep every crash would leave its file for good.
func TestKeeperRemovesStaleTemps(t *testing.T) {
	signer := keeperSigner(t)
	dir := filepath.Join(t.TempDir(), "cp")
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 5, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer, Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 5)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if st := k.TempStats(); st != (TempStats{}) {
		t.Fatalf("first Keeper: %+v, want nothing", st)
	}
	chainDir := filepath.Join(dir, "svc@inst-1", "caps")
	old := time.Now().Add(-2 * time.Hour)
	put := func(name string, mtime time.Time) string {
		p := filepath.Join(chainDir, name)
		if err := os.WriteFile(p, []byte("half a checkpoint"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := put(".tmp-123", old)
	kept := []string{put(".tmp-456", time.Now()), put("notes.txt", old), put(".tmp-x-1", old)}
	sub := filepath.Join(chainDir, ".tmp-789")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(sub, old, old)
	kept = append(kept, sub)
	history, _ := k.History("svc@inst-1", "caps")
	kept = append(kept, history...)

	k2, err := NewKeeper(dir, signer, KeeperOptions{Every: 5, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if st := k2.TempStats(); st != (TempStats{}) {
		t.Fatalf("before the chain is seen: %+v", st)
	}
	l2, err := sdk.New(sdk.Config{Signer: signer, Observer: k2})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l2, 0, 10) // a new log from seq 1: the history's first 5 are the same records
	if err := k2.Close(); err != nil {
		t.Fatal(err)
	}
	if st := k2.TempStats(); st.Removed != 1 || st.Failed != 0 || st.Err != nil {
		t.Fatalf("TempStats %+v, want 1 removed", st)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", stale, err)
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s touched: %v", p, err)
		}
	}
	if cps := openHistory(t, k2); len(cps) != 2 || cps[1].Size != 10 {
		t.Fatalf("history %+v", cps)
	}
}

// The Log calls Committed under its chain's lock, on the append path: a
// Keeper's first sight of a chain there must not sweep the chain's
// directory for stale temporary files (directory I/O on that chain's first
// append). The sweep waits for the Keeper's first checkpoint of the
// chain, already I/O and off the append path; it still removes the file
// then, and counts it.
func TestKeeperCommittedDoesNotSweep(t *testing.T) {
	signer := keeperSigner(t)
	dir := filepath.Join(t.TempDir(), "cp")
	chainDir := filepath.Join(dir, "w", "s")
	if err := os.MkdirAll(chainDir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(chainDir, ".tmp-123")
	if err := os.WriteFile(stale, []byte("half a checkpoint"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	k, err := NewKeeper(dir, signer, KeeperOptions{Every: 2, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		leaf := canonical.Hash{byte(seq)}
		k.Committed("w", "s", seq, leaf, false)
	}
	if _, err := os.Lstat(stale); err != nil {
		t.Fatalf("Committed swept the chain's directory: %v", err)
	}
	if st := k.TempStats(); st != (TempStats{}) {
		t.Fatalf("after Committed: TempStats %+v, want nothing yet", st)
	}
	k.Durable("w", "s", 1, false)
	if _, err := os.Lstat(stale); err != nil {
		t.Fatalf("Durable with no checkpoint due swept: %v", err)
	}
	k.Durable("w", "s", 2, false) // a checkpoint is due: the sweep comes first
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Fatalf("%s still there after the chain's first checkpoint: %v", stale, err)
	}
	if st := k.TempStats(); st.Removed != 1 || st.Failed != 0 || st.Err != nil {
		t.Fatalf("TempStats %+v, want 1 removed", st)
	}
	if err := k.Err(); err != nil {
		t.Fatal(err)
	}
	if got := k.Newest(); len(got) != 1 || got[0].Size != 2 {
		t.Fatalf("Newest() = %+v, want w/s at 2", got)
	}
	// Once per chain: a stale file that appears later stays until the next
	// Keeper.
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); err != nil {
		t.Fatalf("second sweep of the chain's directory: %v", err)
	}
}

// TestKeeperWriteFailureKept: a checkpoint that cannot be written (the
// Keeper's directory replaced by a file: nothing can be created under it,
// even as root) is the Keeper's Err, whichever way it was asked for
// (Checkpoint, the Log's Seal through SealChain, a due one in Durable),
// and every such failure reaches OnFailure; Err keeps the first. Err is
// what sdk.Emitter.Ready reports (the Keeper is an sdk.FailureReporter).
func TestKeeperWriteFailureKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cp")
	var failed []error
	k, err := NewKeeper(dir, keeperSigner(t), KeeperOptions{Every: 1000, Interval: -1,
		OnFailure: func(err error) { failed = append(failed, err) }})
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: keeperSigner(t), Observer: k, SealEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	if _, err := k.Checkpoint("svc@inst-1", "caps"); err != nil || k.Err() != nil || len(failed) != 0 {
		t.Fatalf("healthy Keeper: Checkpoint %v, Err %v, OnFailure %v", err, k.Err(), failed)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 3, 2)
	_, cerr := k.Checkpoint("svc@inst-1", "caps")
	if !errors.Is(cerr, ErrSign) || !strings.Contains(cerr.Error(), dir) {
		t.Fatalf("Checkpoint into a broken directory: %v, want ErrSign naming %s", cerr, dir)
	}
	if k.Err() != cerr || len(failed) != 1 || failed[0] != cerr {
		t.Fatalf("after Checkpoint failed: Err %v, OnFailure %v; want both %v", k.Err(), failed, cerr)
	}
	keeperAppend(t, l, 5, 1)
	if _, err := l.Seal("svc@inst-1", "caps"); !errors.Is(err, ErrSign) {
		t.Fatalf("Seal into a broken directory: %v, want ErrSign", err)
	}
	if len(failed) != 2 || !errors.Is(failed[1], ErrSign) || k.Err() != cerr {
		t.Fatalf("after Seal failed: OnFailure %v, Err %v; want a second failure, the first kept", failed, k.Err())
	}
	var _ sdk.FailureReporter = k
}
