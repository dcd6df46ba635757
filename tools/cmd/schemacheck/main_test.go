package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
)

func runCmd(args ...string) (int, string) { return runAt(1, args...) }

// runAt runs the command as built from schema version v.
func runAt(v int, args ...string) (int, string) {
	var out bytes.Buffer
	code := run(args, v, &out, &out)
	return code, out.String()
}

func TestCommand(t *testing.T) {
	td := "../../schemacheck/testdata"
	hist := filepath.Join(t.TempDir(), "history")
	if code, out := runCmd("-req", td+"/base.req", "-history", hist); code != 2 || !strings.Contains(out, "no such file") {
		t.Fatalf("no history: %d %s", code, out)
	}
	if code, out := runAt(2, "record", "-version", "2", "-req", td+"/base.req", "-history", hist); code != 2 || !strings.Contains(out, "the next version to record is v1") {
		t.Fatalf("first record not v1: %d %s", code, out)
	}
	if code, out := runCmd("record", "-version", "1", "-req", td+"/base.req", "-history", hist); code != 0 {
		t.Fatalf("record: %d %s", code, out)
	}
	if code, out := runCmd("record", "-version", "1", "-req", td+"/add_ok.req", "-history", hist); code != 1 || !strings.Contains(out, "never rewritten") {
		t.Fatalf("re-record: %d %s", code, out)
	}
	if code, out := runCmd("-req", td+"/base.req", "-history", hist); code != 0 || !strings.Contains(out, "compatible with every released version (v1..v1)") {
		t.Fatalf("check base: %d %s", code, out)
	}
	if code, out := runCmd("-req", td+"/add_ok.req", "-history", hist); code != 0 || !strings.Contains(out, "the schema grew since v1") {
		t.Fatalf("check additions: %d %s", code, out)
	}
	code, out := runCmd("-req", td+"/renamed.req", "-history", hist)
	if code != 1 || !strings.Contains(out, "v1: Rec.b (@1): renamed: field renamed to bee") || !strings.Contains(out, "1 incompatible change(s)") {
		t.Fatalf("check rename: %d %s", code, out)
	}
	if code, out := runAt(2, "record", "-version", "2", "-req", td+"/renamed.req", "-history", hist); code != 1 || !strings.Contains(out, "not recording an incompatible layout") {
		t.Fatalf("record incompatible: %d %s", code, out)
	}
	if code, out := runAt(3, "record", "-version", "3", "-req", td+"/add_ok.req", "-history", hist); code != 2 || !strings.Contains(out, "the next version to record is v2, not v3") {
		t.Fatalf("record with a gap: %d %s", code, out)
	}
	if code, out := runAt(2, "record", "-version", "2", "-req", td+"/add_ok.req", "-history", hist); code != 0 {
		t.Fatalf("record v2: %d %s", code, out)
	}
	// v2 is released: dropping what v2 added breaks v2, not v1.
	code, out = runAt(2, "-req", td+"/base.req", "-history", hist)
	if code != 1 || !strings.Contains(out, "v2: Rec.d (@5): field-removed") || strings.Contains(out, "v1: ") {
		t.Fatalf("check against v2: %d %s", code, out)
	}
}

// TestRecordUnreadableHistory: a history that does not parse stops
// record instead of letting an unchecked layout in.
func TestRecordUnreadableHistory(t *testing.T) {
	td := "../../schemacheck/testdata"
	hist := t.TempDir()
	if err := os.WriteFile(filepath.Join(hist, "v1.json"), []byte(`{"version":1,"bogus":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runAt(2, "record", "-version", "2", "-req", td+"/renamed.req", "-history", hist); code != 2 || !strings.Contains(out, "bogus") {
		t.Fatalf("record over an unreadable history: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(hist, "v2.json")); err == nil {
		t.Fatal("v2.json written")
	}
}

// TestSchemaVersionAndHistoryAgree walks a release: the schema grows
// (advice only), the code's SchemaVersion is bumped without recording the
// layout (refused: nothing would hold the new fields), the layout is
// recorded (green), and record refuses a version the code is not built
// from.
func TestSchemaVersionAndHistoryAgree(t *testing.T) {
	td := "../../schemacheck/testdata"
	hist := t.TempDir()
	if code, out := runAt(1, "record", "-version", "1", "-req", td+"/base.req", "-history", hist); code != 0 {
		t.Fatalf("record v1: %d %s", code, out)
	}
	if code, out := runAt(1, "-req", td+"/add_ok.req", "-history", hist); code != 0 || !strings.Contains(out, "bump canonical.SchemaVersion to 2 and run schemacheck record -version 2") {
		t.Fatalf("grown, unreleased: %d %s", code, out)
	}
	code, out := runAt(2, "-req", td+"/add_ok.req", "-history", hist)
	if code != 1 || !strings.Contains(out, "canonical.SchemaVersion is 2 but the newest recorded layout is v1") || !strings.Contains(out, "record -version 2") {
		t.Fatalf("bumped, not recorded: %d %s", code, out)
	}
	if code, out := runAt(1, "record", "-version", "2", "-req", td+"/add_ok.req", "-history", hist); code != 2 || !strings.Contains(out, "bump it to 2 first") {
		t.Fatalf("record ahead of the code: %d %s", code, out)
	}
	if code, out := runAt(2, "record", "-version", "2", "-req", td+"/add_ok.req", "-history", hist); code != 0 {
		t.Fatalf("record v2: %d %s", code, out)
	}
	if code, out := runAt(2, "-req", td+"/add_ok.req", "-history", hist); code != 0 || strings.Contains(out, "grew") {
		t.Fatalf("released: %d %s", code, out)
	}
	if code, out := runAt(1, "-req", td+"/add_ok.req", "-history", hist); code != 1 || !strings.Contains(out, "canonical.SchemaVersion is 1 but v2 is released") {
		t.Fatalf("code behind the history: %d %s", code, out)
	}
}

// TestRealSchemaCheck runs make schema-check's check in go test, on the
// committed compiled schema (no capnp needed): the schema is compatible
// with every released layout, and canonical.SchemaVersion, which names
// the vectors and baselines the code is checked against, is the newest
// recorded version. Without it only make schema-check would notice a
// bumped SchemaVersion whose layout was never recorded, or a recorded one
// the code was not bumped to.
func TestRealSchemaCheck(t *testing.T) {
	code, out := runAt(canonical.SchemaVersion, "-req", "../../../gen/testdata/audit.req", "-history", "../../../schema/history")
	if code != 0 {
		t.Fatalf("make schema-check would fail (exit %d):\n%s", code, out)
	}
}
