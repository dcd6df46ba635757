package node_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestOpenRefusedLeavesDir: an Open the WAL refuses leaves the directory
// as it found it. The Keeper is made first (the Log replays through it),
// and NewKeeper creates dir/checkpoints, which Open removes again: else
// a directory of mode 0755 (wal.ErrDirPermissions) would be left with an
// empty checkpoints in it, and a path that did not exist, refused for its
// WAL options (wal.ErrConfig), left created, with checkpoints in it.
func TestOpenRefusedLeavesDir(t *testing.T) {
	signer := testSigner(t)

	open := filepath.Join(t.TempDir(), "wal")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if n, _, err := node.Open(open, signer, node.Options{}); !errors.Is(err, wal.ErrDirPermissions) || n != nil {
		t.Fatalf("Open of a directory of mode 0755: %v, %v; want wal.ErrDirPermissions", n, err)
	}
	if ents, err := os.ReadDir(open); err != nil || len(ents) != 0 {
		t.Errorf("after Open of an empty directory of mode 0755 was refused, it holds %v (%v); want it empty, as it was", ents, err)
	}

	parent := t.TempDir()
	fresh := filepath.Join(parent, "a", "wal")
	bad := node.Options{Durable: sdk.DurableOptions{WAL: wal.Options{SegmentBytes: 1}}}
	if n, _, err := node.Open(fresh, signer, bad); !errors.Is(err, wal.ErrConfig) || n != nil {
		t.Fatalf("Open with a SegmentBytes below the minimum: %v, %v; want wal.ErrConfig", n, err)
	}
	if ents, err := os.ReadDir(parent); err != nil || len(ents) != 0 {
		t.Errorf("after Open of %s was refused, %s holds %v (%v); want nothing created", fresh, parent, ents, err)
	}

	// A directory refused holds what it held: an Open refused for its
	// lock (another Node holds it) removes nothing of the holder's.
	n, _, err := node.Open(fresh, signer, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := node.Open(fresh, signer, node.Options{}); !errors.Is(err, wal.ErrLocked) {
		t.Fatalf("a second Open: %v; want wal.ErrLocked", err)
	}
	if fi, err := os.Stat(filepath.Join(fresh, "checkpoints")); err != nil || !fi.IsDir() {
		t.Errorf("after a second Open was refused, the holder's checkpoints directory: %v, %v", fi, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

}

// TestOpenRefusesDirNotALog: a directory that holds other files and none
// of a log's (the private key's, say) was made a log, the key beside it.
// The WAL refuses it (wal.ErrConfig) after the Keeper made
// dir/checkpoints, which Open removes again: the directory holds what it
// held.
func TestOpenRefusesDirNotALog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id.key"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, _, err := node.Open(dir, testSigner(t), node.Options{}); !errors.Is(err, wal.ErrConfig) || n != nil {
		if n != nil {
			n.Close()
		}
		t.Fatalf("Open of a directory holding only id.key: %v, %v; want wal.ErrConfig", n, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || ents[0].Name() != "id.key" {
		t.Errorf("after Open of a directory holding id.key was refused, it holds %v (%v); want id.key only", ents, err)
	}
}

// TestOpenRefusesExportDirFile: an ExportDir that is a file (or under
// one) can never be made; Open refuses it before it touches dir, so a
// refused Open leaves dir as it found it (here: not there).
func TestOpenRefusesExportDirFile(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "afile")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, exports := range []string{file, filepath.Join(file, "sub")} {
		dir := filepath.Join(root, "wal")
		n, _, err := node.Open(dir, testSigner(t), node.Options{ExportDir: exports})
		if err == nil {
			n.Close()
			t.Fatalf("Open with ExportDir %s: opened; want an error naming it", exports)
		}
		if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), exports) {
			t.Errorf("Open with ExportDir %s: %v; want sdk.ErrConfig naming it", exports, err)
		}
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after Open with ExportDir %s was refused, %s is there (%v); want it not made", exports, dir, err)
		}
	}
}

// TestOpenFileNotDir: a dir that is a file is refused as such, naming it,
// and left as it was. The Keeper, made first, failed creating
// dir/checkpoints and said so: "checkpoint: sign: creating the checkpoint
// directory X/checkpoints: mkdir X: not a directory", a checkpoint that
// nobody asked to sign, for what is a wrong path ("ronaudit append --wal
// records.jsonl").
func TestOpenFileNotDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(file, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, _, err := node.Open(file, testSigner(t), node.Options{})
	if err == nil {
		n.Close()
		t.Fatal("Open of a regular file: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, file+": not a directory") || strings.Contains(msg, "checkpoint") {
		t.Errorf("Open of a regular file: %v; want it named, not a directory, and no word of a checkpoint", err)
	}
	if !errors.Is(err, sdk.ErrConfig) || !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("Open of a regular file: %v; want sdk.ErrConfig (as for an export directory that is a file) wrapping ENOTDIR", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "{}\n" {
		t.Errorf("the file was changed: %q, %v", b, err)
	}
}
