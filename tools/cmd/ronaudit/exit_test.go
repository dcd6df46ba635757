package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestExitCode: the library's typed verification errors, however
// wrapped, are 1; the file system's errors, key files refused and
// signers that failed are 3; a mark (failed, operational) wins over what
// it wraps.
func TestExitCode(t *testing.T) {
	pathErr := &fs.PathError{Op: "open", Path: "log/0000000000000001.seg", Err: fs.ErrPermission}
	verr := &sdk.VerifyError{WriterID: "w", Stream: "s", Seq: 2, Reason: sdk.ReasonHashMismatch}
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"VerifyError", verr, exitFailed},
		{"DurableError of a VerifyError", &sdk.DurableError{WriterID: "w", Stream: "s", Seq: 2, Err: verr}, exitFailed},
		{"DurableError of WAL damage", &sdk.DurableError{Err: &wal.CorruptError{File: "x.seg", Reason: "bad crc"}}, exitFailed},
		{"CorruptError wrapped", fmt.Errorf("reading: %w", &wal.CorruptError{File: "x.seg", Reason: "missing segment"}), exitFailed},
		{"VersionError", &wal.VersionError{File: "x.seg", Version: 9}, exitFailed},
		{"checkpoint rollback", &checkpoint.Error{Reason: checkpoint.ReasonRollback}, exitFailed},
		{"checkpoint format", fmt.Errorf("cp.note: %w", &checkpoint.Error{Reason: checkpoint.ReasonFormat}), exitFailed},
		{"checkpoint sign", &checkpoint.Error{Reason: checkpoint.ReasonSign, Err: errors.New("hsm offline")}, exitError},
		{"kept checkpoint that does not hold", &checkpoint.DirError{WriterID: "w", Stream: "s", Seq: 3, Path: "3.note", Err: &checkpoint.Error{Reason: checkpoint.ReasonFork}}, exitFailed},
		{"kept checkpoint that cannot be read", &checkpoint.DirError{WriterID: "w", Stream: "s", Seq: 3, Path: "3.note", Err: pathErr}, exitError},
		{"checkpoints directory that cannot be read", &checkpoint.DirError{Path: "log/checkpoints", Err: pathErr}, exitError},
		{"bundle", &export.Error{Reason: export.ReasonRoot}, exitFailed},
		{"bundle of a record", &export.Error{Reason: export.ReasonRecord, Err: verr}, exitFailed},
		{"bundle signed by a failing signer", &export.Error{Reason: export.ReasonBadCheckpoint, Err: &checkpoint.Error{Reason: checkpoint.ReasonSign}}, exitError},
		{"permission denied", pathErr, exitError},
		{"wal read error", &wal.Error{Op: "read", Path: "log", Err: pathErr}, exitError},
		{"wal locked", fmt.Errorf("open: %w", wal.ErrLocked), exitError},
		{"key refused", fmt.Errorf("%w: keys/k.key", sdk.ErrKeyPermissions), exitError},
		{"store", fmt.Errorf("%w: disk full", sdk.ErrStore), exitError},
		{"plain", errors.New("something"), exitError},
		{"marked failed", failed(errors.New("the proof is for another chain")), exitFailed},
		{"marked operational over a verification error", operational(&checkpoint.Error{Reason: checkpoint.ReasonRetiredKey}), exitError},
		{"outermost mark wins", failed(fmt.Errorf("x: %w", operational(pathErr))), exitFailed},
		// Joined errors: a verification failure in any branch wins.
		{"join: operational mark, then a verification error", errors.Join(operational(pathErr), verr), exitFailed},
		{"join: a failed signer's checkpoint error, then a verification error", errors.Join(&checkpoint.Error{Reason: checkpoint.ReasonSign}, verr), exitFailed},
		{"wrapped join", fmt.Errorf("closing: %w", errors.Join(pathErr, &wal.CorruptError{File: "x.seg", Reason: "bad crc"})), exitFailed},
		{"two %w, a failed signer's and a verdict", fmt.Errorf("%w; %w", &checkpoint.Error{Reason: checkpoint.ReasonSign}, verr), exitFailed},
		{"join of operational errors", errors.Join(pathErr, fmt.Errorf("%w: disk full", sdk.ErrStore)), exitError},
		{"mark over a join is not looked below", operational(errors.Join(pathErr, verr)), exitError},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
}

// TestWorse: a verification failure wins over an operational error,
// which wins over success; a usage error is kept over an operational one.
func TestWorse(t *testing.T) {
	for _, c := range [][3]int{
		{exitOK, exitOK, exitOK},
		{exitOK, exitError, exitError},
		{exitError, exitOK, exitError},
		{exitError, exitFailed, exitFailed},
		{exitFailed, exitError, exitFailed},
		{exitFailed, exitOK, exitFailed},
		{exitUsage, exitError, exitUsage},
	} {
		if got := worse(c[0], c[1]); got != c[2] {
			t.Errorf("worse(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}

// TestVerdictWinsOverOutput: a tampered log stays exit 1 when its
// verdict cannot be written (stdout failing); a log that verifies, 3.
func TestVerdictWinsOverOutput(t *testing.T) {
	t.Chdir(t.TempDir())
	cliLog(t)
	args := []string{"verify", "log", "--pub", "keys/k.pub"}
	var stderr strings.Builder
	if code := run(args, nil, fullWriter{}, &stderr); code != exitError {
		t.Errorf("verify of a good log, stdout failing: exit %d, want 3; stderr %q", code, stderr.String())
	}
	seg := filepath.Join("log", "0000000000000001.seg")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 1 // in the first record, records after it: damage
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(args, nil, fullWriter{}, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "writing to stdout") {
		t.Errorf("verify of a tampered log, stdout failing: exit %d, stderr %q; want 1, and the write error said", code, stderr.String())
	}
}

// TestExportBadChainName: --writer or --stream that no checkpoint origin
// can name (not UTF-8) is a usage error, exit 2, found before the log is
// read: not exit 1, as if the log had failed.
func TestExportBadChainName(t *testing.T) {
	t.Chdir(t.TempDir())
	cliLog(t)
	for _, args := range [][]string{
		{"export", "--wal", "log", "--key", "keys/k.key", "--writer", "w\xff", "--stream", "s", "--out", "ex"},
		{"export", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s\xff", "--out", "ex"},
	} {
		var stdout, stderr strings.Builder
		code := run(args, nil, &stdout, &stderr)
		if code != exitUsage || stdout.Len() != 0 || !strings.Contains(stderr.String(), "usage: ronaudit export") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and the usage", args, code, stdout.String(), stderr.String())
		}
	}
	if _, err := os.Stat("ex"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ex: %v; want nothing written", err)
	}
}
