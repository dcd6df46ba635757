//go:build unix

package checkpoint

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestHistoryBrokenLinks: a chain's directory in the history (the
// writer's or the stream's) that is a symbolic link to nothing, or a
// loop of links, holds checkpoints nobody can see: it is not a chain
// without history. HistoryChains and HistoryPaths fail naming it (a
// verifier listing through them would have left the chain unchecked), and
// a Keeper on the history refuses a log rolled back behind its
// checkpoints (CheckReplay) instead of passing it and appending to it. So does one whose own directory is such a link.
func TestHistoryBrokenLinks(t *testing.T) {
	const writer, stream = "svc@inst-1", "caps"
	signer := keeperSigner(t)
	for _, level := range []string{"writer", "stream"} {
		for _, kind := range []string{"dangling", "loop"} {
			t.Run(level+"/"+kind, func(t *testing.T) {
				cpDir, _ := tenRecordHistory(t, signer)
				link := filepath.Join(cpDir, dirName(writer))
				if level == "stream" {
					link = filepath.Join(link, dirName(stream))
				}
				if err := os.Rename(link, filepath.Join(t.TempDir(), "moved")); err != nil {
					t.Fatal(err)
				}
				target := filepath.Join(t.TempDir(), "gone")
				if kind == "loop" {
					target = link
				}
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
				named := func(what string, err error) {
					t.Helper()
					if err == nil || !strings.Contains(err.Error(), link) || errors.Is(err, fs.ErrNotExist) {
						t.Fatalf("%s: %v, want an error naming %s (and not 'does not exist')", what, err, link)
					}
				}
				chains, err := HistoryChains(cpDir)
				named("HistoryChains", err)
				if chains != nil {
					t.Fatalf("HistoryChains: %v with its error", chains)
				}
				_, err = HistoryPaths(cpDir, writer, stream)
				named("HistoryPaths", err)

				// The log rolled back to 3 records (no checkpoint due on
				// the way): refused.
				k2, err := NewKeeper(cpDir, signer, KeeperOptions{Every: 5, Interval: -1})
				if err != nil {
					t.Fatal(err)
				}
				l2, _ := sdk.New(sdk.Config{Signer: signer, Observer: k2})
				keeperAppend(t, l2, 0, 3)
				named("CheckReplay", k2.CheckReplay())
			})
		}
	}

	base := t.TempDir()
	link := filepath.Join(base, "cp")
	if err := os.Symlink(filepath.Join(base, "gone"), link); err != nil {
		t.Fatal(err)
	}
	var bl *BrokenLinkError
	if _, err := NewKeeper(link, signer, KeeperOptions{}); !errors.As(err, &bl) || bl.Path != link {
		t.Fatalf("NewKeeper on a link to nothing: %v", err)
	}
	if _, err := HistoryChains(link); !errors.As(err, &bl) || bl.Path != link {
		t.Fatalf("HistoryChains of a link to nothing: %v", err)
	}
}
