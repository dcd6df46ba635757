package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// legacyWriter escapes to a directory name of 256 bytes: the SDK refuses
// it now (sdk.MaxChainName), but a log written before may hold its chain.
var legacyWriter = strings.Repeat("a", 256)

// appendLegacyRecord appends to the durable log in wdir, through the WAL
// and not the SDK (which refuses the name now), the first record of chain
// (writer, stream), signed by signer: what a build before the limit
// wrote. The payload is sdk/wal/FORMAT.md's: type, flags, key id,
// signature, record hash, canonical record.
func appendLegacyRecord(t *testing.T, wdir string, signer *sdk.Ed25519Signer, writer, stream string) {
	t.Helper()
	genesis := canonical.Genesis
	rec := canonical.AuditRecord{Kind: canonical.KindCapIssued, WriterID: writer, Stream: stream, Seq: 1, Prev: genesis[:], TsMs: 1764201600000}
	b, err := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	h := canonical.RecordHash(b)
	msg := canonical.SignedMessage(h)
	var sig sdk.Signature
	if err := signer.Sign(msg[:], &sig); err != nil {
		t.Fatal(err)
	}
	id := signer.KeyID()
	payload := append([]byte{1, 1}, id[:]...)
	payload = append(payload, sig[:]...)
	payload = append(payload, h[:]...)
	payload = append(payload, b...)
	w, _, err := wal.Open(wdir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendDurable(payload); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantChainNameError checks that err is a *DirError of the legacy chain
// (legacyWriter, "s") wrapping its *sdk.ChainNameError.
func wantChainNameError(t *testing.T, what string, err error) {
	t.Helper()
	var de *DirError
	var ne *sdk.ChainNameError
	if !errors.As(err, &de) || !errors.As(err, &ne) || !errors.Is(err, sdk.ErrChainName) {
		t.Fatalf("%s: %T %v, want a *DirError wrapping a *sdk.ChainNameError", what, err, err)
	}
	if de.WriterID != legacyWriter || de.Stream != "s" || de.Seq != 0 || ne.Field != "writerId" || ne.Len != 256 {
		t.Errorf("%s: names %q/%q seq %d, %s of %d: %v", what, de.WriterID, de.Stream, de.Seq, ne.Field, ne.Len, err)
	}
	if strings.Contains(err.Error(), "file name too long") {
		t.Errorf("%s: the file system's error, not the limit: %v", what, err)
	}
}

// TestVerifyDirLegacyLongChain: a log holding a chain whose name is too
// long for a directory (written before sdk.MaxChainName) is verified
// whole, every other chain against its kept checkpoints; the long one,
// for which no checkpoint can be kept, is named last, as a *DirError
// wrapping the *sdk.ChainNameError. VerifyDir failed at once with
// "open .../checkpoints/aaa.../s: file name too long", every other chain
// unverified (ronaudit verify: exit 3 for the whole log).
func TestVerifyDirLegacyLongChain(t *testing.T) {
	wdir := sealedLog(t, t.TempDir(), 0, 7, nil)
	k := rotationKey(t, "verifydir first key")
	appendLegacyRecord(t, wdir, k, legacyWriter, "s")
	pubs := []ed25519.PublicKey{k.Public()}
	sum, err := VerifyDir(wdir, pubs, DirOptions{})
	wantChainNameError(t, "VerifyDir", err)
	if len(sum.Heads) != 2 || sum.Records != 8 || sum.Used != 3 {
		t.Fatalf("summary: %d heads, %d records, %d checkpoints used; want 2, 8, 3: %+v", len(sum.Heads), sum.Records, sum.Used, sum)
	}
	for _, h := range sum.Heads {
		if h.SealedSeq != h.Seq {
			t.Errorf("%q/%q sealed to %d of %d", h.WriterID, h.Stream, h.SealedSeq, h.Seq)
		}
	}

	// A failure of another chain's checkpoints is the verdict, before it.
	if err := os.WriteFile(notePath(wdir, 6), []byte("not a checkpoint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDir(wdir, pubs, DirOptions{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("VerifyDir with a damaged checkpoint of another chain: %v, want ErrFormat", err)
	}
}

// TestKeeperLegacyLongChain: a Keeper over such a log opens it, names the
// long chain as one it cannot checkpoint (a *DirError wrapping the
// *sdk.ChainNameError, from Close), and checkpoints every other chain;
// a checkpoint of it due in the replay (Every 1) does not refuse the log.
// Its Close failed on "file name too long".
func TestKeeperLegacyLongChain(t *testing.T) {
	wdir := sealedLog(t, t.TempDir(), 0, 3, nil)
	k := rotationKey(t, "verifydir first key")
	appendLegacyRecord(t, wdir, k, legacyWriter, "s")
	var failures []error
	keeper, err := NewKeeper(filepath.Join(wdir, "checkpoints"), k, KeeperOptions{Every: 1, Interval: -1, OnFailure: func(err error) { failures = append(failures, err) }})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k, Observer: keeper, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		t.Fatalf("OpenDurable with a Keeper: %v", err)
	}
	keeperAppend(t, l, 3, 4)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wantChainNameError(t, "Keeper.Close", keeper.Close())
	if len(failures) == 0 {
		t.Fatal("OnFailure was not told")
	}
	for _, f := range failures {
		wantChainNameError(t, "OnFailure", f)
	}
	if _, err := os.Stat(notePath(wdir, 7)); err != nil {
		t.Fatalf("the other chain was not checkpointed at its head: %v", err)
	}
}
