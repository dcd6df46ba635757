package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// interrupts is how a long-running command (append, verify, dump,
// checkpoint, export) hears SIGINT and SIGTERM: ctx is done on the first,
// and the command stops cleanly, with one line on stderr saying what was
// done and what was not, and exit 3 (exitError: interrupted, the job not
// done as asked). stop restores the default, so that a signal after it
// kills as usual; until then a second signal is held too.
func interrupts() (ctx context.Context, stop context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// errInterrupted is what unlessInterrupted returns once ctx is done.
var errInterrupted = errors.New("interrupted")

// unlessInterrupted runs read, a part of a command that only reads, and
// returns its error, or errInterrupted when ctx is done first, or by the
// time read returns: a signal that came before the verdict stops the
// command, whatever read got to. The library calls read makes take no
// context, so read cannot be stopped midway: it is left to run until the
// process exits, which the command's return makes it do at once. That is
// safe only because read writes no file (notes on stderr, an fsync of
// what it read, at most); what it shares with the caller must be safe to
// read while it runs (readSoFar, an atomic count).
func unlessInterrupted(ctx context.Context, read func() error) error {
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	case <-ctx.Done():
		return errInterrupted
	}
}

// readHook, if set, is called with the command's interrupt context after
// each record verify, dump, checkpoint and export read. Nil but in the
// tests (TestInterrupted): their way to hold a command in the middle of
// its reading until it is signalled, whatever the machine's speed.
var readHook func(ctx context.Context)

// readSoFar is how far a command's reading got, for the line it says
// when interrupted: set by the reading after each record, read by the
// command while the reading may still run (unlessInterrupted).
type readSoFar struct {
	mu sync.Mutex
	n  uint64
	at wal.Position
}

func (r *readSoFar) set(n uint64, at wal.Position) {
	r.mu.Lock()
	r.n, r.at = n, at
	r.mu.Unlock()
}

// String says how far: "1 record, the last at FILE:OFFSET".
func (r *readSoFar) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return "0 records"
	}
	return count(r.n, "record") + ", the last at " + names.Path(r.at.String())
}

// vouchedUnlessInterrupted is vouchedChain for checkpoint and export
// (cmd), stopped by a signal (unlessInterrupted) before anything is
// signed or written: then it says so on stderr, with how many records of
// the chain were verified and that nothing (what) was written, and
// returns errInterrupted. keep is vouchedChain's.
func vouchedUnlessInterrupted(ctx context.Context, stderr io.Writer, cmd, dir, writer, stream string, pubs []ed25519.PublicKey, allowTail bool, keep func(sdk.Sealed)) (*checkpoint.Tree, []sdk.Retirement, error) {
	var verified atomic.Uint64
	var t *checkpoint.Tree
	var retired []sdk.Retirement
	err := unlessInterrupted(ctx, func() error {
		var err error
		t, retired, err = vouchedChain(dir, writer, stream, pubs, allowTail, stderr, func(rec sdk.Sealed) {
			if ctx.Err() != nil { // what is read after the signal is not said
				return
			}
			verified.Add(1)
			if keep != nil {
				keep(rec)
			}
			if readHook != nil {
				readHook(ctx)
			}
		})
		return err
	})
	if err == errInterrupted {
		fmt.Fprintf(stderr, "ronaudit %s: interrupted after verifying %s of %s: %s\n", cmd, count(verified.Load(), "record"), names.Chain(writer, stream), nothing(cmd))
		return nil, nil, err
	}
	return t, retired, err
}

// nothing says that checkpoint or export (cmd), interrupted before it
// wrote, wrote nothing.
func nothing(cmd string) string {
	if cmd == "export" {
		return "no bundle was written"
	}
	return "no checkpoint was signed or written"
}
