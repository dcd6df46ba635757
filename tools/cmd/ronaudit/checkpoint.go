package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// Checkpoints and proofs over a durable log (sdk/checkpoint/SPEC.md), signed
// under checkpoint.KeyName(writerId), one key name for all streams of a
// writer.

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
	if *dir == "" || *keyPath == "" || *writer == "" || *stream == "" || fs.NArg() != 0 {
		return usageErr(stderr, "checkpoint")
	}
	// A chain that fails verification, or a --out checkpoint the log no
	// longer extends, is 1 (exitCode); a key refused, no records, an I/O
	// error, an --out it will not replace otherwise, 3.
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit checkpoint:", err); return exitCode(err) }
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
	t, retired, err := vouchedChain(*dir, *writer, *stream, append(earlier, signer.Public()), *allowTail, stderr, nil)
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit checkpoint:", err)
		openHint(stderr, "checkpoint", err)
		return exitCode(err)
	}
	if t.Size() == 0 {
		fmt.Fprintf(stderr, "ronaudit checkpoint: no records of %s in %s\n", names.Chain(*writer, *stream), *dir)
		return exitError
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
	if *out == "" {
		stdout.Write(msg)
		return 0
	}
	replaced, err := replaceableCheckpoint(*out, t, retired, append(earlier, signer.Public()), *writer, *stream)
	if err != nil {
		return fail(err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Dir(*out), filepath.Base(*out), msg); err != nil {
		return fail(operational(err))
	}
	fmt.Fprintf(stdout, "checkpoint of %s at size %d -> %s", names.Chain(*writer, *stream), t.Size(), *out)
	if replaced != nil {
		fmt.Fprintf(stdout, " (replaces the checkpoint of size %d, which it extends)", replaced.Size)
	}
	fmt.Fprintln(stdout)
	return 0
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

// proofFile is the JSON of a proof, checkable offline with verify-proof.
type proofFile struct {
	Kind       string   `json:"kind"` // "inclusion" or "consistency"
	Origin     string   `json:"origin"`
	TreeSize   int64    `json:"treeSize,omitempty"`
	Seq        uint64   `json:"seq,omitempty"`
	RecordHash string   `json:"recordHash,omitempty"`
	OldSize    int64    `json:"oldSize,omitempty"`
	NewSize    int64    `json:"newSize,omitempty"`
	Proof      []string `json:"proof"`
}

// proofKeys are the keys of proofFile's JSON, as prove writes them.
var proofKeys = func() []string {
	t := reflect.TypeFor[proofFile]()
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return keys
}()

// checkProofSpelling refuses a proof file raw (one JSON value, decoded
// into pf) that says its proof otherwise than prove writes it, but for
// JSON's whitespace: one proof has one file, as decodeHashes gives its
// hashes one spelling. encoding/json reads more: keys in any case ("KIND"
// for "kind"), a key twice (the last wins), escapes in strings, fields in
// any order and those of the other kind of proof at zero; and
// canonical.ParseHash reads upper-case hex. The keys and the hex are
// checked first to say which is wrong; then the file must be what prove
// would write for pf.
func checkProofSpelling(raw []byte, pf proofFile) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
		seen := make(map[string]bool, len(proofKeys))
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				break // the canonical comparison below refuses it
			}
			k, _ := tok.(string)
			if !slices.Contains(proofKeys, k) {
				return fmt.Errorf("key %q is none of a proof's (%s, as prove writes them)", k, strings.Join(proofKeys, ", "))
			}
			if seen[k] {
				return fmt.Errorf("key %q twice", k)
			}
			seen[k] = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				break
			}
		}
	}
	if h := pf.RecordHash; strings.ToLower(h) != h {
		return fmt.Errorf("recordHash %q is not lower-case hex, as prove writes it", h)
	}
	// prove writes an empty proof as [], never null.
	if pf.Proof == nil {
		pf.Proof = []string{}
	}
	var want, got bytes.Buffer
	enc := json.NewEncoder(&want)
	if err := enc.Encode(pf); err != nil {
		return err
	}
	if err := json.Compact(&got, raw); err != nil {
		return err
	}
	if !bytes.Equal(bytes.TrimSpace(want.Bytes()), got.Bytes()) {
		return errors.New("the proof is not spelled as prove writes it (its keys in its order, only the fields of its kind, strings without escapes prove would not write)")
	}
	return nil
}

func encodeHashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// decodeHashes reads a proof's hashes as encodeHashes writes them, and
// only so: standard padded base64 of 32 bytes. The re-encoding check
// refuses the "\r" and "\n" that base64's decoder skips even in Strict
// mode, so one proof has one spelling.
func decodeHashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != tlog.HashSize || base64.StdEncoding.EncodeToString(b) != s {
			return nil, fmt.Errorf("proof hash %d is not 32 bytes of base64", i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func proveCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("prove", stderr)
	dir := fs.String("wal", "", "log directory")
	cpPath := fs.String("checkpoint", "", "the checkpoint to prove against")
	oldPath := fs.String("old", "", "consistency: the older checkpoint")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of a signer of the checkpoints (repeatable); the keys the log's transitions name from it are trusted too")
	seq := fs.Uint64("seq", 0, "inclusion: the record's seq")
	if err := parse(fs, args); err != nil {
		return parseFailed(err)
	}
	if *dir == "" || *cpPath == "" || len(pubs) == 0 || (*seq == 0) == (*oldPath == "") || fs.NArg() != 0 {
		return usageErr(stderr, "prove")
	}
	// A chain or checkpoint that fails verification is 1 (exitCode);
	// --seq or --old that do not fit the checkpoints, 2 (usage); a key
	// refused, an I/O error, 3.
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit prove:", err); return exitCode(err) }
	usage := func(err error) int { fmt.Fprintln(stderr, "ronaudit prove:", err); return usageErr(stderr, "prove") }
	pubKeys, err := loadPubs(pubs)
	if err != nil {
		return fail(err)
	}
	// The checkpoints are judged as verify judges them: the keys the
	// chain's transitions name are trusted from the --pub keys on, and a
	// key the chain retired vouches for no record after its transition.
	var (
		t       *checkpoint.Tree
		hashes  []canonical.Hash
		retired []sdk.Retirement
	)
	cp, err := openCheckpoint(*cpPath, func(writer, stream string) (note.Verifiers, error) {
		var err error
		var res sdk.Result
		if t, hashes, res, err = verifiedChain(*dir, writer, stream, pubKeys, nil); err != nil {
			return nil, err
		}
		retired = res.Retired
		return checkpoint.ChainVerifiers(pubKeys, retired, writer, stream), nil
	})
	if err != nil {
		return fail(err)
	}
	if err := reword(t.Vouches(cp, retired)); err != nil {
		return fail(fmt.Errorf("%s: %w", *cpPath, err))
	}
	var pf proofFile
	if *seq > 0 {
		if *seq > uint64(cp.Size) {
			return usage(fmt.Errorf("--seq %d is not covered by the checkpoint (size %d)", *seq, cp.Size))
		}
		p, err := t.InclusionProof(int64(*seq-1), cp.Size)
		if err != nil {
			return fail(err)
		}
		h := hashes[*seq-1]
		if err := checkpoint.VerifyInclusion(cp, int64(*seq-1), h, p); err != nil {
			return fail(err)
		}
		pf = proofFile{Kind: "inclusion", Origin: cp.Origin, TreeSize: cp.Size, Seq: *seq, RecordHash: h.String(), Proof: encodeHashes(p)}
	} else {
		old, err := openCheckpoint(*oldPath, func(writer, stream string) (note.Verifiers, error) {
			return checkpoint.ChainVerifiers(pubKeys, retired, writer, stream), nil
		})
		if err != nil {
			return fail(err)
		}
		if old.Origin != cp.Origin { // checkpoints of two chains: the arguments are wrong
			return usage(checkpoint.VerifyConsistency(old, cp, nil)) // origin_mismatch
		}
		if err := reword(t.Vouches(old, retired)); err != nil {
			return fail(fmt.Errorf("%s: %w", *oldPath, err))
		}
		if old.Size > cp.Size {
			return usage(fmt.Errorf("--old %s has size %d, more than --checkpoint %s (size %d): a consistency proof goes from the older, smaller checkpoint (--old) to the newer one (--checkpoint); swap them",
				*oldPath, old.Size, *cpPath, cp.Size))
		}
		p, err := t.ConsistencyProof(old.Size, cp.Size)
		if err != nil {
			return fail(err)
		}
		if err := checkpoint.VerifyConsistency(old, cp, p); err != nil {
			return fail(err)
		}
		pf = proofFile{Kind: "consistency", Origin: cp.Origin, OldSize: old.Size, NewSize: cp.Size, Proof: encodeHashes(p)}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(pf); err != nil {
		return fail(operational(err))
	}
	return 0
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

// maxProofFile bounds the proof file verify-proof reads: a proof is at
// most two hashes per level of a tree of 2^63 leaves, some 6 KiB of JSON.
const maxProofFile = 1 << 20

func verifyProofCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("verify-proof", stderr)
	cpPath := fs.String("checkpoint", "", "the checkpoint the proof is against (the newer one for consistency)")
	oldPath := fs.String("old", "", "consistency: the older checkpoint")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of a signer of the checkpoints (repeatable): each checkpoint needs a signature by one of them")
	if err := parse(fs, reorder(args)); err != nil {
		return parseFailed(err)
	}
	if *cpPath == "" || len(pubs) == 0 || fs.NArg() != 1 {
		return usageErr(stderr, "verify-proof")
	}
	// A verdict, FAIL on stdout and exit 1, for a proof or checkpoint
	// that does not verify (the library's verification errors, and the
	// CLI's own marked failed); anything else (a file that cannot be
	// read, a key file refused) is no verdict: stderr, exit 3.
	fail := func(err error) int { return reportFailure("verify-proof", stdout, stderr, err) }
	pubKeys, err := loadPubs(pubs)
	if err != nil { // the caller's key file, not a verdict on the proof
		return fail(operational(err))
	}
	anyPub := func(writer, stream string) (note.Verifiers, error) {
		return checkpoint.ChainVerifiers(pubKeys, nil, writer, stream), nil
	}
	// Read as the other readers read their files: a regular file, of at
	// most maxProofFile bytes (a named pipe would block, a device read
	// without end).
	// A file that is not a regular one, or is too large, is no proof
	// (exit 1, as the readers of checkpoints and bundles say format);
	// one that cannot be read, exit 3.
	raw, _, err := fsutil.ReadRegular(fs.Arg(0), maxProofFile)
	if nr, tl := (*fsutil.NotRegularError)(nil), (*fsutil.TooLargeError)(nil); errors.As(err, &nr) || errors.As(err, &tl) {
		return fail(failed(err))
	}
	if err != nil {
		return fail(err)
	}
	var pf proofFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pf); err != nil {
		return fail(failed(fmt.Errorf("%s: %w", fs.Arg(0), err)))
	}
	// Decode reads the first JSON value and stops: without this a proof
	// followed by anything (another proof, text) would be ok, and a file
	// that is not a proof said to hold one.
	if _, err := dec.Token(); err != io.EOF {
		return fail(failed(fmt.Errorf("%s: more after the proof's JSON object", fs.Arg(0))))
	}
	if pf.Kind == "consistency" && *oldPath == "" {
		// The arguments, not the proof, are wrong: a usage error, with
		// what is missing (the usage line alone would not say).
		fmt.Fprintf(stderr, "ronaudit verify-proof: %s is a consistency proof: give the older checkpoint with --old OLDCP\n", fs.Arg(0))
		return usageErr(stderr, "verify-proof")
	}
	if pf.Kind == "inclusion" && *oldPath != "" {
		// --old would be ignored: the user meant another proof, or
		// thinks this one checks more than it does.
		fmt.Fprintf(stderr, "ronaudit verify-proof: %s is an inclusion proof: it is checked against --checkpoint alone; drop --old\n", fs.Arg(0))
		return usageErr(stderr, "verify-proof")
	}
	// After the checks of the arguments: those are wrong whatever the
	// file's spelling.
	if err := checkProofSpelling(raw, pf); err != nil {
		return fail(failed(fmt.Errorf("%s: %w", fs.Arg(0), err)))
	}
	proof, err := decodeHashes(pf.Proof)
	if err != nil {
		return fail(failed(err))
	}
	cp, err := openCheckpoint(*cpPath, anyPub)
	if err != nil {
		return fail(err)
	}
	if pf.Origin != cp.Origin {
		return fail(failed(fmt.Errorf("the proof is for %s, the checkpoint for %s", pf.Origin, cp.Origin)))
	}
	switch pf.Kind {
	case "inclusion":
		h, err := canonical.ParseHash(pf.RecordHash)
		if err != nil {
			return fail(failed(err))
		}
		if pf.TreeSize != cp.Size {
			return fail(failed(fmt.Errorf("the proof is for tree size %d, the checkpoint has %d", pf.TreeSize, cp.Size)))
		}
		if pf.Seq == 0 {
			return fail(failed(errors.New("the proof has no seq")))
		}
		if err := checkpoint.VerifyInclusion(cp, int64(pf.Seq-1), h, proof); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "ok: record %s seq %d (hash %s) is in the checkpoint of size %d\n", names.Chain(cp.WriterID, cp.Stream), pf.Seq, hex.EncodeToString(h[:8]), cp.Size)
	case "consistency":
		old, err := openCheckpoint(*oldPath, anyPub)
		if err != nil {
			return fail(err)
		}
		if pf.OldSize != old.Size || pf.NewSize != cp.Size {
			hint := ""
			if pf.OldSize == cp.Size && pf.NewSize == old.Size {
				hint = " (--old and --checkpoint are swapped: --old is the older checkpoint)"
			}
			return fail(failed(fmt.Errorf("the proof is for sizes %d -> %d, the checkpoints have %d -> %d%s", pf.OldSize, pf.NewSize, old.Size, cp.Size, hint)))
		}
		if err := checkpoint.VerifyConsistency(old, cp, proof); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "ok: the checkpoint of size %d extends the one of size %d (%s)\n", cp.Size, old.Size, names.Chain(cp.WriterID, cp.Stream))
	default:
		return fail(failed(fmt.Errorf("unknown proof kind %q", pf.Kind)))
	}
	return 0
}

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
	fmt.Fprintf(stdout, "checkpoint ok: %s has %d records, the first %d match the checkpoint's root\n", names.Chain(cp.WriterID, cp.Stream), t.Size(), cp.Size)
	return nil
}
