package sdk_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestErrorsQuoteNames: a writer id or stream comes from the records (in
// a changed log, from whoever changed it), so an error message quotes
// one that is not plain: a newline in it cannot start a line of its own
// in a report, and a '/' in it cannot move where the writer id ends.
func TestErrorsQuoteNames(t *testing.T) {
	const w, s = "w\nok: all records verified", "a/b"
	for _, err := range []error{
		&sdk.VerifyError{WriterID: w, Stream: s, Seq: 3, Reason: sdk.ReasonHashMismatch},
		&sdk.DurableError{Position: wal.Position{File: "x.seg", Offset: 8}, WriterID: w, Stream: s, Seq: 3, Err: errors.New("bad")},
		&sdk.MergeError{Input: 1, Read: 2, WriterID: w, Stream: s, Seq: 3, Err: errors.New("bad")},
	} {
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, `"w\nok: all records verified"/"a/b" seq 3`) {
			t.Errorf("%T: %s", err, msg)
		}
	}
	plain := (&sdk.VerifyError{WriterID: "svc@1", Stream: "caps", Seq: 3, Reason: sdk.ReasonSeqGap}).Error()
	if !strings.HasPrefix(plain, "verify svc@1/caps seq 3: seq_gap") {
		t.Errorf("a plain name is quoted: %s", plain)
	}
}

// TestDurableErrorNamesPositionOnce: a DurableError placing the WAL's
// corruption report says the file and offset once, as the start of the
// message, not again in the report's own words ("durable log X.seg:314
// (...): wal: corrupt log: X.seg at offset 314: ..."); a report of
// another place (a missing segment named where the damage was found)
// keeps its own, and errors.As still reaches the report.
func TestDurableErrorNamesPositionOnce(t *testing.T) {
	const seg = "/var/lib/audit/0000000000000003.seg"
	ce := &wal.CorruptError{File: seg, Offset: 7746, Reason: "bad frame: checksum mismatch (stored e3efe225, computed 2628b2e5)", LastIndex: 151}
	err := &sdk.DurableError{Position: wal.Position{File: seg, Offset: 7746}, WriterID: "svc@inst-1", Stream: "caps", Seq: 151, After: true, Err: ce}
	want := "sdk: durable log " + seg + ":7746 (after svc@inst-1/caps seq 151): wal: corrupt log: bad frame: checksum mismatch (stored e3efe225, computed 2628b2e5) (last good frame 151)"
	if got := err.Error(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	var got *wal.CorruptError
	if !errors.As(err, &got) || got != ce || !errors.Is(err, wal.ErrCorrupt) {
		t.Errorf("%v: the WAL's report is no longer reachable", err)
	}
	other := &sdk.DurableError{Position: wal.Position{File: seg, Offset: 0}, Err: &wal.CorruptError{File: "/var/lib/audit/0000000000000002.seg", Reason: "segment 2 is missing"}}
	if msg := other.Error(); !strings.Contains(msg, "0000000000000002.seg at offset 0") {
		t.Errorf("a report of another file lost its place: %s", msg)
	}
}

// TestFileErrorNamesPathOnce: a key or salt file error wrapping the OS's
// error of the same file says the path once, as wal.Error does ("sdk: key
// file k.key: cannot read: open: no such file or directory"), not again
// in the OS's words; keygen over an existing key read "key file k.key:
// already exists, refusing to overwrite: create k.key: file already
// exists". errors.Is still reaches the OS's error.
func TestFileErrorNamesPathOnce(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nokey.key")
	_, err := sdk.LoadSigner(missing)
	if err == nil || strings.Count(err.Error(), missing) != 1 || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadSigner of a missing file: %v; want its path once, and fs.ErrNotExist", err)
	}
	if _, _, _, err := sdk.GenerateKeyFiles(dir, "k"); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = sdk.GenerateKeyFiles(dir, "k")
	if err == nil || strings.Count(err.Error(), filepath.Join(dir, "k.key")) != 1 || !errors.Is(err, fs.ErrExist) {
		t.Errorf("GenerateKeyFiles over an existing key: %v; want its path once, and fs.ErrExist", err)
	}
}
