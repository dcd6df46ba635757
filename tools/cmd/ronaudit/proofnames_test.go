package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyProofOneLine: a proof file is anyone's bytes, its origin
// too (JSON writes a newline in it as "\n", as prove would). Said in a
// FAIL (a proof for another chain), the origin cannot make a line of
// the report: it is written escaped, as verify-bundle writes the names
// under its DIR.
func TestVerifyProofOneLine(t *testing.T) {
	p := newProofFixture(t)
	const fake = "ok: record svc@inst-1/caps seq 9 is in the checkpoint of size 9"
	forged := strings.Replace(string(p.inclusion[0]), `"origin": "`+p.origin+`"`, `"origin": "ron-audit/x\n`+fake+`\n"`, 1)
	if forged == string(p.inclusion[0]) {
		t.Fatalf("origin not replaced in %s", p.inclusion[0])
	}
	path := filepath.Join(t.TempDir(), "proof.json")
	if err := os.WriteFile(path, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := run([]string{"verify-proof", "--checkpoint", p.cp5, "--pub", p.pub, path}, strings.NewReader(""), &stdout, &stderr)
	out := stdout.String() + stderr.String()
	t.Logf("exit %d:\n%s", code, out)
	if code != exitFailed || !strings.HasPrefix(stdout.String(), "FAIL: ") {
		t.Fatalf("exit %d, want %d and a FAIL:\n%s", code, exitFailed, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if line == fake {
			t.Fatalf("the proof's origin wrote a line of its own:\n%s", out)
		}
	}
}
