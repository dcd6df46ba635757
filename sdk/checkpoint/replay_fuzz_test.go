package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/dirtest"
	"github.com/rustyonions/ron-audit-go/internal/fuzzchoice"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// replayFuzzBase is what a closed log and its Keeper left: chain w/a of
// 10 records (checkpoints at 4, 8 and, at Close, 10) and w/b of 6 (4,
// 6), as relative path -> bytes, the log's lock left out.
type replayFuzzBase struct {
	files map[string][]byte
	notes []string // the relative paths of the checkpoints, sorted
	heads map[string]int64
}

func replayAppend(tb testing.TB, l *sdk.Log, stream string, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		r := canonical.AuditRecord{WriterID: "w", Stream: stream, TsMs: uint64(i + 1), Reason: stream + strconv.Itoa(i)}
		if _, err := l.Append(&r); err != nil {
			tb.Fatal(err)
		}
	}
}

func newReplayFuzzBase(tb testing.TB, signer sdk.Signer) *replayFuzzBase {
	dir := tb.TempDir()
	k, err := NewKeeper(filepath.Join(dir, "checkpoints"), signer, KeeperOptions{Every: 4, Interval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	replayAppend(tb, l, "a", 0, 10)
	replayAppend(tb, l, "b", 0, 6)
	if err := errors.Join(l.Close(), k.Close()); err != nil {
		tb.Fatal(err)
	}
	base := &replayFuzzBase{files: dirtest.Read(tb, dir), heads: map[string]int64{"a": 10, "b": 6}}
	for rel := range base.files {
		if filepath.Ext(rel) == ".note" {
			base.notes = append(base.notes, rel)
		}
	}
	slices.Sort(base.notes)
	if len(base.notes) != 5 {
		tb.Fatalf("base: checkpoints %v; want 4, 8, 10 of w/a and 4, 6 of w/b", base.notes)
	}
	return base
}

// FuzzKeeperReplay: a Keeper reopened on its checkpoint directory as the
// input leaves it (checkpoints deleted, damaged, cut, copied under
// another size or into another chain's directory, files and directories
// of any name and content added, symbolic links to another chain's
// directory or to nothing), the log untouched, through
// sdk.OpenDurable's replay, then 3 more records of w/a and Close. It
// never panics; the reopen fails only with the errors the Keeper's doc
// names (a *Error, the file system's *fs.PathError or BrokenLinkError);
// and when it succeeds, every checkpoint the Keeper holds as a chain's
// newest (Newest, what export.Auto catches up with) is of a chain of the
// log, at most its records and with the root of its first that many: a
// Keeper never vouches for records that are not there. A chain whose
// newest checkpoint carries a signature line of the Keeper's key with
// its key name or hash damaged (damagedOwn: testdata
// a-newest-signer-name-damaged, "ron-audit/w" flipped to "ron-aFdit/w")
// fails the reopen with ErrBadSignature. One whose newest checkpoint
// bears no signature by the Keeper's key, nor such a line (here: a
// signature line damaged past what damagedOwn recognises, which reads
// as another key's) reads as one another key holds (see Keeper):
// OpenDurable refuses appends to it (sdk.ErrConfig) and the Keeper
// signs nothing more of it, leaving that checkpoint its newest
// (38f8eb357f20b561, b-6-deleted-4-signer-damaged) for the offline
// verifier to judge. The Keeper's Close, when nil, leaves each other
// chain's newest checkpoint at the chain's last record, its signature
// by the Keeper's key holding.
//
// The input is a byte per choice: per change (up to 4), the operation
// (c%7: delete, flip a byte, cut, copy to another size and chain, write
// the input's bytes to a name of the input's, make a directory, make a
// symbolic link), a checkpoint (c%5), two bytes of position, a chain
// directory (c%5: w/a, w/b, w/c, %77/a, the root) and a size (c%16).
// Seeds: testdata/fuzz/FuzzKeeperReplay.
func FuzzKeeperReplay(f *testing.F) {
	signer := testSigner(f, "fuzz keeper replay")
	base := newReplayFuzzBase(f, signer)
	f.Add([]byte{})
	for op := range 7 {
		for n := range 5 {
			f.Add([]byte{byte(op), byte(n), 0, 40, byte(n), 12})
		}
	}
	f.Add([]byte{3, 2, 0, 0, 1, 10}) // w/a's 10 as w/b's 10
	f.Add([]byte{0, 2, 0, 0, 0, 0})  // w/a's newest deleted
	work := f.TempDir()
	execs := 0
	vs := KeyVerifiers(signer.Public())
	chainDirs := []string{"w/a", "w/b", "w/c", "%77/a", "."}
	f.Fuzz(func(t *testing.T, in []byte) {
		next := fuzzchoice.New(in).Next
		execs++
		root := filepath.Join(work, strconv.Itoa(execs))
		defer os.RemoveAll(root)
		dirtest.Write(t, root, base.files)
		kdir := filepath.Join(root, "checkpoints")
		for range 4 {
			if len(in) == 0 {
				break
			}
			op, ni, hi, lo := next()%7, next()%len(base.notes), next(), next()
			src := filepath.Join(root, base.notes[ni])
			cdir := filepath.Join(kdir, chainDirs[next()%len(chainDirs)])
			name := filepath.Join(cdir, noteFile(int64(next()%16)))
			_ = os.MkdirAll(cdir, 0o700)
			switch op {
			case 0:
				os.Remove(src)
			case 1, 2:
				b, err := os.ReadFile(src)
				if err != nil || len(b) == 0 {
					continue
				}
				if op == 1 {
					b[(hi<<8|lo)%len(b)] ^= byte(1 + hi%255)
				} else {
					b = b[:(hi<<8|lo)%len(b)]
				}
				if err := os.WriteFile(src, b, 0o600); err != nil {
					t.Fatal(err)
				}
			case 3:
				_ = os.WriteFile(name, base.files[base.notes[ni]], 0o600)
			case 4:
				if hi%2 == 1 { // a name of the input's own
					n := string(bytes.Map(func(r rune) rune {
						if r == '/' || r == 0 {
							return '_'
						}
						return r
					}, in[:min(len(in), lo%24+1)]))
					if n == "." || n == ".." {
						continue
					}
					name = filepath.Join(cdir, n)
				}
				_ = os.WriteFile(name, bytes.Clone(in), 0o600)
			case 5:
				_ = os.Mkdir(name, 0o700)
			case 6:
				// The chain directory replaced by a link: to another
				// chain's directory, or to nothing.
				if cdir == kdir {
					continue
				}
				if err := os.RemoveAll(cdir); err != nil {
					t.Fatal(err)
				}
				target := filepath.Join(kdir, chainDirs[hi%len(chainDirs)])
				if lo%2 == 1 {
					target = filepath.Join(root, "nowhere")
				}
				_ = os.Symlink(target, cdir)
			}
		}

		// The chains that read as another key's (see the doc above), with
		// the size of their newest checkpoint, and those whose newest
		// checkpoint is the Keeper's key's, damaged.
		foreign := map[string]int64{}
		damaged := ""
		for _, stream := range []string{"a", "b"} {
			paths, _ := HistoryPaths(kdir, "w", stream)
			if len(paths) == 0 {
				continue
			}
			msg, err := ReadNote(paths[len(paths)-1])
			if err != nil {
				continue
			}
			if _, err := Open(msg, vs); errors.Is(err, ErrUnknownKey) {
				if damagedOwn(msg, []ed25519.PublicKey{signer.Public()}, KeyName("w")) != nil {
					damaged = paths[len(paths)-1]
					continue
				}
				text, _, _ := bytes.Cut(msg, []byte("\n\n"))
				cp, err := parseText(string(text) + "\n")
				if err != nil {
					t.Fatalf("w/%s: newest checkpoint %s: Open %v, parseText %v", stream, paths[len(paths)-1], ErrUnknownKey, err)
				}
				foreign[stream] = cp.Size
			}
		}

		k, err := NewKeeper(kdir, signer, KeeperOptions{Every: 4, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(filepath.Join(root, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		if err != nil {
			var e *Error
			var pe *fs.PathError
			var bl *BrokenLinkError
			if !errors.As(err, &e) && !errors.As(err, &pe) && !errors.As(err, &bl) {
				t.Fatalf("OpenDurable: %v (%T): none of the errors the Keeper's doc names", err, err)
			}
			return
		}
		if damaged != "" {
			t.Fatalf("OpenDurable succeeded; the newest checkpoint %s is the Keeper's key's with its signature line damaged", damaged)
		}
		for _, cp := range k.Newest() {
			n, ok := base.heads[cp.Stream]
			if cp.WriterID != "w" || !ok {
				t.Fatalf("the Keeper holds a newest checkpoint of %s, a chain the log does not have", cp.Origin)
			}
			if cp.Size > n {
				t.Fatalf("the Keeper holds a checkpoint of %s at %d; the log has %d records", cp.Origin, cp.Size, n)
			}
			if root, err := k.Tree(cp.WriterID, cp.Stream).RootAt(cp.Size); err != nil || root != cp.Root {
				t.Fatalf("the Keeper holds a checkpoint of %s at %d whose root is not the log's: %v", cp.Origin, cp.Size, err)
			}
		}
		heads := map[string]int64{"a": 13, "b": 6}
		for stream, size := range foreign {
			heads[stream] = size
		}
		r := canonical.AuditRecord{WriterID: "w", Stream: "a", TsMs: 11, Reason: "a10"}
		_, err = l.Append(&r)
		_, fa := foreign["a"]
		switch {
		case err != nil && (!fa || !errors.Is(err, sdk.ErrConfig)):
			t.Fatalf("w/a refuses an append after the reopen: %v", err)
		case err == nil && fa:
			t.Fatalf("w/a takes an append after the reopen; its newest checkpoint bears no signature by the Keeper's key")
		case err == nil:
			replayAppend(t, l, "a", 11, 2)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := k.Close(); err != nil {
			return // a history the Keeper will not sign on (its Err says why)
		}
		for stream, n := range heads {
			paths, err := HistoryPaths(kdir, "w", stream)
			if err != nil || len(paths) == 0 {
				t.Fatalf("w/%s: Keeper.Close nil, checkpoints %v, %v", stream, paths, err)
			}
			msg, err := ReadNote(paths[len(paths)-1])
			if err != nil {
				t.Fatalf("w/%s: Keeper.Close nil, newest checkpoint %s: %v", stream, paths[len(paths)-1], err)
			}
			// Its signature by the Keeper's key holds, or it bears none by
			// that key: a chain that reads as another key's (foreign).
			if _, err := Open(msg, vs); err != nil && !(errors.Is(err, ErrUnknownKey) && foreign[stream] == n) {
				t.Fatalf("w/%s: Keeper.Close nil, newest checkpoint %s: %v", stream, paths[len(paths)-1], err)
			}
			text, _, _ := bytes.Cut(msg, []byte("\n\n"))
			cp, err := parseText(string(text) + "\n")
			if err != nil || cp.Size != n || cp.Origin != Origin("w", stream) {
				t.Fatalf("w/%s: Keeper.Close nil, newest checkpoint %s: %+v, %v; want one of all %d records", stream, paths[len(paths)-1], cp, err, n)
			}
			if root, err := k.Tree("w", stream).RootAt(n); err != nil || root != cp.Root {
				t.Fatalf("w/%s: Keeper.Close nil, newest checkpoint's root is not the log's: %v", stream, err)
			}
		}
	})
}
