package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyProofOneSpelling: verify-proof reads a proof file as prove
// writes it and only so, but for JSON's whitespace. encoding/json
// matches keys in any case and lets the last of a repeated key win, and
// canonical.ParseHash reads upper-case hex, so the same proof had other
// files that verified: one proof, one spelling, as decodeHashes holds
// for the proof's hashes. Each respelling is a failed verification
// (exit 1) naming what is wrong.
func TestVerifyProofOneSpelling(t *testing.T) {
	p := newProofFixture(t)
	incl, cons := string(p.inclusion[2]), string(p.consistency)
	hash := p.hashes[2].String()
	verify := func(name, data string, old bool) (int, string) {
		t.Helper()
		path := filepath.Join(p.dir, name+".json")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"verify-proof", "--checkpoint", p.cp5, "--pub", p.pub}
		if old {
			args = append(args, "--old", p.cp3)
		}
		var stdout, stderr strings.Builder
		code := run(append(args, path), strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, p.inclusion[2]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, data string
		old        bool
	}{
		{"as-written", incl, false},
		{"consistency", cons, true},
		{"compact", compact.String(), false}, // jq -c: whitespace only
	} {
		if code, out := verify(c.name, c.data, c.old); code != 0 {
			t.Errorf("%s: exit %d: %s", c.name, code, out)
		}
	}
	must := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %s", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
	for _, c := range []struct {
		name, data string
		old        bool
		want       string
	}{
		{"key-case", must(incl, `"kind"`, `"KIND"`), false, `"KIND"`},
		{"key-case-consistency", must(cons, `"oldSize"`, `"oldsize"`), true, `"oldsize"`},
		{"duplicate-key", must(incl, `"seq": 3`, `"seq": 2, "seq": 3`), false, `"seq" twice`},
		{"duplicate-by-case", must(incl, `"seq": 3`, `"Seq": 2, "seq": 3`), false, `"Seq"`},
		{"upper-hex", must(incl, hash, strings.ToUpper(hash)), false, "lower-case hex"},
		{"escaped", must(incl, `"inclusion"`, `"incl\u0075sion"`), false, "as prove writes"},
		{"other-kind-field", must(incl, `"seq": 3`, `"seq": 3, "oldSize": 0`), false, "as prove writes"},
		{"reordered", must(must(incl, `"kind": "inclusion",`, ``), `"proof"`, `"kind": "inclusion", "proof"`), false, "as prove writes"},
	} {
		code, out := verify(c.name, c.data, c.old)
		if code != 1 || !strings.HasPrefix(out, "FAIL: ") || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, %q; want exit 1, FAIL naming %s\n%s", c.name, code, out, c.want, c.data)
		}
	}
}
