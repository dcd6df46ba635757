package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpecProofExample: the proof file sdk/checkpoint/SPEC.md section 4
// shows is one prove writes and verify-proof accepts: checked against the
// size-7 checkpoint of the checkpoint vectors (the text section 2 shows)
// with the vectors' key, so the example is a real proof spelled as
// prove spells it, not one the reader would refuse.
func TestSpecProofExample(t *testing.T) {
	spec, err := os.ReadFile("../../../sdk/checkpoint/SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec4, ok := strings.Cut(string(spec), "## 4. Proof files")
	if !ok {
		t.Fatal("SPEC.md has no section 4. Proof files")
	}
	_, example, ok := strings.Cut(sec4, "```json\n")
	if ok {
		example, _, ok = strings.Cut(example, "```\n")
	}
	if !ok {
		t.Fatal("SPEC.md section 4 has no json example")
	}
	vec := "../../../testing/vectors/v1/checkpoints/"
	var v struct {
		PublicKey string `json:"publicKey"`
	}
	raw, err := os.ReadFile(vec + "chain-basic.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	pub, err := hex.DecodeString(v.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("vector public key %q: %v", v.PublicKey, err)
	}
	der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubPath, proofPath := filepath.Join(dir, "k.pub"), filepath.Join(dir, "proof.json")
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proofPath, []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := run([]string{"verify-proof", "--checkpoint", vec + "chain-basic-7.note", "--pub", pubPath, proofPath},
		strings.NewReader(""), &stdout, &stderr)
	if code != 0 || !strings.HasPrefix(stdout.String(), "ok: ") {
		t.Fatalf("verify-proof of SPEC.md's example: exit %d\n%s%s\nexample:\n%s", code, stdout.String(), stderr.String(), example)
	}
}
