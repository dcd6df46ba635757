package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

func rotateCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("rotate", stderr)
	dir := fs.String("wal", "", "log directory")
	oldPath := fs.String("key", "", "the current private key (mode 0600)")
	nextPath := fs.String("new-key", "", "the private key that takes over (mode 0600), from ronaudit keygen")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of an earlier signer of the log (repeatable): the key before the last rotation, to verify its records on open")
	if err := parse(fs, args); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fs, "", "wal", "key", "new-key"); why != "" {
		return badArgs(stderr, "rotate", why)
	}
	// A log or kept checkpoint that fails verification, or a directory
	// with no segment files, is 1 (exitCode); no --wal path, no records, a
	// key refused, an I/O error, 3.
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit rotate:", err); return exitCode(err) }
	// Opening a log creates it: a --wal path that holds none (a typo, or
	// another directory) would become an empty log, "rotated". A
	// directory that was read and holds no segment file is no log, as
	// verify, dump, checkpoint, prove and export say (exit 1): its
	// segments may be gone, its kept checkpoints the evidence.
	if _, err := os.Stat(*dir); err != nil {
		return fail(fmt.Errorf("--wal %s: %w", *dir, err))
	}
	// Listed, not globbed: Glob takes a directory it cannot read (or a
	// regular file) for one without segments.
	ents, err := os.ReadDir(*dir)
	if err != nil {
		return fail(fmt.Errorf("--wal %s: %w", *dir, err))
	}
	segs := 0
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".seg" {
			segs++
		}
	}
	if segs == 0 {
		return fail(failed(fmt.Errorf("--wal %s: no segment files (*.seg): not a log directory", *dir)))
	}
	old, err := sdk.LoadSigner(*oldPath)
	if err != nil {
		return fail(err)
	}
	next, err := sdk.LoadSigner(*nextPath)
	if err != nil {
		return fail(err)
	}
	// The checkpoints kept with the log (as append keeps them) must still
	// hold, and get one more, by the old key, up to the transitions.
	if _, err := checkpoint.KeptDir(*dir); err != nil {
		return fail(err)
	}
	keeper, err := checkpoint.NewKeeper(filepath.Join(*dir, "checkpoints"), old, checkpoint.KeeperOptions{})
	if err != nil {
		return fail(err)
	}
	earlier, err := loadPubs(pubs)
	if err != nil {
		return fail(err)
	}
	// NEW's records verify too: a chain NEW started (after the rotation,
	// or after one a crash cut short) has no transition naming it, and
	// "run it again with the same keys" must open the log to finish.
	log, rec, err := sdk.OpenDurable(*dir, sdk.Config{Signer: old, Observer: keeper},
		sdk.DurableOptions{Keys: sdk.NewKeySet(append(earlier, old.Public(), next.Public())...)})
	if err != nil {
		code := fail(err)
		openHint(stderr, "rotate", err) // after the error it is about
		return code
	}
	var heads []sdk.Head
	var at map[[2]string]uint64
	if rec.Records == 0 {
		err = operational(fmt.Errorf("no records in %s: nothing to rotate (a log's first records are signed by the key append is given)", *dir))
	} else if heads, err = log.RotateKey(next); err == nil {
		at, err = transitions(log, *dir, heads, old.KeyID())
	}
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	if cerr := keeper.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	// RotateKey returns the heads, which are the transitions only for
	// the chains this run moved: a chain that had its transition (a run
	// again with the same keys) may have records of next after it, and
	// one next started has none. Say where the old key was retired.
	before := map[[2]string]uint64{}
	for _, h := range rec.Heads {
		before[[2]string{h.WriterID, h.Stream}] = h.Seq
	}
	for _, h := range heads {
		chain := names.Chain(h.WriterID, h.Stream)
		t, ok := at[[2]string{h.WriterID, h.Stream}]
		if !ok {
			fmt.Fprintf(stdout, "%s: %s signs it from seq 1 on (it started with that key: no transition)\n", chain, next.KeyID())
			continue
		}
		again := ""
		if b, ok := before[[2]string{h.WriterID, h.Stream}]; ok && b == h.Seq {
			again = " (rotated before: nothing written)"
		}
		fmt.Fprintf(stdout, "%s: key %s retired at seq %d, %s signs from seq %d on%s\n", chain, old.KeyID(), t, next.KeyID(), t+1, again)
	}
	return 0
}

// transitions returns the seq of each chain's key transition signed by
// old, for the chains of heads: the head itself when it is one (what a
// rotation just wrote), else, only if some chain's head is not, read
// from the log in one pass (a rotation run again, whose chains may have
// records after their transition, or chains next started, which have
// none).
func transitions(log *sdk.Log, dir string, heads []sdk.Head, old sdk.KeyID) (map[[2]string]uint64, error) {
	at := map[[2]string]uint64{}
	want := map[[2]string]uint64{}
	isTransition := func(rec sdk.Sealed) (canonical.AuditRecordView, bool) {
		if !rec.Signed || rec.KeyID != old {
			return canonical.AuditRecordView{}, false
		}
		v, err := canonical.Open(rec.Bytes)
		if err != nil {
			return v, false
		}
		_, ok, err := sdk.KeyTransition(v)
		return v, ok && err == nil
	}
	for _, h := range heads {
		recs, err := log.Records(h.WriterID, h.Stream, h.Seq, h.Seq)
		if err == nil && len(recs) == 1 {
			if _, ok := isTransition(recs[0]); ok {
				at[[2]string{h.WriterID, h.Stream}] = h.Seq
				continue
			}
		}
		want[[2]string{h.WriterID, h.Stream}] = h.Seq
	}
	if len(want) == 0 {
		return at, nil
	}
	// The transitions are durable (RotateKey returned): a reader beside
	// the writer sees them.
	_, err := sdk.ReadDir(dir, func(rec sdk.Sealed, _ wal.Position) error {
		if v, ok := isTransition(rec); ok {
			c := [2]string{string(v.WriterID()), string(v.Stream())}
			if head, ok := want[c]; ok && v.Seq() <= head {
				at[c] = v.Seq()
			}
		}
		return nil
	})
	return at, err
}
