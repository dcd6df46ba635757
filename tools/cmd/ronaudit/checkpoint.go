package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// Checkpoints over a durable log (sdk/checkpoint/SPEC.md), signed under
// checkpoint.KeyName(writerId), one key name for all streams of a
// writer, and the chain reading that checkpoint, export and the proofs
// (proof.go) stand on.

// chainTree builds the tree of chain (writer, stream) from the log in dir:
// the record hashes in seq order, unverified (verify has checked the log
// when it calls this).
func chainTree(dir, writer, stream string) (*checkpoint.Tree, []canonical.Hash, error) {
	t := checkpoint.NewTree()
	var hashes []canonical.Hash
	_, err := sdk.ReadDir(dir, func(rec sdk.Sealed, pos wal.Position) error {
		v, err := canonical.OpenAuditRecord(rec.Bytes)
		if err != nil || string(v.WriterID()) != writer || string(v.Stream()) != stream {
			return nil
		}
		if v.Seq() != uint64(len(hashes)+1) {
			return failed(fmt.Errorf("%s: %s seq %d where %d belongs (run ronaudit verify)", pos, names.Chain(writer, stream), v.Seq(), len(hashes)+1))
		}
		t.Append(rec.Hash)
		hashes = append(hashes, rec.Hash)
		return nil
	})
	return t, hashes, err
}

// verifiedChain verifies the chain (writer, stream) of the log in dir
// with the keys in pubs as verify does (hashes, canonical bytes, links,
// signatures, key transitions and seals: sdk.VerifyDirChain) and builds
// its tree. prove and checkpoint stand on it: a proof or checkpoint over
// records nobody verified vouches for whatever the log holds, a rewritten
// record or a transition stripped of its signature included. An unsealed
// tail is allowed: checkpoints are what seal it. Its Result's Retired are
// the retirements checkpoint.InForce and checkpoint.ChainVerifiers take.
// keep, if set, sees each record as it is read (see sdk.VerifyDirChain:
// rec.Bytes only during the call), so a caller needs no second read, which
// could see other bytes than the ones verified. The records read are
// fsynced (wal.SyncDir) before it returns.
func verifiedChain(dir, writer, stream string, pubs []ed25519.PublicKey, keep func(sdk.Sealed)) (*checkpoint.Tree, []canonical.Hash, sdk.Result, error) {
	t := checkpoint.NewTree()
	var hashes []canonical.Hash
	res, err := sdk.VerifyDirChain(dir, writer, stream, sdk.NewKeySet(pubs...), true, func(rec sdk.Sealed) {
		t.Append(rec.Hash)
		hashes = append(hashes, rec.Hash)
		if keep != nil {
			keep(rec)
		}
	})
	if err != nil {
		return nil, nil, res, err
	}
	// What prove, checkpoint and export vouch for must be on disk before
	// they sign it: a writer beside them, or one killed, can have left
	// the records read in the page cache only (wal.SyncDir).
	if err := wal.SyncDir(dir); err != nil {
		return nil, nil, res, operational(fmt.Errorf("making the records read durable before vouching for them: %w", err))
	}
	return t, hashes, res, nil
}

// vouchedChain is verifiedChain of a chain that must be sealed: by its
// record signatures, or by the checkpoints kept with the log
// (checkpoint.VerifyKept, judged as verify judges them), unless allowTail.
// notes hears of the kept checkpoints signed by none of pubs.
func vouchedChain(dir, writer, stream string, pubs []ed25519.PublicKey, allowTail bool, notes io.Writer, keep func(sdk.Sealed)) (*checkpoint.Tree, []sdk.Retirement, error) {
	t, _, res, err := verifiedChain(dir, writer, stream, pubs, keep)
	if err != nil {
		return nil, nil, err
	}
	h := res.Head
	sealed, unused, err := checkpoint.VerifyKept(dir, writer, stream, t, pubs, res.Retired)
	printUnused(notes, unused)
	if err != nil {
		return nil, nil, sealFailure(err, nil, true)
	}
	h.SealedSeq = max(h.SealedSeq, uint64(sealed))
	if h.SealedSeq < h.Seq && !allowTail {
		return nil, nil, unsealedTail(h, nil, true)
	}
	return t, res.Retired, nil
}

// maySign refuses, as append does (the same sdk.ErrConfig and message:
// exit 3), to sign chain (writer, stream) of the log in dir with a key
// that append (given pubs as --pub) may not sign it with: a chain a
// later key started, one a rotation to this key cut short has not
// reached, one held by a key no transition in the log hands on to this
// one, by its record signatures or, checkpoint-sealed, by the newest
// checkpoint kept with the log. What it signed would not verify for
// whoever follows the chain's keys from its first (unknown_key), even
// with every key given. It reads the whole log and that checkpoint, as
// append's open does (the rule is sdk.OpenDurable's and its Keeper's).
func maySign(dir string, signer sdk.Signer, pubs []ed25519.PublicKey, writer, stream string) error {
	return sdk.MaySign(dir, signer.Public(), pubs, writer, stream)
}

// openCheckpointFile reads and verifies a signed checkpoint with the public
// key in pubPath (under any key name: checkpoint.KeyVerifiers).
func openCheckpointFile(path, pubPath string) (checkpoint.Checkpoint, error) {
	pub, err := sdk.LoadPublicKey(pubPath)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	return openCheckpoint(path, func(string, string) (note.Verifiers, error) {
		return checkpoint.KeyVerifiers(pub), nil
	})
}

// openCheckpoint reads and verifies a signed checkpoint with the
// verifiers that verifiers gives for the chain its origin line names.
func openCheckpoint(path string, verifiers func(writer, stream string) (note.Verifiers, error)) (checkpoint.Checkpoint, error) {
	msg, err := checkpoint.ReadNote(path)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	origin, _, _ := bytes.Cut(msg, []byte("\n"))
	writer, stream, err := checkpoint.ParseOrigin(string(origin))
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	vs, err := verifiers(writer, stream)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	cp, err := checkpoint.Open(msg, vs)
	if err != nil {
		return cp, fmt.Errorf("%s: %w", path, err)
	}
	return cp, nil
}

func checkpointCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("checkpoint", stderr)
	dir := fs.String("wal", "", "log directory")
	keyPath := fs.String("key", "", "private key file (mode 0600)")
	writer := fs.String("writer", "", "writerId of the chain")
	stream := fs.String("stream", "", "stream of the chain")
	out := fs.String("out", "", "write the signed checkpoint here (default: stdout); an existing FILE is replaced only by a checkpoint that extends the one it holds")
	allowTail := fs.Bool("allow-unsealed-tail", false, "also vouch for records that no signature or kept checkpoint covers yet (after a crash of a checkpoint-sealed writer, say): only if you know the log was not written by anyone else")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of an earlier signer of the chain (repeatable), to verify its records before vouching for them")
	if err := parse(fs, args); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fs, "", "wal", "key", "writer", "stream"); why != "" {
		return badArgs(stderr, "checkpoint", why)
	}
	// A chain that fails verification, or a --out checkpoint the log no
	// longer extends, is 1 (exitCode); a key refused, no records, an I/O
	// error, an --out it will not replace otherwise, 3.
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit checkpoint:", err); return exitCode(err) }
	// SIGINT or SIGTERM while the chain is verified stops it, nothing
	// signed or written; once the checkpoint is being written, the
	// signal waits till it is whole (the write is short, and atomic).
	ctx, stopSignals := interrupts()
	defer stopSignals()
	signer, err := sdk.LoadSigner(*keyPath)
	if err != nil {
		return fail(err)
	}
	earlier, err := loadPubs(pubs)
	if err != nil {
		return fail(err)
	}
	// A checkpoint vouches for every record of the chain: they are verified
	// first, with the key and the earlier signers, and must be sealed
	// already (vouchedChain). A key the chain retired at seq T vouches for
	// at most T records (checkpoint.InForce), as append and export refuse
	// to sign with it after T.
	t, retired, err := vouchedUnlessInterrupted(ctx, stderr, "checkpoint", *dir, *writer, *stream, append(earlier, signer.Public()), *allowTail, nil)
	if err == errInterrupted {
		return exitError
	}
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit checkpoint:", err)
		openHint(stderr, "checkpoint", err)
		return exitCode(err)
	}
	if t.Size() == 0 {
		fmt.Fprintf(stderr, "ronaudit checkpoint: no records of %s in %s\n", names.Chain(*writer, *stream), *dir)
		return exitError
	}
	if err := maySign(*dir, signer, append(earlier, signer.Public()), *writer, *stream); err != nil {
		code := fail(err)
		openHint(stderr, "checkpoint", err) // a damaged newest kept checkpoint
		return code
	}
	name := checkpoint.KeyName(*writer)
	msg, err := checkpoint.Sign(checkpoint.Origin(*writer, *stream), t.Size(), t.Root(), checkpoint.NewNoteSigner(signer, name))
	if err != nil {
		return fail(err)
	}
	if err := signedInForce(msg, name, signer.Public(), retired); err != nil {
		// The key given, refused (the chain retired it): no verdict on
		// the chain, which verified. Exit 3, as for a key file refused.
		fmt.Fprintln(stderr, "ronaudit checkpoint:", err)
		if errors.Is(err, checkpoint.ErrRetiredKey) {
			fmt.Fprintln(stderr, "ronaudit checkpoint: sign with the key the transition names")
		}
		return exitError
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "ronaudit checkpoint: interrupted after the chain was verified: %s\n", nothing("checkpoint"))
		return exitError
	}
	if *out == "" {
		stdout.Write(msg)
		return interruptedWriting(ctx, stderr, "checkpoint", "the checkpoint was printed whole")
	}
	replaced, err := replaceableCheckpoint(*out, t, retired, append(earlier, signer.Public()), *writer, *stream)
	if err != nil {
		return fail(err)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "ronaudit checkpoint: interrupted after the chain was verified: %s\n", nothing("checkpoint"))
		return exitError
	}
	if err := fsutil.WriteFileAtomic(filepath.Dir(*out), filepath.Base(*out), msg); err != nil {
		return fail(operational(err))
	}
	fmt.Fprintf(stdout, "checkpoint of %s at size %d -> %s", names.Chain(*writer, *stream), t.Size(), *out)
	if replaced != nil {
		fmt.Fprintf(stdout, " (replaces the checkpoint of size %d, which it extends)", replaced.Size)
	}
	fmt.Fprintln(stdout)
	return interruptedWriting(ctx, stderr, "checkpoint", "the checkpoint was written whole, as said")
}

// interruptedWriting is the exit status of checkpoint or export (cmd)
// once its output is written: 0, or exitError when a signal came while
// it was written (held until then), said on stderr with what was done.
func interruptedWriting(ctx context.Context, stderr io.Writer, cmd, done string) int {
	if ctx.Err() == nil {
		return 0
	}
	fmt.Fprintf(stderr, "ronaudit %s: interrupted while it wrote: %s\n", cmd, done)
	return exitError
}

// errOutExists: checkpoint --out names a file the new checkpoint may not
// replace.
var errOutExists = errors.New("--out exists")

// replaceableCheckpoint checks that checkpoint --out path may be replaced
// by a new checkpoint of the chain (writer, stream) whose tree is t: it
// does not exist (nil), or it holds a checkpoint of that chain, signed by
// one of its keys in force, that t extends (returned). Anything else is
// kept: a file that is not a checkpoint, one of another chain, and above
// all one the log no longer extends, which is the evidence that the log
// was cut, rolled back or forked. That one is a verification failure
// (exit 1); the others are operational errors (exit 3): an output that
// will not be written, no verdict on the log.
func replaceableCheckpoint(path string, t *checkpoint.Tree, retired []sdk.Retirement, pubs []ed25519.PublicKey, writer, stream string) (*checkpoint.Checkpoint, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	msg, err := checkpoint.ReadNote(path)
	var cp checkpoint.Checkpoint
	if err == nil {
		cp, err = checkpoint.Open(msg, checkpoint.ChainVerifiers(pubs, retired, writer, stream))
	}
	if err == nil && (cp.WriterID != writer || cp.Stream != stream) {
		err = fmt.Errorf("it is a checkpoint of %s", cp.Origin)
	}
	mark := operational
	if err == nil {
		err = reword(t.Vouches(cp, retired))
		mark = failed
	}
	if err != nil {
		return nil, mark(fmt.Errorf("%w: %s is not a checkpoint of %s that this one extends, so it is kept (%w); remove it or choose another --out",
			errOutExists, path, names.Chain(writer, stream), err))
	}
	return &cp, nil
}

// signedInForce opens a checkpoint just signed by pub under name and
// checks the key was still in force at its size (checkpoint.InForce): an
// *checkpoint.Error of ReasonRetiredKey when the chain retired it before.
func signedInForce(msg []byte, name string, pub ed25519.PublicKey, retired []sdk.Retirement) error {
	v, err := checkpoint.NoteVerifier(name, pub)
	if err != nil {
		return err
	}
	cp, err := checkpoint.Open(msg, note.VerifierList(v))
	if err != nil {
		return err
	}
	return checkpoint.InForce(cp, retired)
}

// reword says a rollback or fork from Tree.Extends or Tree.Vouches in the
// CLI's words: the log was cut or rolled back, or it forked.
func reword(err error) error {
	var ce *checkpoint.Error
	switch {
	case errors.As(err, &ce) && errors.Is(err, checkpoint.ErrRollback):
		return &reworded{"truncated or rolled back: " + ce.Detail, err}
	case errors.As(err, &ce) && errors.Is(err, checkpoint.ErrFork):
		return &reworded{"forked: " + ce.Detail, err}
	}
	return err
}

// reworded is an error said in the CLI's words that still matches what it
// wraps (errors.Is).
type reworded struct {
	msg string
	err error
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }

// checkAgainstCheckpoint is verify --checkpoint: the log must extend the
// checkpoint, signed by a key in pubs (not empty: verifyCmd requires --pub).
func checkAgainstCheckpoint(dir, cpPath string, pubs []ed25519.PublicKey, retired []sdk.Retirement, stdout io.Writer) error {
	cp, err := openCheckpoint(cpPath, func(writer, stream string) (note.Verifiers, error) {
		return checkpoint.ChainVerifiers(pubs, retired, writer, stream), nil
	})
	if err != nil {
		return err
	}
	t, _, err := chainTree(dir, cp.WriterID, cp.Stream)
	if err != nil {
		return err
	}
	if err := t.Vouches(cp, retired); err != nil {
		return fmt.Errorf("%s: %w", cpPath, reword(err))
	}
	fmt.Fprintf(stdout, "checkpoint ok: %s has %s, the first %d match the checkpoint's root\n", names.Chain(cp.WriterID, cp.Stream), count(t.Size(), "record"), cp.Size)
	return nil
}
