package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/sdk"
)

const testKeyName = "ron-audit/svc-index@inst-2"

func testSigner(t testing.TB, seedText string) *sdk.Ed25519Signer {
	t.Helper()
	seed := sha256.Sum256([]byte(seedText))
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testVerifiers(t testing.TB, s sdk.Signer, name string) note.Verifiers {
	t.Helper()
	v, err := NoteVerifier(name, s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return note.VerifierList(v)
}

func testRoot() tlog.Hash { return buildTree(7).Root() }

func TestSignOpenRoundTrip(t *testing.T) {
	s := testSigner(t, "key A")
	vs := testVerifiers(t, s, testKeyName)
	for _, c := range []struct {
		writer, stream string
		size           int64
	}{
		{"svc-index@inst-2", "index", 7},
		{"a/b c", "é+%", 1},
		{"w", "s", 0},
		{"w", "s", 1<<63 - 1},
	} {
		origin := Origin(c.writer, c.stream)
		root := testRoot()
		if c.size == 0 {
			root = NewTree().Root()
		}
		msg, err := Sign(origin, c.size, root, NewNoteSigner(s, testKeyName))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := Open(msg, vs)
		if err != nil {
			t.Fatalf("Open(%q): %v", msg, err)
		}
		if cp.Origin != origin || cp.Size != c.size || cp.Root != root || cp.WriterID != c.writer || cp.Stream != c.stream {
			t.Fatalf("Open = %+v, want origin %q size %d root %x writer %q stream %q", cp, origin, c.size, root, c.writer, c.stream)
		}
		if cp.Note == nil || cp.Note.Text != Text(origin, c.size, root) || len(cp.Note.Sigs) != 1 || cp.Note.Sigs[0].Name != testKeyName {
			t.Fatalf("note %+v", cp.Note)
		}
		wantText := origin + "\n" + strconv.FormatInt(c.size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n\n— " + testKeyName + " "
		if !strings.HasPrefix(string(msg), wantText) {
			t.Fatalf("signed note %q does not begin %q", msg, wantText)
		}
	}
}

// signedText signs an arbitrary note text with s, bypassing Sign's
// checks, so Open's parsing is tested behind a valid signature.
func signedText(t testing.TB, s sdk.Signer, text string) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, NewNoteSigner(s, testKeyName))
	if err != nil {
		t.Fatalf("note.Sign(%q): %v", text, err)
	}
	return msg
}

func TestOpenRefuses(t *testing.T) {
	s := testSigner(t, "key A")
	other := testSigner(t, "key B")
	vs := testVerifiers(t, s, testKeyName)
	origin := Origin("svc-index@inst-2", "index")
	root := testRoot()
	good, err := Sign(origin, 7, root, NewNoteSigner(s, testKeyName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(good, vs); err != nil {
		t.Fatal(err)
	}
	text := Text(origin, 7, root)
	sigPart := good[len(text):] // "\n— name sig\n"
	replaceText := func(newText string) []byte { return append([]byte(newText), sigPart...) }
	rootB64 := base64.StdEncoding.EncodeToString(root[:])
	otherRoot := flip(root)

	// A signature whose bytes are changed: decode, flip a bit, re-encode.
	forged := func() []byte {
		prefix := "\n— " + testKeyName + " "
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(string(sigPart[len(prefix):]), "\n"))
		if err != nil {
			t.Fatal(err)
		}
		raw[10] ^= 1 // a bit of the Ed25519 signature, after the 4-byte key hash
		return []byte(text + prefix + base64.StdEncoding.EncodeToString(raw) + "\n")
	}()
	if bytes.Equal(forged, good) || len(forged) != len(good) {
		t.Fatal("forged note not built")
	}

	otherKey, err := Sign(origin, 7, root, NewNoteSigner(other, testKeyName))
	if err != nil {
		t.Fatal(err)
	}
	otherName, err := Sign(origin, 7, root, NewNoteSigner(s, "someone-else"))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"forged signature", forged, ErrBadSignature},
		{"changed size", replaceText(origin + "\n8\n" + rootB64 + "\n"), ErrBadSignature},
		{"changed root", replaceText(origin + "\n7\n" + base64.StdEncoding.EncodeToString(otherRoot[:]) + "\n"), ErrBadSignature},
		{"changed origin", replaceText(Origin("svc-index@inst-2", "other") + "\n7\n" + rootB64 + "\n"), ErrBadSignature},
		{"signed by unknown key", otherKey, ErrUnknownKey},
		{"same key under another name", otherName, ErrUnknownKey},
		{"no signature", []byte(text + "\n"), ErrFormat},
		{"trailing junk", append(bytes.Clone(good), "junk"...), ErrFormat},
		{"trailing junk line", append(bytes.Clone(good), "junk\n"...), ErrFormat},
		{"trailing blank line", append(bytes.Clone(good), '\n'), ErrFormat},
		{"signature line twice", append(bytes.Clone(good), good[bytes.LastIndex(good, []byte("\n\n"))+2:]...), ErrFormat},
		{"leading junk", append([]byte("x\n"), good...), ErrBadSignature},
		{"CRLF", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), ErrFormat},
		{"CR in text", replaceText(origin + "\r\n7\n" + rootB64 + "\n"), ErrFormat},
		{"empty", nil, ErrFormat},
		{"too big", append(bytes.Repeat([]byte("a"), MaxNoteSize), good...), ErrFormat},
		{"invalid UTF-8", replaceText(origin + "\xff\n7\n" + rootB64 + "\n"), ErrFormat},
		// Valid signatures over texts that are not checkpoints of this
		// format.
		{"extension line", signedText(t, s, text+"ext\n"), ErrFormat},
		{"two lines", signedText(t, s, origin+"\n7\n"), ErrFormat},
		{"size leading zero", signedText(t, s, origin+"\n07\n"+rootB64+"\n"), ErrFormat},
		{"size plus", signedText(t, s, origin+"\n+7\n"+rootB64+"\n"), ErrFormat},
		{"size negative", signedText(t, s, origin+"\n-7\n"+rootB64+"\n"), ErrFormat},
		{"size space", signedText(t, s, origin+"\n 7\n"+rootB64+"\n"), ErrFormat},
		{"size hex", signedText(t, s, origin+"\n0x7\n"+rootB64+"\n"), ErrFormat},
		{"size empty", signedText(t, s, origin+"\n\n"+rootB64+"\n"), ErrFormat},
		{"size overflow", signedText(t, s, origin+"\n9223372036854775808\n"+rootB64+"\n"), ErrFormat},
		{"size 00", signedText(t, s, origin+"\n00\n"+rootB64+"\n"), ErrFormat},
		{"root unpadded", signedText(t, s, origin+"\n7\n"+strings.TrimRight(rootB64, "=")+"\n"), ErrFormat},
		{"root url base64", signedText(t, s, origin+"\n7\n"+base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))+"\n"), ErrFormat},
		{"root 31 bytes", signedText(t, s, origin+"\n7\n"+base64.StdEncoding.EncodeToString(root[:31])+"\n"), ErrFormat},
		{"root 33 bytes", signedText(t, s, origin+"\n7\n"+base64.StdEncoding.EncodeToString(append(root[:], 0))+"\n"), ErrFormat},
		{"root hex", signedText(t, s, origin+"\n7\n"+strings.Repeat("ab", 32)+"\n"), ErrFormat},
		{"root non-canonical bits", signedText(t, s, origin+"\n7\n"+nonCanonicalB64(root)+"\n"), ErrFormat},
		{"root trailing space", signedText(t, s, origin+"\n7\n"+rootB64+" \n"), ErrFormat},
		{"origin other prefix", signedText(t, s, "example.com/log\n7\n"+rootB64+"\n"), ErrFormat},
		{"origin unescaped slash", signedText(t, s, "ron-audit/a/b/c\n7\n"+rootB64+"\n"), ErrFormat},
		{"origin lower-case hex", signedText(t, s, "ron-audit/a%2fb/c\n7\n"+rootB64+"\n"), ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cp, err := Open(c.msg, vs)
			mustReason(t, err, c.want, c.name)
			if cp != (Checkpoint{}) {
				t.Fatalf("Open returned %+v with the error", cp)
			}
		})
	}

	// The note package's error is reachable.
	_, err = Open(forged, vs)
	var inv *note.InvalidSignatureError
	if !errors.As(err, &inv) || inv.Name != testKeyName {
		t.Fatalf("forged: error %v does not wrap *note.InvalidSignatureError", err)
	}
	_, err = Open(otherKey, vs)
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		t.Fatalf("unknown key: error %v does not wrap *note.UnverifiedNoteError", err)
	}
	_, err = Open(good, nil)
	mustReason(t, err, ErrUnknownKey, "nil verifiers")
}

// nonCanonicalB64 returns a base64 encoding of root whose unused last bits
// are not zero: it decodes to the same bytes with a lax decoder.
func nonCanonicalB64(root tlog.Hash) string {
	s := []byte(base64.StdEncoding.EncodeToString(root[:]))
	// 32 bytes = 43 characters + "="; the 43rd carries 2 unused bits.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(alphabet, s[42])
	s[42] = alphabet[i|1]
	return string(s)
}

func TestNonCanonicalB64Helper(t *testing.T) {
	root := testRoot()
	s := nonCanonicalB64(root)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !bytes.Equal(b, root[:]) || s == base64.StdEncoding.EncodeToString(root[:]) {
		t.Fatalf("helper does not make a lax-decodable non-canonical encoding: %q %v", s, err)
	}
}

func TestOpenCosigned(t *testing.T) {
	s := testSigner(t, "key A")
	witness := testSigner(t, "witness")
	vs := testVerifiers(t, s, testKeyName)
	msg, err := note.Sign(&note.Note{Text: Text(Origin("w", "s"), 7, testRoot())},
		NewNoteSigner(s, testKeyName), NewNoteSigner(witness, "witness.example"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := Open(msg, vs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Note.Sigs) != 1 || len(cp.Note.UnverifiedSigs) != 1 || cp.Note.UnverifiedSigs[0].Name != "witness.example" {
		t.Fatalf("sigs %+v unverified %+v", cp.Note.Sigs, cp.Note.UnverifiedSigs)
	}
	// Both keys known: both verify.
	wv, _ := NoteVerifier("witness.example", witness.Public())
	av, _ := NoteVerifier(testKeyName, s.Public())
	if cp, err := Open(msg, note.VerifierList(av, wv)); err != nil || len(cp.Note.Sigs) != 2 {
		t.Fatalf("two verifiers: %v", err)
	}
	// A verifier set that cannot give a verifier (two for one key).
	_, err = Open(msg, note.VerifierList(av, av))
	mustReason(t, err, ErrUnknownKey, "ambiguous verifiers")
}

func TestNoteSignerInterop(t *testing.T) {
	seed := sha256.Sum256([]byte("key A"))
	s := testSigner(t, "key A")
	ns := NewNoteSigner(s, testKeyName)
	if ns.Name() != testKeyName {
		t.Fatalf("Name %q", ns.Name())
	}
	text := Text(Origin("svc-index@inst-2", "index"), 7, testRoot())
	msg, err := Sign(Origin("svc-index@inst-2", "index"), 7, testRoot(), ns)
	if err != nil {
		t.Fatal(err)
	}

	// 1. NoteVerifier.
	v1, err := NoteVerifier(testKeyName, s.Public())
	if err != nil {
		t.Fatal(err)
	}
	// 2. A verifier built by the note package from the key directly.
	vkey, err := note.NewEd25519VerifierKey(testKeyName, s.Public())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []note.Verifier{v1, v2} {
		if v.KeyHash() != ns.KeyHash() || v.Name() != ns.Name() {
			t.Fatalf("verifier %d: name %q hash %08x, signer %q %08x", i, v.Name(), v.KeyHash(), ns.Name(), ns.KeyHash())
		}
		if _, err := Open(msg, note.VerifierList(v)); err != nil {
			t.Fatalf("verifier %d: %v", i, err)
		}
		if n, err := note.Open(msg, note.VerifierList(v)); err != nil || n.Text != text {
			t.Fatalf("verifier %d: note.Open: %v", i, err)
		}
	}
	// 3. The key hash by the rule, computed here.
	h := sha256.Sum256(append(append([]byte(testKeyName+"\n"), 0x01), s.Public()...))
	if want := uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3]); ns.KeyHash() != want {
		t.Fatalf("KeyHash %08x, want %08x", ns.KeyHash(), want)
	}
	// 4. The note package's own signer with the same key writes the same
	// bytes (Ed25519 is deterministic).
	skey := "PRIVATE+KEY+" + testKeyName + "+" + hex8(ns.KeyHash()) + "+" + base64.StdEncoding.EncodeToString(append([]byte{0x01}, seed[:]...))
	ref, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	refMsg, err := note.Sign(&note.Note{Text: text}, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(refMsg, msg) {
		t.Fatalf("note.NewSigner wrote\n%s\nNewNoteSigner wrote\n%s", refMsg, msg)
	}
}

func hex8(h uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[h&15]
		h >>= 4
	}
	return string(b)
}

type failSigner struct{ *sdk.Ed25519Signer }

func (failSigner) Sign([]byte, *sdk.Signature) error { return errors.New("hsm offline") }

type shortKeySigner struct{ *sdk.Ed25519Signer }

func (shortKeySigner) Public() ed25519.PublicKey { return make(ed25519.PublicKey, 31) }

func TestSignRefuses(t *testing.T) {
	s := testSigner(t, "key A")
	origin := Origin("w", "s")
	root := testRoot()
	cases := []struct {
		name   string
		origin string
		size   int64
		signer note.Signer
		want   error
	}{
		{"bad origin", "example.com/log", 1, NewNoteSigner(s, testKeyName), ErrFormat},
		{"origin with newline", origin + "\nx", 1, NewNoteSigner(s, testKeyName), ErrFormat},
		{"empty origin", "", 1, NewNoteSigner(s, testKeyName), ErrFormat},
		{"negative size", origin, -1, NewNoteSigner(s, testKeyName), ErrFormat},
		{"nil signer", origin, 1, nil, ErrSign},
		{"name with space", origin, 1, NewNoteSigner(s, "a b"), ErrSign},
		{"name with plus", origin, 1, NewNoteSigner(s, "a+b"), ErrSign},
		{"empty name", origin, 1, NewNoteSigner(s, ""), ErrSign},
		{"signer fails", origin, 1, NewNoteSigner(failSigner{s}, testKeyName), ErrSign},
		{"short public key", origin, 1, NewNoteSigner(shortKeySigner{s}, testKeyName), ErrSign},
	}
	for _, c := range cases {
		msg, err := Sign(c.origin, c.size, root, c.signer)
		if msg != nil {
			t.Errorf("%s: returned a message", c.name)
		}
		mustReason(t, err, c.want, c.name)
	}
	_, err := Sign(origin, 1, root, NewNoteSigner(failSigner{s}, testKeyName))
	if !strings.Contains(err.Error(), "hsm offline") {
		t.Fatalf("signer's error lost: %v", err)
	}
	if _, err := NoteVerifier("a b", s.Public()); !errors.Is(err, ErrFormat) {
		t.Fatalf("NoteVerifier bad name: %v", err)
	}
	if _, err := NoteVerifier(testKeyName, s.Public()[:31]); !errors.Is(err, ErrFormat) {
		t.Fatalf("NoteVerifier short key: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	err := VerifyConsistency(Checkpoint{Origin: "a", Size: 5}, Checkpoint{Origin: "a", Size: 3}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonRollback || !strings.Contains(err.Error(), "checkpoint: rollback") || !strings.Contains(err.Error(), "5 -> 3") {
		t.Fatalf("error %v", err)
	}
	if errors.Is(err, ErrFork) {
		t.Fatal("rollback matches ErrFork")
	}
}
