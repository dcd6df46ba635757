package export

// Tests that pin promises of the godoc that no other test checked.

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestExporterRequiredFields: Sink and Signer are "required"; an Exporter
// without one is a configuration error (sdk.ErrConfig), said before the
// log is read or anything is signed, not a bare string error.
func TestExporterRequiredFields(t *testing.T) {
	signer := newSigner(t, 1)
	dir := filepath.Join(t.TempDir(), "wal")
	durableLog(t, dir, signer, 3)
	recs := genRecords(t, signer, 3, plain)
	for name, e := range map[string]*Exporter{
		"no Sink":   {Signer: signer},
		"no Signer": {Sink: &FileSink{Dir: t.TempDir()}},
	} {
		if _, err := e.Export(dir, testWriter, testStream, nil); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("Export, %s: %v, want sdk.ErrConfig", name, err)
		}
		if _, err := e.ExportTree(treeOf(recs), testWriter, testStream, recs, nil); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("ExportTree, %s: %v, want sdk.ErrConfig", name, err)
		}
	}
}

// TestZeroStateIsNoPrevious: "The zero State (or nil) is 'no previous
// export'"; FileSink.Latest, Prev and ListDir find nothing where nothing
// was written.
func TestZeroStateIsNoPrevious(t *testing.T) {
	signer := newSigner(t, 1)
	dir := filepath.Join(t.TempDir(), "wal")
	durableLog(t, dir, signer, 4)
	var got [2]*Bundle
	for i, prev := range []*State{nil, {}} {
		sink := &FileSink{Dir: t.TempDir()}
		origin := "ron-audit/" + testWriter + "/" + testStream
		if b, err := sink.Latest(origin); b != nil || err != nil {
			t.Fatalf("Latest of an empty sink: %v, %v", b, err)
		}
		if st, err := sink.Prev(testWriter, testStream); st != nil || err != nil {
			t.Fatalf("Prev of an empty sink: %v, %v", st, err)
		}
		b, err := (&Exporter{Sink: sink, Signer: signer}).Export(dir, testWriter, testStream, prev)
		if err != nil {
			t.Fatalf("prev %+v: %v", prev, err)
		}
		got[i] = b
	}
	if got[0].PrevSize != 0 || got[1].PrevSize != 0 || got[0].Size != 4 || got[1].Size != 4 || string(got[0].Note) != string(got[1].Note) {
		t.Fatalf("nil and zero State differ: %+v / %+v", got[0], got[1])
	}
	gone := filepath.Join(t.TempDir(), "gone")
	if paths, err := ListDir(gone); paths != nil || err != nil {
		t.Fatalf("ListDir of a missing dir: %v, %v", paths, err)
	}
	if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("ListDir created its dir")
	}
}

// TestAutoCloseAndCheckpointed: Close of an Auto that was never started
// is nil with nothing queued and ErrNotStarted with checkpoints waiting;
// Checkpointed returns at once while an export is under way (here stuck in
// Prev), and Close waits for it.
func TestAutoCloseAndCheckpointed(t *testing.T) {
	if err := (&Auto{}).Close(); err != nil {
		t.Fatalf("Close of an idle Auto: %v", err)
	}
	log, keeper, cp, prev := keptChain(t)
	a := &Auto{}
	a.Checkpointed(cp, 0)
	if err := a.Close(); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Close with a checkpoint queued and no Start: %v, want ErrNotStarted", err)
	}

	inPrev, release := make(chan struct{}), make(chan struct{})
	a = &Auto{Exporter: &Exporter{Sink: &memSink{}}, Log: log, Keeper: keeper, Prev: func(string, string) (*State, error) {
		inPrev <- struct{}{}
		<-release
		return prev, nil // exported up to cp already: nothing to export
	}}
	a.Start() // queues cp, the Keeper's newest checkpoint (catching up)
	<-inPrev  // the export runs, stuck
	done := make(chan struct{})
	go func() {
		a.Checkpointed(cp, 0)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Checkpointed blocked behind an export")
	}
	closed := make(chan error)
	go func() { closed <- a.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while an export ran", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-inPrev // the second checkpoint's export
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestFileSinkModes: "one file Dir/name, mode 0600 ... Directories are
// created with mode 0700", whatever the umask.
func TestFileSinkModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	root := filepath.Join(t.TempDir(), "exports")
	sink := &FileSink{Dir: root}
	name := "w/s/00000000000000000001-00000000000000000002.bundle"
	if err := sink.WriteBundle(name, []byte("bundle bytes")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Join(root, "w"), filepath.Join(root, "w", "s")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("dir %s: %v, %v; want 0700", d, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(name))); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle file: %v, %v; want 0600", fi.Mode(), err)
	}
	if err := sink.WriteBundle(name, []byte("other bytes")); !errors.Is(err, ErrBundleExists) {
		t.Errorf("second write of the same name: %v, want ErrBundleExists", err)
	}
}

// TestFileSinkEmptyDir: a FileSink whose Dir is "" (an unset setting)
// must not write its bundles under the process's current directory, as
// the WAL and the Keeper do not with "". It is sdk.ErrConfig, and nothing
// is written; Dir "." is the current directory.
func TestFileSinkEmptyDir(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	s := &FileSink{}
	name := BundleName(checkpoint.Origin(testWriter, testStream), 1, 1)
	if err := s.WriteBundle(name, []byte("bundle")); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("WriteBundle with Dir \"\": %v, want sdk.ErrConfig", err)
	}
	if _, err := s.Prev(testWriter, testStream); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("Prev with Dir \"\": %v, want sdk.ErrConfig", err)
	}
	if ents, err := os.ReadDir(cwd); err != nil || len(ents) != 0 {
		t.Fatalf("a FileSink with Dir \"\" wrote to the current directory: %v (%v)", ents, err)
	}
}

// TestListDirEmptyDir: ListDir, VerifyDir and VerifyDirTrusted with dir ""
// (an unset setting) must not say "no *.bundle files in " as if "" were
// a directory holding none; "" is refused as FileSink, wal.Open and
// checkpoint.NewKeeper refuse it: sdk.ErrConfig, not ErrNoBundles (a
// verdict of truncation). Dir "." is the current directory.
func TestListDirEmptyDir(t *testing.T) {
	t.Chdir(t.TempDir())
	if paths, err := ListDir(""); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("ListDir(\"\"): %q, %v; want sdk.ErrConfig", paths, err)
	}
	_, err1 := VerifyDir("", nil, nil, nil)
	_, err2 := VerifyDirTrusted("", nil, nil, nil)
	for i, err := range []error{err1, err2} {
		if !errors.Is(err, sdk.ErrConfig) || errors.Is(err, ErrNoBundles) {
			t.Errorf("call %d with dir \"\": %v; want sdk.ErrConfig, not ErrNoBundles", i+1, err)
		}
	}
	if paths, err := ListDir("."); err != nil || len(paths) != 0 {
		t.Errorf("ListDir(\".\") of an empty current directory: %q, %v", paths, err)
	}
}
