package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// algEd25519 is the signed-note key type of Ed25519 (C2SP signed-note).
const algEd25519 = 0x01

// noteKeyHash returns the signed-note key hash of an Ed25519 key named
// name: the first 4 bytes, big-endian, of SHA-256(name || "\n" || 0x01 ||
// pub), the rule of golang.org/x/mod/sumdb/note and C2SP signed-note.
func noteKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint32(h.Sum(sum[:0]))
}

// noteSigner adapts an sdk.Signer to note.Signer.
type noteSigner struct {
	s    sdk.Signer
	name string
	hash uint32
	err  error // a key that cannot sign notes, reported by Sign
}

// NewNoteSigner returns a note.Signer that signs notes with s under the
// key name name: its key hash is the signed-note key hash of name and
// s.Public() (C2SP signed-note), and its signatures are Ed25519
// signatures over the note text made by s.Sign, so a key held in an HSM
// or KMS signs checkpoints as it signs records. The
// note verifier key of the result is note.NewEd25519VerifierKey(name,
// s.Public()) (NoteVerifier builds its verifier).
//
// s.Sign is given the note text, not a record's signed message: the signer
// must sign any message. The two cannot be confused: a record's signed
// message begins "RONAUDIT-SIG-V1", a checkpoint's text "ron-audit/".
//
// name must be a valid note key name (non-empty UTF-8 without spaces or
// '+'); note.Sign and Sign refuse a signer with another name, and a public
// key that is not 32 bytes, with an *Error of ReasonSign.
func NewNoteSigner(s sdk.Signer, name string) note.Signer {
	pub := s.Public()
	ns := &noteSigner{s: s, name: name, hash: noteKeyHash(name, pub)}
	if len(pub) != ed25519.PublicKeySize {
		ns.err = newErr(ReasonSign, "Ed25519 public key is "+strconv.Itoa(len(pub))+" bytes, want 32", nil)
	}
	return ns
}

func (n *noteSigner) Name() string    { return n.name }
func (n *noteSigner) KeyHash() uint32 { return n.hash }

func (n *noteSigner) Sign(msg []byte) ([]byte, error) {
	if n.err != nil {
		return nil, n.err
	}
	var sig sdk.Signature
	if err := n.s.Sign(msg, &sig); err != nil {
		return nil, err
	}
	return sig[:], nil
}

// NoteVerifier returns the note.Verifier of the Ed25519 key pub named
// name: note.NewVerifier of note.NewEd25519VerifierKey(name, pub). A name
// that is not a valid note key name or a key that is not 32 bytes is an
// *Error of ReasonFormat.
func NoteVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, newErr(ReasonFormat, "note verifier key for "+quote(name), err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, newErr(ReasonFormat, "note verifier key "+quote(vkey), err)
	}
	return v, nil
}

// KeyVerifiers returns note verifiers that accept a checkpoint signature
// by any of pubs under any key name: the note key hash binds the name to
// the key, and the name is the signer's choice (SPEC.md section 2). It is
// what a verifier holding only public keys gives Open.
func KeyVerifiers(pubs ...ed25519.PublicKey) note.Verifiers { return keyVerifiers(pubs) }

type keyVerifiers []ed25519.PublicKey

func (k keyVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	for _, pub := range k {
		if len(pub) == ed25519.PublicKeySize && noteKeyHash(name, pub) == hash {
			if v, err := NoteVerifier(name, pub); err == nil {
				return v, nil
			}
		}
	}
	return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
}

// errMalformedNote is the note package's unexported error for a message
// that is not a signed note, found by opening a message that is not one.
var errMalformedNote = func() error {
	_, err := note.Open([]byte("not a note"), nil)
	if err == nil {
		panic("checkpoint: note.Open accepted a malformed note")
	}
	return err
}()

// noteError turns an error of note.Open into an *Error.
func noteError(err error) *Error {
	var inv *note.InvalidSignatureError
	var unv *note.UnverifiedNoteError
	switch {
	case errors.As(err, &inv):
		return newErr(ReasonBadSignature, "signature by key "+quote(inv.Name)+" hash "+strconv.FormatUint(uint64(inv.Hash), 16), err)
	case errors.As(err, &unv):
		return newErr(ReasonUnknownKey, "no signature by a trusted key", err)
	case errors.Is(err, errMalformedNote):
		return newErr(ReasonFormat, "not a signed note (needs text, blank line, signature lines; no control characters but newline; ends in newline)", err)
	}
	// The Verifiers failed to give a verifier for a signature (ambiguous,
	// mismatched, or its own error).
	return newErr(ReasonUnknownKey, "looking up the note verifier", err)
}

// OpenOwn opens msg, a checkpoint of a chain of writer writerID, as the
// holder of the key pub judges it: Open with KeyVerifiers(pub), except
// that a note bearing no signature by pub but a signature line that is
// pub's with its key name or key hash damaged (its signature verifies by
// pub over the note's text, or its key hash is pub's under
// KeyName(writerID)) is an *Error of ReasonBadSignature, not of
// ReasonUnknownKey: one byte flipped there reads as a key nobody holds,
// and a holder that took the note for another key's would build on a
// damaged file. A note signed only by other keys (a witness's, a
// stranger's) is ErrUnknownKey, as Open gives. The Keeper judges its
// kept checkpoints so, and export.Auto the previous bundle it continues
// from.
func OpenOwn(msg []byte, pub ed25519.PublicKey, writerID string) (Checkpoint, error) {
	return openOwn(msg, pub, KeyName(writerID))
}

// openOwn is OpenOwn with name the key name the chain's checkpoints are
// signed under.
func openOwn(msg []byte, pub ed25519.PublicKey, name string) (Checkpoint, error) {
	cp, err := Open(msg, KeyVerifiers(pub))
	if errors.Is(err, ErrUnknownKey) {
		if d := damagedOwn(msg, []ed25519.PublicKey{pub}, name); d != nil {
			return Checkpoint{}, d
		}
	}
	return cp, err
}

// damagedOwn returns, for msg, a signed note that bears no signature that
// verifies by any of pubs (Open with KeyVerifiers of them gave
// ErrUnknownKey), the *Error of ReasonBadSignature of a signature line
// that is one of pubs' all the same, damaged: its Ed25519 signature
// verifies by the key over the note's text (its key name or key hash was
// changed), or its key hash is the key's under name, the key name the
// chain's checkpoints are signed under (KeyName: its key name was
// changed, and its signature too). It returns nil when no line is: the
// note is another key's, as far as pubs can tell. A signature line says
// whose it is only by its key name and hash (SPEC.md section 2), so one
// byte flipped there reads as a key nobody holds, and a reader that took
// it for one would send the operator after that key (the Keeper, whose
// pubs is its own key) or set the file aside as no evidence (VerifyDir,
// VerifyKept: pubs are the keys they trust for the chain) rather than
// name the damaged file.
func damagedOwn(msg []byte, pubs []ed25519.PublicKey, name string) *Error {
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 {
		return nil
	}
	text := msg[:split+1]
	for _, line := range strings.Split(strings.TrimSuffix(string(msg[split+2:]), "\n"), "\n") {
		body, _ := strings.CutPrefix(line, "\u2014 ")
		lineName, b64, _ := strings.Cut(body, " ")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) < 5 {
			continue // not a note Open parsed: its error says so
		}
		hash, sig := binary.BigEndian.Uint32(raw[:4]), raw[4:]
		what := "signature line of key " + quote(lineName) + " hash " + strconv.FormatUint(uint64(hash), 16)
		for _, pub := range pubs {
			if len(pub) != ed25519.PublicKeySize {
				continue
			}
			var why string
			switch {
			case len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, text, sig):
				why = "its signature verifies by key " + sdk.KeyIDOf(pub).String() +
					", whose key hash under that name is " + strconv.FormatUint(uint64(noteKeyHash(lineName, pub)), 16)
			case hash == noteKeyHash(name, pub):
				why = strconv.FormatUint(uint64(hash), 16) + " is the key hash of key " + sdk.KeyIDOf(pub).String() +
					" under " + quote(name) + ", and the signature does not verify by it"
			default:
				continue
			}
			return newErr(ReasonBadSignature, what+" is damaged or was tampered with, not another key's: "+why,
				&note.InvalidSignatureError{Name: lineName, Hash: hash})
		}
	}
	return nil
}
