package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/chaindir"
	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/internal/keyrule"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/internal/nilptr"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// Defaults of KeeperOptions, the seed's export cadence.
const (
	DefaultEvery    = 10000
	DefaultInterval = 15 * time.Minute
)

// KeeperOptions tune a Keeper.
//
// A checkpoint that is due but cannot be signed or written (a full disk,
// an unwritable or missing directory, a failing signer) is not tried
// again at every record that becomes durable: the failed attempt counts
// for the cadence as a checkpoint would, and the next attempt comes Every
// more durable records, or Interval, after it, whichever is first. So a
// failing directory costs a signature per due point, not per append.
// Checkpoint, SealChain (the Log's Seal, SealAll, Close) and Close try at
// once whatever the cadence, and Tick tries each chain whose newest
// checkpoint is Interval old or more. Once the directory is writable
// again, the chain's next attempt writes the checkpoint of all its
// durable records (unless its history could not be read when the Keeper
// first needed it: that stays a failure, see Err): the checkpoints the
// failures skipped are not needed
// (a consistency proof spans any two sizes, and an export.Auto's next
// bundle starts after its previous one).
type KeeperOptions struct {
	// Every: a checkpoint of a chain once this many more of its records are
	// durable; 0 means DefaultEvery. Negative is refused (an *Error
	// wrapping sdk.ErrConfig).
	Every int64
	// Interval: also a checkpoint when a chain has durable records newer
	// than its last checkpoint and that checkpoint is older than this; 0
	// means DefaultInterval, negative turns the time trigger off. It is
	// checked as records become durable, and by Tick, which a host calls
	// from a ticker so that a chain that went quiet is checkpointed too.
	Interval time.Duration
	// Clock for the time trigger; nil means time.Now.
	Clock func() time.Time
	// OnCheckpoint, if set, is called after each checkpoint is written,
	// with how long signing and writing took (metrics.Metrics.OnCheckpoint
	// counts it in audit_export_checkpoints_total; export_batch_seconds
	// times bundles, from export.Exporter's OnExport, not checkpoints).
	// It is called holding the Keeper's lock of the
	// chain and, when the Log's Seal, SealAll or Close asked for the
	// checkpoint, the Log's lock of the chain: it must return quickly and
	// call neither the Keeper nor the Log (export.Auto's Checkpointed
	// only queues the export).
	OnCheckpoint func(cp Checkpoint, took time.Duration)
	// OnFailure, if set, is called with every failure to sign or write a
	// checkpoint (not only the first, which Err keeps), and with a record
	// the Keeper could not add to its chain's tree
	// (audit_export_fail_total{stage="checkpoint"}). It is called where
	// OnCheckpoint would have been, under the same locks, with the same
	// rules. A failing directory makes one call per chain per due point
	// (Every records or Interval, see above) and one per Checkpoint,
	// SealChain, Tick or Close that tries: at the checkpoint cadence,
	// not at the append rate.
	OnFailure func(err error)
}

// The Keeper is an sdk.FailureReporter: as the Log's Observer, its Err
// makes sdk.Emitter.Ready report the audit plane degraded.
var _ sdk.FailureReporter = (*Keeper)(nil)

// So is it a ChainFollower: a rotation that fails part way hands it the
// chains it reached (FollowChain).
var _ sdk.ChainFollower = (*Keeper)(nil)

// KeyName is the signed-note key name of a writer's checkpoints:
// "ron-audit/" and the escaped writerId (one name for all its streams).
func KeyName(writerID string) string { return OriginPrefix + escapeComponent(writerID) }

// Keeper keeps, for every chain of a Log, its Merkle tree and the whole
// history of its checkpoints. Set it as the Log's sdk.Config.Observer: it
// adds each committed record to its chain's tree, and signs a checkpoint
// when Every more records are durable, when Interval has passed (checked
// as records become durable, and by Tick), on Checkpoint, and on Close. A checkpoint only ever covers durable records,
// so no crash can leave one that vouches for a record the log lost.
//
// A Keeper's directory belongs to one log: CheckReplay takes every chain
// with a history there as that log's, so two logs sharing it refuse each
// other. The history is kept as files, one signed note per checkpoint:
// dir/<escaped writerId>/<escaped stream>/<size, 20 digits>.note (mode
// 0600), written atomically and never replaced (a file that appears at
// a checkpoint's name meanwhile is refused with ReasonFork unless it is
// the same checkpoint), directories created with their parents fsynced;
// escaped as in Origin, and "." and ".." as
// "%2E" and "%2E%2E". A new Keeper reads the newest of each chain;
// replaying the log (sdk.OpenDurable) rebuilds the trees and, once the
// whole log is replayed (CheckReplay), writes any checkpoint a crash kept
// from being written. Before it checks a chain against its newest
// checkpoint or signs on top of it, the Keeper checks that checkpoint's
// signature by the key the chain had in force at its size (SignerAt),
// when it holds that key: one that does not verify is refused
// (ErrBadSignature, naming the file), as VerifyDir refuses it, and so is
// a signature line that is that key's with its key name or key hash
// damaged (its Ed25519 signature verifies by the key, or its key hash is
// the key's under KeyName: ErrBadSignature saying which, "damaged or was
// tampered with, not another key's"), one in a file not named for its
// size (ErrFormat), or in the directory of another chain than its
// origin's (ErrOriginMismatch). Signed by
// a key it does not hold (the key a rotation retired, to a Keeper given
// only the new one) or by none it holds, the checkpoint is not checked
// there: the offline verifier (VerifyDir, VerifyKept), given the public
// keys, judges it. But a newest checkpoint of a size where the Keeper's
// own key is in force (no transition of the chain at or after it) that
// bears no signature by that key, nor such a damaged line, nor is
// damaged otherwise (a note that does not parse, a signature by the
// key's hash that does not verify: those are refused as above), says
// another key holds the chain, one that no transition hands it on from:
// CheckReplay leaves it alone (the Keeper signs no checkpoint of it, as
// if its key were retired there), and sdk.OpenDurable refuses appends to
// it (sdk.ErrConfig naming the checkpoint), for a checkpoint-sealed
// chain says nowhere else whose it is; export.Exporter.Export, ronaudit
// checkpoint and export apply the same rule to the checkpoints kept with
// a log in its directory's "checkpoints", read as the Keeper reads them
// (heldByOther), and refuse a damaged one as it does (sdk.MaySign: a
// *DirError naming the file). Older checkpoints are not read. A crash
// while a checkpoint is written may leave a ".tmp-" file in its chain's
// directory, which nothing reads: the Keeper removes those an hour old
// or more when it first writes, or is asked to write, a checkpoint of
// the chain (one due, Checkpoint, SealChain, Close), not when it first
// sees the chain: that is Committed, on the Log's append path
// (TempStats). Once Close has returned, the Keeper writes nothing more
// there (Close).
//
// A chain whose writer id or stream is too long for its directory (over
// sdk.MaxChainName once escaped: a log written before the SDK refused
// such names) cannot be checkpointed: each attempt (a due point, Tick,
// Checkpoint, SealChain, Close) fails with a *DirError wrapping its
// *sdk.ChainNameError (ErrChainName), naming the chain, and the Keeper
// goes on with every other chain; CheckReplay does not refuse the log
// for it.
type Keeper struct {
	dir    string
	signer sdk.Signer // under mu: RotateKey moves it on (FollowKey)
	// held: every key the Keeper was given (NewKeeper, FollowKey), under
	// mu: a chain is checkpointed up to its transition by the key that
	// transition retires (signerFor).
	held   []sdk.Signer
	opts   KeeperOptions
	mu     sync.Mutex
	chains map[string]map[string]*keptChain
	err    error     // first failure to sign or write, reported by Err and Close
	temps  TempStats // under mu: the stale temporary files removed (TempStats)
	// closed: Close has begun; the Observer's calls change nothing from
	// then on and nothing but Close writes (closedErr). Set before Close
	// lists the chains, read under a chain's lock, which Close takes in
	// turn: a write that began before it is done when Close returns, and
	// one asked for after finds it set.
	closed  atomic.Bool
	closeMu sync.Mutex // held through Close: a second Close waits for the first
}

// TempStats counts the stale temporary files that a writer (a Keeper, an
// export.FileSink) removed from the directories it writes: files named
// ".tmp-" and digits, regular files, unmodified for
// fsutil.StaleTempAge (an hour), which a crash left between writing a
// file and linking it into place. Nothing reads them; a writer sweeps
// each directory once, when it first writes there (a Keeper: when it
// first writes, or is asked to write, a checkpoint of the chain). A
// temporary file newer than that (another writer's, being written now),
// any other name and any entry that is not a regular file (a directory,
// a symbolic link, a named pipe) are never touched. A failure to remove one does not fail the writer: it is
// counted in Failed and kept in Err.
type TempStats struct {
	Removed int64 // stale temporary files removed
	Failed  int64 // stale temporary files that could not be removed
	Err     error // the last failure (removing a file, reading a directory), nil if none
}

// sweep removes the stale temporary files of dir (fsutil.RemoveStaleTemps,
// now less fsutil.StaleTempAge) and counts them in t.
func (t *TempStats) sweep(dir string, now time.Time) {
	removed, failed, err := fsutil.SweepStaleTemps(dir, now)
	t.add(TempStats{Removed: removed, Failed: failed, Err: err})
}

// add counts the findings of another sweep, u, in t.
func (t *TempStats) add(u TempStats) {
	t.Removed += u.Removed
	t.Failed += u.Failed
	if u.Err != nil {
		t.Err = u.Err
	}
}

type keptChain struct {
	mu      sync.Mutex
	writer  string
	stream  string
	tree    *Tree
	durable uint64 // highest durable seq
	swept   bool   // the chain's directory was swept for stale temporary files
	last    int64  // size of the newest checkpoint
	lastAt  time.Time
	note    []byte // the newest checkpoint
	loadErr error  // reading it failed: nothing may be checked against it
	// nameErr: a name of the chain is too long for its directory (a
	// *DirError wrapping a *sdk.ChainNameError, chainNameErr): no
	// checkpoint of it can be written, and its history is not read.
	nameErr error
	// noteSigned: the signature of note was checked (newestSigned), or
	// the Keeper signed it: it need not be checked again.
	noteSigned bool
	// loaded: last, lastAt, note and loadErr were read from the history
	// (chainOf, under Keeper.mu, before any caller that reads them gets
	// the chain).
	loaded bool
	// retired: keys the chain's transitions retired, and at which seq
	// (Retired). A key vouches for no record after its retirement.
	retired map[sdk.KeyID]uint64
	// follow: the key the chain is on past its last transition when the
	// Log said so (FollowChain) and it is not the Keeper's: a rotation
	// that failed part way handed the chain to it (keyOfLocked).
	follow sdk.Signer
	// foreign: the newest checkpoint, of a size where the Keeper's key is
	// in force (no transition of the chain at or after it), bears no
	// signature by that key (CheckReplay, foreignLocked): another key,
	// which no transition hands the chain on from, holds it. The Keeper
	// signs nothing of it (retired holds its key at seq 0, as Retired),
	// and sdk.OpenDurable refuses appends to it (keyrule.KeptHolders).
	foreign bool
	// replayDue: a checkpoint came due while OpenDurable replayed the
	// log; CheckReplay writes it, once the replay has shown every
	// transition of the chain (signerFor).
	replayDue bool
	// failed: the last attempt to write a checkpoint of the chain failed,
	// asked for at durable size failedSize, at failedAt (the Keeper's
	// Clock). Durable's next attempt is due from there, as from a
	// checkpoint (Every more records, or Interval later), not at the
	// next record: a failing directory costs a signature per due point,
	// not per record (dueFrom). A checkpoint written clears it.
	failed     bool
	failedSize int64
	failedAt   time.Time
}

// dueFrom returns the size and time Durable counts the chain's next
// checkpoint from: its newest checkpoint's, or, after a failed attempt,
// that attempt's.
func (c *keptChain) dueFrom() (int64, time.Time) {
	if c.failed {
		return c.failedSize, c.failedAt
	}
	return c.last, c.lastAt
}

// NewKeeper returns a Keeper writing its history under dir (created with
// mode 0700) and signing with signer. A dir "" is refused (an *Error
// wrapping ErrNoDir), not taken as the current directory, and so is a nil
// signer (or a nil pointer), one whose KeyID is not
// sdk.KeyIDOf(signer.Public()), or a negative opts.Every (an *Error
// matching ErrSign and wrapping sdk.ErrConfig), before dir is made.
func NewKeeper(dir string, signer sdk.Signer, opts KeeperOptions) (*Keeper, error) {
	// Refused here, not at the first checkpoint: that one is signed from
	// the Log's Durable or Close, where a nil signer panicked.
	if signer == nil {
		return nil, newErr(ReasonSign, "NewKeeper: no signer", sdk.ErrConfig)
	}
	if nilptr.Is(signer) { // LoadSigner's result with its error dropped: KeyID would panic
		return nil, newErr(ReasonSign, fmt.Sprintf("NewKeeper: signer is a nil %T", signer), sdk.ErrConfig)
	}
	// SignerAt picks a held key by KeyID, and the checkpoint is signed
	// with Public: the two must be one key (as sdk.New checks).
	if id, own := signer.KeyID(), sdk.KeyIDOf(signer.Public()); id != own {
		return nil, newErr(ReasonSign, fmt.Sprintf("NewKeeper: signer's KeyID %s is not %s, the id of its Public key", id, own), sdk.ErrConfig)
	}
	if opts.Every == 0 {
		opts.Every = DefaultEvery
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Every < 0 {
		return nil, newErr(ReasonSign, "KeeperOptions.Every is negative", sdk.ErrConfig)
	}
	if dir == "" {
		return nil, newErr(ReasonSign, "the checkpoint directory", noDir("NewKeeper"))
	}
	if err := fsutil.MkdirAll(dir); err != nil {
		return nil, newErr(ReasonSign, "creating the checkpoint directory "+dir, err)
	}
	return &Keeper{dir: dir, signer: signer, held: []sdk.Signer{signer}, opts: opts, chains: map[string]map[string]*keptChain{}}, nil
}

func (k *Keeper) chainDir(writer, stream string) string {
	return filepath.Join(k.dir, dirName(writer), dirName(stream))
}

// chain returns the Keeper's state of chain (writer, stream), made on
// first use, with its newest checkpoint read from the history.
func (k *Keeper) chain(writer, stream string) *keptChain {
	return k.chainOf(writer, stream, true)
}

// chainOf is chain; with history false it does not read the history
// (yet), for Committed and Retired, which the Log calls under the chain's
// append lock and which touch only the tree and the retirements: the
// first record of a chain pays no directory read. Every caller that reads
// last, lastAt, note or loadErr comes through chain, which reads the
// history under k.mu before it returns the chain to any such caller.
func (k *Keeper) chainOf(writer, stream string, history bool) *keptChain {
	k.mu.Lock()
	defer k.mu.Unlock()
	w := k.chains[writer]
	if w == nil {
		w = map[string]*keptChain{}
		k.chains[writer] = w
	}
	c := w[stream]
	if c == nil {
		c = &keptChain{writer: writer, stream: stream, tree: NewTree()}
		w[stream] = c
	}
	if history {
		k.loadLocked(c)
	}
	return c
}

// loadLocked reads c's newest checkpoint from the history, once
// (loaded), under k.mu. A chain whose name cannot be its directory has
// no history to read: nameErr says why, and every write returns it.
func (k *Keeper) loadLocked(c *keptChain) {
	if c.loaded {
		return
	}
	if c.nameErr = chainNameErr(k.dir, c.writer, c.stream); c.nameErr == nil {
		c.loadLatest(k.chainDir(c.writer, c.stream))
	}
	c.loaded = true
}

// readDir is os.ReadDir; tests replace it to fail as a directory without
// read permission does for a user who is not root.
var readDir = os.ReadDir

// loadLatest reads the size and time of the newest checkpoint on disk. A
// directory that does not exist is a chain with no history; one that
// cannot be listed (permissions, I/O) is loadErr, so that no checkpoint
// is written that was not checked against the history: taken as empty,
// it would let a log rolled back since sign a fork of it.
func (c *keptChain) loadLatest(dir string) {
	sizes, err := historySizes(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.loadErr = err
		return
	}
	if len(sizes) == 0 {
		return
	}
	c.last = sizes[len(sizes)-1]
	var fi fs.FileInfo
	c.note, fi, c.loadErr = readNote(filepath.Join(dir, noteFile(c.last)))
	if c.loadErr == nil {
		c.lastAt = fi.ModTime()
	}
}

// ReadNote reads a signed checkpoint from a file: a regular file of at
// most MaxNoteSize bytes. Anything else (a named pipe, which would block
// the reader, a device, a file too large to be a checkpoint) is an
// *Error of ReasonFormat, found before more than MaxNoteSize+1 bytes are
// read.
func ReadNote(path string) ([]byte, error) {
	b, _, err := readNote(path)
	return b, err
}

func readNote(path string) ([]byte, fs.FileInfo, error) {
	b, fi, err := fsutil.ReadRegular(path, MaxNoteSize)
	var nr *fsutil.NotRegularError
	var tl *fsutil.TooLargeError
	switch {
	case errors.As(err, &nr):
		return nil, nil, newErr(ReasonFormat, nr.Error(), nil)
	case errors.As(err, &tl):
		return nil, nil, newErr(ReasonFormat, tl.Error()+" (a checkpoint's limit)", nil)
	}
	return b, fi, err
}

func noteFile(size int64) string { return fmt.Sprintf("%020d.note", size) }

// historySizes returns the sizes of the checkpoints kept in the chain
// directory dir, in order. A dir that does not exist is an error matching
// fs.ErrNotExist, which callers take for no history; one reached through
// a symbolic link to nothing is a *fsutil.BrokenLinkError, which does not
// match it: its checkpoints are somewhere, unseen.
func historySizes(dir string) ([]int64, error) {
	entries, err := readDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if berr := fsutil.BrokenLink(dir); berr != nil {
			return nil, berr
		}
	}
	if err != nil {
		return nil, err
	}
	var sizes []int64
	for _, e := range entries {
		// Exactly noteFile's names: 20 decimal digits. ParseInt alone would
		// take a signed name ("+000...7") for the checkpoint of its value,
		// whose file is another (or none).
		name, ok := strings.CutSuffix(e.Name(), ".note")
		if !ok || len(name) != 20 || strings.Trim(name, "0123456789") != "" {
			continue
		}
		if n, err := strconv.ParseInt(name, 10, 64); err == nil {
			sizes = append(sizes, n)
		}
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	return sizes, nil
}

// fail keeps err if it is the Keeper's first failure (Err) and reports
// it to OnFailure.
func (k *Keeper) fail(err error) {
	k.mu.Lock()
	if k.err == nil {
		k.err = err
	}
	k.mu.Unlock()
	if k.opts.OnFailure != nil {
		k.opts.OnFailure(err)
	}
}

// FollowKey implements sdk.KeyFollower: from now on the Keeper signs with
// next the checkpoints past each chain's transition to it. Log.RotateKey
// calls it once every chain has its transition; until then the Keeper
// signs with the old key, and a chain already handed over gets no
// checkpoint past its transition, nor a chain started with next any
// (Retired), but for the chains the Log hands it one by one
// (FollowChain: a rotation that failed part way, or whose FollowKey is
// still to come). The Keeper keeps the keys it
// was given: a checkpoint of a chain at a size up to a transition is
// signed by the key that transition retires (SignerAt), as a verifier
// that follows the chain's transitions from its first key requires.
// Once Close has begun it does nothing (Close).
func (k *Keeper) FollowKey(next sdk.Signer) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed.Load() {
		return
	}
	k.signer = next
	if !slices.ContainsFunc(k.held, func(s sdk.Signer) bool { return s.KeyID() == next.KeyID() }) {
		k.held = append(k.held, next)
	}
}

// FollowChain implements sdk.ChainFollower: from now on the Keeper signs
// with next the checkpoints of chain (writer, stream) past its last
// transition (or all of them, for a chain that began with next), while it
// signs the others with its own key. Log.RotateKey calls it for each
// chain it handed to next, whether it then fails part way (the chains it
// reached, and those started since, are next's, and FollowKey never
// comes) or goes on to FollowKey; the Log for each chain that begins with
// next since. Without it, the records next signed there were in no
// checkpoint: the Keeper stopped such a chain at its transition (Retired).
// Once Close has begun it does nothing (Close).
func (k *Keeper) FollowChain(writer, stream string, next sdk.Signer) {
	c := k.chainOf(writer, stream, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.closed.Load() {
		return
	}
	c.follow = next
	k.mu.Lock()
	defer k.mu.Unlock()
	if !slices.ContainsFunc(k.held, func(s sdk.Signer) bool { return s.KeyID() == next.KeyID() }) {
		k.held = append(k.held, next)
	}
}

// keyOfLocked is the key the Keeper signs c with past its transitions:
// the one FollowChain handed it for c, unless a transition has retired
// that since (a later rotation, whose FollowChain or FollowKey says
// what follows), else its own. The caller holds c's lock and k.mu.
func (k *Keeper) keyOfLocked(c *keptChain) sdk.Signer {
	if c.follow != nil {
		if _, retired := c.retired[c.follow.KeyID()]; !retired {
			return c.follow
		}
	}
	return k.signer
}

// SignerAt returns the key the Keeper signs a checkpoint of chain (writer,
// stream) at size with: the key in force in the chain at that size, that
// is the key of the chain's first transition at or after size (which
// retires it), or the Keeper's key (Signer, or the one FollowChain
// handed it for the chain) past every transition; nil
// when that is a key the Keeper was never given (a log opened with the
// new key, whose chain's checkpoint up to the transition only the old key
// may sign), or the Keeper's own key, retired before size. export.Auto
// signs its bundles with it.
func (k *Keeper) SignerAt(writer, stream string, size int64) sdk.Signer {
	c := k.chainOf(writer, stream, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return k.signerFor(c, size)
}

// signerFor is SignerAt for c, whose lock the caller holds. The chain's
// transitions, in seq order, retire its keys one after the other, each
// naming the next: the key retired at T is in force up to T, the one
// retired next (or the Keeper's key, after the last) from T on. At T
// itself both are: the transition that names the later key is in every
// checkpoint of size T, and a verifier learns the key from it.
func (k *Keeper) signerFor(c *keptChain, size int64) sdk.Signer {
	k.mu.Lock()
	defer k.mu.Unlock()
	byID := func(id sdk.KeyID) sdk.Signer {
		for _, s := range k.held {
			if s.KeyID() == id {
				return s
			}
		}
		return nil
	}
	var old, later sdk.KeyID // retired at the first T >= size, and at the next T
	at, found, hasLater := uint64(0), false, false
	var laterAt uint64
	for id, seq := range c.retired {
		switch {
		case int64(seq) < size:
		case !found || seq < at:
			if found {
				later, laterAt, hasLater = old, at, true
			}
			old, at, found = id, seq, true
		case !hasLater || seq < laterAt:
			later, laterAt, hasLater = id, seq, true
		}
	}
	cur := k.keyOfLocked(c)
	_, curRetired := c.retired[cur.KeyID()]
	switch {
	case !found && curRetired:
		return nil // the Keeper's key was retired before size
	case !found:
		return cur
	}
	if s := byID(old); s != nil {
		return s
	}
	if int64(at) != size {
		return nil
	}
	if hasLater {
		return byID(later)
	}
	if curRetired {
		return nil
	}
	return cur
}

// Retired implements sdk.RetireObserver: chain (writer, stream) retired
// key id at seq (a transition appended, or replayed). While the Keeper
// still signs with that key (a log reopened with it, to finish a rotation
// a crash cut short), its checkpoints of the chain stop at seq; the
// records after wait for the key the transition names (FollowKey). Seq 0
// (sdk.RetireObserver) is a chain on another key than id,
// the Keeper's (started while RotateKey ran, before its FollowKey, or
// after a rotation that failed, which FollowKey never ended, or
// found by OpenDurable, opened with a rotation's old key (to finish one
// cut short, or after a whole one), to be the new key's, or opened with
// the new key after a rotation cut short, to be the old
// key's, which has yet to write its transition, or to be held by a key
// that no transition hands on to id): the
// Keeper signs no checkpoint of it with id, only once FollowKey (or
// FollowChain, for the chain) hands it the key the chain is on, which a verifier holding the key the chain
// started with trusts. Once Close has begun it does nothing (Close).
func (k *Keeper) Retired(writer, stream string, id sdk.KeyID, seq uint64) {
	c := k.chainOf(writer, stream, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.closed.Load() {
		return
	}
	if c.retired == nil {
		c.retired = map[sdk.KeyID]uint64{}
	}
	c.retired[id] = seq
}

// Signer returns the key the Keeper signs with now.
func (k *Keeper) Signer() sdk.Signer {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.signer
}

// TempStats returns what the Keeper's sweeps of its chains' directories
// for stale temporary files (see TempStats) found so far.
func (k *Keeper) TempStats() TempStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.temps
}

// Err returns the first failure to sign or write a checkpoint, if any
// (whether Durable, Tick, Checkpoint, SealChain or Close met it), or to
// add a record to its chain's tree. It stays: the chain's checkpoints
// have a gap or have stopped, and a host replaces the Keeper once it has
// looked. It stays even when a later attempt (at the chain's next due
// point, see KeeperOptions) succeeds. It implements sdk.FailureReporter:
// sdk.Emitter.Ready reports it (DegradedError.ObserverFailed).
func (k *Keeper) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// Committed implements sdk.Observer: the record joins its chain's tree.
// Once Close has begun it does nothing (Close).
func (k *Keeper) Committed(writer, stream string, seq uint64, hash canonical.Hash, replay bool) {
	c := k.chainOf(writer, stream, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.closed.Load() {
		return
	}
	if uint64(c.tree.Size())+1 != seq {
		k.fail(newErr(ReasonRange, fmt.Sprintf("%s: record seq %d after %d: the Keeper must see a chain from its first record", names.Chain(writer, stream), seq, c.tree.Size()), nil))
		return
	}
	c.tree.Append(hash)
}

// Durable implements sdk.Observer: it signs a checkpoint when one is due,
// counted from the chain's newest checkpoint or, after a failed attempt,
// from that attempt (dueFrom). Once Close has begun it does nothing
// (Close).
func (k *Keeper) Durable(writer, stream string, seq uint64, replay bool) {
	c := k.chain(writer, stream)
	c.mu.Lock()
	defer c.mu.Unlock()
	if k.closed.Load() {
		return
	}
	if seq > c.durable {
		c.durable = seq
	}
	size := int64(c.durable)
	from, fromAt := c.dueFrom()
	due := size-from >= k.opts.Every
	if !due && !replay && k.opts.Interval > 0 && size > from {
		now := k.opts.Clock()
		if fromAt.IsZero() {
			// The interval runs from the chain's first record (never
			// checkpointed nor attempted: not failed).
			c.lastAt, fromAt = now, now
		}
		due = now.Sub(fromAt) >= k.opts.Interval
	}
	if due && replay {
		// Written by CheckReplay, at the end of the replay: a transition
		// later in the log may retire the Keeper's key (opened with the
		// new key, it must not sign the records before the transition
		// that names it), which only then is known.
		c.replayDue = true
		return
	}
	if due {
		if err := k.writeLocked(c, size); err != nil {
			k.fail(err)
		}
	}
}

// writeLocked signs the checkpoint of c at size and adds it to the history.
// A failure is remembered in c (failed), so that Durable tries again only
// at the next due point.
func (k *Keeper) writeLocked(c *keptChain, size int64) error {
	err := k.write(c, size)
	if err != nil {
		c.failed, c.failedSize, c.failedAt = true, size, k.opts.Clock()
	}
	return err
}

// write is writeLocked but for the failure's bookkeeping.
func (k *Keeper) write(c *keptChain, size int64) error {
	if c.nameErr != nil {
		return c.nameErr // no directory can hold its checkpoints
	}
	dir := k.chainDir(c.writer, c.stream)
	if !c.swept {
		// Here, not when the chain is first seen: that is Committed, which
		// the Log calls under its chain's lock on the append path.
		c.swept = true
		var t TempStats
		t.sweep(dir, time.Now())
		k.mu.Lock()
		k.temps.add(t)
		k.mu.Unlock()
	}
	// Never sign a tree that does not extend the newest checkpoint of the
	// history (a log restored from an old copy, or rewritten): that would
	// sign a rollback or a fork; nor on top of a newest checkpoint whose
	// signature by the key in force there fails.
	if err := k.checkNewest(c, dir); err != nil {
		return err
	}
	k.mu.Lock()
	own := k.keyOfLocked(c).KeyID()
	k.mu.Unlock()
	if at, ok := c.retired[own]; ok && size > int64(at) {
		size = int64(at) // see Retired
	}
	if size <= c.last || size > c.tree.Size() {
		return nil
	}
	// The key in force at size: up to a transition, the key it retires.
	// Signed by a later key, the checkpoint would vouch for records before
	// the transition that names that key: a verifier that follows the
	// chain's transitions from its first key does not trust it there.
	signer := k.signerFor(c, size)
	if signer == nil {
		return nil // only a key the Keeper was not given may sign it
	}
	start := time.Now()
	root, err := c.tree.RootAt(size)
	if err != nil {
		return err
	}
	msg, err := Sign(Origin(c.writer, c.stream), size, root, NewNoteSigner(signer, KeyName(c.writer)))
	if err != nil {
		return err
	}
	// Never replace a checkpoint: one is evidence once written. A file at
	// this size appeared after the history was read (another Keeper on
	// the same directory): the same bytes are this checkpoint (Ed25519 is
	// deterministic); others are refused, and kept.
	path := filepath.Join(dir, noteFile(size))
	if err := fsutil.WriteFileNew(dir, noteFile(size), msg); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return newErr(ReasonSign, "writing checkpoint "+path, err)
		}
		if old, rerr := ReadNote(path); rerr != nil || string(old) != string(msg) {
			return newErr(ReasonFork, "checkpoint "+path+" exists with other content (another Keeper writes this directory?); not replaced", err)
		}
	}
	c.last, c.lastAt, c.note, c.noteSigned, c.failed = size, k.opts.Clock(), msg, true, false
	if k.opts.OnCheckpoint != nil {
		k.opts.OnCheckpoint(Checkpoint{Origin: Origin(c.writer, c.stream), Size: size, Root: root, WriterID: c.writer, Stream: c.stream}, time.Since(start))
	}
	return nil
}

// CheckReplay implements sdk.ReplayChecker: after sdk.OpenDurable has
// replayed the log, every chain with a checkpoint in the history must
// extend its newest checkpoint: at least as many records, and the same
// root over the first that many. A chain whose records are gone, cut or
// rewritten is a *Error with ReasonRollback or ReasonFork naming the
// chain and the checkpoint file, and OpenDurable refuses the log before
// anything is cut or appended; for a chain with checkpoints and no
// record at all, the rollback adds that a Keeper's directory belongs to
// one log (the segments are gone, or another log keeps its checkpoints
// there). So is a newest checkpoint whose signature
// by the key the chain had in force at its size, if the Keeper holds
// that key (SignerAt), does not verify, or whose signature line is that
// key's with its key name or hash damaged (see Keeper): a *Error of
// ReasonBadSignature naming the file (ReasonFormat for a note that Open
// refuses). So is a
// newest checkpoint that is no checkpoint (an empty file, text that does
// not parse, a directory or a named pipe in its place): a *Error of
// ReasonFormat naming the file and what is wrong with it, and one whose
// origin is another chain's (ReasonOriginMismatch, as VerifyDir says); the
// log may be whole, but the Keeper signs nothing on top of a checkpoint it
// cannot check it against. One whose
// key in force the Keeper does not hold is not checked for its signature
// (see Keeper). It also returns the first failure of the
// replay itself (a chain seen from the middle). It marks the chains
// another key holds (see Keeper), which it signs nothing of. Then it writes the
// checkpoints that came due during the replay (a crash kept them from
// being written): one per such chain, of all it replayed, signed by the
// key in force there (SignerAt), which only the whole replay tells.
func (k *Keeper) CheckReplay() error {
	if err := k.checkReplay(); err != nil {
		return err
	}
	for _, c := range k.all() {
		k.foreignLocked(c)
		k.writeReplayed(c)
	}
	return k.Err()
}

// foreignLocked marks c foreign (see keptChain) when its newest
// checkpoint, where the Keeper's key is in force, bears no signature by
// it: a chain whose records no signature in the log claims
// (checkpoint-sealed) says only there which key holds it, and signing on
// top with the Keeper's key would take it over, which a verifier
// following the chain from that key cannot follow. Run by CheckReplay
// once the replay has told every transition (and sdk.OpenDurable the
// chains it refuses: the Keeper's key retired there, at seq 0), before
// the checkpoints that came due are written.
func (k *Keeper) foreignLocked(c *keptChain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.note == nil || c.loadErr != nil || c.nameErr != nil || c.noteSigned || k.closed.Load() {
		return
	}
	own := k.Signer()
	if held, err := heldByOther(c.note, c.last, own.Public(), KeyName(c.writer), c.retired); !held || err != nil {
		return // a damaged note (err) checkNewest refused already
	}
	c.foreign = true
	if c.retired == nil {
		c.retired = map[sdk.KeyID]uint64{}
	}
	c.retired[own.KeyID()] = 0
}

// heldByOther is the rule of foreignLocked, and of keyrule.KeptHolder
// for a log read without a Keeper: note, a chain's newest kept
// checkpoint, of size size, says another key than own holds the chain
// when own is in force there (retired, the seqs at which the chain's
// transitions retired keys, names no transition of own, nor any at or
// after size, which would hand the key in force on) and note bears no
// signature by own, nor a signature line that is own's damaged (its key
// name or hash changed: damagedOwn, with name, the key name own signs
// the chain under). Where own is in force, a note that is damaged (that
// line, a signature by own that does not verify, a note Open refuses)
// is the *Error Open or damagedOwn gives, as the Keeper's checkNewest
// refuses it (newestSigned): no key holds a chain by a damaged file.
func heldByOther(note []byte, size int64, own ed25519.PublicKey, name string, retired map[sdk.KeyID]uint64) (bool, error) {
	if _, ok := retired[sdk.KeyIDOf(own)]; ok {
		return false, nil // refused apart, or a transition retired it before
	}
	for _, at := range retired {
		if int64(at) >= size {
			return false, nil // a transition at or after the checkpoint hands its key on
		}
	}
	_, err := openOwn(note, own, name)
	switch {
	case err == nil:
		return false, nil // signed by own
	case errors.Is(err, ErrUnknownKey):
		return true, nil // no line of own's, damaged or not (openOwn)
	}
	return false, err
}

// sealedBy is the keyrule.Sealed of chain (writer, stream) whose newest
// checkpoint note, of size size kept at path, heldByOther found held by
// another key: naming that key when one of pubs signed note.
func sealedBy(writer, stream, path string, size int64, note []byte, pubs []ed25519.PublicKey) keyrule.Sealed {
	s := keyrule.Sealed{Writer: writer, Stream: stream, Path: path, Size: uint64(size)}
	for _, pub := range pubs {
		if _, err := Open(note, KeyVerifiers(pub)); err == nil {
			s.Key, s.Known = sdk.KeyIDOf(pub), true
			break
		}
	}
	return s
}

func init() {
	keyrule.KeptHolders = keptHolders
	keyrule.KeptHolder = keptHolder
}

// keptHolder is keyrule.KeptHolder: the Keeper's rule (heldByOther) over
// the newest checkpoint of the chain kept with the log in dir, read as a
// Keeper kept there reads it (loadLatest).
func keptHolder(dir string, own ed25519.PublicKey, pubs []ed25519.PublicKey, writer, stream string, retired map[[8]byte]uint64) (keyrule.Sealed, bool, error) {
	cpDir, err := KeptDir(dir)
	if err != nil || cpDir == "" {
		return keyrule.Sealed{}, false, err
	}
	if chainNameErr(cpDir, writer, stream) != nil {
		return keyrule.Sealed{}, false, nil // no checkpoint of it can be kept
	}
	chainDir := filepath.Join(cpDir, dirName(writer), dirName(stream))
	c := &keptChain{writer: writer, stream: stream}
	if c.loadLatest(chainDir); c.loadErr != nil {
		return keyrule.Sealed{}, false, c.loadErr
	}
	ids := make(map[sdk.KeyID]uint64, len(retired))
	for id, at := range retired {
		ids[sdk.KeyID(id)] = at
	}
	if c.note == nil {
		return keyrule.Sealed{}, false, nil
	}
	path := filepath.Join(chainDir, noteFile(c.last))
	held, err := heldByOther(c.note, c.last, own, KeyName(writer), ids)
	if err != nil {
		// Damaged, not another key's: named as VerifyKept names a kept
		// checkpoint that does not hold.
		return keyrule.Sealed{}, false, &DirError{WriterID: writer, Stream: stream, Seq: uint64(c.last), Path: path, Err: err}
	}
	if !held {
		return keyrule.Sealed{}, false, nil
	}
	return sealedBy(writer, stream, path, c.last, c.note, pubs), true, nil
}

// foreignChainer is a Keeper, or a type that embeds one (package node's
// Observer), for keyrule.KeptHolders.
type foreignChainer interface {
	foreignChains(pubs []ed25519.PublicKey) []keyrule.Sealed
}

// keptHolders is keyrule.KeptHolders.
func keptHolders(observer any, pubs []ed25519.PublicKey) ([]keyrule.Sealed, bool) {
	if f, ok := observer.(foreignChainer); ok {
		return f.foreignChains(pubs), true
	}
	return nil, false
}

// foreignChains returns the chains CheckReplay found foreign, each with
// the key of pubs that signed its newest checkpoint, if one did.
func (k *Keeper) foreignChains(pubs []ed25519.PublicKey) []keyrule.Sealed {
	var out []keyrule.Sealed
	for _, c := range k.all() {
		c.mu.Lock()
		if c.foreign {
			out = append(out, sealedBy(c.writer, c.stream, filepath.Join(k.chainDir(c.writer, c.stream), noteFile(c.last)), c.last, c.note, pubs))
		}
		c.mu.Unlock()
	}
	return out
}

// writeReplayed writes the checkpoint a replay found due on c. The lock
// is released by defer: the Signer and OnFailure are the host's code, and
// a panic there must not leave the chain locked (the Log's appends take
// it next, through Committed and Durable).
func (k *Keeper) writeReplayed(c *keptChain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nameErr != nil {
		// Not the replay's failure: the log holds what it held, and
		// refusing it would stop every chain. Close and Tick name it.
		c.replayDue = false
	}
	if c.replayDue && !k.closed.Load() {
		c.replayDue = false
		if err := k.writeLocked(c, int64(c.durable)); err != nil {
			k.fail(err)
		}
	}
}

// checkReplay is CheckReplay's check of the replayed log.
func (k *Keeper) checkReplay() error {
	if err := k.Err(); err != nil {
		return err
	}
	chains, err := HistoryChains(k.dir)
	if err != nil {
		return historyErr("reading the checkpoint history in "+k.dir, err)
	}
	for _, wc := range chains {
		c := k.chain(wc[0], wc[1])
		c.mu.Lock()
		err := k.checkNewest(c, k.chainDir(c.writer, c.stream))
		empty := c.tree.Size() == 0
		c.mu.Unlock()
		var e *Error
		if empty && errors.As(err, &e) && e.Reason == ReasonRollback {
			// A chain with checkpoints and no record at all: its segments
			// are gone, or the directory is another log's as well. Only
			// for the rollback: a newest checkpoint that is malformed
			// (ReasonFormat) or badly signed is so whatever the log, and
			// the hint would send the reader to the wrong place.
			return newErr(e.Reason, e.Detail+"; a Keeper's directory belongs to one log", e.Err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkNewest checks the newest checkpoint of c's history, kept in dir,
// for c, whose lock the caller holds: its signature by the key the chain
// had in force at its size, where the Keeper holds that key
// (newestSigned), and that c's tree extends it.
func (k *Keeper) checkNewest(c *keptChain, dir string) error {
	if c.loadErr != nil {
		var e *Error
		if errors.As(c.loadErr, &e) {
			// A file that is no note (not a regular file, too large):
			// readNote's error names it and says why.
			return newErr(e.Reason, "reading the newest checkpoint of "+names.Chain(c.writer, c.stream)+": "+e.Detail, e.Err)
		}
		return historyErr("reading the newest checkpoint of "+names.Chain(c.writer, c.stream), c.loadErr)
	}
	if c.note == nil {
		return nil
	}
	path := filepath.Join(dir, noteFile(c.last))
	text, _, _ := strings.Cut(string(c.note), "\n\n")
	cp, err := parseText(text + "\n")
	if err != nil && len(c.note) == 0 {
		return newestFormat(c, path, "is an empty file", nil)
	}
	if err != nil {
		return newestFormat(c, path, "is not a checkpoint", err)
	}
	if cp.Size != c.last {
		return newestFormat(c, path, "is misnamed", sizeMismatch(cp.Size, c.last))
	}
	if want := Origin(c.writer, c.stream); cp.Origin != want {
		// Another chain's checkpoint text over this chain's root (its
		// signature, by a key the Keeper does not hold, unchecked) would
		// pass Extends, and Newest would report it as the other chain's.
		return newestFormat(c, path, "is another chain's", newErr(ReasonOriginMismatch, "the file is in the directory of "+want+", the checkpoint in it is of "+quote(cp.Origin), nil))
	}
	if err := k.newestSigned(c, cp.Size, path); err != nil {
		return err
	}
	if err := c.tree.Extends(cp); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return newErr(e.Reason, e.Detail+" ("+path+")", e.Err)
		}
		return err
	}
	return nil
}

// newestSigned checks the signature of c's newest checkpoint, of size
// size, kept at path, by the key the chain had in force at that size
// (signerFor, as SignerAt), when the Keeper holds that key: opened as
// VerifyDir and VerifyKept open it (Open, with KeyVerifiers of its
// public key), a signature by that key that does not verify is an *Error
// of ReasonBadSignature, and so is a signature line that is that key's
// with its key name or key hash damaged (damagedOwn: one flipped byte
// there would otherwise read as another key's), and a note Open refuses
// one of ReasonFormat, each naming path: the Keeper signs nothing on top
// of a checkpoint that is not what it claims to be. When the Keeper does
// not hold the key in force there (it was given only the key a
// transition named, and the checkpoint is by the key that transition
// retired), or the note bears no signature by that key (another key's,
// which it cannot judge), it checks nothing: the offline verifier
// (VerifyDir, VerifyKept), given the public keys, judges the checkpoint.
// The caller holds c's lock.
func (k *Keeper) newestSigned(c *keptChain, size int64, path string) error {
	if c.noteSigned {
		return nil
	}
	signer := k.signerFor(c, size)
	if signer == nil {
		return nil
	}
	// A signature line that is this key's with its key name or hash
	// damaged is ReasonBadSignature (openOwn): a damaged file, not a key
	// to go looking for.
	_, err := openOwn(c.note, signer.Public(), KeyName(c.writer))
	var e *Error
	switch {
	case err == nil:
		c.noteSigned = true
		return nil
	case errors.Is(err, ErrUnknownKey):
		return nil // another key's
	case errors.As(err, &e):
		return newErr(e.Reason, e.Detail+" ("+path+")", e.Err)
	}
	return fmt.Errorf("checkpoint: %s: %w", path, err)
}

// newestFormat is the *Error of c's newest checkpoint, kept at path,
// that is not one the Keeper can check the log against: it names the
// file and says what is wrong with it (what, then err's detail), for
// OpenDurable fails with it (CheckReplay) and the log may well be whole.
// Its reason is err's, if err is an *Error (ReasonOriginMismatch for
// another chain's, as VerifyDir says), else ReasonFormat. The caller
// holds c's lock.
func newestFormat(c *keptChain, path, what string, err error) *Error {
	detail := "the newest checkpoint of " + names.Chain(c.writer, c.stream) + ", " + path + ", " + what
	var e *Error
	if errors.As(err, &e) {
		return newErr(e.Reason, detail+": "+e.Detail, e.Err)
	}
	return newErr(ReasonFormat, detail, err)
}

// sizeMismatch is the error of a kept checkpoint of size size in the
// file named for size named (noteFile).
func sizeMismatch(size, named int64) error {
	return newErr(ReasonFormat, "the file is named for size "+strconv.FormatInt(named, 10)+
		", the checkpoint in it is of size "+strconv.FormatInt(size, 10), nil)
}

// historyErr is the error of a history the Keeper could not read: the
// file system's (an *fs.PathError, a *fsutil.BrokenLinkError) as it is,
// with what was read, for that is no verdict on any checkpoint; any other
// (a note that does not parse) a *Error of ReasonFormat.
func historyErr(what string, err error) error {
	var (
		pe *fs.PathError
		bl *fsutil.BrokenLinkError
	)
	if errors.As(err, &pe) || errors.As(err, &bl) {
		return fmt.Errorf("checkpoint: %s: %w", what, err)
	}
	return newErr(ReasonFormat, what, err)
}

// dirName is the directory name of a writer id or stream in the history:
// its escaped form (as in Origin), except that "." and "..", which escape
// to themselves and would name the directory itself or its parent, have
// their dots escaped.
func dirName(c string) string { return chaindir.Name(c) }

// parseDirName reverses dirName.
func parseDirName(name string) (string, bool) {
	switch name {
	case "%2E":
		return ".", true
	case "%2E%2E":
		return "..", true
	}
	return unescapeComponent(name)
}

// chainDirAt reports whether path, named as a writer's or a stream's
// directory in the history, is one there, following a symbolic link as
// the Keeper does when it writes there: false when it is gone (since it
// was listed). Anything else is an error naming it: a path that cannot be
// followed (a link to nothing, a loop of links; a *fsutil.BrokenLinkError)
// or looked at (an *fs.PathError), or one that is not a directory (a
// file, a FIFO, a socket: an *fs.PathError of errNotDir and its mode, as
// KeptDir's of the checkpoints directory). Each may hold checkpoints, or
// stand where the Keeper would write them, that nobody can see: a
// verifier passing it over would leave the chain unchecked.
func chainDirAt(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if berr := fsutil.BrokenLink(path); berr != nil {
			return false, berr
		}
		return false, nil // gone since it was listed
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		// Not os.ReadDir's own error: opening a FIFO to list it blocks.
		return false, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (mode %s)", errNotDir, fi.Mode())}
	}
	return true, nil
}

// HistoryChains lists the chains that have checkpoints kept under dir (as
// a Keeper keeps them), as {writerId, stream} pairs in directory order.
// Entries whose names are not escaped components are skipped: a Keeper
// writes none. A missing dir has none. An entry so named that is not a
// directory (or a link to one), such as a file in place of a chain's
// directory, or that cannot be followed or looked at (a symbolic link to
// nothing, a loop of links), or a dir that is a link to nothing, is an
// error naming it (an *fs.PathError, of "not a directory" for one that
// is not, or a *fsutil.BrokenLinkError), not a chain without
// checkpoints: a verifier would have left that chain unchecked, as
// VerifyDir refuses to. A dir "" is refused (ErrNoDir), not read as the
// current directory.
func HistoryChains(dir string) ([][2]string, error) {
	if dir == "" {
		return nil, noDir("HistoryChains")
	}
	writers, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fsutil.BrokenLink(dir)
	}
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range writers {
		writer, ok := parseDirName(w.Name())
		if !ok {
			continue
		}
		if ok, err := chainDirAt(filepath.Join(dir, w.Name())); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		streams, err := os.ReadDir(filepath.Join(dir, w.Name()))
		if err != nil {
			return nil, err
		}
		for _, st := range streams {
			stream, ok := parseDirName(st.Name())
			if !ok {
				continue
			}
			if ok, err := chainDirAt(filepath.Join(dir, w.Name(), st.Name())); err != nil {
				return nil, err
			} else if !ok {
				continue
			}
			sizes, err := historySizes(filepath.Join(dir, w.Name(), st.Name()))
			if err != nil {
				return nil, err
			}
			if len(sizes) > 0 {
				out = append(out, [2]string{writer, stream})
			}
		}
	}
	return out, nil
}

// Checkpoint signs a checkpoint of the chain now, at its durable size, if
// records are durable beyond the newest checkpoint, and returns the newest
// checkpoint (nil when the chain has no durable record). After Close it
// writes nothing and returns an *Error of ReasonSign wrapping ErrClosed
// (Close).
func (k *Keeper) Checkpoint(writer, stream string) ([]byte, error) {
	c := k.chain(writer, stream)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := k.closedErr(c, "Checkpoint"); err != nil {
		return nil, err
	}
	if err := k.writeLocked(c, int64(c.durable)); err != nil {
		k.fail(err)
		return nil, err
	}
	return c.note, nil
}

// SealChain implements sdk.Sealer: a checkpoint of what is durable of the
// chain now; it returns the size the newest checkpoint covers. After
// Close it writes nothing and returns that size with an *Error of
// ReasonSign wrapping ErrClosed (Close): the Log's Seal or
// Close fails with it, its tail unvouched, rather than have a checkpoint
// written into a directory the host may be archiving or removing.
func (k *Keeper) SealChain(writer, stream string) (uint64, error) {
	c := k.chain(writer, stream)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := k.closedErr(c, "SealChain"); err != nil {
		return uint64(c.last), err
	}
	if err := k.writeLocked(c, int64(c.durable)); err != nil {
		k.fail(err)
		return uint64(c.last), err
	}
	return uint64(c.last), nil
}

// HistoryPaths returns the files of the checkpoints a Keeper keeps under
// dir for a chain, oldest first (none when it has none: its directory is
// not there; one that is a symbolic link to nothing, or that cannot be
// listed, is an error). A dir "" is refused (ErrNoDir).
func HistoryPaths(dir, writer, stream string) ([]string, error) {
	if dir == "" {
		return nil, noDir("HistoryPaths")
	}
	return (&Keeper{dir: dir}).History(writer, stream)
}

// LoadHistory reads the checkpoints a Keeper keeps under dir for a chain,
// oldest first (ReadNote reads each). A dir "" is refused (ErrNoDir),
// not read as the current directory: KeptDir's "" says a log keeps no
// checkpoints, and is no directory to read.
func LoadHistory(dir, writer, stream string) ([][]byte, error) {
	if dir == "" {
		return nil, noDir("LoadHistory")
	}
	paths, err := HistoryPaths(dir, writer, stream)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, p := range paths {
		b, err := ReadNote(p)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Close signs a checkpoint of every chain whose durable records go past
// its newest checkpoint (a clean shutdown leaves every chain checkpointed)
// and returns the first error the Keeper met. Close the Log first: its
// Close tells the Keeper every record durable (an append still waiting
// for its fsync included), so that these checkpoints reach each chain's
// last record.
//
// Close ends the Keeper's part: from the moment it begins, only Close
// writes into the directory, of the records the Keeper had heard of, so
// that once it has returned the host may copy, archive or remove the
// directory. The Observer's calls that come later (Committed, Durable,
// Retired, FollowKey: a Pending.Wait that returns after the Log and the
// Keeper closed, a rotation's last calls, a Log still running) change
// nothing and write nothing; SealChain and Checkpoint write nothing and
// return an *Error of ReasonSign wrapping ErrClosed (a Log
// closed after the Keeper under the checkpoint-sealed policy fails its
// Close with it: its tail has no checkpoint); Tick and CheckReplay write
// nothing (Tick returns Err). A second Close waits for the first, tries
// again the checkpoints that failed (a directory that was full, say),
// of the same records, and returns Err.
func (k *Keeper) Close() error {
	k.closeMu.Lock()
	defer k.closeMu.Unlock()
	// Set before all lists the chains: a chain made from here on finds it
	// set, and Close takes the lock of every other in turn, so a write
	// under way on one (it checked closed before) is done when Close
	// returns, and none starts after.
	k.closed.Store(true)
	for _, c := range k.all() {
		if err := k.writeClosing(c); err != nil {
			k.fail(err)
		}
	}
	return k.Err()
}

// closedErr is the error of a checkpoint of c that what (SealChain,
// Checkpoint) asks for once Close has begun, nil before; the caller holds
// c's lock (see closed).
func (k *Keeper) closedErr(c *keptChain, what string) error {
	if !k.closed.Load() {
		return nil
	}
	return newErr(ReasonSign, what+" of "+names.Chain(c.writer, c.stream), ErrClosed)
}

// Tick signs the checkpoints that Interval has made due: of every chain
// with durable records past its newest checkpoint, signed Interval ago or
// more. Durable checks that too, but only when a record arrives; a host
// calls Tick from a ticker (every Interval/4, say) so that the tail of a
// chain that went quiet is vouched for within about Interval. It returns
// the first error the Keeper met. After Close it writes nothing (Close).
// A Signer or OnFailure that panics in Tick, Close or CheckReplay: the
// panic reaches the caller with the chain's lock free (the Log's appends
// take it next, through Committed and Durable) and the chain's newest
// checkpoint as it was.
func (k *Keeper) Tick() error {
	if k.opts.Interval <= 0 {
		return k.Err()
	}
	now := k.opts.Clock()
	for _, c := range k.all() {
		k.tick(c, now)
	}
	return k.Err()
}

// tick is Tick for one chain. The lock is released by defer (see
// writeReplayed): a host that calls Tick itself may recover a panic.
func (k *Keeper) tick(c *keptChain, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch size := int64(c.durable); {
	case k.closed.Load():
	case size <= c.last:
	case c.lastAt.IsZero():
		c.lastAt = now // replayed, never checkpointed: the interval runs from now
	case now.Sub(c.lastAt) >= k.opts.Interval:
		if err := k.writeLocked(c, size); err != nil {
			k.fail(err)
		}
	}
}

// writeClosing is Close's write of c's checkpoint. The lock is released
// by defer (see writeReplayed).
func (k *Keeper) writeClosing(c *keptChain) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return k.writeLocked(c, int64(c.durable))
}

// Newest returns the newest checkpoint of each chain the Keeper holds
// that has one (read from the history when the chain was first seen, or
// written since), in origin order, without its Note: what an exporter
// that follows the Keeper must have exported up to (export.Auto's Start
// catches up with it after a crash).
func (k *Keeper) Newest() []Checkpoint {
	var out []Checkpoint
	for _, c := range k.all() {
		c.mu.Lock()
		note, loadErr := c.note, c.loadErr
		c.mu.Unlock()
		if note == nil || loadErr != nil {
			continue
		}
		text, _, _ := strings.Cut(string(note), "\n\n")
		if cp, err := parseText(text + "\n"); err == nil {
			out = append(out, cp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out
}

func (k *Keeper) all() []*keptChain {
	k.mu.Lock()
	defer k.mu.Unlock()
	var all []*keptChain
	for _, w := range k.chains {
		for _, c := range w {
			k.loadLocked(c) // as chain does, for callers that read the history
			all = append(all, c)
		}
	}
	return all
}

// Tree returns the tree of a chain (for proofs); it grows as records are
// committed, and a proof must be made against a checkpoint's size.
func (k *Keeper) Tree(writer, stream string) *Tree { return k.chain(writer, stream).tree }

// History returns the paths of a chain's checkpoints, oldest first.
func (k *Keeper) History(writer, stream string) ([]string, error) {
	dir := k.chainDir(writer, stream)
	sizes, err := historySizes(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []string
	for _, s := range sizes {
		out = append(out, filepath.Join(dir, noteFile(s)))
	}
	return out, nil
}

// Verifier returns the note verifier of a writer's checkpoints.
func (k *Keeper) Verifier(writer string) (note.Verifier, error) {
	return NoteVerifier(KeyName(writer), ed25519.PublicKey(k.Signer().Public()))
}
