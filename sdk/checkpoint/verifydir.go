package checkpoint

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
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/internal/merkle"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// DirOptions tune VerifyDir.
type DirOptions struct {
	// AllowUnsealedTail accepts records of a chain after its last record
	// signature and its largest kept checkpoint that holds.
	AllowUnsealedTail bool
	// Progress, if set, is called after every record read, as by
	// sdk.VerifyDir.
	Progress func(records uint64, at wal.Position)
}

// DirSummary is what VerifyDir found in a log that holds: sdk.VerifyDir's
// Summary, its Heads in (WriterID, Stream) order with each SealedSeq
// raised to the largest kept checkpoint of the chain that holds, and the
// kept checkpoints it used and did not.
type DirSummary struct {
	sdk.Summary
	// Used counts the kept checkpoints that hold and seal their chains.
	Used int
	// Unused are the files of the kept checkpoints signed by none of the
	// keys (nor by a key a verified transition of their chain names), nor
	// bearing a damaged signature line of one (that fails): not evidence
	// either way, so not used. With no keys given, every kept
	// checkpoint is here: none was checked.
	Unused []string
}

// DirError is a failure of VerifyDir, VerifyKept or KeptDir about the
// checkpoints kept with a log (those of its records are sdk's
// *DurableError):
//
//   - WriterID and Stream empty: Path, the checkpoints directory or a
//     directory under it, is not a directory that can be read (a link to
//     nowhere, a file, a mount that is gone), so the history kept there
//     cannot be checked; Err is the file system's error (a
//     *BrokenLinkError, an *fs.PathError) or says what Path is instead;
//   - Seq 0: the history of chain (WriterID, Stream) cannot be listed at
//     Path; Err is the file system's error, or a *sdk.ChainNameError
//     (errors.Is sdk.ErrChainName): a name of the chain is too long for
//     its directory under Path, the checkpoints directory, so no
//     checkpoint of it can be kept (a log written before the SDK refused
//     such names, sdk.MaxChainName);
//   - otherwise: the kept checkpoint at Path, of size Seq (the last seq
//     it vouches for; from its file name if it could not be opened), does
//     not hold. Err is an *Error: ReasonRollback (the log was cut or
//     rolled back below it), ReasonFork (the log's records differ),
//     ReasonRetiredKey, ReasonBadSignature, ReasonFormat,
//     ReasonOriginMismatch (a checkpoint of another chain); or the file
//     system's error reading it.
//
// errors.Is matches the sentinel of Err (ErrRollback, ErrFork, ...).
type DirError struct {
	WriterID string
	Stream   string
	Seq      uint64
	Path     string
	Err      error
}

func (e *DirError) Error() string {
	switch {
	case e.WriterID == "" && e.Stream == "":
		return e.Path + " is not a directory that can be read, so the checkpoints kept with the log cannot be checked against it: " + e.Err.Error()
	case e.Seq == 0:
		return names.Chain(e.WriterID, e.Stream) + ": checkpoints " + e.Path + ": " + e.Err.Error()
	}
	return names.Chain(e.WriterID, e.Stream) + " seq " + strconv.FormatUint(e.Seq, 10) + ": checkpoint " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *DirError) Unwrap() error { return e.Err }

// keptDirName is the directory, in a log's, of the checkpoints kept with
// it: NewKeeper(filepath.Join(logDir, keptDirName), ...), as ronaudit
// append keeps them.
const keptDirName = "checkpoints"

// errNotDir: the checkpoints directory, or a writer's or a stream's
// directory under it, is there, and is not a directory.
var errNotDir = errors.New("not a directory")

// errChanged: checkpoints appeared in a chain's history while VerifyDir
// read the log.
var errChanged = errors.New("checkpoints appeared while the log was read; verify again")

// VerifyDir verifies a durable log directory and the checkpoints kept
// with it, offline, without opening the log for writing: what an auditor
// holding only public keys runs on a log a checkpoint.Keeper sealed (the
// checkpoint-sealed policy), and on any other. It reads the log once:
//
//   - every record as sdk.VerifyDir checks it (hashes, canonical bytes,
//     links, signatures under pubs with the chains' key transitions,
//     seals; with pubs empty, everything but signatures), building the
//     roots of each chain's Merkle tree at the sizes its kept checkpoints
//     claim (a few hashes per chain, not the records);
//   - then the checkpoints kept in dir/checkpoints (a Keeper made with
//     NewKeeper(filepath.Join(dir, "checkpoints"), ...)), chain by chain
//     in (writerId, stream) order, each oldest first: it must be a
//     checkpoint of its chain, signed by a key of pubs or by a key that
//     one of the chain's verified transitions named (an auditor holding
//     the first key follows the rotations, as for record signatures,
//     under any note key name), by a key the chain had in force at its
//     size (InForce: a retired key vouches for nothing past its
//     transition, ErrRetiredKey), and the log must extend it: a log cut
//     or rolled back below it, or one whose records differ, fails
//     (ErrRollback, ErrFork), a chain whose records are all gone
//     included; a file whose name (noteFile: its size) is not its
//     checkpoint's size fails (ErrFormat). A checkpoint signed by none of those keys, or only by a
//     key the chain named at a seq past its size (a key named at T
//     vouches for sizes T and up, given or learned), is no evidence
//     either way: it is listed in DirSummary.Unused, and not used. But
//     one signed by none of them that has a signature line of one of
//     them with its key name or key hash damaged (its signature verifies
//     by the key, or its key hash is the key's under KeyName(writerId))
//     fails (ErrBadSignature), as the Keeper that kept it refuses it: a
//     byte flipped there would read as a key not given. With pubs empty no
//     checkpoint is checked (all are Unused);
//   - each chain is sealed up to its last record signature or its
//     largest kept checkpoint that holds: records after both are an
//     unsealed tail, a *sdk.DurableError of sdk.ReasonUnsealedTail naming
//     the chain and the first such seq, unless opts.AllowUnsealedTail.
//
// No dir/checkpoints is a log none are kept for; one that is there but
// is not a directory that can be read (a link to nowhere, a file, a
// mount that is gone; KeptDir), like a chain directory under it that
// cannot be listed, is a *DirError naming it, never "none kept": a log
// cut by whole records would verify as whole.
//
// A chain whose writer id or stream is too long to name its directory in
// dir/checkpoints (over sdk.MaxChainName once escaped: a log written
// before the SDK refused such names) can have no kept checkpoint: it is
// verified by its records alone (an unsealed tail fails as above), and,
// when the log keeps checkpoints, named once every other chain holds, as
// a *DirError of Seq 0 wrapping its *sdk.ChainNameError (ErrChainName):
// its history was not looked for (it failed the whole log with "file
// name too long").
//
// The first failure is returned: the log's first, a *sdk.DurableError
// (or *wal.VersionError) as from sdk.VerifyDir (DirSummary.Records then
// counts the records before it); else a *DirError about the kept
// checkpoints, or the unsealed tail; else the first chain no checkpoint
// can be kept for, with DirSummary complete. Otherwise the DirSummary is
// as far as VerifyDir got.
func VerifyDir(dir string, pubs []ed25519.PublicKey, opts DirOptions) (DirSummary, error) {
	var keys *sdk.KeySet
	if len(pubs) > 0 {
		keys = sdk.NewKeySet(pubs...)
	}
	// The history before the log, so that the one pass over the log keeps
	// the roots of the sizes its checkpoints claim; failures to read it
	// come after the log's own.
	kept := readKept(dir, keys != nil)
	var n uint64
	var last *chainHistory // of the record before: runs of one chain are common
	var lastW, lastS string
	sum, err := sdk.VerifyDirFunc(dir, keys, true, func(h sdk.Head, rec sdk.Sealed, at wal.Position) {
		if opts.Progress != nil {
			n++
			opts.Progress(n, at)
		}
		if kept.tracked == 0 {
			return
		}
		if last == nil || h.WriterID != lastW || h.Stream != lastS {
			last, lastW, lastS = kept.chains[[2]string{h.WriterID, h.Stream}], h.WriterID, h.Stream
		}
		if last != nil && last.roots != nil {
			last.roots.add(rec.Hash)
		}
	})
	out := DirSummary{Summary: sum}
	if err != nil {
		return out, err
	}
	slices.SortFunc(out.Heads, func(a, b sdk.Head) int {
		return cmp.Or(strings.Compare(a.WriterID, b.WriterID), strings.Compare(a.Stream, b.Stream))
	})
	if kept.err != nil {
		return out, kept.err
	}
	v := dirVerifier{kept: &kept, keys: pubs, retired: sum.Retired, allowTail: opts.AllowUnsealedTail, out: &out}
	var named error // the first chain no checkpoint can be kept for
	for i := range out.Heads {
		h := &out.Heads[i]
		if kept.dir != "" && named == nil {
			named = chainNameErr(kept.dir, h.WriterID, h.Stream)
		}
		if err := v.seal(h); err != nil {
			return out, err
		}
	}
	for _, wc := range kept.order {
		if !slices.ContainsFunc(out.Heads, func(h sdk.Head) bool { return h.WriterID == wc[0] && h.Stream == wc[1] }) {
			h := sdk.Head{WriterID: wc[0], Stream: wc[1]} // no record left: the empty tree
			if err := v.seal(&h); err != nil {
				return out, err
			}
		}
	}
	// Named once every other chain holds: its records verified, and no
	// checkpoint of it can be kept, so none vouches for it or is missed.
	return out, named
}

// keptHistory is the checkpoint history kept with a log, read before the
// log is.
type keptHistory struct {
	dir     string // dir/checkpoints; "" when the log keeps none
	err     error  // *DirError: it, or its list of chains, cannot be read
	order   [][2]string
	chains  map[[2]string]*chainHistory
	tracked int // chains whose roots the pass keeps
}

// chainHistory is one chain's kept checkpoints.
type chainHistory struct {
	dir   string // the chain's directory
	err   error  // listing it failed
	paths []string
	sizes []int64  // from the file names
	notes [][]byte // read before the log; nil where errs says why not
	errs  []error
	roots *rootStream // nil when nothing is checked (no keys)
}

// KeptDir returns the directory of the checkpoints kept with the durable
// log in dir: dir/checkpoints, where a Keeper made with
// NewKeeper(filepath.Join(dir, "checkpoints"), ...) keeps them (as
// ronaudit append does). It is "" when the log keeps none: there is no
// such path, or dir is not a directory (one segment file; or no log,
// which reading it reports). A path that is there but is not a directory
// that can be read (a link to nowhere, a file, a mount that is gone) is a
// *DirError naming it, never "none kept": a log cut by whole records
// would verify as whole, and a Keeper, finding no history, would sign
// or append to it. A dir "" is refused (ErrNoDir).
func KeptDir(dir string) (string, error) {
	if dir == "" {
		return "", noDir("KeptDir")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", nil
	}
	cpDir := filepath.Join(dir, keptDirName)
	if _, err := os.Lstat(cpDir); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	fi, err := os.Stat(cpDir)
	if err == nil && !fi.IsDir() {
		err = fmt.Errorf("%w (mode %s)", errNotDir, fi.Mode())
	}
	if err != nil {
		return "", &DirError{Path: cpDir, Err: err}
	}
	return cpDir, nil
}

// readKept reads the history kept with the log in dir: its chains, the
// files of their checkpoints and, with check, the checkpoints (whose
// sizes the roots are kept at).
func readKept(dir string, check bool) keptHistory {
	k := keptHistory{chains: map[[2]string]*chainHistory{}}
	cpDir, err := KeptDir(dir)
	if err != nil || cpDir == "" {
		k.err = err
		return k
	}
	k.dir = cpDir
	if k.order, err = HistoryChains(cpDir); err != nil {
		path := failedPath(err, cpDir)
		de := &DirError{Path: path, Err: err}
		if w, s, ok := chainOfDir(cpDir, path); ok {
			de.WriterID, de.Stream = w, s // as readChain names it
		}
		k.err = de
		return k
	}
	for _, wc := range k.order {
		c := readChain(cpDir, wc[0], wc[1], check)
		k.chains[wc] = c
		if c.err != nil || !check {
			continue
		}
		c.roots = &rootStream{want: map[int64]bool{}, at: map[int64]tlog.Hash{}}
		k.tracked++
		for i, msg := range c.notes {
			// The size it claims, unverified: its root is kept as the
			// log streams by, and the note is verified once the log is.
			text, _, _ := strings.Cut(string(msg), "\n\n")
			if cp, perr := parseText(text + "\n"); c.errs[i] == nil && perr == nil {
				c.roots.want[cp.Size] = true
			}
		}
	}
	return k
}

// readChain lists the checkpoints kept under cpDir for chain (writer,
// stream) and, with read, reads them. A failure to list them is c.err, a
// *DirError (of fs.ErrNotExist when the chain has no directory).
func readChain(cpDir, writer, stream string, read bool) *chainHistory {
	c := &chainHistory{dir: (&Keeper{dir: cpDir}).chainDir(writer, stream)}
	sizes, err := historySizes(c.dir)
	if err != nil {
		c.err = &DirError{WriterID: writer, Stream: stream, Path: c.dir, Err: err}
		return c
	}
	for _, s := range sizes {
		c.paths = append(c.paths, filepath.Join(c.dir, noteFile(s)))
		c.sizes = append(c.sizes, s)
	}
	if read {
		for _, p := range c.paths {
			msg, err := ReadNote(p)
			c.notes, c.errs = append(c.notes, msg), append(c.errs, err)
		}
	}
	return c
}

// chainOfDir is the chain (writer, stream) whose directory under cpDir
// path is, if it is one.
func chainOfDir(cpDir, path string) (writer, stream string, ok bool) {
	rel, err := filepath.Rel(cpDir, path)
	if err != nil {
		return "", "", false
	}
	we, se, two := strings.Cut(filepath.ToSlash(rel), "/")
	if !two || strings.Contains(se, "/") {
		return "", "", false
	}
	writer, okW := parseDirName(we)
	stream, okS := parseDirName(se)
	return writer, stream, okW && okS
}

// failedPath is the path a history reader's error names, else dir.
func failedPath(err error, dir string) string {
	var bl *BrokenLinkError
	var pe *fs.PathError
	switch {
	case errors.As(err, &bl):
		return bl.Path
	case errors.As(err, &pe):
		return pe.Path
	}
	return dir
}

// dirVerifier judges the kept checkpoints of a verified log.
type dirVerifier struct {
	kept      *keptHistory
	keys      []ed25519.PublicKey
	retired   []sdk.Retirement
	allowTail bool
	out       *DirSummary
}

// seal checks the kept checkpoints of the chain whose head is h, raises
// h.SealedSeq to the largest that holds, and fails on an unsealed tail.
func (v *dirVerifier) seal(h *sdk.Head) error {
	c := v.kept.chains[[2]string{h.WriterID, h.Stream}]
	if c == nil && v.kept.dir != "" && chainNameErr(v.kept.dir, h.WriterID, h.Stream) == nil {
		// Not among the chains with a history: its directory must not be
		// there but unreadable (a file in its place), nor have gained
		// checkpoints since.
		paths, err := HistoryPaths(v.kept.dir, h.WriterID, h.Stream)
		if err != nil {
			return &DirError{WriterID: h.WriterID, Stream: h.Stream, Path: (&Keeper{dir: v.kept.dir}).chainDir(h.WriterID, h.Stream), Err: err}
		}
		if len(paths) > 0 {
			return &DirError{WriterID: h.WriterID, Stream: h.Stream, Path: paths[0], Err: errChanged}
		}
	}
	if c != nil {
		if c.err != nil {
			return c.err
		}
		if len(v.keys) == 0 { // nothing was read: no key to check them with
			v.out.Unused = append(v.out.Unused, c.paths...)
		} else {
			r, err := c.verify(h.WriterID, h.Stream, int64(h.Seq), c.roots.rootAt, v.keys, v.retired)
			h.SealedSeq = max(h.SealedSeq, uint64(r.sealed))
			v.out.Used += r.used
			v.out.Unused = append(v.out.Unused, r.unused...)
			if err != nil {
				return err
			}
		}
	}
	if h.SealedSeq < h.Seq && !v.allowTail {
		return &sdk.DurableError{WriterID: h.WriterID, Stream: h.Stream, Seq: h.SealedSeq + 1,
			Err: &sdk.VerifyError{WriterID: h.WriterID, Stream: h.Stream, Seq: h.SealedSeq + 1, Reason: sdk.ReasonUnsealedTail,
				Expected: "a signature or kept checkpoint covering seq " + strconv.FormatUint(h.Seq, 10),
				Got:      "none after seq " + strconv.FormatUint(h.SealedSeq, 10), Verified: int(h.SealedSeq)}}
	}
	return nil
}

// VerifyKept verifies the checkpoints kept with the durable log in dir
// (KeptDir) for one chain, (writerID, stream), whose verified records t
// holds, as VerifyDir verifies those of every chain: for a caller that
// verified only this chain (sdk.VerifyDirChain) and built its tree. Each,
// oldest first, must be a checkpoint of the chain, signed by a key of
// ChainVerifiers(pubs, retired, writerID, stream) that the chain had in
// force at its size (InForce, with retired, the chain's transitions), and
// t must extend it (ErrRollback, ErrFork). One signed by none of those
// keys, or only by a key named by a transition past its size, is no
// evidence either way: it is listed in unused, and not used, unless a
// signature line is one of those keys' damaged (ErrBadSignature: see
// VerifyDir); with pubs empty, all are. sealed is the largest size of those that
// hold (0: none): the chain's records up to it are sealed.
//
// A failure is a *DirError, as from VerifyDir: the checkpoints directory
// or the chain's directory under it cannot be read, or a kept checkpoint
// does not hold; sealed and unused are then as far as VerifyKept got.
// A chain whose name is too long for its directory there (over
// sdk.MaxChainName escaped) is one too, of ErrChainName: see VerifyDir.
func VerifyKept(dir, writerID, stream string, t *Tree, pubs []ed25519.PublicKey, retired []sdk.Retirement) (sealed int64, unused []string, err error) {
	cpDir, err := KeptDir(dir)
	if err != nil || cpDir == "" {
		return 0, nil, err
	}
	if err := chainNameErr(cpDir, writerID, stream); err != nil {
		return 0, nil, err
	}
	c := readChain(cpDir, writerID, stream, len(pubs) > 0)
	switch {
	case errors.Is(c.err, fs.ErrNotExist): // no checkpoint of the chain kept
		return 0, nil, nil
	case c.err != nil:
		return 0, nil, c.err
	case len(pubs) == 0:
		return 0, c.paths, nil
	}
	r, err := c.verify(writerID, stream, t.Size(), t.RootAt, pubs, retired)
	return r.sealed, r.unused, err
}

// keptSeals is what a chain's kept checkpoints seal.
type keptSeals struct {
	sealed int64    // the largest size of those that hold
	used   int      // how many hold
	unused []string // signed by none of the keys
}

// verify judges the chain's kept checkpoints, read, for the chain
// (writer, stream) of n records whose tree's roots rootAt gives, with
// pubs (not empty) and retired: see VerifyKept.
func (c *chainHistory) verify(writer, stream string, n int64, rootAt func(int64) (tlog.Hash, error), pubs []ed25519.PublicKey, retired []sdk.Retirement) (keptSeals, error) {
	var r keptSeals
	vs := ChainVerifiers(pubs, retired, writer, stream)
	for i, path := range c.paths {
		fail := func(size int64, err error) error {
			return &DirError{WriterID: writer, Stream: stream, Seq: uint64(size), Path: path, Err: err}
		}
		if c.errs[i] != nil {
			return r, fail(c.sizes[i], c.errs[i])
		}
		cp, err := Open(c.notes[i], vs)
		if errors.Is(err, ErrUnknownKey) {
			// Signed by none of the keys trusted for the chain, unless a
			// signature line is one of theirs with its key name or hash
			// damaged (damagedOwn): that is a damaged file, as the
			// Keeper refuses it, not a note of a key not given.
			if d := damagedOwn(c.notes[i], append(slices.Clip(pubs), namedKeys(retired, writer, stream)...), KeyName(writer)); d != nil {
				return r, fail(c.sizes[i], d)
			}
			r.unused = append(r.unused, path)
			continue
		}
		if err != nil {
			return r, fail(c.sizes[i], err)
		}
		if cp.WriterID != writer || cp.Stream != stream {
			return r, fail(cp.Size, newErr(ReasonOriginMismatch, "it is a checkpoint of "+cp.Origin+", not of "+Origin(writer, stream), nil))
		}
		if cp.Size != c.sizes[i] {
			// The name is not signed, and the Keeper takes the newest by
			// it: one named past its size stops its checkpoints there.
			return r, fail(c.sizes[i], sizeMismatch(cp.Size, c.sizes[i]))
		}
		if err := extends(cp, n, rootAt); err != nil {
			return r, fail(cp.Size, err)
		}
		if err := InForce(cp, retired); errors.Is(err, ErrUnknownKey) {
			// Signed only by a key the chain named after its size: as
			// one signed by a key not given, no evidence either way.
			r.unused = append(r.unused, path)
			continue
		} else if err != nil {
			return r, fail(cp.Size, err)
		}
		r.sealed = max(r.sealed, cp.Size)
		r.used++
	}
	return r, nil
}

// rootStream follows a chain's record hashes as they stream by and keeps
// the root of its Merkle tree at each size wanted: it holds the tree's
// right edge (the roots of its complete subtrees, one per 1 bit of the
// size, at most 63), not the tree, so verifying a log needs no memory per
// record.
type rootStream struct {
	edge merkle.Range // the tree's compact range
	want map[int64]bool
	at   map[int64]tlog.Hash
}

// add appends the record with record hash recordHash as the next leaf.
func (r *rootStream) add(recordHash [32]byte) {
	r.edge.Push(LeafHash(recordHash))
	if n := r.edge.Size(); r.want[n] {
		r.at[n] = r.edge.Root()
	}
}

// rootAt returns the root at size, one of the sizes wanted (or 0, or the
// size now); another is an *Error of ReasonRange.
func (r *rootStream) rootAt(size int64) (tlog.Hash, error) {
	switch h, ok := r.at[size]; {
	case ok:
		return h, nil
	case size == 0:
		return emptyRoot, nil
	case size == r.edge.Size():
		return r.edge.Root(), nil
	}
	return tlog.Hash{}, newErr(ReasonRange, "tree size "+strconv.FormatInt(size, 10)+" was not among the sizes whose roots were kept", nil)
}
