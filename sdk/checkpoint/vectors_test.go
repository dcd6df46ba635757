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
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/testvectors"
	"github.com/rustyonions/ron-audit-go/sdk"
)

var update = flag.Bool("update", false, "rewrite the checkpoint vectors of the current schema version, testing/vectors/v<canonical.SchemaVersion>/checkpoints (never an earlier version's), and the testdata/fuzz seeds")

// The checkpoint vectors of released schema version N are
// testing/vectors/vN/checkpoints, made from that version's chain-basic.json
// (canonical/SPEC.md section 8). Those of the current version,
// canonical.SchemaVersion, are what this package makes: TestVectors checks
// them, and -update writes them and never an earlier version's, which are
// frozen; TestVectorsVerify checks every released version's on their own
// terms with the current code.

// vectorsRoot holds one directory per released schema version, vN.
const vectorsRoot = "../../testing/vectors"

// checkpointsDir is where schema version v's checkpoint vectors are under root.
func checkpointsDir(root string, v int) string {
	return filepath.Join(testvectors.Dir(root, v), "checkpoints")
}

var (
	vectorSource = filepath.Join(testvectors.Dir(vectorsRoot, canonical.SchemaVersion), "chain-basic.json")
	vectorDir    = checkpointsDir(vectorsRoot, canonical.SchemaVersion)
)

const (
	fuzzSeedDir = "testdata/fuzz/FuzzOpenCheckpoint"
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

// makeVectors builds every vector file, by name, and fuzz seed file, by
// path.
func makeVectors(t testing.TB) (files, seeds map[string][]byte, v vectorFile) {
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
	files, seeds = map[string][]byte{}, map[string][]byte{}
	v = vectorFile{
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
		files[name] = msg
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
	files["chain-basic.json"] = append(js, '\n')
	files["chain-basic.vkey"] = []byte(vkey + "\n")

	// Fuzz seeds: the valid notes and every refused one.
	seed1 := func(name string, msg string) {
		seeds[filepath.Join(fuzzSeedDir, name)] = []byte("go test fuzz v1\n[]byte(" + strconv.Quote(msg) + ")\n")
	}
	seed1("valid-3", string(notes[3]))
	seed1("valid-7", good)
	for _, inv := range v.Invalid {
		seed1(inv.Name, inv.SignedNote)
	}
	return files, seeds, v
}

// TestVectors writes (with -update) or checks the current schema
// version's checkpoint vectors and the fuzz seeds: the files must be
// exactly what this package makes today. When they are not, the message
// says whether the code changed what the vectors released (never right) or
// only prose.
func TestVectors(t *testing.T) {
	files, seeds, _ := makeVectors(t)
	if *update {
		if err := updateVectors(vectorsRoot, canonical.SchemaVersion, files); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(fuzzSeedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for p, b := range seeds {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(vectorDir, name)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%v: the checkpoint vectors of schema version %d (canonical.SchemaVersion) are written by go test ./sdk/checkpoint -run TestVectors -update", err, canonical.SchemaVersion)
			continue
		}
		if bytes.Equal(got, files[name]) {
			continue
		}
		d, err := testvectors.Frozen(name, got, files[name])
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if d != "" {
			t.Errorf("%s: %s in what the package makes now: the code changes checkpoint vectors of released schema version %d, which are frozen (canonical/SPEC.md section 8); fix the code, do not update the vectors", p, d, canonical.SchemaVersion)
			continue
		}
		t.Errorf("%s: only descriptions or new items at the end differ from what the package makes now (go test ./sdk/checkpoint -run TestVectors -update)", p)
	}
	for _, p := range slices.Sorted(maps.Keys(seeds)) {
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, seeds[p]) {
			t.Errorf("%s differs from what the package makes now (%v; go test ./sdk/checkpoint -run TestVectors -update)", p, err)
		}
	}
}

// TestVectorsVerify checks every released schema version's checkpoint
// vectors with the current code.
func TestVectorsVerify(t *testing.T) {
	for v := 1; v <= canonical.SchemaVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { checkVectorFiles(t, checkpointsDir(vectorsRoot, v)) })
	}
}

// updateVectors is -update: it writes files (by name) as the checkpoint
// vectors of schema version current, in its checkpoints/ under root, and
// nowhere else, keeping what the files already there released.
func updateVectors(root string, current int, files map[string][]byte) error {
	return testvectors.Update(checkpointsDir(root, current), files, testvectors.Frozen)
}

// checkVectorFiles checks the vectors in dir as an outside reader would, from the
// files alone: the verifier key, the notes, the proofs against the RFC 9162
// oracle and the package's verifiers, the refusals.
func checkVectorFiles(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "chain-basic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	vkeyFile, err := os.ReadFile(filepath.Join(dir, "chain-basic.vkey"))
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
		msg, err := os.ReadFile(filepath.Join(dir, c.File))
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
	_, _, v := makeVectors(t)
	want := "```text\n" + v.Checkpoints[1].Text + "```\n"
	if !strings.Contains(string(spec), want) {
		t.Fatalf("SPEC.md does not show the size-7 checkpoint text:\n%s", want)
	}
}

// TestVectorsUpdateLeavesEarlierVersions walks -update at the release of
// the next schema version, on a copy of the vectors: it writes the new
// version's checkpoints/ and leaves every earlier version's files as they
// were (canonical/SPEC.md section 8: their bytes are frozen).
func TestVectorsUpdateLeavesEarlierVersions(t *testing.T) {
	root := t.TempDir()
	next := canonical.SchemaVersion + 1
	// Copies of the released versions' checkpoint vectors, the JSON
	// marked so that a rewrite shows.
	var marked []string
	for v := 1; v <= canonical.SchemaVersion; v++ {
		dir := filepath.Join(testvectors.Dir(root, v), "checkpoints")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		paths, _ := filepath.Glob(filepath.Join(testvectors.Dir(vectorsRoot, v), "checkpoints", "*"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, filepath.Base(p))
			if strings.HasSuffix(p, ".json") {
				b = bytes.Replace(b, []byte(`"description": "`), []byte(`"description": "frozen: `), 1)
				marked = append(marked, dst)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(marked) < canonical.SchemaVersion {
		t.Fatalf("copied %d vector JSON files of %d released versions", len(marked), canonical.SchemaVersion)
	}
	files, _, _ := makeVectors(t)
	if err := updateVectors(root, next, files); err != nil {
		t.Fatal(err)
	}
	for _, p := range marked {
		if b, _ := os.ReadFile(p); !bytes.Contains(b, []byte(`"frozen: `)) {
			t.Errorf("-update at schema version %d rewrote %s", next, p)
		}
	}
	nextDir := filepath.Join(testvectors.Dir(root, next), "checkpoints")
	written, _ := filepath.Glob(filepath.Join(nextDir, "*"))
	if len(written) != len(files) {
		t.Errorf("-update at schema version %d wrote %d files in %s, want %d", next, len(written), nextDir, len(files))
	}
	// Once written, a checkpoint's bytes are released too: -update
	// refuses to change them rather than bake the change in.
	note := filepath.Join(nextDir, "chain-basic-7.note")
	before, err := os.ReadFile(note)
	if err != nil {
		t.Fatal(err)
	}
	changed, _, _ := makeVectors(t)
	changed["chain-basic-7.note"] = bytes.Replace(changed["chain-basic-7.note"], []byte("\n7\n"), []byte("\n8\n"), 1)
	if err := updateVectors(root, next, changed); err == nil {
		t.Error("-update wrote a checkpoint with other bytes over a written one")
	}
	if after, _ := os.ReadFile(note); !bytes.Equal(before, after) {
		t.Errorf("-update changed %s", note)
	}
}
