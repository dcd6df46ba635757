package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
)

// Proofs over a durable log (sdk/checkpoint/SPEC.md): prove writes an
// inclusion or consistency proof against a signed checkpoint as JSON, and
// verify-proof checks one offline, with public keys only.

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
	if why := argsProblem(fs, "", "wal", "checkpoint", "pub"); why != "" {
		return badArgs(stderr, "prove", why)
	}
	seqSet := false
	fs.Visit(func(f *flag.Flag) { seqSet = seqSet || f.Name == "seq" })
	switch {
	case seqSet && *seq == 0:
		return badArgs(stderr, "prove", "--seq 0: a chain's first record is seq 1")
	case seqSet && *oldPath != "":
		return badArgs(stderr, "prove", "give --seq N or --old OLDCP, not both")
	case !seqSet && *oldPath == "":
		return badArgs(stderr, "prove", "give --seq N or --old OLDCP")
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
	if why := argsProblem(fs, "PROOF.json", "checkpoint", "pub"); why != "" {
		return badArgs(stderr, "verify-proof", why)
	}
	// A verdict, FAIL on stdout and exit 1, for a proof or checkpoint
	// that does not verify (the library's verification errors, and the
	// CLI's own marked failed); anything else (a file that cannot be
	// read, a key file refused) is no verdict: stderr, exit 3.
	// The proof file is anyone's bytes (its origin can hold a newline):
	// a failure is said on one line.
	fail := func(err error) int { return reportFailure("verify-proof", stdout, stderr, &oneLine{err}) }
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
	// What the proof's content fails on is said after the proof file,
	// as its JSON and spelling are: the report names what failed.
	proofFailed := func(err error) int { return fail(fmt.Errorf("%s: %w", fs.Arg(0), err)) }
	proof, err := decodeHashes(pf.Proof)
	if err != nil {
		return proofFailed(failed(err))
	}
	cp, err := openCheckpoint(*cpPath, anyPub)
	if err != nil {
		return fail(err)
	}
	if pf.Origin != cp.Origin {
		return proofFailed(failed(fmt.Errorf("the proof is for %s, the checkpoint for %s", pf.Origin, cp.Origin)))
	}
	switch pf.Kind {
	case "inclusion":
		h, err := canonical.ParseHash(pf.RecordHash)
		if err != nil {
			return proofFailed(failed(err))
		}
		if pf.TreeSize != cp.Size {
			return proofFailed(failed(fmt.Errorf("the proof is for tree size %d, the checkpoint has %d", pf.TreeSize, cp.Size)))
		}
		if pf.Seq == 0 {
			return proofFailed(failed(errors.New("the proof has no seq")))
		}
		if err := checkpoint.VerifyInclusion(cp, int64(pf.Seq-1), h, proof); err != nil {
			return proofFailed(err)
		}
		fmt.Fprintf(stdout, "ok: record %s seq %d (hash %s) is in the checkpoint of size %d\n", names.Chain(cp.WriterID, cp.Stream), pf.Seq, hex.EncodeToString(h[:8]), cp.Size)
	case "consistency":
		old, err := openCheckpoint(*oldPath, anyPub)
		if err != nil {
			return fail(err)
		}
		if old.Size > cp.Size {
			// The arguments, whatever the proof: no consistency proof
			// goes from a larger tree to a smaller one. A usage error,
			// as prove says it, not a FAIL verdict on the proof.
			return badArgs(stderr, "verify-proof", fmt.Sprintf("--old %s has size %d, more than --checkpoint %s (size %d): a consistency proof goes from the older, smaller checkpoint (--old) to the newer one (--checkpoint); swap them",
				*oldPath, old.Size, *cpPath, cp.Size))
		}
		if pf.OldSize != old.Size || pf.NewSize != cp.Size {
			return proofFailed(failed(fmt.Errorf("the proof is for sizes %d -> %d, the checkpoints have %d -> %d", pf.OldSize, pf.NewSize, old.Size, cp.Size)))
		}
		if err := checkpoint.VerifyConsistency(old, cp, proof); err != nil {
			return proofFailed(err)
		}
		fmt.Fprintf(stdout, "ok: the checkpoint of size %d extends the one of size %d (%s)\n", cp.Size, old.Size, names.Chain(cp.WriterID, cp.Stream))
	default:
		return proofFailed(failed(fmt.Errorf("unknown proof kind %q", pf.Kind)))
	}
	return 0
}
