package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rustyonions/ron-audit-go/internal/names"
)

// BrokenLinkError reports a path reached through a symbolic link to
// nothing: a volume unmounted, a target moved or removed. Opening such a
// path fails with fs.ErrNotExist, as if nothing were there; a reader that
// takes a missing directory for an empty one (no checkpoints kept, no
// bundles yet) must not take this one so, since what it should hold is
// somewhere it cannot see. It does not match fs.ErrNotExist.
type BrokenLinkError struct {
	Path   string // the symbolic link
	Target string // what it points to, as it says it
}

// Error says the link and its target on one line, each quoted when it
// is not printable (names.Path): both are names of whoever made the
// tree (a directory given to a verifier), and a host logs the message
// as one line.
func (e *BrokenLinkError) Error() string {
	return names.Path(e.Path) + " is a symbolic link to " + names.Path(e.Target) + ", which does not exist"
}

// BrokenLink returns a *BrokenLinkError if path, or a directory above
// it, is a symbolic link (or a chain of them) to nothing; nil if path is
// simply not there, or is there. A caller that found fs.ErrNotExist at
// path asks it before taking path for absent.
func BrokenLink(path string) error {
	for p := filepath.Clean(path); ; {
		fi, err := os.Lstat(p)
		if err == nil {
			if fi.Mode()&fs.ModeSymlink == 0 {
				return nil // there, and no link: what is missing is below it
			}
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				target, _ := os.Readlink(p)
				return &BrokenLinkError{Path: p, Target: target}
			}
			return nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}
