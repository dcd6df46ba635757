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

// TestVerifyProofNamesFile: every FAIL about the proof's content names
// the proof file, as the failures of its JSON and spelling do: a hash
// that is not base64, a proof for another chain, tree size or sizes,
// a proof that does not prove.
func TestVerifyProofNamesFile(t *testing.T) {
	p := newProofFixture(t)
	inc, cons := string(p.inclusion[4]), string(p.consistency)
	cases := []struct {
		name, proof string
		old         bool
		from, to    string
	}{
		{"bad hash", inc, false, `="`, `=!"`},
		{"other chain", inc, false, `"origin": "` + p.origin + `"`, `"origin": "ron-audit/x"`},
		{"tree size", inc, false, `"treeSize": 5`, `"treeSize": 6`},
		{"sizes", cons, true, `"oldSize": 3`, `"oldSize": 2`},
		{"does not prove", inc, false, `"seq": 5`, `"seq": 4`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forged := strings.Replace(c.proof, c.from, c.to, 1)
			if forged == c.proof {
				t.Fatalf("%q not found in %s", c.from, c.proof)
			}
			path := filepath.Join(t.TempDir(), "the-proof.json")
			if err := os.WriteFile(path, []byte(forged), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify-proof", "--checkpoint", p.cp5, "--pub", p.pub}
			if c.old {
				args = append(args, "--old", p.cp3)
			}
			var stdout, stderr strings.Builder
			code := run(append(args, path), strings.NewReader(""), &stdout, &stderr)
			if code != exitFailed || !strings.HasPrefix(stdout.String(), "FAIL: "+path+": ") {
				t.Fatalf("exit %d, want %d and a FAIL naming %s first:\n%s%s", code, exitFailed, path, stdout.String(), stderr.String())
			}
		})
	}
}
