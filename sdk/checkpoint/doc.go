// Package checkpoint makes the Merkle tree of a ron-audit chain, signed
// checkpoints of it, and the proofs a verifier checks offline against a
// checkpoint with only the signer's public key: that a record is in the
// log (inclusion) and that a later log extends an earlier one
// (consistency), so a tail that was cut, rolled back or forked is caught.
// SPEC.md in this directory is the byte contract; this is its summary.
//
// # Tree
//
// Each chain (writerId, stream) has its own tree in RFC 6962 form
// (SHA-256, leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 ||
// left || right)), built and proved with golang.org/x/mod/sumdb/tlog, so
// transparency-log tooling and witnesses check it unchanged. Leaf i
// (0-based) is the record with seq i+1, and its leaf data is the record's
// 32-byte record hash (BLAKE3, canonical/SPEC.md section 5):
//
//	leaf hash(i) = SHA-256(0x00 || recordHash(seq i+1))
//
// The record hash rather than the canonical bytes, because: it is already
// computed for every record (hashing a leaf is one 33-byte SHA-256, not a
// second pass over up to 64 KiB); it binds the exact canonical bytes
// through BLAKE3, so an inclusion proof of the hash is one of the record;
// RFC 6962 tooling checks inclusion of those 32 bytes as it would of any
// leaf; and a reader holding the record recomputes its hash with b3sum
// and needs nothing else. Proofs stay small whatever the record size.
//
// # Checkpoints
//
// A checkpoint is a C2SP tlog-checkpoint: a C2SP signed note
// (golang.org/x/mod/sumdb/note, Ed25519, key type 0x01) whose text is
// exactly three lines, each ending in a newline:
//
//	ron-audit/svc-index@inst-2/index
//	7
//	<root hash, standard base64 with padding>
//
// The origin line names the chain: "ron-audit/" + e(writerId) + "/" +
// e(stream), where e keeps A-Z a-z 0-9 - . _ ~ @ and writes every other
// byte as %XX (upper-case hex), so "/" inside an id cannot split it and
// the origin is a valid note key name. There are no extension lines;
// Open refuses any. The note key name is the signer's choice (for
// example "ron-audit/" + e(writerId), one key for all streams of a
// writer); NewNoteSigner signs with any sdk.Signer, so an HSM key works.
//
// # Verifying a log offline
//
// VerifyDir is what an auditor holding only public keys runs on a durable
// log directory: in one pass over the log it verifies every record (as
// sdk.VerifyDir) and the checkpoints a Keeper kept with it in
// DIR/checkpoints, following the chains' key rotations from the first
// key, and takes those that hold as seals. A log cut, rolled back or
// forked below a kept checkpoint fails (ErrRollback, ErrFork); a kept
// checkpoint signed by none of the keys is reported (DirSummary.Unused),
// not used, unless a signature line is one of the keys' with its key name
// or key hash damaged (ErrBadSignature naming the file, as the Keeper
// refuses it: a flipped byte there would read as a key nobody holds).
// VerifyKept does the same for one chain whose tree the caller
// built, having verified only that chain (sdk.VerifyDirChain);
// VerifyChain for one chain given as an sdk.Iterator and its checkpoints.
// The rules they share are exported for tools that check checkpoints
// their own way: KeptDir (where a log keeps its checkpoints; a history
// out of reach is not "none kept") and ChainVerifiers (the keys that open
// a chain's checkpoints: those given and those its transitions named).
//
// # Errors
//
// Every error about a checkpoint, a proof or the Keeper's signing is an
// *Error whose Reason (format, bad_signature, unknown_key, sign,
// out_of_range, not_included, origin_mismatch, rollback, fork, retired_key)
// matches the sentinel of the same name with errors.Is (ErrFormat,
// ErrBadSignature, ...; ErrRange for out_of_range) and whose Err is the
// note or tlog error underneath. Two kinds are not: a checkpoint file or
// history directory that cannot be read (ReadNote, LoadHistory,
// HistoryPaths, HistoryChains, Keeper.History) fails with the file system's
// error (a *fs.PathError: errors.Is(err, fs.ErrNotExist) works; a history
// directory reached through a symbolic link to nothing is a
// *BrokenLinkError instead, which does not match it: it is not a chain
// without checkpoints), and a record that fails VerifyChain with sdk's
// *VerifyError (an iterator that fails, with its own error, wrapped as
// sdk.VerifyChain wraps it: where the reading stopped). VerifyDir,
// VerifyKept and KeptDir wrap what they find wrong with the kept
// checkpoints (an *Error, or the file system's error) in a *DirError naming
// the chain, the checkpoint's size and its file (or the directory that
// cannot be read); the log's own failures, and an unsealed tail, are sdk's
// *DurableError. A third kind: a chain whose writer id or stream is too
// long to name its directory (over sdk.MaxChainName escaped: a log
// written before the SDK refused such names) can have no checkpoint; the
// Keeper's writes of it, VerifyDir (once every other chain holds) and
// VerifyKept fail with a *DirError wrapping its *sdk.ChainNameError
// (errors.Is sdk.ErrChainName), and the Keeper goes on with the others.
package checkpoint
