package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/sdk"
)

var update = flag.Bool("update", false, "rewrite testing/vectors/v1/checkpoints and testdata/fuzz seeds")

const (
	vectorSource = "../../testing/vectors/v1/chain-basic.json"
	vectorDir    = "../../testing/vectors/v1/checkpoints"
	fuzzSeedDir  = "testdata/fuzz/FuzzOpenCheckpoint"
	// VectorSeedText: the test key's Ed25519 seed is SHA-256 of it.
	vectorSeedText      = "ron-audit checkpoint vectors v1"
	vectorOtherSeedText = "ron-audit checkpoint vectors v1 other key"
)

type vecCheckpoint struct {
	Size       int64  `json:"size"`
	RootHex    string `json:"rootHex"`
	RootBase64 string `json:"rootBase64"`
	Text       string `json:"text"`
	SignedNote string `json:"signedNote"`
	File       string `json:"file"`
}

type vecInclusion struct {
	Seq        int64    `json:"seq"`
	Index      int64    `json:"index"`
	TreeSize   int64    `json:"treeSize"`
	RecordHash string   `json:"recordHash"`
	LeafHash   string   `json:"leafHash"`
	Proof      []string `json:"proof"`
}

type vecConsistency struct {
	OldSize int64    `json:"oldSize"`
	NewSize int64    `json:"newSize"`
	OldRoot string   `json:"oldRoot"`
	NewRoot string   `json:"newRoot"`
	Proof   []string `json:"proof"`
}

type vecInvalid struct {
	Name       string `json:"name"`
	SignedNote string `json:"signedNote"`
	Reason     Reason `json:"reason"`
}

type vectorFile struct {
	Name              string           `json:"name"`
	Description       string           `json:"description"`
	Source            string           `json:"source"`
	KeySeed           string           `json:"keySeed"`
	PublicKey         string           `json:"publicKey"`
	KeyName           string           `json:"keyName"`
	KeyHash           string           `json:"keyHash"`
	VerifierKey       string           `json:"verifierKey"`
	WriterID          string           `json:"writerId"`
	Stream            string           `json:"stream"`
	Origin            string           `json:"origin"`
	RecordHashes      []string         `json:"recordHashes"`
	LeafHashes        []string         `json:"leafHashes"`
	Checkpoints       []vecCheckpoint  `json:"checkpoints"`
	InclusionProofs   []vecInclusion   `json:"inclusionProofs"`
	ConsistencyProofs []vecConsistency `json:"consistencyProofs"`
	Invalid           []vecInvalid     `json:"invalid"`
}

func hexes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

func seedSigner(t testing.TB, text string) (*sdk.Ed25519Signer, [32]byte) {
	seed := sha256.Sum256([]byte(text))
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s, seed
}

// readChainBasic returns the writer, stream and record hashes of
// chain-basic.json, in order.
func readChainBasic(t testing.TB) (writer, stream string, hashes [][32]byte) {
	raw, err := os.ReadFile(vectorSource)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Records []struct {
			Record struct {
				Seq      int64  `json:"seq"`
				WriterID string `json:"writerId"`
				Stream   string `json:"stream"`
			} `json:"record"`
			Hash string `json:"hash"`
		} `json:"records"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for i, r := range f.Records {
		b, err := hex.DecodeString(r.Hash)
		if err != nil || len(b) != 32 || r.Record.Seq != int64(i+1) {
			t.Fatalf("chain-basic record %d: hash %q seq %d", i, r.Hash, r.Record.Seq)
		}
		if i == 0 {
			writer, stream = r.Record.WriterID, r.Record.Stream
		} else if r.Record.WriterID != writer || r.Record.Stream != stream {
			t.Fatalf("chain-basic record %d is of another chain", i)
		}
		hashes = append(hashes, [32]byte(b))
	}
	if len(hashes) != 7 {
		t.Fatalf("chain-basic has %d records, want 7", len(hashes))
	}
	return writer, stream, hashes
}

// makeVectors builds every vector and fuzz seed file, by path.
func makeVectors(t testing.TB) (map[string][]byte, vectorFile) {
	writer, stream, hashes := readChainBasic(t)
	s, seed := seedSigner(t, vectorSeedText)
	other, _ := seedSigner(t, vectorOtherSeedText)
	keyName := "ron-audit/" + escapeComponent(writer)
	ns := NewNoteSigner(s, keyName)
	vkey, err := note.NewEd25519VerifierKey(keyName, s.Public())
	if err != nil {
		t.Fatal(err)
	}
	origin := Origin(writer, stream)

	tr := NewTree()
	var leaves []tlog.Hash
	for _, h := range hashes {
		tr.Append(h)
		leaves = append(leaves, LeafHash(h))
	}
	recHex := make([]string, len(hashes))
	for i, h := range hashes {
		recHex[i] = hex.EncodeToString(h[:])
	}
	files := map[string][]byte{}
	v := vectorFile{
		Name:         "chain-basic",
		Description:  "Merkle tree, signed checkpoints and proofs of the 7 records of ../chain-basic.json (leaf i = record hash of seq i+1)",
		Source:       "../chain-basic.json",
		KeySeed:      hex.EncodeToString(seed[:]),
		PublicKey:    hex.EncodeToString(s.Public()),
		KeyName:      keyName,
		KeyHash:      hex8(ns.KeyHash()),
		VerifierKey:  vkey,
		WriterID:     writer,
		Stream:       stream,
		Origin:       origin,
		RecordHashes: recHex,
		LeafHashes:   hexes(leaves),
	}
	notes := map[int64][]byte{}
	for _, size := range []int64{3, 7} {
		root, err := tr.RootAt(size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := Sign(origin, size, root, ns)
		if err != nil {
			t.Fatal(err)
		}
		notes[size] = msg
		name := "chain-basic-" + strconv.FormatInt(size, 10) + ".note"
		files[filepath.Join(vectorDir, name)] = msg
		v.Checkpoints = append(v.Checkpoints, vecCheckpoint{
			Size: size, RootHex: hex.EncodeToString(root[:]), RootBase64: base64.StdEncoding.EncodeToString(root[:]),
			Text: Text(origin, size, root), SignedNote: string(msg), File: name,
		})
	}
	for i := range int64(len(hashes)) {
		p, err := tr.InclusionProof(i, 7)
		if err != nil {
			t.Fatal(err)
		}
		v.InclusionProofs = append(v.InclusionProofs, vecInclusion{
			Seq: i + 1, Index: i, TreeSize: 7, RecordHash: recHex[i], LeafHash: hex.EncodeToString(leaves[i][:]), Proof: hexes(p),
		})
	}
	p, err := tr.ConsistencyProof(3, 7)
	if err != nil {
		t.Fatal(err)
	}
	r3, _ := tr.RootAt(3)
	r7 := tr.Root()
	v.ConsistencyProofs = []vecConsistency{{OldSize: 3, NewSize: 7, OldRoot: hex.EncodeToString(r3[:]), NewRoot: hex.EncodeToString(r7[:]), Proof: hexes(p)}}

	// Refused checkpoints, each with the reason Open gives.
	good := string(notes[7])
	text7 := v.Checkpoints[1].Text
	sigLines := good[len(text7):]
	sign := func(signer note.Signer, text string) string {
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	rootB64 := v.Checkpoints[1].RootBase64
	forged := func() string {
		prefix := "\n— " + keyName + " "
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(sigLines[len(prefix):], "\n"))
		raw[4] ^= 0x80
		return text7 + prefix + base64.StdEncoding.EncodeToString(raw) + "\n"
	}()
	v.Invalid = []vecInvalid{
		{"forged-signature", forged, ReasonBadSignature},
		{"size-changed", origin + "\n8\n" + rootB64 + "\n" + sigLines, ReasonBadSignature},
		{"root-changed", origin + "\n7\n" + v.Checkpoints[0].RootBase64 + "\n" + sigLines, ReasonBadSignature},
		{"origin-changed", Origin(writer, stream+"2") + "\n7\n" + rootB64 + "\n" + sigLines, ReasonBadSignature},
		{"unknown-key", sign(NewNoteSigner(other, keyName), text7), ReasonUnknownKey},
		{"crlf", strings.ReplaceAll(good, "\n", "\r\n"), ReasonFormat},
		{"trailing-junk", good + "junk\n", ReasonFormat},
		{"extension-line", sign(ns, text7+"ext\n"), ReasonFormat},
		{"size-leading-zero", sign(ns, origin+"\n07\n"+rootB64+"\n"), ReasonFormat},
		{"root-unpadded", sign(ns, origin+"\n7\n"+strings.TrimRight(rootB64, "=")+"\n"), ReasonFormat},
		{"origin-escaped-unreserved", sign(ns, "ron-audit/svc-index%40inst-2/index\n7\n"+rootB64+"\n"), ReasonFormat},
		{"origin-lowercase-escape", sign(ns, "ron-audit/svc-index@inst-2/in%2fdex\n7\n"+rootB64+"\n"), ReasonFormat},
		{"origin-unescaped-slash", sign(ns, "ron-audit/svc-index@inst-2/in/dex\n7\n"+rootB64+"\n"), ReasonFormat},
		{"origin-empty-stream", sign(ns, "ron-audit/svc-index@inst-2/\n7\n"+rootB64+"\n"), ReasonFormat},
		{"signature-unused-bits", func() string {
			// The signature line's last base64 digit before "=" with one
			// of its 2 unused bits set: the same bytes, another spelling.
			const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			i := len(good) - 3 // ...X=\n
			if good[i+1:] != "=\n" {
				t.Fatalf("signature line does not end in one pad: %q", good[i:])
			}
			b := []byte(good)
			b[i] = b64[strings.IndexByte(b64, b[i])^1]
			return string(b)
		}(), ReasonFormat},
		{"signature-repeated", func() string {
			// A second line by the same key (name and hash), with another
			// signature: note.Open checks only the first.
			prefix := "— " + keyName + " "
			line := strings.TrimSuffix(sigLines[1:], "\n") // "— name base64"
			raw, _ := base64.StdEncoding.DecodeString(line[len(prefix):])
			raw[10] ^= 0x01
			return good + prefix + base64.StdEncoding.EncodeToString(raw) + "\n"
		}(), ReasonFormat},
		{"too-many-signatures", func() string {
			// The trusted key's signature and 100 more: one over the
			// limit of signed notes.
			signers := []note.Signer{ns}
			for i := range 100 {
				signers = append(signers, NewNoteSigner(other, "witness-"+strconv.Itoa(i)))
			}
			msg, err := note.Sign(&note.Note{Text: text7}, signers...)
			if err != nil {
				t.Fatal(err)
			}
			return string(msg)
		}(), ReasonFormat},
	}

	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files[filepath.Join(vectorDir, "chain-basic.json")] = append(js, '\n')
	files[filepath.Join(vectorDir, "chain-basic.vkey")] = []byte(vkey + "\n")

	// Fuzz seeds: the valid notes and every refused one.
	seed1 := func(name string, msg string) {
		files[filepath.Join(fuzzSeedDir, name)] = []byte("go test fuzz v1\n[]byte(" + strconv.Quote(msg) + ")\n")
	}
	seed1("valid-3", string(notes[3]))
	seed1("valid-7", good)
	for _, inv := range v.Invalid {
		seed1(inv.Name, inv.SignedNote)
	}
	return files, v
}

// TestVectors writes (with -update) or checks the checkpoint vectors:
// the files must be exactly what this package makes today, and what they
// hold must verify on its own terms.
func TestVectors(t *testing.T) {
	files, _ := makeVectors(t)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if *update {
		for _, dir := range []string{vectorDir, fuzzSeedDir} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range paths {
			if err := os.WriteFile(p, files[p], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range paths {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run go test ./sdk/checkpoint -run TestVectors -update)", err)
		}
		if !bytes.Equal(got, files[p]) {
			t.Errorf("%s differs from what the package makes now (run with -update if the change is intended)", p)
		}
	}
	checkVectorFiles(t)
}

// checkVectorFiles checks the vectors as an outside reader would, from the
// files alone: the verifier key, the notes, the proofs against the RFC 9162
// oracle and the package's verifiers, the refusals.
func checkVectorFiles(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorDir, "chain-basic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	vkeyFile, err := os.ReadFile(filepath.Join(vectorDir, "chain-basic.vkey"))
	if err != nil || string(vkeyFile) != v.VerifierKey+"\n" {
		t.Fatalf("chain-basic.vkey %q, want %q: %v", vkeyFile, v.VerifierKey, err)
	}
	verifier, err := note.NewVerifier(v.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	vs := note.VerifierList(verifier)
	seed, _ := hex.DecodeString(v.KeySeed)
	if want := sha256.Sum256([]byte(vectorSeedText)); !bytes.Equal(seed, want[:]) ||
		hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)) != v.PublicKey {
		t.Fatal("keySeed / publicKey do not match the fixed test key")
	}
	cps := map[int64]Checkpoint{}
	for _, c := range v.Checkpoints {
		msg, err := os.ReadFile(filepath.Join(vectorDir, c.File))
		if err != nil || string(msg) != c.SignedNote {
			t.Fatalf("%s does not hold signedNote: %v", c.File, err)
		}
		cp, err := Open(msg, vs)
		if err != nil {
			t.Fatalf("%s: %v", c.File, err)
		}
		if cp.Size != c.Size || hex.EncodeToString(cp.Root[:]) != c.RootHex || cp.Note.Text != c.Text || cp.Origin != v.Origin ||
			cp.WriterID != v.WriterID || cp.Stream != v.Stream {
			t.Fatalf("%s opens as %+v", c.File, cp)
		}
		// The root by the RFC 6962 oracle over the leaves.
		var leaves []tlog.Hash
		for i, rh := range v.RecordHashes[:c.Size] {
			b, _ := hex.DecodeString(rh)
			if lh := LeafHash([32]byte(b)); hex.EncodeToString(lh[:]) != v.LeafHashes[i] {
				t.Fatalf("leafHashes[%d] is not SHA-256(0x00 || recordHashes[%d])", i, i)
			}
			leaves = append(leaves, oLeaf(b))
		}
		if oMTH(leaves) != cp.Root {
			t.Fatalf("checkpoint %d: root is not the RFC 6962 root of the record hashes", c.Size)
		}
		cps[c.Size] = cp
	}
	for _, ip := range v.InclusionProofs {
		cp := cps[ip.TreeSize]
		b, _ := hex.DecodeString(ip.RecordHash)
		p := parseHexes(t, ip.Proof)
		if err := VerifyInclusion(cp, ip.Index, [32]byte(b), p); err != nil {
			t.Errorf("inclusion seq %d: %v", ip.Seq, err)
		}
		if !oCheckInclusion(ip.Index, ip.TreeSize, oLeaf(b), p, cp.Root) {
			t.Errorf("inclusion seq %d: RFC 9162 oracle refuses it", ip.Seq)
		}
	}
	if len(v.InclusionProofs) != 7 || len(v.ConsistencyProofs) != 1 {
		t.Fatal("vectors should hold 7 inclusion proofs and 1 consistency proof")
	}
	for _, c := range v.ConsistencyProofs {
		p := parseHexes(t, c.Proof)
		if err := VerifyConsistency(cps[c.OldSize], cps[c.NewSize], tlog.TreeProof(p)); err != nil {
			t.Errorf("consistency %d -> %d: %v", c.OldSize, c.NewSize, err)
		}
		if !oCheckConsistency(c.OldSize, c.NewSize, cps[c.OldSize].Root, cps[c.NewSize].Root, p) {
			t.Errorf("consistency %d -> %d: RFC 9162 oracle refuses it", c.OldSize, c.NewSize)
		}
	}
	for _, inv := range v.Invalid {
		_, err := Open([]byte(inv.SignedNote), vs)
		var e *Error
		if !errors.As(err, &e) || e.Reason != inv.Reason {
			t.Errorf("invalid %s: error %v, want reason %s", inv.Name, err, inv.Reason)
		}
	}
}

func parseHexes(t *testing.T, ss []string) []tlog.Hash {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("proof hash %q", s)
		}
		out[i] = tlog.Hash(b)
	}
	return out
}

// TestSpecExample: the checkpoint text in SPEC.md is the vectors' size-7
// checkpoint, so the document cannot drift from the code.
func TestSpecExample(t *testing.T) {
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	_, v := makeVectors(t)
	want := "```text\n" + v.Checkpoints[1].Text + "```\n"
	if !strings.Contains(string(spec), want) {
		t.Fatalf("SPEC.md does not show the size-7 checkpoint text:\n%s", want)
	}
}
