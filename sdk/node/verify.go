package node

import (
	"cmp"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/internal/chaindir"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// Summary is what VerifyDir found in what a Node left that holds: the
// log and its kept checkpoints (checkpoint.VerifyDir's DirSummary:
// Records, Heads in (WriterID, Stream) order, Used, Unused) and, given an
// export directory, each chain's bundles.
type Summary struct {
	checkpoint.DirSummary
	// Exports has one entry per chain of the log, in Heads order, when
	// VerifyDir was given an export directory (nil otherwise).
	Exports []ChainExports
}

// ChainExports is what VerifyDir found of one chain's bundles.
type ChainExports struct {
	WriterID, Stream string
	// Dir is the chain's bundle directory, export.ChainDir(exportDir,
	// WriterID, Stream).
	Dir string
	// Bundles and Records: the bundles there hold records 1..Records,
	// which is the chain's records in the log.
	Bundles int
	Records int64
	// Checkpoint is the size of the chain's newest kept checkpoint, the
	// one the bundles were verified against (0: none kept).
	Checkpoint int64
}

// Failures of VerifyDir about a chain's exports that are neither a
// bundle's nor a checkpoint's (those are *export.Error and
// *checkpoint.Error), each inside an *ExportError naming the chain:
var (
	// ErrUnexported: the bundles reach the chain's newest kept
	// checkpoint, and the log holds records after it that no bundle
	// holds. A Node that was closed leaves none (Close checkpoints every
	// chain to its last record, then exports it); one that stopped
	// without Close does until it is opened and closed again. With the
	// newest checkpoint and the last bundle both deleted, this is what is
	// left to see: the log's records past what the exports hold.
	ErrUnexported = errors.New("node: records of the log are in no bundle")
	// ErrCheckpointMissing: the bundles end past the chain's newest kept
	// checkpoint. A Node's exporter writes the bundle of a checkpoint its
	// Keeper kept first, so the checkpoints kept with the log lost their
	// newest (or something else wrote bundles there).
	ErrCheckpointMissing = errors.New("node: the bundles end past the newest checkpoint kept with the log")
)

// ExportError is a failure of VerifyDir about the exports of chain
// (WriterID, Stream): Path is the bundle file concerned, else the chain's
// bundle directory. Err is an *export.Error (a bundle or sequence that
// fails; ReasonTruncated for bundles that stop short of the chain's
// newest kept checkpoint, or none at all, wrapping export.ErrNoBundles),
// a *checkpoint.Error (ReasonRollback: the bundles vouch for records the
// log does not hold, a chain the log has no record of included;
// ReasonFork: the log's last record is not the bundles'), ErrUnexported,
// ErrCheckpointMissing, or the file system's error (a directory that
// cannot be read: no verdict). errors.Is and errors.As see through it.
type ExportError struct {
	WriterID, Stream string
	Path             string
	Err              error
}

func (e *ExportError) Error() string {
	return "node: exports of " + names.Chain(e.WriterID, e.Stream) + ": " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ExportError) Unwrap() error { return e.Err }

// VerifyDir verifies, offline and with only public keys, what a Node left:
// the durable log in dir with the checkpoints kept in dir/checkpoints
// (checkpoint.VerifyDir, with opts), then, when exportDir is not "", the
// bundles a Node with Options.ExportDir exportDir wrote there, chain by
// chain: each chain's bundles (export.ChainDir) must verify as a sequence
// from seq 1 (export.VerifyDirTrusted) that
//
//   - reaches the chain's newest kept checkpoint that VerifyDir used and
//     agrees with it: a deleted last bundle, or a chain's bundle
//     directory deleted, is an export.ErrTruncated;
//   - ends no further than it (ErrCheckpointMissing), nor past the log's
//     records (checkpoint.ErrRollback), at the log's last record if there
//     (checkpoint.ErrFork if that record differs);
//   - and holds every record of the chain in the log (ErrUnexported).
//
// A chain directory under exportDir whose bundles are of a chain the log
// has no record of is checkpoint.ErrRollback: its bundles are signed
// evidence of records the log lost (a wrong export directory fails so
// too); bundles under exportDir that are no chain's (in a directory
// that is no chain's, or in exportDir or a writer's directory itself)
// are export.ErrFormat.
//
// The exports need a key: exportDir with pubs empty is sdk.ErrConfig.
// An exportDir that is not there (a mistyped path) is an error wrapping
// fs.ErrNotExist that names it (the *fs.PathError of looking at it), as
// one that cannot be looked at is that error: no verdict, and never a
// pass, for it is not an export directory that holds no bundles. Both
// are found before the log is read. Otherwise the first failure is
// returned: the log's (as from checkpoint.VerifyDir:
// a *sdk.DurableError or *wal.VersionError, a *checkpoint.DirError),
// else an *ExportError naming the chain and the file; else the
// checkpoint.DirError of ErrChainName that checkpoint.VerifyDir returns
// for a chain whose name is too long for a directory (it has no bundles
// either, and is not looked for in exportDir). The Summary is as far as
// VerifyDir got.
//
// A Node that stopped without Close (a crash) may have kept a checkpoint
// whose bundle it had not written yet, and records past its newest
// checkpoint: both fail here (ErrTruncated, ErrUnexported) until the Node
// is opened and closed again, which checkpoints and exports them. To
// verify the log alone, give exportDir "".
func VerifyDir(dir, exportDir string, pubs []ed25519.PublicKey, opts checkpoint.DirOptions) (Summary, error) {
	if exportDir != "" && len(pubs) == 0 {
		return Summary{}, fmt.Errorf("%w: node.VerifyDir %s: verifying the bundles in %s needs the signer's public key", sdk.ErrConfig, dir, exportDir)
	}
	if exportDir != "" {
		// Taken for an export directory holding no bundles, a mistyped
		// path failed every chain as truncated (a verdict on exports
		// nobody looked at), and passed a log without records.
		if _, err := os.Stat(exportDir); err != nil {
			return Summary{}, fmt.Errorf("node.VerifyDir %s: the export directory: %w", dir, err)
		}
	}
	ds, err := checkpoint.VerifyDir(dir, pubs, opts)
	sum := Summary{DirSummary: ds}
	// A chain no checkpoint can be kept for (a name too long for its
	// directory, sdk.MaxChainName) has no bundles either: the others'
	// are verified, and it is named last, as checkpoint.VerifyDir does.
	var unkept error
	if errors.Is(err, sdk.ErrChainName) {
		unkept, err = err, nil
	}
	if err != nil || exportDir == "" {
		return sum, cmp.Or(err, unkept)
	}
	kept, err := checkpoint.KeptDir(dir)
	if err != nil {
		return sum, err
	}
	v := exportVerifier{kept: kept, root: exportDir, pubs: pubs, retired: ds.Retired,
		vs: export.KeyVerifiers(pubs...), ks: sdk.NewKeySet(pubs...)}
	for _, h := range ds.Heads {
		if chaindir.NameLen(h.WriterID) > sdk.MaxChainName || chaindir.NameLen(h.Stream) > sdk.MaxChainName {
			continue
		}
		ce, err := v.chain(h, ds.Unused)
		sum.Exports = append(sum.Exports, ce)
		if err != nil {
			return sum, err
		}
	}
	// Bundles of a chain the log has no record of.
	chains, err := exportChains(exportDir)
	if err != nil {
		return sum, err
	}
	for _, wc := range chains {
		if slices.ContainsFunc(ds.Heads, func(h sdk.Head) bool { return h.WriterID == wc[0] && h.Stream == wc[1] }) {
			continue
		}
		if err := v.orphan(wc[0], wc[1]); err != nil {
			return sum, err
		}
	}
	return sum, unkept
}

// exportVerifier verifies the bundles of the chains of a verified log.
type exportVerifier struct {
	kept    string // the log's checkpoints directory; "" if it keeps none
	root    string // the export directory
	pubs    []ed25519.PublicKey
	retired []sdk.Retirement
	vs      note.Verifiers
	ks      *sdk.KeySet
}

// newest returns the chain's newest kept checkpoint that VerifyDir used
// (not one of unused), its size and file; nil, 0, "" if there is none.
func (v *exportVerifier) newest(writer, stream string, unused []string) ([]byte, int64, string, error) {
	if v.kept == "" {
		return nil, 0, "", nil
	}
	paths, err := checkpoint.HistoryPaths(v.kept, writer, stream)
	if err != nil {
		return nil, 0, "", &checkpoint.DirError{WriterID: writer, Stream: stream, Path: v.kept, Err: err}
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if slices.Contains(unused, paths[i]) {
			continue
		}
		msg, err := checkpoint.ReadNote(paths[i])
		if err != nil {
			return nil, 0, "", &checkpoint.DirError{WriterID: writer, Stream: stream, Path: paths[i], Err: err}
		}
		cp, err := checkpoint.Open(msg, checkpoint.ChainVerifiers(v.pubs, v.retired, writer, stream))
		if err != nil { // it held when the log was verified: changed since
			return nil, 0, "", &checkpoint.DirError{WriterID: writer, Stream: stream, Path: paths[i], Err: err}
		}
		return msg, cp.Size, paths[i], nil
	}
	return nil, 0, "", nil
}

// chain verifies the bundles of the log's chain whose head is h.
func (v *exportVerifier) chain(h sdk.Head, unused []string) (ChainExports, error) {
	ce := ChainExports{WriterID: h.WriterID, Stream: h.Stream, Dir: export.ChainDir(v.root, h.WriterID, h.Stream)}
	fail := func(path string, err error) error {
		return &ExportError{WriterID: h.WriterID, Stream: h.Stream, Path: path, Err: err}
	}
	note, size, _, err := v.newest(h.WriterID, h.Stream, unused)
	if err != nil {
		return ce, err
	}
	ce.Checkpoint = size
	paths, err := export.ListDir(ce.Dir)
	if err != nil {
		return ce, fail(ce.Dir, err)
	}
	origin := checkpoint.Origin(h.WriterID, h.Stream)
	if len(paths) == 0 {
		if size > 0 {
			return ce, fail(ce.Dir, &export.Error{Origin: origin, Reason: export.ReasonTruncated, Seq: 1,
				Detail:   "no bundles of the chain, whose newest kept checkpoint vouches for its records",
				Expected: "records up to seq " + strconv.FormatInt(size, 10), Got: "none", Err: export.ErrNoBundles})
		}
		return ce, fail(ce.Dir, unexported(0, h.Seq))
	}
	seq, err := export.VerifyDirTrusted(ce.Dir, v.vs, v.ks, note)
	if err != nil {
		return ce, fail(bundlePath(ce.Dir, err), err)
	}
	ce.Bundles, ce.Records = len(seq.Bundles), seq.Records
	last := paths[len(paths)-1]
	switch n := uint64(seq.Records); {
	case seq.Origin != origin: // checked against the trusted checkpoint's, if any
		return ce, fail(last, &export.Error{Bundle: filepath.Base(last), Origin: seq.Origin, Reason: export.ReasonFormat,
			Detail: "bundles of another chain in the chain's directory", Expected: origin, Got: seq.Origin})
	case n > h.Seq:
		return ce, fail(last, &checkpoint.Error{Reason: checkpoint.ReasonRollback,
			Detail: "the bundles vouch for seq " + strconv.FormatUint(n, 10) + ", the log holds records up to seq " + strconv.FormatUint(h.Seq, 10)})
	case n == h.Seq && seq.Head.Hash != h.Hash:
		return ce, fail(last, &checkpoint.Error{Reason: checkpoint.ReasonFork,
			Detail: "the log's record seq " + strconv.FormatUint(n, 10) + " is " + h.Hash.String() + ", the bundles' " + seq.Head.Hash.String()})
	case seq.Records > size:
		return ce, fail(last, fmt.Errorf("%w: the bundles end at seq %d, the newest checkpoint kept is of size %d", ErrCheckpointMissing, seq.Records, size))
	case n < h.Seq:
		return ce, fail(last, unexported(n, h.Seq))
	}
	return ce, nil
}

func unexported(have, head uint64) error {
	return fmt.Errorf("%w: seq %d..%d (the bundles hold records up to seq %d; a Node that stopped without Close exports them once it is opened and closed again)", ErrUnexported, have+1, head, have)
}

// orphan fails the bundles of a chain the log has no record of: they
// verify (else their failure) and vouch for records the log lost.
func (v *exportVerifier) orphan(writer, stream string) error {
	dir := export.ChainDir(v.root, writer, stream)
	fail := func(path string, err error) error {
		return &ExportError{WriterID: writer, Stream: stream, Path: path, Err: err}
	}
	seq, err := export.VerifyDir(dir, v.vs, v.ks, nil)
	if err != nil {
		return fail(bundlePath(dir, err), err)
	}
	last := dir
	if paths, err := export.ListDir(dir); err == nil && len(paths) > 0 {
		last = paths[len(paths)-1]
	}
	if origin := checkpoint.Origin(writer, stream); seq.Origin != origin {
		return fail(last, &export.Error{Bundle: filepath.Base(last), Origin: seq.Origin, Reason: export.ReasonFormat,
			Detail: "bundles of another chain in the chain's directory", Expected: origin, Got: seq.Origin})
	}
	return fail(last, &checkpoint.Error{Reason: checkpoint.ReasonRollback,
		Detail: "the bundles vouch for seq " + strconv.FormatInt(seq.Records, 10) + ", the log holds no record of the chain"})
}

// bundlePath is the file an *export.Error of a sequence in dir names,
// else dir.
func bundlePath(dir string, err error) string {
	var e *export.Error
	if errors.As(err, &e) && e.Bundle != "" && e.Bundle[0] != '#' {
		return filepath.Join(dir, e.Bundle)
	}
	return dir
}

// exportChains lists the chains whose bundle directories under root (as
// a FileSink{Dir: root} writes them: root/e(writerId)/e(stream)) hold
// bundles. A root that is not there is the file system's error
// (VerifyDir looked at it first). A directory there, or a
// symbolic link to one, is followed; one that cannot be (a link to
// nothing) is an error naming it, not a chain left out; a directory
// holding bundles whose names are no chain's, and a bundle in root or in
// a writer's directory (above any chain's), is an *export.Error
// (ReasonFormat) naming it.
func exportChains(root string) ([][2]string, error) {
	subdirs := func(dir string) ([]string, error) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if e.Type()&fs.ModeSymlink != 0 {
				fi, err := os.Stat(p)
				if err != nil {
					// p is a name of the tree's maker's: said once, on
					// one line (names.Path), not again raw in Stat's
					// *fs.PathError, whose cause (fs.ErrNotExist, a
					// loop) is kept.
					var pe *fs.PathError
					if errors.As(err, &pe) && pe.Path == p {
						err = pe.Err
					}
					return nil, fmt.Errorf("%s is a symbolic link that cannot be followed: %w", names.Path(p), err)
				}
				if !fi.IsDir() {
					continue
				}
			} else if !e.IsDir() {
				continue
			}
			out = append(out, e.Name())
		}
		return out, nil
	}
	// A FileSink writes no bundle above a chain's directory: one there is
	// no chain's.
	stray := func(dir string) error {
		paths, err := export.ListDir(dir)
		if err != nil || len(paths) == 0 {
			return err
		}
		return &export.Error{Reason: export.ReasonFormat, Bundle: filepath.Base(paths[0]),
			Detail: paths[0] + " is in no chain's directory (e(writerId)/e(stream))"}
	}
	writers, err := subdirs(root)
	if err != nil {
		return nil, err
	}
	if err := stray(root); err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range writers {
		streams, err := subdirs(filepath.Join(root, w))
		if err != nil {
			return nil, err
		}
		if err := stray(filepath.Join(root, w)); err != nil {
			return nil, err
		}
		for _, s := range streams {
			dir := filepath.Join(root, w, s)
			paths, err := export.ListDir(dir)
			if err != nil {
				return nil, err
			}
			if len(paths) == 0 {
				continue
			}
			writer, stream, err := checkpoint.ParseOrigin(checkpoint.OriginPrefix + w + "/" + s)
			if err != nil || export.ChainDir(root, writer, stream) != dir {
				return nil, &export.Error{Reason: export.ReasonFormat, Bundle: filepath.Base(paths[0]),
					Detail: "in " + dir + ", a directory that is no chain's (e(writerId)/e(stream))"}
			}
			out = append(out, [2]string{writer, stream})
		}
	}
	return out, nil
}
