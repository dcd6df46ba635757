package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The CLI is tested as a user runs it: testscript files under
// testdata/script run the real binary (built from this package) and check
// its output and exit codes.
func TestMain(m *testing.M) {
	if os.Getenv("RONAUDIT_TEST_MAIN") == "1" { // a test runs the CLI as a child
		if os.Getenv("RONAUDIT_TEST_HOLD") == "1" { // TestInterrupted
			readHook = holdUntilInterrupted
		}
		os.Exit(cli())
	}
	testscript.Main(m, map[string]func(){
		"ronaudit": func() { os.Exit(cli()) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script", Cmds: map[string]func(*testscript.TestScript, bool, []string){
		"truncate":    truncateCmd,
		"bigline":     biglineCmd,
		"forgecp":     forgeCheckpointCmd,
		"patchrec":    patchRecordCmd,
		"flipnote":    flipNoteCmd,
		"age":         ageCmd,
		"status":      statusCmd,
		"legacyrec":   legacyRecordCmd,
		"cutrotate":   cutRotateCmd,
		"forgeappend": forgeAppendCmd,
	}})
}

// statusCmd is "status N PROG ARGS...": run PROG as exec does (its stdout
// and stderr for the stdout and stderr commands after it) and fail unless
// it exits with status N. "! exec" only says "not 0"; the exit status is
// a contract (0 done, 1 verification failed, 2 usage, 3 operational
// error: see the package doc), so the scripts pin it.
func statusCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: want a number, got %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// biglineCmd is "bigline FILE N": append to FILE a JSON line whose reason
// is N bytes (too big to keep in the script), then a good line, tsMs 10.
func biglineCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: bigline FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	ts.Check(err)
	_, err = f.WriteString(`{"tsMs":9,"reason":"` + strings.Repeat("r", n) + "\"}\n" + `{"tsMs":10,"reason":"after"}` + "\n")
	ts.Check(err)
	ts.Check(f.Close())
}

// ageCmd is "age FILE HOURS": set FILE's modification time HOURS hours
// back, as a file a crash left that long ago.
func ageCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: age FILE HOURS")
	}
	h, err := strconv.Atoi(args[1])
	ts.Check(err)
	at := time.Now().Add(-time.Duration(h) * time.Hour)
	ts.Check(os.Chtimes(ts.MkAbs(args[0]), at, at))
}

// truncateCmd is "truncate FILE -N": cut the last N bytes of FILE, as damage
// or an attacker would.
func truncateCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE -N")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n >= 0 {
		ts.Fatalf("truncate: want -N, got %q", args[1])
	}
	path := ts.MkAbs(args[0])
	fi, err := os.Stat(path)
	ts.Check(err)
	ts.Check(os.Truncate(path, fi.Size()+int64(n)))
}

// forgeCheckpointCmd is "forgecp LOG KEY WRITER STREAM SIZE OUT [NAME]":
// sign the checkpoint of the first SIZE records of a chain of LOG with
// KEY, under the key name NAME (default: the writer's), with no check of
// whether the log has retired KEY, as whoever still holds a retired key
// could (ronaudit checkpoint refuses to).
func forgeCheckpointCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 6 || len(args) > 7 {
		ts.Fatalf("usage: forgecp LOG KEY WRITER STREAM SIZE OUT [NAME]")
	}
	name := checkpoint.KeyName(args[2])
	if len(args) == 7 {
		name = args[6]
	}
	signer, err := sdk.LoadSigner(ts.MkAbs(args[1]))
	ts.Check(err)
	t, _, err := chainTree(ts.MkAbs(args[0]), args[2], args[3])
	ts.Check(err)
	size, err := strconv.ParseInt(args[4], 10, 64)
	ts.Check(err)
	root, err := t.RootAt(size)
	ts.Check(err)
	msg, err := checkpoint.Sign(checkpoint.Origin(args[2], args[3]), size, root, checkpoint.NewNoteSigner(signer, name))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[5]), msg, 0o644))
}

// cutRotateCmd is "cutrotate LOG OLDKEY NEWKEY": a rotation from OLDKEY
// to NEWKEY that a crash cuts short after its first transition (the old
// key's Signer fails from the second on), as a host killed in the middle
// of ronaudit rotate leaves the log. RotateKey takes the chains in no set
// order: $HANDED is set to the stream whose transition was written,
// $UNREACHED to the other (the log must hold two chains of one writer).
func cutRotateCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: cutrotate LOG OLDKEY NEWKEY")
	}
	old, err := sdk.LoadSigner(ts.MkAbs(args[1]))
	ts.Check(err)
	next, err := sdk.LoadSigner(ts.MkAbs(args[2]))
	ts.Check(err)
	cut := &signsThen{Signer: old, n: 1}
	l, rec, err := sdk.OpenDurable(ts.MkAbs(args[0]), sdk.Config{Signer: cut}, sdk.DurableOptions{})
	ts.Check(err)
	if len(rec.Heads) != 2 || rec.Heads[0].WriterID != rec.Heads[1].WriterID {
		ts.Fatalf("cutrotate: the log holds %d chains, want two of one writer", len(rec.Heads))
	}
	if _, err := l.RotateKey(next); err == nil {
		ts.Fatalf("cutrotate: the rotation was not cut short")
	}
	ts.Check(l.Close())
	sum, err := sdk.VerifyDir(ts.MkAbs(args[0]), sdk.NewKeySet(old.Public()), true, nil)
	ts.Check(err)
	if len(sum.Retired) != 1 {
		ts.Fatalf("cutrotate: %d transitions written, want 1", len(sum.Retired))
	}
	handed := sum.Retired[0].Stream
	for _, h := range rec.Heads {
		if h.Stream == handed {
			ts.Setenv("HANDED", h.Stream)
		} else {
			ts.Setenv("UNREACHED", h.Stream)
		}
	}
}

// forgeAppendCmd is "forgeappend LOG KEY WRITER STREAM [NEXTPUB]": append
// to the chain a record signed by KEY (with a key transition naming
// NEXTPUB's key, if given), bypassing the Log, which refuses a key that
// may not sign the chain: a log only a writer that bypasses the SDK can
// make, which verifiers must judge all the same.
func forgeAppendCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 || len(args) > 5 {
		ts.Fatalf("usage: forgeappend LOG KEY WRITER STREAM [NEXTPUB]")
	}
	dir := ts.MkAbs(args[0])
	signer, err := sdk.LoadSigner(ts.MkAbs(args[1]))
	ts.Check(err)
	var seq uint64
	prev := make([]byte, 32)
	_, err = sdk.ReadDir(dir, func(rec sdk.Sealed, _ wal.Position) error {
		v, err := canonical.OpenAuditRecord(rec.Bytes)
		if err == nil && string(v.WriterID()) == args[2] && string(v.Stream()) == args[3] {
			seq, prev = v.Seq(), rec.Hash[:]
		}
		return nil
	})
	ts.Check(err)
	r := canonical.AuditRecord{V: 1, Kind: canonical.KindPolicyChanged, Seq: seq + 1, TsMs: 100 + seq, WriterID: args[2], Stream: args[3], Prev: prev}
	if len(args) == 5 {
		next, err := sdk.LoadPublicKey(ts.MkAbs(args[4]))
		ts.Check(err)
		r.Attrs = []canonical.Attr{{Key: sdk.KeyTransitionAttr, Value: "ed25519:" + hex.EncodeToString(next)}}
	}
	b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
	ts.Check(err)
	hash := canonical.RecordHash(b)
	var sig sdk.Signature
	m := canonical.SignedMessage(hash)
	ts.Check(signer.Sign(m[:], &sig))
	id := signer.KeyID()
	// A record frame (sdk/wal/FORMAT.md, "SDK payloads"): type 1, signed,
	// key id, signature, hash, the record.
	frame := append([]byte{1, 1}, id[:]...)
	frame = append(append(append(frame, sig[:]...), hash[:]...), b...)
	w, _, err := wal.Open(dir, wal.Options{})
	ts.Check(err)
	_, err = w.Append(frame)
	ts.Check(errors.Join(err, w.Close()))
}

// signsThen is a Signer that signs n times, then fails: a key gone in the
// middle of a rotation.
type signsThen struct {
	sdk.Signer
	n int
}

func (s *signsThen) Sign(msg []byte, sig *sdk.Signature) error {
	if s.n == 0 {
		return errors.New("signer gone")
	}
	s.n--
	return s.Signer.Sign(msg, sig)
}

// patchRecordCmd is "patchrec LOG WRITER STREAM SEQ unsign|flip|sig|crc":
// rewrite record SEQ of a chain in place as someone with write access to
// the log could, with a frame CRC that matches again, so that only the
// checks above the WAL can notice. unsign clears the signed flag, key id
// and signature (the record hash stays right); flip changes the record's
// last byte and keeps its stored hash; sig changes a signature byte; crc
// changes the record's last byte and leaves the CRC: damage the WAL finds.
func patchRecordCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 5 || !slices.Contains([]string{"unsign", "flip", "sig", "crc"}, args[4]) {
		ts.Fatalf("usage: patchrec LOG WRITER STREAM SEQ unsign|flip|sig|crc")
	}
	seq, err := strconv.ParseUint(args[3], 10, 64)
	ts.Check(err)
	var at wal.Position
	_, err = sdk.ReadDir(ts.MkAbs(args[0]), func(rec sdk.Sealed, pos wal.Position) error {
		v, err := canonical.OpenAuditRecord(rec.Bytes)
		if err == nil && string(v.WriterID()) == args[1] && string(v.Stream()) == args[2] && v.Seq() == seq {
			at = pos
		}
		return nil
	})
	ts.Check(err)
	if at.File == "" {
		ts.Fatalf("no record %s/%s seq %d", args[1], args[2], seq)
	}
	f, err := os.OpenFile(at.File, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	var hdr [8]byte
	_, err = f.ReadAt(hdr[:], at.Offset)
	ts.Check(err)
	payload := make([]byte, binary.LittleEndian.Uint32(hdr[:4]))
	_, err = f.ReadAt(payload, at.Offset+8)
	ts.Check(err)
	switch args[4] { // payload: type, flags, key id (8), signature (64), hash (32), record (sdk/wal/FORMAT.md)
	case "unsign":
		clear(payload[1:74])
	case "sig":
		payload[10] ^= 0x01
	default:
		payload[len(payload)-1] ^= 0x01
	}
	if args[4] != "crc" {
		binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	}
	_, err = f.WriteAt(hdr[:], at.Offset)
	ts.Check(err)
	_, err = f.WriteAt(payload, at.Offset+8)
	ts.Check(err)
}

// flipNoteCmd is "flipnote [-name] FILE": flip a bit of the Ed25519
// signature (past its 4-byte key hash) of the first signature line of the
// signed note FILE, in the one base64 spelling of the result, as someone
// with write access to the checkpoints could: the note still parses, and
// its signature by the key its key hash names no longer verifies. With
// -name, flip a letter of that line's key name instead ("ron-audit/" to
// "ron-aFdit/"), its signature intact: the line no longer names the key
// that signed it, which reads as another key's unless told apart.
func flipNoteCmd(ts *testscript.TestScript, neg bool, args []string) {
	name := len(args) == 2 && args[0] == "-name"
	if name {
		args = args[1:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: flipnote [-name] FILE")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	text, sigs, ok := strings.Cut(string(b), "\n\n")
	line, rest, _ := strings.Cut(sigs, "\n")
	sp := strings.LastIndexByte(line, ' ')
	if !ok || sp < 0 {
		ts.Fatalf("flipnote: %s is not a signed note", args[0])
	}
	raw, err := base64.StdEncoding.DecodeString(line[sp+1:])
	if err != nil || len(raw) != 4+64 {
		ts.Fatalf("flipnote: %s: signature line %q is not an Ed25519 signature (%v)", args[0], line, err)
	}
	if name {
		flipped := strings.Replace(line[:sp+1], "ron-audit/", "ron-aFdit/", 1)
		if flipped == line[:sp+1] {
			ts.Fatalf("flipnote: %s: signature line %q has no key name ron-audit/...", args[0], line)
		}
		ts.Check(os.WriteFile(path, []byte(text+"\n\n"+flipped+line[sp+1:]+"\n"+rest), 0o600))
		return
	}
	raw[4+10] ^= 0x01
	ts.Check(os.WriteFile(path, []byte(text+"\n\n"+line[:sp+1]+base64.StdEncoding.EncodeToString(raw)+"\n"+rest), 0o600))
}

// TestHelp: every command's -h says what it does and shows it run, on
// stderr with exit 0, and its usage line is the one bad arguments print.
func TestHelp(t *testing.T) {
	for name := range commands {
		var stdout, stderr strings.Builder
		if code := run([]string{name, "-h"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Errorf("%s -h: exit %d, want 0", name, code)
		}
		help := stderr.String()
		var out strings.Builder
		if code := run([]string{"help", name}, strings.NewReader(""), &out, &out); code != 0 || out.String() != help {
			t.Errorf("help %s: exit %d, %q; want exit 0 and what -h says on stderr, on stdout", name, code, out.String())
		}
		usage, rest, ok := strings.Cut(help, "\n\n")
		if !ok || !strings.HasPrefix(usage, "usage: ronaudit "+name+" ") && usage != "usage: ronaudit "+name {
			t.Errorf("%s -h: does not start with its usage line:\n%s", name, help)
			continue
		}
		what, _, _ := strings.Cut(rest, "\n\n")
		if len(strings.Fields(what)) < 12 {
			t.Errorf("%s -h: no paragraph saying what it does:\n%s", name, help)
		}
		if !strings.Contains(help, "\nexample:\n  ronaudit "+name+" ") && !strings.Contains(help, "\nexamples:\n  ronaudit "+name+" ") &&
			!strings.Contains(help, "\nexample:\n  echo ") {
			t.Errorf("%s -h: no example:\n%s", name, help)
		}
		stderr.Reset()
		if code := run([]string{name, "-no-such-flag"}, strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("%s -no-such-flag: exit %d, want 2", name, code)
		}
		if !strings.Contains(stderr.String(), "flag provided but not defined: -no-such-flag") {
			t.Errorf("%s -no-such-flag: stderr %q", name, stderr.String())
		}
	}
}

// TestVerifyProofNeedsOld: a consistency proof checked without --old is a
// usage error like the others (exit 2, usage on stderr, nothing on
// stdout), not "FAIL: a consistency proof needs --old" on stdout as if
// the proof had failed.
func TestVerifyProofNeedsOld(t *testing.T) {
	t.Chdir(t.TempDir())
	var stdout, stderr strings.Builder
	if code := run([]string{"keygen", "-dir", "keys", "-name", "k"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr.String())
	}
	proof := `{"kind":"consistency","origin":"ron-audit/w/s","oldSize":3,"newSize":5,"proof":[]}`
	if err := os.WriteFile("cons.json", []byte(proof), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	args := []string{"verify-proof", "--checkpoint", "cp.note", "--pub", "keys/k.pub", "cons.json"}
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 2 || stdout.Len() != 0 ||
		!strings.Contains(stderr.String(), "--old OLDCP") || !strings.Contains(stderr.String(), "usage: ronaudit verify-proof") {
		t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, usage naming --old", args, code, stdout.String(), stderr.String())
	}

	// And --old with an inclusion proof, which would ignore it.
	incl := `{"kind":"inclusion","origin":"ron-audit/w/s","seq":1,"treeSize":5,"recordHash":"00","proof":[]}`
	if err := os.WriteFile("incl.json", []byte(incl), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	args = []string{"verify-proof", "--checkpoint", "cp.note", "--old", "old.note", "--pub", "keys/k.pub", "incl.json"}
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 2 || stdout.Len() != 0 ||
		!strings.Contains(stderr.String(), "drop --old") {
		t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, a message to drop --old", args, code, stdout.String(), stderr.String())
	}
}

// TestUsageErrors: what is wrong with the command line alone exits 2
// before anything is read or written, apart from a failed check (1).
func TestUsageErrors(t *testing.T) {
	t.Chdir(t.TempDir()) // were one to run, it would not write here
	for _, args := range [][]string{
		{"verify", "nolog", "--checkpoint", "cp.note"}, // a checkpoint is checked with --pub keys
		{"keygen", "keys"},
		{"checkpoint", "--wal", "log", "--key", "k.key", "--writer", "w", "--stream", "s", "cp.note"},
		{"prove", "--wal", "log", "--checkpoint", "cp.note", "--pub", "k.pub", "--seq", "1", "proof.json"},
		{"rotate", "--wal", "log", "--key", "k.key", "--new-key", "k2.key", "extra"},
	} {
		var stdout, stderr strings.Builder
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 2 || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and nothing on stdout", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestUsageErrorsSayWhy: a usage error says what is wrong before the
// usage line, not the usage line alone: "append --key k.key" (no --wal)
// and "append log --key k.key" (a word where a flag belongs, and --key
// after it never read) printed the same line, leaving the user to diff
// their command against it.
func TestUsageErrorsSayWhy(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"append", "--key", "k.key"}, "ronaudit append: --wal is required"},
		{[]string{"append", "--wal", "log"}, "ronaudit append: --key is required"},
		{[]string{"append", "log", "--key", "k.key"}, `ronaudit append: unexpected argument "log"`},
		{[]string{"keygen", "keys"}, `ronaudit keygen: unexpected argument "keys"`},
		{[]string{"verify"}, "ronaudit verify: missing argument DIR|FILE"},
		{[]string{"verify", "log", "log2"}, `ronaudit verify: unexpected argument "log2"`},
		{[]string{"dump"}, "ronaudit dump: missing argument DIR|FILE"},
		{[]string{"verify-bundle", "exports"}, "ronaudit verify-bundle: --pub is required"},
		{[]string{"verify-proof", "--pub", "k.pub", "proof.json"}, "ronaudit verify-proof: --checkpoint is required"},
		{[]string{"checkpoint", "--wal", "log", "--key", "k.key", "--writer", "w"}, "ronaudit checkpoint: --stream is required"},
		{[]string{"export", "--wal", "log", "--key", "k.key", "--writer", "w", "--stream", "s"}, "ronaudit export: --out is required"},
		{[]string{"rotate", "--wal", "log", "--key", "k.key"}, "ronaudit rotate: --new-key is required"},
		{[]string{"rotate", "--wal", "log", "--key", "k.key", "--new-key", "k2.key", "extra"}, `ronaudit rotate: unexpected argument "extra"`},
		{[]string{"prove", "--wal", "log", "--checkpoint", "cp.note", "--pub", "k.pub"}, "ronaudit prove: give --seq N or --old OLDCP"},
		{[]string{"prove", "--wal", "log", "--checkpoint", "cp.note", "--pub", "k.pub", "--seq", "0"}, "ronaudit prove: --seq 0: a chain's first record is seq 1"},
		{[]string{"prove", "--wal", "log", "--checkpoint", "cp.note", "--pub", "k.pub", "--seq", "1", "--old", "old.note"}, "ronaudit prove: give --seq N or --old OLDCP, not both"},
		{[]string{"demo", "a", "b"}, `ronaudit demo: unexpected argument "b"`},
		// A flag last, without its value: the flag package's own words,
		// not the directory taken for its value ("missing argument").
		{[]string{"verify", "log", "--pub"}, "ronaudit verify: flag needs an argument: -pub"},
		{[]string{"verify-bundle", "exports", "--pub", "k.pub", "--checkpoint"}, "ronaudit verify-bundle: flag needs an argument: -checkpoint"},
		{[]string{"verify-proof", "proof.json", "--pub", "k.pub", "--checkpoint"}, "ronaudit verify-proof: flag needs an argument: -checkpoint"},
	} {
		var stdout, stderr strings.Builder
		code := run(c.args, strings.NewReader(""), &stdout, &stderr)
		if code != 2 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), c.want) ||
			!strings.Contains(stderr.String(), "\nusage: ronaudit "+c.args[0]+" ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, stderr %q then the usage", c.args, code, stdout.String(), stderr.String(), c.want)
		}
	}
}

// TestUsageSummaryNamesEveryFlag: "ronaudit help" lists every flag of
// every command, as each command's own usage line does: rotate's --pub
// (needed from the second rotation on) was in "help rotate" only, so
// the summary's "rotate --wal DIR --key OLD --new-key NEW" was no way to
// rotate a log rotated before.
func TestUsageSummaryNamesEveryFlag(t *testing.T) {
	lines := strings.Split(usageText, "\n")
	for name := range commands {
		// The command's part of the summary: its line and the indented
		// lines after it, up to the next command's.
		var part strings.Builder
		in := false
		for _, l := range lines {
			if strings.HasPrefix(l, "  "+name+" ") {
				in = true
			} else if in && (len(l) < 3 || l[2] != ' ') {
				break
			}
			if in {
				part.WriteString(l + "\n")
			}
		}
		if part.Len() == 0 {
			t.Errorf("the summary has no line for %s", name)
			continue
		}
		var help strings.Builder
		run([]string{name, "-h"}, strings.NewReader(""), &help, &help)
		for _, l := range strings.Split(help.String(), "\n") {
			f, ok := strings.CutPrefix(l, "  -")
			if !ok {
				continue
			}
			flag, _, _ := strings.Cut(f, " ")
			if !regexp.MustCompile(`-` + regexp.QuoteMeta(flag) + `\b`).MatchString(part.String()) {
				t.Errorf("the summary of %s does not name its flag -%s:\n%s", name, flag, part.String())
			}
		}
	}
}

// legacyRecordCmd is "legacyrec LOG KEY WRITER STREAM": append to the log
// the first record of chain (WRITER, STREAM), signed by KEY, through the
// WAL and not the SDK, as a build before sdk.MaxChainName did for names
// the SDK refuses now (sdk/wal/FORMAT.md's payload: type, flags, key id,
// signature, record hash, canonical record).
func legacyRecordCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: legacyrec LOG KEY WRITER STREAM")
	}
	signer, err := sdk.LoadSigner(ts.MkAbs(args[1]))
	ts.Check(err)
	genesis := canonical.Genesis
	rec := canonical.AuditRecord{Kind: canonical.KindCapIssued, WriterID: args[2], Stream: args[3], Seq: 1, Prev: genesis[:], TsMs: 1764201600000}
	b, err := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
	ts.Check(err)
	h := canonical.RecordHash(b)
	msg := canonical.SignedMessage(h)
	var sig sdk.Signature
	ts.Check(signer.Sign(msg[:], &sig))
	id := signer.KeyID()
	payload := append([]byte{1, 1}, id[:]...)
	payload = append(payload, sig[:]...)
	payload = append(payload, h[:]...)
	payload = append(payload, b...)
	w, _, err := wal.Open(ts.MkAbs(args[0]), wal.Options{})
	ts.Check(err)
	_, err = w.AppendDurable(payload)
	ts.Check(err)
	ts.Check(w.Close())
}

// runOK runs ronaudit with args and stdin, failing t unless it exits 0,
// and returns its stdout.
func runOK(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	var stdout, stderr strings.Builder
	if code := run(args, strings.NewReader(stdin), &stdout, &stderr); code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, stderr.String())
	}
	return stdout.String()
}

// exportedChain makes, under dir, a key k (keys/k.key, keys/k.pub), a log
// (log) of two records of chain (writer, stream) and an export of it
// (out), and returns the three directories.
func exportedChain(t testing.TB, dir, writer, stream string) (keys, log, out string) {
	t.Helper()
	keys, log, out = filepath.Join(dir, "keys"), filepath.Join(dir, "log"), filepath.Join(dir, "out")
	runOK(t, "", "keygen", "-dir", keys, "-name", "k")
	chain := []string{"--wal", log, "--key", filepath.Join(keys, "k.key"), "--writer", writer, "--stream", stream}
	runOK(t, "{\"tsMs\":1,\"reason\":\"one\"}\n{\"tsMs\":2,\"reason\":\"two\"}\n", append([]string{"append"}, chain...)...)
	runOK(t, "", append([]string{"export", "--out", out}, chain...)...)
	return keys, log, out
}
