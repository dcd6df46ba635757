//go:build linux

package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/synctrace"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestExportSignsOnlyDurable traces Exporter.Export (strace; skipped
// without it) reading a log and writing its bundle: the last segment it
// read must be fsynced before the bundle is linked into place. A writer
// beside it has written frames it has not fsynced yet (a group commit
// writes, then fsyncs), and a writer killed by SIGKILL leaves its last
// frames in the page cache only: a bundle signed over them, and made
// durable, would outlive them in a power loss, vouching for records the
// log no longer holds (and the writer, reopened, appends others at their
// seqs: a fork of what was handed out). Every earlier segment was fsynced
// by the rotation that ended it.
func TestExportSignsOnlyDurable(t *testing.T) {
	root := t.TempDir()
	walDir := filepath.Join(root, "wal")
	durableLog(t, walDir, newSigner(t, 1), 5)
	out := filepath.Join(root, "bundles")
	tr := synctrace.Run(t, root, []string{"EXPORT_SYNC_WAL=" + walDir, "EXPORT_SYNC_OUT=" + out}, os.Args[0], "-test.run=^TestExportSignsOnlyDurableChild$")
	last := filepath.Join(walDir, wal.SegmentName(1))
	link, ok := tr.First(func(e synctrace.Event) bool {
		return e.Call == "linkat" && strings.HasSuffix(e.Path2, ".bundle")
	})
	if !ok {
		t.Fatal("no bundle linked in the trace")
	}
	read, ok := tr.First(func(e synctrace.Event) bool { return e.Call == "openat" && e.Path == last })
	if !ok {
		t.Fatalf("%s not opened in the trace", last)
	}
	if _, ok := tr.SyncedAfter(last, read.Line, link.Line); !ok {
		t.Errorf("the bundle is linked (line %d: %s) before the segment it read, %s, is fsynced", link.Line, link.Text, last)
	}
}

// TestExportSignsOnlyDurableChild is the traced child of
// TestExportSignsOnlyDurable.
func TestExportSignsOnlyDurableChild(t *testing.T) {
	dir := os.Getenv("EXPORT_SYNC_WAL")
	if dir == "" {
		t.Skip("child of TestExportSignsOnlyDurable")
	}
	ex := &Exporter{Sink: &FileSink{Dir: os.Getenv("EXPORT_SYNC_OUT")}, Signer: newSigner(t, 1)}
	if _, err := ex.Export(dir, testWriter, testStream, nil); err != nil {
		t.Fatal(err)
	}
}
