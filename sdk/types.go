package sdk

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// Signature is an Ed25519 signature over canonical.SignedMessage of a
// record hash.
type Signature [ed25519.SignatureSize]byte

// KeyID names a verifying key: the first 8 bytes of BLAKE3 derive_key with
// context KeyIDContext over the 32-byte Ed25519 public key.
type KeyID [8]byte

// KeyIDContext is the BLAKE3 derive_key context of key ids.
const KeyIDContext = "ron-audit 2026-11-27 key id v1"

// String returns the key id in lowercase hex.
func (k KeyID) String() string { return hex.EncodeToString(k[:]) }

// Format prints k's bytes for %x and %X, and String for the other verbs.
func (k KeyID) Format(f fmt.State, verb rune) {
	if verb == 'x' || verb == 'X' {
		fmt.Fprintf(f, fmt.FormatString(f, verb), [8]byte(k))
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), k.String())
}

// Signer signs record hashes for a chain. Implementations must be safe for
// concurrent use. The default is an Ed25519 key held in memory
// (NewEd25519Signer); an HSM or KMS plugs in here.
type Signer interface {
	// KeyID names the key verifiers use to check the signatures. It
	// must be KeyIDOf(Public()): New, RotateKey, checkpoint.NewKeeper
	// and export.Exporter refuse a Signer whose KeyID is not
	// (ErrConfig, naming both ids).
	KeyID() KeyID
	// Public returns the Ed25519 public key.
	Public() ed25519.PublicKey
	// Sign writes into sig the Ed25519 signature of msg, which is
	// canonical.SignedMessage of a record hash (47 bytes).
	Sign(msg []byte, sig *Signature) error
}

// Sealed is one record as a chain holds it: its canonical bytes, its hash,
// and its signature when it has one. Under the checkpoint-sealed policy only
// some records are signed; each signature then also covers every record
// before it in the chain.
type Sealed struct {
	Bytes  []byte         // canonical bytes (canonical.Open reads them)
	Hash   canonical.Hash // record hash of Bytes, as stored
	Signed bool           // Sig and KeyID are set
	KeyID  KeyID
	Sig    Signature
}

// Iterator walks sealed records. Entry is valid until the next call to
// Next; Err reports why Next returned false early.
type Iterator interface {
	Next() bool
	Entry() Sealed
	Err() error
}

// SliceIterator iterates over a slice of records.
type SliceIterator struct {
	recs []Sealed
	i    int
}

// NewSliceIterator returns an Iterator over recs.
func NewSliceIterator(recs []Sealed) *SliceIterator { return &SliceIterator{recs: recs, i: -1} }

// Next advances to the next record.
func (it *SliceIterator) Next() bool {
	if it.i+1 >= len(it.recs) {
		it.i = len(it.recs)
		return false
	}
	it.i++
	return true
}

// Entry returns the current record.
func (it *SliceIterator) Entry() Sealed { return it.recs[it.i] }

// Err is always nil.
func (it *SliceIterator) Err() error { return nil }
