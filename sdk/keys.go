package sdk

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
)

// Categories of key error, for errors.Is. Every error the key functions
// return is a *KeyError or a *KeyFileError; a *KeyFileError about an
// unreadable file instead wraps the *fs.PathError, so errors.Is(err,
// fs.ErrNotExist) and the like work.
var (
	// ErrKeyPermissions matches a private key file whose permission bits
	// let its group or others access it, or that another user owns, or
	// that lies in a directory they could replace it in (see LoadSigner).
	ErrKeyPermissions = errors.New("sdk: private key file is accessible by group or others")
	// ErrKeyFormat matches a key that is malformed or not an Ed25519 key of
	// the expected kind: bad length, not PEM, not PKCS#8 or PKIX, another
	// algorithm, trailing data, a public key where a private one belongs.
	ErrKeyFormat = errors.New("sdk: malformed or unsupported key")
	// ErrKeyIDCollision matches two different public keys with the same
	// KeyID in one KeySet.
	ErrKeyIDCollision = errors.New("sdk: two keys share a key id")
)

// KeyError reports an in-memory key that cannot be used. It matches
// ErrKeyFormat or, from KeySet.TryAdd, ErrKeyIDCollision.
type KeyError struct {
	Reason string
	target error // category for Is
}

func (e *KeyError) Error() string { return "sdk: key: " + e.Reason }

// Is makes errors.Is match the error's category.
func (e *KeyError) Is(target error) bool { return target == e.target }

// KeyFileError reports a key file that cannot be loaded or written; see
// FileError. It matches ErrKeyPermissions when the file's mode or owner,
// or a directory on its path, lets someone else read or replace it (see
// LoadSigner), and ErrKeyFormat when its contents are not the expected key.
type KeyFileError = FileError

func formatError(path, reason string, err error) *KeyFileError {
	return &FileError{What: "key file", Path: path, Reason: reason, Err: err, target: ErrKeyFormat}
}

// KeyIDOf returns the key id of pub: the first 8 bytes of BLAKE3
// derive_key with KeyIDContext over the public key bytes, reproducible
// with b3sum --derive-key "ron-audit 2026-11-27 key id v1". pub should be
// 32 bytes; KeyIDOf hashes whatever it is given.
func KeyIDOf(pub ed25519.PublicKey) KeyID {
	var id KeyID
	blake3.DeriveKey(KeyIDContext, pub, id[:])
	return id
}

// signerMismatch refuses a Signer whose KeyID is not the id of its Public
// key (ErrConfig naming both), as an HSM or KMS adapter with a bug may
// have: records carry KeyID and verifiers look the key up by it, while a
// rotation's transition record names Public, so such a Signer writes
// records nobody can verify, or passes the retired-key check of RotateKey
// under another id. Checked where a Signer is taken (New, RotateKey), not
// per record: it hashes the public key.
func signerMismatch(what string, s Signer) error {
	if id, own := s.KeyID(), KeyIDOf(s.Public()); id != own {
		return fmt.Errorf("%w: %s: KeyID %s is not %s, the id of its Public key", ErrConfig, what, id, own)
	}
	return nil
}

// Ed25519Signer is a Signer holding an Ed25519 private key in memory. It
// is immutable after construction and safe for concurrent use; Sign does
// not allocate.
type Ed25519Signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	id   KeyID
}

var _ Signer = (*Ed25519Signer)(nil)

// NewEd25519Signer returns a Signer for priv, which must be
// ed25519.PrivateKeySize bytes (seed then public key) with a public half
// that matches the seed; otherwise it returns a *KeyError matching
// ErrKeyFormat. The signer keeps its own copy of the key.
func NewEd25519Signer(priv ed25519.PrivateKey) (*Ed25519Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, &KeyError{
			Reason: "Ed25519 private key is " + strconv.Itoa(len(priv)) + " bytes, want " + strconv.Itoa(ed25519.PrivateKeySize),
			target: ErrKeyFormat,
		}
	}
	// Rebuild from the seed: a private key whose public half does not
	// belong to its seed makes invalid signatures, and signing one message
	// under two public keys can reveal the secret scalar.
	own := ed25519.NewKeyFromSeed(priv[:ed25519.SeedSize])
	if subtle.ConstantTimeCompare(own[ed25519.SeedSize:], priv[ed25519.SeedSize:]) != 1 {
		clear(own)
		return nil, &KeyError{Reason: "Ed25519 private key's public half does not match its seed", target: ErrKeyFormat}
	}
	pub := ed25519.PublicKey(own[ed25519.SeedSize:])
	return &Ed25519Signer{priv: own, pub: pub, id: KeyIDOf(pub)}, nil
}

// KeyID returns the id of the signer's public key.
func (s *Ed25519Signer) KeyID() KeyID { return s.id }

// Public returns the signer's public key. The caller must not modify it.
func (s *Ed25519Signer) Public() ed25519.PublicKey { return s.pub }

// Sign writes into sig the Ed25519 signature of msg. It does not allocate
// and never fails.
func (s *Ed25519Signer) Sign(msg []byte, sig *Signature) error {
	// ed25519.Sign is inlined: its 64-byte result does not escape and is
	// stack-allocated. (PrivateKey.Sign, the crypto.Signer method, returns
	// a heap-allocated signature.)
	copy(sig[:], ed25519.Sign(s.priv, msg))
	return nil
}

// Key files are PEM, as openssl writes them:
//
//	name.key  "PRIVATE KEY" block, PKCS#8 (openssl genpkey -algorithm ed25519)
//	name.pub  "PUBLIC KEY" block, PKIX   (openssl pkey -in name.key -pubout)
const (
	pemPrivateType = "PRIVATE KEY"
	pemPublicType  = "PUBLIC KEY"
	maxKeyFileSize = 64 << 10
)

// GenerateKeyFiles makes a new Ed25519 key and writes it to dir as
// name.key (the private key, PKCS#8 in a PEM "PRIVATE KEY" block, mode
// 0600) and name.pub (the public key, PKIX in a PEM "PUBLIC KEY" block,
// mode 0644, whatever the umask). It never overwrites: if either file exists
// it fails and leaves the existing files alone. It refuses a dir that
// LoadSigner would refuse the key in (as named or where its links lead),
// with a *KeyFileError matching ErrKeyPermissions. On error it removes any
// file it created. name must be a plain file name, without a separator.
func GenerateKeyFiles(dir, name string) (privPath, pubPath string, id KeyID, err error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name {
		return "", "", KeyID{}, &FileError{What: "key file", Path: filepath.Join(dir, name), Reason: "key name " + strconv.Quote(name) + " is not a plain file name"}
	}
	privPath = filepath.Join(dir, name+".key")
	pubPath = filepath.Join(dir, name+".pub")

	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return "", "", KeyID{}, &FileError{What: "key file", Path: privPath, Reason: "generating key", Err: err}
	}
	defer clear(priv)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", KeyID{}, &FileError{What: "key file", Path: privPath, Reason: "encoding PKCS#8", Err: err}
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: pemPrivateType, Bytes: der})
	clear(der)
	defer clear(privPEM)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", "", KeyID{}, &FileError{What: "key file", Path: pubPath, Reason: "encoding PKIX", Err: err}
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: pemPublicType, Bytes: pubDER})

	if err := writeNewFile(privPath, privPEM, 0o600); err != nil {
		return "", "", KeyID{}, err
	}
	if err := writeNewFile(pubPath, pubPEM, 0o644); err != nil {
		// writeNewFile fsynced the private key's entry into dir: its
		// removal must be fsynced too, or a power loss brings back a
		// private key without its public key, and the next keygen of
		// name refuses it as existing. Best effort, as the removal: err
		// is what failed.
		if os.Remove(privPath) == nil {
			_ = fsutil.SyncDir(filepath.Dir(privPath))
		}
		return "", "", KeyID{}, err
	}
	return privPath, pubPath, KeyIDOf(pub), nil
}

// writeNewFile creates path (failing if it exists) holding b, whole or
// not at all (see writeNewSecret).
func writeNewFile(path string, b []byte, perm os.FileMode) error {
	return writeNewSecret("key file", ErrKeyPermissions, path, b, perm)
}

// LoadSigner reads an Ed25519 private key from a PEM "PRIVATE KEY"
// (PKCS#8) file, as GenerateKeyFiles or openssl genpkey -algorithm ed25519
// writes it, and returns a signer for it.
//
// Except on Windows, it refuses a file whose mode lets group or others
// access it (mode&0o077 != 0), or that lies under a directory group or
// others may write (without the sticky bit), its own or one above it, with
// a *KeyFileError matching ErrKeyPermissions; chmod 600 (or chmod go-w on
// the directory) fixes it. So it does a file, or a directory on its path,
// owned by a user other than this process's or root (mode 0600 does not
// keep the owner out); chown fixes that.
// Other failures are a
// *KeyFileError too: an unreadable or missing file (wrapping the
// *fs.PathError), or, matching ErrKeyFormat, a file that is not a single
// PEM block, not PKCS#8, not Ed25519, or holds a public key, or whose
// PKCS#8 has trailing data or (version 2) a public key that is not its
// seed's.
func LoadSigner(path string) (*Ed25519Signer, error) {
	data, err := readKeyFile(path, true)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	return parseSigner(path, data)
}

// parseSigner is LoadSigner after the file is read: data is the file's
// contents, path names it in errors.
func parseSigner(path string, data []byte) (*Ed25519Signer, error) {
	block, err := decodeSinglePEM(path, data)
	if err != nil {
		return nil, err
	}
	defer clear(block.Bytes)
	switch block.Type {
	case pemPrivateType:
	case pemPublicType:
		return nil, formatError(path, "holds a public key (PEM \"PUBLIC KEY\"), LoadSigner needs the private key file", nil)
	case "ENCRYPTED PRIVATE KEY":
		return nil, formatError(path, "encrypted private keys are not supported; store the key unencrypted with mode 0600", nil)
	default:
		return nil, formatError(path, "PEM block is "+strconv.Quote(block.Type)+", want \"PRIVATE KEY\" (PKCS#8)", nil)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, formatError(path, "not a PKCS#8 private key", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, formatError(path, fmt.Sprintf("private key is %s, want Ed25519", keyKind(key)), nil)
	}
	defer clear(priv)
	if reason := pkcs8Problem(block.Bytes, priv); reason != "" {
		return nil, formatError(path, reason, nil)
	}
	s, err := NewEd25519Signer(priv)
	if err != nil {
		return nil, formatError(path, "bad Ed25519 key", err)
	}
	return s, nil
}

// pkcs8Problem finds what x509.ParsePKCS8PrivateKey lets through in an
// Ed25519 key it took (priv): bytes after the PKCS#8 SEQUENCE or after the
// seed's OCTET STRING inside it (it ignores both, unlike
// ParsePKIXPublicKey, which refuses trailing data), and the public key a
// version 2 key (RFC 5958) carries, which it ignores too: one that is not
// the seed's is a broken key, and a verifier given it would refuse every
// record. It returns the reason, or "". It reads der in place: the seed
// is not copied.
func pkcs8Problem(der []byte, priv ed25519.PrivateKey) string {
	const trailing = "trailing data in the PKCS#8 key"
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 {
		return trailing
	}
	// version, algorithm, privateKey, [0] attributes, [1] publicKey
	elems := seq.Bytes
	for i := 0; len(elems) > 0; i++ {
		var e asn1.RawValue
		var err error
		if elems, err = asn1.Unmarshal(elems, &e); err != nil {
			return trailing
		}
		switch {
		case i == 2 && len(e.Bytes) != 2+ed25519.SeedSize: // 04 20 and the seed
			return trailing
		case i > 2 && e.Class == asn1.ClassContextSpecific && e.Tag == 1:
			// A BIT STRING: no unused bits, then the key.
			if len(e.Bytes) != 1+ed25519.PublicKeySize || e.Bytes[0] != 0 || !bytes.Equal(e.Bytes[1:], priv[ed25519.SeedSize:]) {
				return "the PKCS#8 key's public key does not match its seed"
			}
		}
	}
	return ""
}

// LoadPublicKey reads an Ed25519 public key from a PEM "PUBLIC KEY" (PKIX)
// file, as GenerateKeyFiles or openssl pkey -pubout writes it. Failures
// are a *KeyFileError: an unreadable or missing file (wrapping the
// *fs.PathError), or, matching ErrKeyFormat, a file that is not a single
// PEM block, not PKIX, not Ed25519, or holds a private key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := readKeyFile(path, false)
	if err != nil {
		return nil, err
	}
	return parsePublicKey(path, data)
}

// parsePublicKey is LoadPublicKey after the file is read.
func parsePublicKey(path string, data []byte) (ed25519.PublicKey, error) {
	block, err := decodeSinglePEM(path, data)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case pemPublicType:
	case pemPrivateType, "ENCRYPTED PRIVATE KEY":
		clear(block.Bytes)
		clear(data)
		return nil, formatError(path, "holds a private key, want the public key (PEM \"PUBLIC KEY\")", nil)
	default:
		return nil, formatError(path, "PEM block is "+strconv.Quote(block.Type)+", want \"PUBLIC KEY\" (PKIX)", nil)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, formatError(path, "not a PKIX public key", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, formatError(path, fmt.Sprintf("public key is %s, want Ed25519", keyKind(key)), nil)
	}
	return pub, nil
}

// readKeyFile reads a regular file of at most maxKeyFileSize bytes. For a
// private key it first checks the file's permission bits.
func readKeyFile(path string, private bool) ([]byte, error) {
	f, p := openSecret(path, "private key file", private)
	if p != nil {
		if p.perms && holdsPublicKey(path) {
			// A .pub given for the private key: say so, rather than
			// advise a chmod that would only lead to this error.
			return nil, formatError(path, "holds a public key (PEM \"PUBLIC KEY\"), not the private key file", nil)
		}
		e := &FileError{What: "key file", Path: path, Reason: p.reason, Err: p.err}
		if p.perms {
			e.target = ErrKeyPermissions
		}
		return nil, e
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		clear(data)
		return nil, &FileError{What: "key file", Path: path, Reason: "cannot read", Err: err}
	}
	if len(data) > maxKeyFileSize {
		clear(data)
		return nil, formatError(path, "larger than "+strconv.Itoa(maxKeyFileSize)+" bytes, not a key file", nil)
	}
	return data, nil
}

// holdsPublicKey reports whether the file at path is a PEM "PUBLIC KEY"
// block, as LoadPublicKey would read it (the same parser decides).
func holdsPublicKey(path string) bool {
	data, _, err := fsutil.ReadRegular(path, maxKeyFileSize)
	if err != nil {
		return false
	}
	block, err := decodeSinglePEM(path, data)
	return err == nil && block.Type == pemPublicType
}

// decodeSinglePEM requires data to be exactly one PEM block without
// headers, with nothing but white space around it.
func decodeSinglePEM(path string, data []byte) (*pem.Block, error) {
	start := bytes.Index(data, []byte("-----BEGIN "))
	if start < 0 {
		return nil, formatError(path, "not PEM (no \"-----BEGIN\" line)", nil)
	}
	if len(bytes.TrimSpace(data[:start])) != 0 {
		return nil, formatError(path, "data before the PEM block", nil)
	}
	block, rest := pem.Decode(data[start:])
	if block == nil {
		return nil, formatError(path, "not PEM (malformed block)", nil)
	}
	// pem.Decode skips what it cannot decode (a block with bad base64 or
	// a mismatched END line, a stray "-----BEGIN " line) and returns the
	// next block: the one it returned must be the one at start, so its
	// text holds no other BEGIN line.
	if end := len(data) - len(rest); bytes.Contains(data[start+1:end], []byte("-----BEGIN ")) {
		clear(block.Bytes)
		return nil, formatError(path, "data before the PEM block (a malformed block)", nil)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		clear(block.Bytes)
		return nil, formatError(path, "trailing data after the PEM block", nil)
	}
	if len(block.Headers) != 0 {
		clear(block.Bytes)
		return nil, formatError(path, "PEM headers are not supported (legacy encrypted key?)", nil)
	}
	return block, nil
}

// keyKind names the algorithm of a parsed key for error messages.
func keyKind(key any) string {
	switch key.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "ECDSA"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "X25519 (ECDH)"
	}
	return fmt.Sprintf("%T", key)
}

// KeySet is a verifier's set of trusted Ed25519 public keys, addressed by
// key id. The zero value is an empty set, and so, to Lookup, Len and
// Clone, is a nil *KeySet (VerifyDir's keys nil). All methods are safe for
// concurrent use; Lookup does not allocate.
type KeySet struct {
	mu   sync.RWMutex
	keys map[KeyID]ed25519.PublicKey
}

// NewKeySet returns a KeySet holding pubs. Like Add, it panics on a key
// that is not ed25519.PublicKeySize bytes or whose id collides with
// another key's; use TryAdd to get an error instead.
func NewKeySet(pubs ...ed25519.PublicKey) *KeySet {
	ks := &KeySet{keys: make(map[KeyID]ed25519.PublicKey, len(pubs))}
	for _, p := range pubs {
		ks.Add(p)
	}
	return ks
}

// Add adds pub, which the set copies, and returns its key id. Adding a key
// already present does nothing. Add panics, as ed25519.Verify does, on a
// key that is not ed25519.PublicKeySize bytes, and on a different key with
// the same key id (a 64-bit collision: never by chance, only by an
// attacker who chose a key); TryAdd returns these as errors.
func (ks *KeySet) Add(pub ed25519.PublicKey) KeyID {
	id, err := ks.TryAdd(pub)
	if err != nil {
		panic(err)
	}
	return id
}

// TryAdd is Add returning an error instead of panicking: a *KeyError
// matching ErrKeyFormat for a key of the wrong length, or
// ErrKeyIDCollision for a different key with the same id already in the
// set. On error the set is unchanged.
func (ks *KeySet) TryAdd(pub ed25519.PublicKey) (KeyID, error) {
	if len(pub) != ed25519.PublicKeySize {
		return KeyID{}, &KeyError{
			Reason: "Ed25519 public key is " + strconv.Itoa(len(pub)) + " bytes, want " + strconv.Itoa(ed25519.PublicKeySize),
			target: ErrKeyFormat,
		}
	}
	id := KeyIDOf(pub)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if old, ok := ks.keys[id]; ok {
		if bytes.Equal(old, pub) {
			return id, nil
		}
		return KeyID{}, &KeyError{Reason: "key id " + id.String() + " already names a different public key", target: ErrKeyIDCollision}
	}
	if ks.keys == nil {
		ks.keys = make(map[KeyID]ed25519.PublicKey)
	}
	ks.keys[id] = bytes.Clone(pub)
	return id, nil
}

// Lookup returns the public key with key id id. The caller must not modify
// it. A nil KeySet holds no key.
func (ks *KeySet) Lookup(id KeyID) (ed25519.PublicKey, bool) {
	if ks == nil {
		return nil, false
	}
	ks.mu.RLock()
	pub, ok := ks.keys[id]
	ks.mu.RUnlock()
	return pub, ok
}

// remove takes id out of the set (Log.untraced: a key a failed rotation
// added, which signed nothing).
func (ks *KeySet) remove(id KeyID) {
	ks.mu.Lock()
	delete(ks.keys, id)
	ks.mu.Unlock()
}

// Len returns the number of keys in the set: 0 for a nil KeySet, which
// Lookup and Clone take as empty too.
func (ks *KeySet) Len() int {
	if ks == nil {
		return 0
	}
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return len(ks.keys)
}

// Clone returns a new KeySet with the same keys.
func (ks *KeySet) Clone() *KeySet {
	out := &KeySet{keys: map[KeyID]ed25519.PublicKey{}}
	if ks == nil {
		return out
	}
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	for id, pub := range ks.keys {
		out.keys[id] = pub
	}
	return out
}
