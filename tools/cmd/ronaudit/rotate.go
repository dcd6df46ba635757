package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

func rotateCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("rotate", stderr)
	dir := fs.String("wal", "", "log directory")
	oldPath := fs.String("key", "", "the current private key (mode 0600)")
	nextPath := fs.String("new-key", "", "the private key that takes over (mode 0600), from ronaudit keygen")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of an earlier signer of the log (repeatable): the key before the last rotation, to verify its records on open")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if *dir == "" || *oldPath == "" || *nextPath == "" || fs.NArg() != 0 {
		return usageErr(stderr, "rotate")
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
	log, rec, err := sdk.OpenDurable(*dir, sdk.Config{Signer: old, Observer: keeper},
		sdk.DurableOptions{Keys: sdk.NewKeySet(append(earlier, old.Public())...)})
	if err != nil {
		openHint(stderr, "rotate", err)
		return fail(err)
	}
	var heads []sdk.Head
	if rec.Records == 0 {
		err = operational(fmt.Errorf("no records in %s: nothing to rotate (a log's first records are signed by the key append is given)", *dir))
	} else {
		heads, err = log.RotateKey(next)
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
	for _, h := range heads {
		fmt.Fprintf(stdout, "%s: key %s retired at seq %d, %s signs from seq %d on\n", names.Chain(h.WriterID, h.Stream), old.KeyID(), h.Seq, next.KeyID(), h.Seq+1)
	}
	return 0
}
