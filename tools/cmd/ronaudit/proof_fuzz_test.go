package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

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
// --old; and it says ok only for a file that is one JSON value (a
// proof, nothing after it) holding the truth: for an inclusion proof, a
// seq of the chain at most 5, that record's hash and the one proof the
// tree gives; for a consistency proof, sizes 3 and 5 and the tree's proof
// between them; the checkpoints' origin either way.
// Seeds: every proof prove writes for the fixture.
func FuzzVerifyProof(f *testing.F) {
	p := newProofFixture(f)
	for _, b := range p.inclusion {
		f.Add(b, false)
	}
	f.Add(p.consistency, true)
	f.Add(p.consistency, false)
	f.Add(p.inclusion[1], true)
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
		var pf proofFile
		if err := json.Unmarshal(data, &pf); err != nil {
			t.Fatalf("ok (%s) for a file that is not one JSON value: %v\n%q", stdout.String(), err, data)
		}
		hs, err := decodeHashes(pf.Proof)
		if err != nil || pf.Origin != p.origin {
			t.Fatalf("ok for %q: %v", data, err)
		}
		var want []tlog.Hash
		switch pf.Kind {
		case "inclusion":
			if old || pf.TreeSize != 5 || pf.Seq < 1 || pf.Seq > 5 {
				t.Fatalf("ok for an inclusion proof of seq %d in %d (old %v)", pf.Seq, pf.TreeSize, old)
			}
			if h, err := canonical.ParseHash(pf.RecordHash); err != nil || h != p.hashes[pf.Seq-1] {
				t.Fatalf("ok for seq %d with record hash %q", pf.Seq, pf.RecordHash)
			}
			want, err = p.tree.InclusionProof(int64(pf.Seq-1), 5)
		case "consistency":
			if !old || pf.OldSize != 3 || pf.NewSize != 5 {
				t.Fatalf("ok for a consistency proof %d -> %d (old %v)", pf.OldSize, pf.NewSize, old)
			}
			want, err = p.tree.ConsistencyProof(3, 5)
		default:
			t.Fatalf("ok for kind %q", pf.Kind)
		}
		if err != nil || !slices.Equal(hs, want) {
			t.Fatalf("ok for a proof that is not the tree's (%v)", err)
		}
	})
}
