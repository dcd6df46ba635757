package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// Sink stores encoded bundles. name is Bundle.Name(): a relative,
// slash-separated path that sorts a chain's bundles in order. A Sink must
// have stored the bundle durably when WriteBundle returns nil.
type Sink interface {
	WriteBundle(name string, data []byte) error
}

// FileSink stores each bundle as one file Dir/name (name is BundleName:
// e(writerId)/e(stream)/<first>-<last>.bundle, escaped as a Keeper's
// checkpoints are, so each chain has a directory of its own, the one
// VerifyDir and VerifyDirTrusted take), mode 0600, written atomically:
// a temporary file in the same directory, fsync, a hard link to the name
// (never replacing a file, unlike a rename), fsync of the directory.
// Directories are created with mode 0700, and each new one's parent is
// fsynced. A bundle that already exists is not
// overwritten (ErrBundleExists), even one another writer creates while
// this one writes; nor is a bundle written whose seqs overlap those of a
// bundle of the chain there (ErrBundleExists naming that file: an export
// from a stale previous state), checked before the write, so two writers
// racing with different ranges are not excluded. Dir must be on a file system with hard links (every
// local Linux file system, NFS; not FAT or some network shares, where
// WriteBundle fails with the link's error and writes nothing). A Dir ""
// is refused (sdk.ErrConfig), not taken as the current directory: give
// "." for that.
//
// A crash between writing the temporary file and removing it leaves a
// ".tmp-" file, which no reader reads. The first WriteBundle of a
// FileSink into a chain directory removes those there an hour old or
// more (TempStats: a temporary file another writer is writing now is
// newer, and kept; other names and entries that are not regular files
// are never touched). A failure to remove one is counted, not returned.
type FileSink struct {
	Dir string

	// newest remembers each chain directory's newest bundle as of the
	// directory's modification time, so that Prev, which Auto calls before
	// every export, reads the directory only when someone else changed it
	// (listing it each time made a long run quadratic).
	mu     sync.Mutex
	newest map[string]newestBundle
	swept  map[string]bool      // chain directories swept of stale temporary files
	temps  checkpoint.TempStats // what the sweeps found
}

// TempStats is checkpoint.TempStats: the stale temporary files a writer
// removed from the directories it writes.
type TempStats = checkpoint.TempStats

// TempStats returns what the sink's sweeps of its chain directories for
// stale temporary files found so far.
func (s *FileSink) TempStats() TempStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.temps
}

// sweep removes the stale temporary files of the chain directory dir, the
// first time the sink writes there.
func (s *FileSink) sweep(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.swept[dir] {
		return
	}
	if s.swept == nil {
		s.swept = map[string]bool{}
	}
	s.swept[dir] = true
	removed, failed, err := fsutil.SweepStaleTemps(dir, time.Now())
	s.temps.Removed += removed
	s.temps.Failed += failed
	if err != nil {
		s.temps.Err = fmt.Errorf("export: %w", err)
	}
}

type newestBundle struct {
	mtime time.Time
	state *State
}

// WriteBundle writes one bundle file.
func (s *FileSink) WriteBundle(name string, data []byte) error {
	path, err := s.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := fsutil.MkdirAll(dir); err != nil {
		return err
	}
	s.sweep(dir)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrBundleExists, path)
	}
	if other, err := s.overlapping(dir, filepath.Base(path)); err != nil {
		return err
	} else if other != "" {
		return fmt.Errorf("%w: %s holds records of %s", ErrBundleExists, other, path)
	}
	before, _ := os.Stat(dir)
	// WriteFileNew, not a rename: a bundle another writer put there since
	// the check above (ronaudit export beside a running Auto) is evidence
	// already handed out, and is not replaced.
	if err := fsutil.WriteFileNew(dir, filepath.Base(path), data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrBundleExists, path)
		}
		return err
	}
	// If what Prev knew was still the directory's state just before, this
	// bundle is now its newest, provided it comes after the newest known
	// (Auto writes in seq order; a bundle written back before the newest,
	// with ExportTree, is not the newest, and remembered as such it would
	// make Prev go back, and the overlap check pass a bundle overlapping
	// the newest).
	s.mu.Lock()
	defer s.mu.Unlock()
	known, ok := s.newest[dir]
	after, err := os.Stat(dir)
	b, perr := Parse(data)
	if !ok || before == nil || err != nil || perr != nil || !known.mtime.Equal(before.ModTime()) ||
		known.state != nil && b.PrevSize < known.state.Size {
		delete(s.newest, dir)
		return nil
	}
	s.newest[dir] = newestBundle{mtime: after.ModTime(), state: b.State()}
	return nil
}

// overlapping returns the path of a bundle in dir that holds records of
// the bundle named base, "" if none (or base is not a bundle name): an
// export from a stale previous state (the same records twice, or a range
// overlapping the last one) would leave a directory no verifier reads as
// a sequence. The newest bundle Prev or WriteBundle saw answers without a
// listing while the directory is unchanged.
func (s *FileSink) overlapping(dir, base string) (string, error) {
	first, last, ok := parseBundleName(base)
	if !ok {
		return "", nil
	}
	if fi, err := os.Stat(dir); err == nil {
		s.mu.Lock()
		known, ok := s.newest[dir]
		s.mu.Unlock()
		if ok && known.mtime.Equal(fi.ModTime()) && (known.state == nil || uint64(known.state.Size) < first) {
			return "", nil
		}
	}
	paths, err := ListDir(dir)
	if err != nil {
		return "", err
	}
	for _, p := range paths {
		if f, l, ok := parseBundleName(filepath.Base(p)); ok && f <= last && l >= first {
			return p, nil
		}
	}
	return "", nil
}

// parseBundleName returns the seqs of a file name BundleName gives for a
// bundle: <first>-<last>.bundle, each seq in exactly 20 ASCII decimal
// digits, 1 <= first <= last < 2^63 (FORMAT.md, "Files"). Every other
// name is refused, so ok says the name is one the format produces.
func parseBundleName(base string) (first, last uint64, ok bool) {
	a, b, ok := strings.Cut(strings.TrimSuffix(base, ".bundle"), "-")
	if !ok || len(a) != 20 || len(b) != 20 || !strings.HasSuffix(base, ".bundle") || !allDigits(a) || !allDigits(b) {
		return 0, 0, false
	}
	first, err1 := strconv.ParseUint(a, 10, 64)
	last, err2 := strconv.ParseUint(b, 10, 64)
	return first, last, err1 == nil && err2 == nil && first >= 1 && first <= last && last < 1<<63
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// path maps a bundle name to a file path under Dir, refusing names that
// would leave it.
func (s *FileSink) path(name string) (string, error) {
	if s.Dir == "" {
		// Not the current directory: an unset setting would scatter
		// bundles wherever the process runs (as wal.Open and
		// checkpoint.NewKeeper refuse "").
		return "", fmt.Errorf(`%w: FileSink.Dir is "" (give "." for the current directory)`, sdk.ErrConfig)
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, `\`+"\x00") {
			return "", fmt.Errorf("export: bundle name %q cannot be a file path", name)
		}
	}
	return filepath.Join(append([]string{s.Dir}, parts...)...), nil
}

// ErrBundleExists: FileSink does not overwrite a bundle.
var ErrBundleExists = errors.New("export: bundle exists")

// chainPath is the directory of chain origin's bundles in the sink: an
// origin that names no chain (ParseOrigin) has none, and neither has a
// sink without a Dir (path).
func (s *FileSink) chainPath(origin string) (string, error) {
	if _, _, err := checkpoint.ParseOrigin(origin); err != nil {
		return "", err
	}
	return s.path(chainDir(origin))
}

// Bundles returns the paths of the bundle files of chain origin in the
// sink, in order (oldest first). A *.bundle file there whose name is not a
// bundle name fails it (ListDir: ErrBundleName).
func (s *FileSink) Bundles(origin string) ([]string, error) {
	dir, err := s.chainPath(origin)
	if err != nil {
		return nil, err
	}
	return ListDir(dir)
}

// Latest returns the newest bundle of chain origin in the sink, parsed
// (not verified), or nil if there is none. A *.bundle file there whose
// name is not a bundle name fails it (ListDir: ErrBundleName), rather
// than passing for the newest bundle when it sorts last.
func (s *FileSink) Latest(origin string) (*Bundle, error) {
	paths, err := s.Bundles(origin)
	if err != nil || len(paths) == 0 {
		return nil, err
	}
	data, err := ReadFile(paths[len(paths)-1])
	if err != nil {
		return nil, err
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paths[len(paths)-1], err)
	}
	return b, nil
}

// Prev returns the state of the newest bundle of chain (writer, stream)
// in the sink, or nil when it has none (no chain directory; one that is a
// symbolic link to nothing is an error, as in ListDir): the Auto.Prev of
// an Auto that writes to this sink.
//
// It reads the chain's directory only when its modification time differs
// from what the sink last saw (after its own writes too): a bundle another
// process writes is followed, unless the file system's timestamps are too
// coarse to tell two writes apart.
func (s *FileSink) Prev(writer, stream string) (*State, error) {
	origin := checkpoint.Origin(writer, stream)
	dir, err := s.chainPath(origin)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if os.IsNotExist(err) {
		return nil, fsutil.BrokenLink(dir)
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	known, ok := s.newest[dir]
	s.mu.Unlock()
	if ok && known.mtime.Equal(fi.ModTime()) {
		return known.state, nil
	}
	b, err := s.Latest(origin)
	if err != nil {
		return nil, err
	}
	var st *State
	if b != nil {
		st = b.State()
	}
	s.mu.Lock()
	if s.newest == nil {
		s.newest = map[string]newestBundle{}
	}
	s.newest[dir] = newestBundle{mtime: fi.ModTime(), state: st} // as of fi: a later change re-reads
	s.mu.Unlock()
	return st, nil
}

// ListDir returns the paths of the *.bundle files directly in dir, sorted
// by name (a chain's order for FileSink names); none if dir does not
// exist (a dir that is a symbolic link to nothing, or under one, is a
// *checkpoint.BrokenLinkError naming the link: its bundles are somewhere,
// unseen). Names beginning with "." (a writer's temporary files) and
// subdirectories are not bundles, but a subdirectory at a bundle's name
// is listed, for ReadFile to refuse (ReasonFormat: not a regular file),
// as a segment or a kept checkpoint that is a directory is refused: left
// out, it would pass for a missing bundle (verifiers), or for no newest
// bundle at all (Latest, whose writer then could not write there, with
// no verdict said). A *.bundle name that is not one
// BundleName gives (<first>-<last>.bundle, 20 decimal digits each,
// 1 <= first <= last < 2^63) is refused, not skipped: it is an *Error
// (ReasonFormat, Bundle the file name, wrapping ErrBundleName), since a
// stray "zzz.bundle" would otherwise sort last and pass for the newest
// bundle, and an audit directory holding files that look like bundles
// but are none of the format's is suspect. Latest, Prev, Bundles,
// WriteBundle's overlap check, VerifyDir and VerifyDirTrusted all list
// through it. A dir "" is refused (sdk.ErrConfig), not taken for a
// directory with no bundles: give "." for the current directory.
func ListDir(dir string) ([]string, error) {
	if dir == "" {
		// An unset setting: "no bundles in " would read as a verdict
		// (truncated) on a directory nobody named, where FileSink,
		// wal.Open and checkpoint.NewKeeper refuse "".
		return nil, fmt.Errorf(`%w: export: the bundle directory is "" (give "." for the current directory)`, sdk.ErrConfig)
	}
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, fsutil.BrokenLink(dir)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".bundle") || strings.HasPrefix(n, ".") {
			continue
		}
		_, _, ok := parseBundleName(n)
		if e.IsDir() && !ok {
			continue
		}
		if !ok {
			return nil, &Error{Reason: ReasonFormat, Bundle: n, Detail: "in " + dir, Err: ErrBundleName}
		}
		out = append(out, filepath.Join(dir, n))
	}
	slices.Sort(out)
	return out, nil
}

// MaxFileSize bounds the bundle files ReadFile reads: a bundle is parsed in
// memory, and 1 GiB is far above the default export (10,000 records of at
// most 4 KiB).
const MaxFileSize = 1 << 30

// ReadFile reads a bundle file: a regular file (a named pipe would block
// the reader, a device never end) of at most MaxFileSize bytes, refused
// before it is read otherwise: an *Error of ReasonFormat (ErrFormat)
// whose Err is the refusal, naming the file, so that errors.Is and
// errors.As reach the cause as for every other *Error of the package.
func ReadFile(path string) ([]byte, error) {
	data, _, err := fsutil.ReadRegular(path, MaxFileSize)
	var nr *fsutil.NotRegularError
	var tl *fsutil.TooLargeError
	if errors.As(err, &nr) || errors.As(err, &tl) {
		return nil, &Error{Reason: ReasonFormat, Err: err}
	}
	return data, err
}
