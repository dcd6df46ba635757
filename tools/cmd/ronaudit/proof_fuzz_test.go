package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// proofFixture is a log of one chain of 5 records with checkpoints at 3
// and 5, as the commands write them, and the chain's record hashes.
type proofFixture struct {
	dir           string
	pub, cp3, cp5 string
	hashes        []canonical.Hash
	inclusion     [][]byte // prove --seq 1..5 against cp5
	consistency   []byte   // prove --old cp3 against cp5
	origin        string
	tree          *checkpoint.Tree
}

func newProofFixture(t testing.TB) *proofFixture {
	dir := t.TempDir()
	p := &proofFixture{dir: dir, pub: filepath.Join(dir, "keys", "k.pub"),
		cp3: filepath.Join(dir, "cp3.note"), cp5: filepath.Join(dir, "cp5.note"),
		origin: checkpoint.Origin("svc@inst-1", "caps")}
	log, key := filepath.Join(dir, "log"), filepath.Join(dir, "keys", "k.key")
	cmd := func(stdin string, args ...string) []byte {
		var stdout, stderr strings.Builder
		if code := run(args, strings.NewReader(stdin), &stdout, &stderr); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr.String())
		}
		return []byte(stdout.String())
	}
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString(`{"kind":"capIssued","tsMs":` + strconv.Itoa(1000+i) + `,"reason":"r` + strconv.Itoa(i) + "\"}\n")
		}
		return b.String()
	}
	cmd("", "keygen", "-dir", filepath.Join(dir, "keys"), "-name", "k")
	chain := []string{"--wal", log, "--key", key, "--writer", "svc@inst-1", "--stream", "caps"}
	cmd(lines(1, 3), append([]string{"append"}, chain...)...)
	cmd("", append([]string{"checkpoint"}, append(chain, "--out", p.cp3)...)...)
	cmd(lines(4, 5), append([]string{"append"}, chain...)...)
	cmd("", append([]string{"checkpoint"}, append(chain, "--out", p.cp5)...)...)
	for seq := 1; seq <= 5; seq++ {
		p.inclusion = append(p.inclusion, cmd("", "prove", "--wal", log, "--checkpoint", p.cp5, "--pub", p.pub, "--seq", strconv.Itoa(seq)))
	}
	p.consistency = cmd("", "prove", "--wal", log, "--checkpoint", p.cp5, "--old", p.cp3, "--pub", p.pub)
	p.tree = checkpoint.NewTree()
	if _, err := sdk.ReadDir(log, func(rec sdk.Sealed, _ wal.Position) error {
		p.hashes = append(p.hashes, rec.Hash)
		p.tree.Append(rec.Hash)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(p.hashes) != 5 {
		t.Fatalf("%d records", len(p.hashes))
	}
	return p
}

// FuzzVerifyProof: verify-proof's reader of a proof file (JSON, then the
// proof's base64 hashes and hex record hash), against genuine signed
// checkpoints of a chain of 5 records at sizes 3 (--old, when the second
// input says so) and 5. It exits 0, 1 or 2 (never 3: every file it reads
// is there), 2 only for a proof of the kind that wants the other use of
// --old; and it says ok only for a file that is, but for JSON's
// whitespace, exactly one prove writes for the fixture: an inclusion
// proof of seq 1 to 5 without --old, the consistency proof 3 -> 5 with
// it (so: one JSON value, the tree's own proof, the keys, their order and
// the hex as prove spells them).
// Seeds: every proof prove writes for the fixture.
func FuzzVerifyProof(f *testing.F) {
	p := newProofFixture(f)
	for _, b := range p.inclusion {
		f.Add(b, false)
	}
	f.Add(p.consistency, true)
	f.Add(p.consistency, false)
	f.Add(p.inclusion[1], true)
	// What prove writes, whitespace taken out: inclusion proofs are ok
	// without --old, the consistency proof with it.
	wants := map[bool][][]byte{}
	for _, b := range append(slices.Clone(p.inclusion), p.consistency) {
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			f.Fatal(err)
		}
		old := bytes.Equal(b, p.consistency)
		wants[old] = append(wants[old], c.Bytes())
	}
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, old bool) {
		path := filepath.Join(work, "proof.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"verify-proof", "--checkpoint", p.cp5, "--pub", p.pub}
		if old {
			args = append(args, "--old", p.cp3)
		}
		var stdout, stderr strings.Builder
		code := run(append(args, path), strings.NewReader(""), &stdout, &stderr)
		switch code {
		case 0, 1:
		case 2:
			if !strings.Contains(stderr.String(), "--old") {
				t.Fatalf("exit 2 but not about --old: %s", stderr.String())
			}
			return
		default:
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if code != 0 {
			return
		}
		// prove's output is the one spelling of a proof (checkProofSpelling),
		// but for JSON's whitespace.
		var got bytes.Buffer
		if err := json.Compact(&got, data); err != nil {
			t.Fatalf("ok (%s) for a file that is not one JSON value: %v\n%q", stdout.String(), err, data)
		}
		for _, b := range wants[old] {
			if bytes.Equal(got.Bytes(), b) {
				return
			}
		}
		t.Fatalf("ok (%s) for a file that is none prove writes (old %v):\n%q", stdout.String(), old, data)
	})
}
