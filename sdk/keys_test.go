package sdk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// testSeedKey is the Ed25519 key with seed 00 01 .. 1f.
func testSeedKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func newTestSigner(t *testing.T) *Ed25519Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeyIDOfVector(t *testing.T) {
	pub := testSeedKey().Public().(ed25519.PublicKey)
	if got, want := hex.EncodeToString(pub), "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"; got != want {
		t.Fatalf("public key of seed 00..1f = %s, want %s", got, want)
	}
	// b3sum --derive-key "ron-audit 2026-11-27 key id v1" -l 8 over those
	// 32 bytes, computed with b3sum 1.2.0.
	if got, want := KeyIDOf(pub).String(), "3689bc29a2103d3e"; got != want {
		t.Fatalf("KeyIDOf = %s, want %s", got, want)
	}
}

func TestKeyIDOfDeterministic(t *testing.T) {
	a, b := newTestSigner(t).Public(), newTestSigner(t).Public()
	if KeyIDOf(a) != KeyIDOf(bytes.Clone(a)) {
		t.Fatal("KeyIDOf differs for the same key")
	}
	if KeyIDOf(a) == KeyIDOf(b) {
		t.Fatal("KeyIDOf equal for different keys")
	}
	if KeyIDOf(a) == (KeyID{}) {
		t.Fatal("KeyIDOf is zero")
	}
}

func TestKeyIDOfMatchesB3sum(t *testing.T) {
	if _, err := exec.LookPath("b3sum"); err != nil {
		t.Skip("b3sum not installed")
	}
	pubs := []ed25519.PublicKey{testSeedKey().Public().(ed25519.PublicKey)}
	for range 4 {
		pubs = append(pubs, newTestSigner(t).Public())
	}
	for _, pub := range pubs {
		cmd := exec.Command("b3sum", "--derive-key", KeyIDContext, "--no-names", "-")
		cmd.Stdin = bytes.NewReader(pub)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("b3sum: %v", err)
		}
		full := strings.TrimSpace(string(out))
		if len(full) != 64 {
			t.Fatalf("b3sum output %q", out)
		}
		if got, want := KeyIDOf(pub).String(), full[:16]; got != want {
			t.Fatalf("KeyIDOf(%x) = %s, b3sum says %s", pub, got, want)
		}
	}
}

func TestSignerSignVerify(t *testing.T) {
	priv := testSeedKey()
	s, err := NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if !bytes.Equal(s.Public(), pub) {
		t.Fatalf("Public = %x, want %x", s.Public(), pub)
	}
	if s.KeyID() != KeyIDOf(pub) {
		t.Fatalf("KeyID = %s, want %s", s.KeyID(), KeyIDOf(pub))
	}
	h := canonical.RecordHash([]byte("some record"))
	m := canonical.SignedMessage(h)
	var sig Signature
	var signer Signer = s
	if err := signer.Sign(m[:], &sig); err != nil {
		t.Fatal(err)
	}
	if !canonical.VerifySignature(pub, h, sig[:]) {
		t.Fatal("signature does not verify")
	}
	if want := canonical.Sign(priv, h); sig != want {
		t.Fatalf("signature %x, canonical.Sign gives %x", sig, want)
	}
	h2 := h
	h2[0] ^= 1
	if canonical.VerifySignature(pub, h2, sig[:]) {
		t.Fatal("signature verifies for another hash")
	}
	bad := sig
	bad[63] ^= 0x40
	if canonical.VerifySignature(pub, h, bad[:]) {
		t.Fatal("altered signature verifies")
	}
	// The signer keeps its own copy of the key.
	clear(priv)
	var sig2 Signature
	if err := s.Sign(m[:], &sig2); err != nil || sig2 != sig {
		t.Fatalf("after clearing the caller's key: %v, %x", err, sig2)
	}
}

func TestNewEd25519SignerBadKey(t *testing.T) {
	priv := testSeedKey()
	for _, tc := range []struct {
		name string
		key  ed25519.PrivateKey
	}{
		{"nil", nil},
		{"seed only", priv[:ed25519.SeedSize]},
		{"long", append(bytes.Clone(priv), 0)},
		{"wrong public half", func() ed25519.PrivateKey {
			k := bytes.Clone(priv)
			k[40] ^= 1
			return k
		}()},
	} {
		s, err := NewEd25519Signer(tc.key)
		if err == nil || s != nil {
			t.Errorf("%s: got signer %v, err %v", tc.name, s, err)
			continue
		}
		var ke *KeyError
		if !errors.As(err, &ke) || !errors.Is(err, ErrKeyFormat) {
			t.Errorf("%s: error %T %v, want *KeyError matching ErrKeyFormat", tc.name, err, err)
		}
		if errors.Is(err, ErrKeyPermissions) {
			t.Errorf("%s: error matches ErrKeyPermissions", tc.name)
		}
	}
}

func TestSignerSignAllocs(t *testing.T) {
	var s Signer = newTestSigner(t)
	m := canonical.SignedMessage(canonical.RecordHash([]byte("x")))
	var sig Signature
	if a := testing.AllocsPerRun(200, func() {
		if err := s.Sign(m[:], &sig); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Sign: %v allocs/op", a)
	}
}

func TestSignerConcurrent(t *testing.T) {
	s := newTestSigner(t)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				h := canonical.RecordHash([]byte{byte(g), byte(i)})
				m := canonical.SignedMessage(h)
				var sig Signature
				if err := s.Sign(m[:], &sig); err != nil || !canonical.VerifySignature(s.Public(), h, sig[:]) {
					errs <- "bad signature"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestGenerateKeyFilesLoadSigner(t *testing.T) {
	dir := t.TempDir()
	privPath, pubPath, id, err := GenerateKeyFiles(dir, "writer1")
	if err != nil {
		t.Fatal(err)
	}
	if privPath != filepath.Join(dir, "writer1.key") || pubPath != filepath.Join(dir, "writer1.pub") {
		t.Fatalf("paths %s %s", privPath, pubPath)
	}
	privPEM, err := os.ReadFile(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("private key file starts %q", privPEM[:min(len(privPEM), 40)])
	}
	pubPEM, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Fatalf("public key file starts %q", pubPEM[:min(len(pubPEM), 40)])
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(privPath)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Fatalf("private key file mode %04o, want 0600", perm)
		}
		fi, err = os.Stat(pubPath)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o600 != 0o600 || perm&0o022 != 0 || perm&0o111 != 0 {
			t.Fatalf("public key file mode %04o, want 0644 less umask", perm)
		}
	}

	s, err := LoadSigner(privPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub, s.Public()) {
		t.Fatalf("public key file %x, signer %x", pub, s.Public())
	}
	if s.KeyID() != id || KeyIDOf(pub) != id {
		t.Fatalf("ids: generated %s, signer %s, public file %s", id, s.KeyID(), KeyIDOf(pub))
	}
	h := canonical.RecordHash([]byte("r"))
	m := canonical.SignedMessage(h)
	var sig Signature
	if err := s.Sign(m[:], &sig); err != nil {
		t.Fatal(err)
	}
	if !canonical.VerifySignature(pub, h, sig[:]) {
		t.Fatal("loaded signer's signature does not verify under the loaded public key")
	}

	// Another key gets another id.
	_, _, id2, err := GenerateKeyFiles(dir, "writer2")
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id {
		t.Fatal("two generated keys have the same id")
	}
}

func TestGenerateKeyFilesRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	privPath, pubPath, _, err := GenerateKeyFiles(dir, "k")
	if err != nil {
		t.Fatal(err)
	}
	priv0, _ := os.ReadFile(privPath)
	pub0, _ := os.ReadFile(pubPath)
	if _, _, _, err := GenerateKeyFiles(dir, "k"); err == nil {
		t.Fatal("GenerateKeyFiles overwrote existing key files")
	} else {
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || !errors.Is(err, fs.ErrExist) || kfe.Path != privPath {
			t.Fatalf("error %T %v, want *KeyFileError for %s wrapping fs.ErrExist", err, err, privPath)
		}
	}
	if b, _ := os.ReadFile(privPath); !bytes.Equal(b, priv0) {
		t.Fatal("private key file changed")
	}
	if b, _ := os.ReadFile(pubPath); !bytes.Equal(b, pub0) {
		t.Fatal("public key file changed")
	}

	// Only name.pub exists: refused, name.pub kept, no name.key left over.
	other := filepath.Join(dir, "only.pub")
	if err := os.WriteFile(other, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := GenerateKeyFiles(dir, "only"); err == nil || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("GenerateKeyFiles with existing .pub: %v", err)
	}
	if b, _ := os.ReadFile(other); string(b) != "keep me" {
		t.Fatalf("existing .pub changed to %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "only.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("only.key left behind: %v", err)
	}

	for _, name := range []string{"", ".", "..", "a/b", "../x", `a\b`} {
		if _, _, _, err := GenerateKeyFiles(dir, name); err == nil {
			t.Errorf("GenerateKeyFiles accepted name %q", name)
		}
	}
}

func TestLoadSignerRefusesOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX permission bits on Windows")
	}
	dir := t.TempDir()
	privPath, _, _, err := GenerateKeyFiles(dir, "k")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o601, 0o610, 0o777} {
		if err := os.Chmod(privPath, mode); err != nil {
			t.Fatal(err)
		}
		s, err := LoadSigner(privPath)
		if err == nil || s != nil {
			t.Errorf("mode %04o: loaded", mode)
			continue
		}
		if !errors.Is(err, ErrKeyPermissions) {
			t.Errorf("mode %04o: error %v does not match ErrKeyPermissions", mode, err)
		}
		if errors.Is(err, ErrKeyFormat) {
			t.Errorf("mode %04o: error matches ErrKeyFormat", mode)
		}
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || kfe.Path != privPath {
			t.Errorf("mode %04o: error %T, want *KeyFileError for %s", mode, err, privPath)
		}
		msg := err.Error()
		if !strings.Contains(msg, "chmod 600") || !strings.Contains(msg, "mode "+octal4(mode)) || !strings.Contains(msg, privPath) {
			t.Errorf("mode %04o: message %q should name the mode, the path and chmod 600", mode, msg)
		}
	}
	// The public key given for the private one (mode 0644, as written) is
	// named as such: a chmod would not help.
	pubPath := strings.TrimSuffix(privPath, ".key") + ".pub"
	if _, err := LoadSigner(pubPath); !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), "holds a public key") || strings.Contains(err.Error(), "chmod") {
		t.Errorf("LoadSigner(%s): %v", pubPath, err)
	}
	// A key in a directory others may write is refused (they could put
	// their own key in its place), unless the directory is sticky.
	for _, mode := range []os.FileMode{0o777, 0o770, 0o757} {
		if err := os.Chmod(privPath, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSigner(privPath); !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod go-w "+dir) {
			t.Errorf("directory mode %04o: %v", mode, err)
		}
	}
	if err := os.Chmod(dir, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(privPath); err != nil {
		t.Errorf("sticky directory: %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Nor through a link to it from a safe directory, nor under a safe
	// directory inside an open one; and keys are not written there.
	open := filepath.Join(t.TempDir(), "open")
	if err := os.MkdirAll(filepath.Join(open, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = GenerateKeyFiles(filepath.Join(open, "sub"), "k")
	if !errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("GenerateKeyFiles under an open directory: %v", err)
	}
	os.Chmod(open, 0o700)
	inner, _, _, err := GenerateKeyFiles(filepath.Join(open, "sub"), "k")
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(inner, link); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	for _, p := range []string{inner, link} {
		if _, err := LoadSigner(p); !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod go-w "+open) {
			t.Errorf("%s with %s open: %v", p, open, err)
		}
	}
	os.Chmod(open, 0o700)
	if _, err := LoadSigner(link); err != nil {
		t.Errorf("through a link, all directories safe: %v", err)
	}
	// Owner-only modes load.
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		if err := os.Chmod(privPath, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSigner(privPath); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}

func octal4(m os.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{'0', digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

// writeKeyFile writes b to dir/name with exactly mode 0600.
func writeKeyFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadSignerRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	privPath, pubPath, _, err := GenerateKeyFiles(dir, "good")
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(privPath)
	if err != nil {
		t.Fatal(err)
	}
	pubFile, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	// DER with bytes after it, and a seed OCTET STRING with bytes after
	// it inside the PKCS#8 (x509.ParsePKCS8PrivateKey ignores both).
	derTrailing := append(bytes.Clone(block.Bytes), 0, 0)
	seedTrailing := append([]byte{0x30, 0x30, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x24},
		append(bytes.Clone(block.Bytes[14:]), 0, 0)...)
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes})

	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "", "not PEM"},
		{"garbage", "this is not a key\n", "not PEM"},
		{"binary", "\x00\x01\x02\xff", "not PEM"},
		{"broken PEM", "-----BEGIN PRIVATE KEY-----\n!!!\n", "not PEM"},
		{"not PKCS#8", string(pemBytes("PRIVATE KEY", []byte("garbage der"))), "not a PKCS#8"},
		{"RSA PKCS#8", string(pemBytes("PRIVATE KEY", rsaDER)), "RSA, want Ed25519"},
		{"ECDSA PKCS#8", string(pemBytes("PRIVATE KEY", ecDER)), "ECDSA, want Ed25519"},
		{"RSA PKCS#1 block", string(pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))), `"RSA PRIVATE KEY"`},
		{"public key", string(pubFile), "public key"},
		{"encrypted", string(pemBytes("ENCRYPTED PRIVATE KEY", block.Bytes)), "encrypted"},
		{"trailing data", string(good) + "junk\n", "trailing data"},
		{"second block", string(good) + string(pubFile), "trailing data"},
		{"leading data", "junk\n" + string(good), "before the PEM block"},
		// pem.Decode skips a block it cannot decode and returns the next
		// one: a malformed block (or any "-----BEGIN " line) before the
		// key is data before it all the same.
		{"malformed block before", "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n" + string(good), "before the PEM block"},
		{"mismatched END before", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" + string(good), "before the PEM block"},
		{"BEGIN line before", "-----BEGIN note: rotate me\n" + string(good), "before the PEM block"},
		{"PEM headers", string(withHeaders), "headers"},
		{"DER trailing data", string(pemBytes("PRIVATE KEY", derTrailing)), "trailing data"},
		{"seed trailing data", string(pemBytes("PRIVATE KEY", seedTrailing)), "trailing data"},
	} {
		p := writeKeyFile(t, dir, "bad.key", []byte(tc.content))
		s, err := LoadSigner(p)
		if err == nil || s != nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		var kfe *KeyFileError
		if !errors.As(err, &kfe) || kfe.Path != p {
			t.Errorf("%s: error %T %v, want *KeyFileError for %s", tc.name, err, err, p)
		}
		if !errors.Is(err, ErrKeyFormat) || errors.Is(err, ErrKeyPermissions) {
			t.Errorf("%s: error %v should match ErrKeyFormat only", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not say %q", tc.name, err, tc.want)
		}
	}
	// A version 2 PKCS#8 key (RFC 8410: with its public key) loads: only
	// bytes after the seed or after the key are refused.
	seed := block.Bytes[16:48]
	v2 := append([]byte{0x02, 0x01, 0x01}, block.Bytes[5:48]...)
	v2 = append(append(v2, 0x81, 0x21, 0x00), ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)...)
	v2 = append([]byte{0x30, byte(len(v2))}, v2...)
	if _, err := LoadSigner(writeKeyFile(t, dir, "v2.key", pemBytes("PRIVATE KEY", v2))); err != nil {
		t.Errorf("version 2 PKCS#8 key: %v", err)
	}
	// One whose public key is not its seed's is refused, as
	// NewEd25519Signer refuses such a key in memory: a verifier given
	// that public key would refuse every record.
	wrong := bytes.Clone(v2)
	wrong[len(wrong)-1] ^= 1
	if _, err := LoadSigner(writeKeyFile(t, dir, "v2.key", pemBytes("PRIVATE KEY", wrong))); !errors.Is(err, ErrKeyFormat) ||
		!strings.Contains(err.Error(), "does not match") {
		t.Errorf("version 2 PKCS#8 key with another public key: %v, want ErrKeyFormat saying it does not match", err)
	}
	// Surrounding white space is fine.
	p := writeKeyFile(t, dir, "ws.key", append(append([]byte("\n\n"), good...), "\n \n"...))
	if _, err := LoadSigner(p); err != nil {
		t.Errorf("white space around the block: %v", err)
	}

	// A missing file wraps the fs error.
	_, err = LoadSigner(filepath.Join(dir, "missing.key"))
	var kfe *KeyFileError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &kfe) {
		t.Errorf("missing file: %T %v, want *KeyFileError wrapping fs.ErrNotExist", err, err)
	}
	// A directory or a FIFO is not a key file; a FIFO is refused without
	// being opened (opening one blocks until a writer appears).
	if _, err := LoadSigner(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := exec.LookPath("mkfifo"); err == nil {
		fifo := filepath.Join(dir, "fifo.key")
		if out, err := exec.Command("mkfifo", "-m", "600", fifo).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v %s", err, out)
		}
		done := make(chan error, 1)
		go func() { _, err := LoadSigner(fifo); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("FIFO: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("LoadSigner blocked on a FIFO")
		}
	}
	// An oversized file is refused.
	if _, err := LoadSigner(writeKeyFile(t, dir, "huge.key", bytes.Repeat([]byte(" "), maxKeyFileSize+1))); !errors.Is(err, ErrKeyFormat) {
		t.Errorf("oversized file: %v", err)
	}
}

func TestLoadPublicKeyRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	privPath, pubPath, _, err := GenerateKeyFiles(dir, "good")
	if err != nil {
		t.Fatal(err)
	}
	privFile, _ := os.ReadFile(privPath)
	pubFile, _ := os.ReadFile(pubPath)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"garbage", "hello", "not PEM"},
		{"private key", string(privFile), "holds a private key"},
		{"not PKIX", string(pemBytes("PUBLIC KEY", []byte{1, 2, 3})), "not a PKIX"},
		{"ECDSA", string(pemBytes("PUBLIC KEY", ecPub)), "ECDSA, want Ed25519"},
		{"trailing data", string(pubFile) + "x", "trailing data"},
		{"malformed block before", "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n" + string(pubFile), "before the PEM block"},
		{"unterminated block before", "-----BEGIN PUBLIC KEY-----\nAAAA\n" + string(pubFile), "before the PEM block"},
		{"certificate block", string(pemBytes("CERTIFICATE", []byte{1})), `"CERTIFICATE"`},
	} {
		p := writeKeyFile(t, dir, "bad.pub", []byte(tc.content))
		pub, err := LoadPublicKey(p)
		if err == nil || pub != nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		if !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrKeyFormat saying %q", tc.name, err, tc.want)
		}
		if strings.Contains(err.Error(), string(privFile[30:60])) {
			t.Errorf("%s: error leaks file contents", tc.name)
		}
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "missing.pub")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A public key file needs no particular mode.
	if err := os.Chmod(pubPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPublicKey(pubPath); err != nil {
		t.Errorf("0644 public key: %v", err)
	}
}

func TestOpenSSLKeyInterop(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("openssl %v: %v\n%s", args, err, ee.Stderr)
			}
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}

	// openssl's key loads, and its public key and signatures match ours.
	run("genpkey", "-algorithm", "ed25519", "-out", "k.pem")
	kp := filepath.Join(dir, "k.pem")
	if err := os.Chmod(kp, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	run("pkey", "-in", "k.pem", "-pubout", "-out", "k.pub")
	pub, err := LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub, s.Public()) {
		t.Fatalf("openssl public key %x, signer %x", pub, s.Public())
	}
	h := canonical.RecordHash([]byte("interop"))
	m := canonical.SignedMessage(h)
	if err := os.WriteFile(filepath.Join(dir, "msg"), m[:], 0o644); err != nil {
		t.Fatal(err)
	}
	run("pkeyutl", "-sign", "-inkey", "k.pem", "-rawin", "-in", "msg", "-out", "sig")
	osig, err := os.ReadFile(filepath.Join(dir, "sig"))
	if err != nil {
		t.Fatal(err)
	}
	var sig Signature
	if err := s.Sign(m[:], &sig); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(osig, sig[:]) {
		t.Fatalf("openssl signature %x, ours %x", osig, sig)
	}

	// openssl reads our files: the public key it derives from our private
	// key file is byte for byte our public key file.
	privPath, pubPath, _, err := GenerateKeyFiles(dir, "ours")
	if err != nil {
		t.Fatal(err)
	}
	derived := run("pkey", "-in", privPath, "-pubout")
	ourPub, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(derived, ourPub) {
		t.Fatalf("openssl derives\n%s\nour .pub is\n%s", derived, ourPub)
	}
	run("pkey", "-pubin", "-in", pubPath, "-noout")
}

func TestKeySet(t *testing.T) {
	a, b, c := newTestSigner(t), newTestSigner(t), newTestSigner(t)
	ks := NewKeySet(a.Public(), b.Public())
	if ks.Len() != 2 {
		t.Fatalf("Len = %d, want 2", ks.Len())
	}
	for _, s := range []*Ed25519Signer{a, b} {
		pub, ok := ks.Lookup(s.KeyID())
		if !ok || !bytes.Equal(pub, s.Public()) {
			t.Fatalf("Lookup(%s) = %x, %v", s.KeyID(), pub, ok)
		}
	}
	if pub, ok := ks.Lookup(c.KeyID()); ok || pub != nil {
		t.Fatalf("Lookup of absent key = %x, %v", pub, ok)
	}
	cp := bytes.Clone(c.Public())
	if id := ks.Add(cp); id != c.KeyID() {
		t.Fatalf("Add returned %s, want %s", id, c.KeyID())
	}
	clear(cp) // the set holds its own copy
	if pub, ok := ks.Lookup(c.KeyID()); !ok || !bytes.Equal(pub, c.Public()) {
		t.Fatalf("after Add: Lookup = %x, %v", pub, ok)
	}
	if ks.Add(a.Public()); ks.Len() != 3 {
		t.Fatalf("re-adding a key: Len = %d, want 3", ks.Len())
	}

	// Wrong length: TryAdd errs, Add panics, the set is unchanged.
	if _, err := ks.TryAdd(a.Public()[:31]); !errors.Is(err, ErrKeyFormat) {
		t.Fatalf("TryAdd of 31 bytes: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Add of 33 bytes did not panic")
			}
		}()
		ks.Add(append(bytes.Clone(a.Public()), 0))
	}()
	if ks.Len() != 3 {
		t.Fatalf("Len = %d after refused adds", ks.Len())
	}

	// A different key under an existing id (forced; a real 64-bit
	// collision is out of reach) is refused.
	ks.keys[c.KeyID()] = bytes.Clone(a.Public())
	if _, err := ks.TryAdd(c.Public()); !errors.Is(err, ErrKeyIDCollision) {
		t.Fatalf("TryAdd over a colliding id: %v", err)
	}
	if pub, _ := ks.Lookup(c.KeyID()); !bytes.Equal(pub, a.Public()) {
		t.Fatal("colliding TryAdd replaced the key")
	}

	// The zero value is an empty, usable set.
	var z KeySet
	if z.Len() != 0 {
		t.Fatal("zero KeySet not empty")
	}
	if _, ok := z.Lookup(a.KeyID()); ok {
		t.Fatal("zero KeySet finds a key")
	}
	z.Add(a.Public())
	if _, ok := z.Lookup(a.KeyID()); !ok || z.Len() != 1 {
		t.Fatal("zero KeySet: Add then Lookup failed")
	}
}

func TestKeySetLookupAllocs(t *testing.T) {
	a, b := newTestSigner(t), newTestSigner(t)
	ks := NewKeySet(a.Public())
	idA, idB := a.KeyID(), b.KeyID()
	if al := testing.AllocsPerRun(200, func() {
		if _, ok := ks.Lookup(idA); !ok {
			t.Fatal("missing")
		}
		if _, ok := ks.Lookup(idB); ok {
			t.Fatal("found")
		}
	}); al != 0 {
		t.Fatalf("Lookup: %v allocs/op", al)
	}
}

func TestKeySetConcurrent(t *testing.T) {
	signers := make([]*Ed25519Signer, 16)
	for i := range signers {
		signers[i] = newTestSigner(t)
	}
	ks := NewKeySet(signers[0].Public())
	var wrong atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, s := range signers[1:] {
			ks.Add(s.Public())
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 200 {
				for _, s := range signers {
					if pub, ok := ks.Lookup(s.KeyID()); ok && !bytes.Equal(pub, s.Public()) {
						wrong.Store(true)
					}
				}
				_ = ks.Len()
			}
		})
	}
	wg.Wait()
	if wrong.Load() {
		t.Fatal("Lookup returned the wrong key")
	}
	if ks.Len() != len(signers) {
		t.Fatalf("Len = %d, want %d", ks.Len(), len(signers))
	}
}

func TestKeyIDFormat(t *testing.T) {
	id := KeyID{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}
	if got := fmt.Sprintf("%x %s %v", id, id, id); got != "deadbeef00010203 deadbeef00010203 deadbeef00010203" {
		t.Fatalf("%q", got)
	}
}
