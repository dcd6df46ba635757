package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
)

// hidingText is record text a terminal shows otherwise than its bytes:
// bidi controls that reorder what follows (Trojan Source), C0 and C1
// controls (ESC, CSI as one byte, NEL), DEL, invisible format
// characters (zero width, byte-order mark, a tag character past U+FFFF)
// and separators other than the space, each beside printable text,
// ASCII and not, that must stay as it is.
var hidingText = map[string]string{
	"writerId":   "svc\u202e1-tsil\u202c",
	"stream":     "caps\u2066x\u2069",
	"reason":     "paid \u202e01$ ot\u202c Bob\u200e\u200f\u061c \x1b[2J\u0085\u009b31m\x7f é",
	"actor":      "cap\u202a\u202b\u202d\u2067\u2068",
	"subject":    "file\u200b\ufeff\u00a0\u3000\u2028\u2029\U000E0041.txt",
	"attr key":   "ip\u202e",
	"attr value": "203.0.113.0/24\u202e",
}

// TestDumpShowsHiddenText: dump's lines are what an auditor reads on a
// terminal, and a record's text is whoever wrote it's. Printed raw (as
// encoding/json leaves every character but C0 controls, U+2028 and
// U+2029), a right-to-left override in a reason made the terminal show
// another amount than the record holds. Each character names.Line
// would escape in a report line is written as its JSON \u escape: the
// line shows the record's bytes, and its JSON value, which a reader
// decodes, is the record's text exactly.
func TestDumpShowsHiddenText(t *testing.T) {
	dir := t.TempDir()
	keys, log := filepath.Join(dir, "keys"), filepath.Join(dir, "log")
	runOK(t, "", "keygen", "-dir", keys, "-name", "k")
	h := hidingText
	in, err := json.Marshal(canonical.AuditRecord{
		TsMs: 1, WriterID: h["writerId"], Stream: h["stream"], Reason: h["reason"],
		Actor:   canonical.Actor{CapID: h["actor"]},
		Subject: canonical.Subject{Name: h["subject"]},
		Attrs:   []canonical.Attr{{Key: h["attr key"], Value: h["attr value"]}},
	})
	if err != nil {
		t.Fatal(err)
	}
	runOK(t, string(in)+"\n", "append", "--wal", log, "--key", filepath.Join(keys, "k.key"))
	out := runOK(t, "", "dump", log)
	line, rest, _ := strings.Cut(out, "\n")
	if rest != "" {
		t.Fatalf("dump: want one line, got %q", out)
	}
	if shown := names.Line(line); shown != line {
		t.Errorf("dump wrote characters a terminal does not show as they are:\n%s\nwhich are, escaped:\n%s", line, shown)
	}
	if !strings.Contains(line, `"reason":"paid \u202e01$ ot\u202c Bob\u200e\u200f\u061c \u001b[2J\u0085\u009b31m\u007f é"`) {
		t.Errorf("dump: the reason is not spelled with \\u escapes, é as itself:\n%s", line)
	}
	if !strings.Contains(line, `\udb40\udc41.txt"`) {
		t.Errorf("dump: U+E0041 is not a \\u surrogate pair:\n%s", line)
	}
	var got dumpLine
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("dump line is not a record's JSON: %v\n%s", err, line)
	}
	r := got.Record
	for field, v := range map[string]string{
		"writerId": r.WriterID, "stream": r.Stream, "reason": r.Reason, "actor": r.Actor.CapID,
		"subject": r.Subject.Name, "attr key": r.Attrs[0].Key, "attr value": r.Attrs[0].Value,
	} {
		if v != h[field] {
			t.Errorf("dump %s: decodes to %q, the record holds %q", field, v, h[field])
		}
	}
}
