package checkpoint

import (
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxNoteSize is the largest signed note Open reads, in bytes. A
// checkpoint's text is its origin line and under 70 bytes more; the rest
// is up to 100 signature lines (the note package's limit).
const MaxNoteSize = 256 << 10

// Checkpoint is a verified checkpoint of one chain: the tree of its first
// Size records has root Root. Only Open makes a verified one; the
// Verify functions trust the values they are given.
type Checkpoint struct {
	Origin   string     // origin line, Origin(WriterID, Stream)
	Size     int64      // tree size: records 1..Size of the chain
	Root     tlog.Hash  // RFC 6962 root hash of the tree of that size
	WriterID string     // decoded from Origin
	Stream   string     // decoded from Origin
	Note     *note.Note // the opened note: its text and verified and unverified signatures
}

// Text returns the checkpoint text (the note text) of origin, size and
// root: three lines, each ending in a newline: the origin, the size in
// decimal, the root in standard base64 with padding. It does not check its
// inputs (Sign does).
func Text(origin string, size int64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatInt(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// Sign returns the signed note of the checkpoint (origin, size, root),
// signed by signer (NewNoteSigner adapts an sdk.Signer). The origin must
// be one ParseOrigin accepts and size must be >= 0: otherwise an *Error of
// ReasonFormat. A signer failure, or a signer the note package refuses, is
// an *Error of ReasonSign.
func Sign(origin string, size int64, root tlog.Hash, signer note.Signer) ([]byte, error) {
	if _, _, err := ParseOrigin(origin); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, newErr(ReasonFormat, "tree size "+strconv.FormatInt(size, 10)+" is negative", nil)
	}
	if signer == nil {
		return nil, newErr(ReasonSign, "no signer", nil)
	}
	msg, err := note.Sign(&note.Note{Text: Text(origin, size, root)}, signer)
	if err != nil {
		return nil, newErr(ReasonSign, "signing checkpoint as "+quote(signer.Name()), err)
	}
	return msg, nil
}

// Open verifies and parses a signed checkpoint. The message must be a
// C2SP signed note (note.Open: text, blank line, signature lines, valid
// UTF-8, no control character but newline — so CRLF line endings are
// refused — nothing after the last signature line, each signature in the
// one base64 encoding of its bytes, no key name and hash twice) with at
// least one
// signature by a key of verifiers; signatures by unknown keys (witness
// cosignatures, say) are allowed and left in Note.UnverifiedSigs. Its text
// must be exactly Text(origin, size, root):
//
//   - the origin line as ParseOrigin accepts it;
//   - the size in decimal ASCII, "0" or without leading zeros, no sign,
//     at most 2^63-1;
//   - the root as 44 characters of standard base64 with padding of 32
//     bytes, in the one encoding of those bytes (unused bits zero);
//   - no extension lines: C2SP tlog-checkpoint allows optional lines after
//     the root, ron-audit checkpoints (version 1) have none, and Open
//     refuses any, so a checkpoint's text is a function of its three
//     values.
//
// Errors are an *Error: ReasonFormat for a malformed note or text,
// ReasonBadSignature when a signature by a known key does not verify,
// ReasonUnknownKey when no signature is by a known key (or the verifiers
// fail to give one). The note package's error is its Err.
func Open(msg []byte, verifiers note.Verifiers) (Checkpoint, error) {
	if len(msg) > MaxNoteSize {
		return Checkpoint{}, newErr(ReasonFormat, "signed note is "+strconv.Itoa(len(msg))+" bytes, more than "+strconv.Itoa(MaxNoteSize), nil)
	}
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return Checkpoint{}, noteError(err)
	}
	if err := strictSigLines(msg[len(n.Text)+1:]); err != nil {
		return Checkpoint{}, err
	}
	cp, err := parseText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	cp.Note = n
	return cp, nil
}

// strictSigLines checks the signature lines of a note that note.Open
// accepted (block is what follows the blank line) for what note.Open lets
// pass: a signature whose base64 has unused bits set (the 2 bits of its
// last digit may be anything to a lenient decoder, so four byte strings
// would carry one signature), and a second line by the same key name and
// hash (note.Open checks only the first, so a copy with any signature
// would ride along). Either makes a note with more than one spelling.
func strictSigLines(block []byte) error {
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(block), "\n"), "\n") {
		body, _ := strings.CutPrefix(line, "\u2014 ")
		sp := strings.LastIndexByte(body, ' ')
		if sp < 0 {
			return newErr(ReasonFormat, "signature line "+quote(line)+" has no key name", nil)
		}
		name, b64 := body[:sp], body[sp+1:]
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(raw) < 4 {
			return newErr(ReasonFormat, "signature of "+quote(name)+" is not in canonical base64 (unused bits set)", err)
		}
		key := name + "+" + string(raw[:4])
		if seen[key] {
			return newErr(ReasonFormat, "two signature lines by key "+quote(name)+" with the same key hash", nil)
		}
		seen[key] = true
	}
	return nil
}

// parseText parses a checkpoint text strictly (see Open).
func parseText(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 5)
	switch {
	case len(lines) < 4:
		return Checkpoint{}, newErr(ReasonFormat, "checkpoint text has fewer than 3 lines", nil)
	case len(lines) > 4 || lines[3] != "":
		return Checkpoint{}, newErr(ReasonFormat, "checkpoint text has extension lines after the root hash (ron-audit v1 has none)", nil)
	}
	var cp Checkpoint
	var err error
	cp.Origin = lines[0]
	if cp.WriterID, cp.Stream, err = ParseOrigin(lines[0]); err != nil {
		return Checkpoint{}, err
	}
	if cp.Size, err = parseSize(lines[1]); err != nil {
		return Checkpoint{}, err
	}
	if cp.Root, err = parseRoot(lines[2]); err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}

func parseSize(s string) (int64, error) {
	ok := s != "" && (s == "0" || s[0] != '0') && len(s) <= 19
	for i := 0; ok && i < len(s); i++ {
		ok = '0' <= s[i] && s[i] <= '9'
	}
	if ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, newErr(ReasonFormat, "tree size line "+quote(s)+" is not a decimal number without leading zeros below 2^63", nil)
}

func parseRoot(s string) (tlog.Hash, error) {
	var h tlog.Hash
	if len(s) == base64.StdEncoding.EncodedLen(tlog.HashSize) {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err == nil && len(b) == tlog.HashSize {
			copy(h[:], b)
			return h, nil
		}
	}
	return tlog.Hash{}, newErr(ReasonFormat, "root hash line "+quote(s)+" is not 32 bytes in standard base64 with padding", nil)
}
