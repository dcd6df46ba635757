package checkpoint

// Tests that pin promises of the godoc that no other test checked.

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestErrorsOutsideCheckpoints: the errors that are not about a checkpoint
// or a proof are what the package doc says they are: a file that cannot
// be read is its *fs.PathError (not an *Error: there is no Reason for it),
// a record that fails VerifyChain is sdk's *VerifyError, and an iterator
// that fails is its own error, wrapped.
func TestErrorsOutsideCheckpoints(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.note")
	_, err := ReadNote(missing)
	var pe *fs.PathError
	var ce *Error
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || errors.As(err, &ce) {
		t.Errorf("ReadNote of a missing file: %T %v", err, err)
	}

	l, err := sdk.New(sdk.Config{Signer: keeperSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	recs, err := l.Records("svc@inst-1", "caps", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	recs[1].Hash[0] ^= 1
	_, err = VerifyChain(sdk.NewSliceIterator(recs), l.Keys(), nil, nil, sdk.VerifyOptions{})
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, sdk.ErrHashMismatch) || errors.As(err, &ce) {
		t.Errorf("VerifyChain of a tampered record: %T %v", err, err)
	}

	// An iterator that fails after two records: its own error, wrapped,
	// neither a verdict on the records nor a checkpoint's.
	readErr := errors.New("disk read failed")
	it := &failingIter{SliceIterator: sdk.NewSliceIterator(recs[:2]), err: readErr}
	recs[1].Hash[0] ^= 1
	_, err = VerifyChain(it, l.Keys(), nil, nil, sdk.VerifyOptions{})
	if !errors.Is(err, readErr) || errors.As(err, &ve) || errors.As(err, &ce) {
		t.Errorf("VerifyChain over a failing iterator: %T %v, want %v wrapped", err, err, readErr)
	}
}

// failingIter reads its records, then fails with err.
type failingIter struct {
	*sdk.SliceIterator
	err error
}

func (it *failingIter) Err() error { return it.err }

// TestKeeperOptionsAndEmpty: NewKeeper creates its directory with mode
// 0700 and refuses a negative Every with an *Error; a negative Interval
// turns the time trigger off; Checkpoint of a chain with no durable record
// is nil; the history helpers find nothing in a directory that is not
// there.
func TestKeeperOptionsAndEmpty(t *testing.T) {
	old := syscall.Umask(0) // the mode must not come from the umask
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "a", "cp")
	if _, err := NewKeeper(dir, keeperSigner(t), KeeperOptions{Every: -1}); !errors.As(err, new(*Error)) {
		t.Fatalf("Every -1: %v, want an *Error", err)
	}
	now := time.Unix(1764201600, 0)
	k, err := NewKeeper(dir, keeperSigner(t), KeeperOptions{Every: 1000, Interval: -1, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("checkpoint dir: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if note, err := k.Checkpoint("svc@inst-1", "caps"); note != nil || err != nil {
		t.Fatalf("Checkpoint of a chain with no record: %q, %v", note, err)
	}
	l, err := sdk.New(sdk.Config{Signer: keeperSigner(t), Observer: k})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	now = now.Add(24 * time.Hour)
	keeperAppend(t, l, 3, 1)
	if err := k.Tick(); err != nil {
		t.Fatal(err)
	}
	if paths, err := k.History("svc@inst-1", "caps"); len(paths) != 0 || err != nil {
		t.Fatalf("Interval -1 still checkpointed: %v, %v", paths, err)
	}
	if note, err := k.Checkpoint("svc@inst-1", "caps"); note == nil || err != nil {
		t.Fatalf("Checkpoint: %q, %v", note, err)
	}

	gone := filepath.Join(t.TempDir(), "gone")
	if chains, err := HistoryChains(gone); chains != nil || err != nil {
		t.Errorf("HistoryChains of a missing dir: %v, %v", chains, err)
	}
	if paths, err := HistoryPaths(gone, "w", "s"); paths != nil || err != nil {
		t.Errorf("HistoryPaths of a missing dir: %v, %v", paths, err)
	}
	if notes, err := LoadHistory(gone, "w", "s"); notes != nil || err != nil {
		t.Errorf("LoadHistory of a missing dir: %v, %v", notes, err)
	}
}

// TestHistoryNamesAreTwentyDigits: a kept checkpoint is named by its size
// in 20 decimal digits (sdk/wal/FORMAT.md section 1); a 20-character name
// with a sign is none, not the checkpoint of the size it parses to (which
// would send the verifier to another file, or to one that is not there),
// and nor are 20 digits of no int64 size,
// as the foreign readers list them (testing/interop/python, ronaudit_wal).
func TestHistoryNamesAreTwentyDigits(t *testing.T) {
	dir := t.TempDir()
	chain := filepath.Join(dir, "w", "s")
	if err := os.MkdirAll(chain, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"00000000000000000003.note", "+0000000000000000007.note", "-0000000000000000003.note", "0000000000000000003.note", "0x000000000000000003.note", "09223372036854775808.note", "99999999999999999999.note"} {
		if err := os.WriteFile(filepath.Join(chain, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := HistoryPaths(dir, "w", "s")
	if want := []string{filepath.Join(chain, "00000000000000000003.note")}; err != nil || !slices.Equal(paths, want) {
		t.Errorf("HistoryPaths: %q, %v; want %q", paths, err, want)
	}
	if err := os.Remove(filepath.Join(chain, "00000000000000000003.note")); err != nil {
		t.Fatal(err)
	}
	if chains, err := HistoryChains(dir); len(chains) != 0 || err != nil {
		t.Errorf("HistoryChains with no checkpoint kept: %v, %v", chains, err)
	}
}

// TestNewKeeperNilSigner: a Keeper with no signer, made without error,
// would panic at its first checkpoint (a nil pointer in Sign), inside
// the Log's Durable or Close, taking the host down. NewKeeper
// refuses it as sdk.New and node.Open refuse a nil Signer: an *Error
// matching ErrSign and sdk.ErrConfig, with nothing created on disk.
func TestNewKeeperNilSigner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "checkpoints")
	k, err := NewKeeper(dir, nil, KeeperOptions{})
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrSign) || !errors.Is(err, sdk.ErrConfig) || k != nil {
		t.Fatalf("NewKeeper(dir, nil signer): %v, %v; want an *Error matching ErrSign and sdk.ErrConfig", k, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewKeeper with no signer created %s: %v", dir, err)
	}
}

// TestDocListsEveryReason: the package doc's list of an *Error's Reasons
// is every Reason constant of the package, each with its sentinel (so a
// reason added is documented, and one documented is real).
func TestDocListsEveryReason(t *testing.T) {
	fset := token.NewFileSet()
	consts := map[string]bool{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok {
						r, _ := strconv.Unquote(lit.Value)
						consts[r] = true
					}
				}
			}
		}
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(strings.ReplaceAll(string(doc), "//", "")), " ")
	_, list, ok := strings.Cut(flat, "whose Reason (")
	if !ok {
		t.Fatal("doc.go no longer says \"whose Reason (...)\": the pattern of this test is stale")
	}
	list, _, _ = strings.Cut(list, ")")
	listed := map[string]bool{}
	for _, r := range strings.Split(list, ", ") {
		listed[r] = true
		if !consts[r] {
			t.Errorf("doc.go lists the reason %q, which is no Reason constant", r)
		}
	}
	for r := range consts {
		if !listed[r] {
			t.Errorf("Reason %q is not in doc.go's list of reasons", r)
		}
		if reasonErrs[Reason(r)] == nil {
			t.Errorf("Reason %q has no sentinel for errors.Is", r)
		}
	}
	if len(consts) == 0 {
		t.Fatal("no Reason constants found")
	}
}
