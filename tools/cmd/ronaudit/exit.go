package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// Exit statuses: a contract (the package doc and the usage text say it),
// so that a script can tell evidence of tampering or damage (1) from a
// system that could not do the job (3).
const (
	exitOK     = 0 // everything asked held, or was done
	exitFailed = 1 // a verification failed: the data was read and does not verify
	exitUsage  = 2 // bad arguments or flags
	exitError  = 3 // an operational error: I/O, permissions, a key refused, output not written, bad input, interrupted
)

// classified is an error the CLI marks with the exit status it means,
// over what exitCode would make of what it wraps: failed for the CLI's
// own verdicts (a proof for another checkpoint, say), operational for a
// refusal that holds a verification sentinel but is no evidence about
// the data (a key the chain retired, given to sign).
type classified struct {
	code int
	err  error
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// oneLine is err said on one line (names.Line: each unprintable
// character as its Go escape), matching what it wraps: the failure of a
// command reading files anyone may have made (a proof file, the names
// under a bundle directory) cannot write a line of the report.
type oneLine struct{ err error }

func (e *oneLine) Error() string { return names.Line(e.err.Error()) }
func (e *oneLine) Unwrap() error { return e.err }

// failed marks err as a verification failure (exit 1).
func failed(err error) error { return &classified{exitFailed, err} }

// operational marks err as an operational error (exit 3).
func operational(err error) error { return &classified{exitError, err} }

// exitCode is the exit status of a command that failed with err: the
// status err was marked with (failed, operational), else exitFailed when
// err is a typed verification failure of the library (isVerification),
// else exitError: I/O and permission errors, key files refused, output
// that could not be written, and anything else that says nothing about
// the data.
//
// An error that joins several (errors.Join, or fmt.Errorf with more than
// one %w) is a verification failure if any of its branches, judged on its
// own, is one, whatever the others are: a verification failure wins over
// an operational error (worse), also when both come back as one error. A
// mark is not looked below.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitError
	if c := (*classified)(nil); errors.As(err, &c) {
		code = c.code
	} else if isVerification(err) {
		code = exitFailed
	}
	if code != exitFailed && joinedFailure(err) {
		return exitFailed
	}
	return code
}

// joinedFailure reports whether a branch of an error that err joins (or
// wraps one that joins), judged alone by exitCode, is a verification
// failure; it does not look below a mark.
func joinedFailure(err error) bool {
	switch e := err.(type) {
	case *classified:
		return false
	case interface{ Unwrap() []error }:
		for _, b := range e.Unwrap() {
			if b != nil && exitCode(b) == exitFailed {
				return true
			}
		}
		return false
	}
	if u := errors.Unwrap(err); u != nil {
		return joinedFailure(u)
	}
	return false
}

// isVerification reports whether err says that data was read and does
// not verify: a record or chain that fails (*sdk.VerifyError, and the
// *sdk.DurableError that places it in a log), WAL damage that is not a
// torn tail (wal.ErrCorrupt: a bad frame, a missing segment, a segment
// that is not a regular file) or a segment format this reader does not
// know (wal.ErrVersion), a checkpoint or proof that fails
// (*checkpoint.Error, but ReasonSign: a signer that failed), a bundle or
// sequence that fails (*export.Error), a chain's bundles that do not hold
// every record of the log or end past its newest kept checkpoint
// (node.ErrUnexported, node.ErrCheckpointMissing). A *checkpoint.DirError is one when
// it wraps one of these (a kept checkpoint that does not hold), not when
// it wraps the file system's error (a checkpoints directory that cannot
// be read).
func isVerification(err error) bool {
	var ce *checkpoint.Error
	if errors.As(err, &ce) {
		return ce.Reason != checkpoint.ReasonSign
	}
	var (
		ve *sdk.VerifyError
		ee *export.Error
	)
	return errors.As(err, &ve) || errors.As(err, &ee) ||
		errors.Is(err, node.ErrUnexported) || errors.Is(err, node.ErrCheckpointMissing) ||
		errors.Is(err, sdk.ErrDurable) || errors.Is(err, wal.ErrCorrupt) || errors.Is(err, wal.ErrVersion)
}

// reportFailure says err, the failure of the verifying command cmd
// (verify, verify-bundle, verify-proof), where its kind belongs, and
// returns the exit status: a verification failure (exitCode 1) is the
// command's verdict, "FAIL:" on stdout beside its "ok" lines; anything
// else (a file that cannot be read, a key file refused) is no verdict on
// the data and goes to stderr, so that a script reading stdout never
// takes it for one.
func reportFailure(cmd string, stdout, stderr io.Writer, err error) int {
	code := exitCode(err)
	if code != exitFailed {
		fmt.Fprintf(stderr, "ronaudit %s: %v\n", cmd, err)
		return code
	}
	fmt.Fprintf(stdout, "FAIL: %v\n", err)
	return exitFailed
}

// worse is the exit status of a command that met both a and b (0, 1 or
// 3): a verification failure wins over an operational error, which wins
// over success. The evidence is what a caller must not miss: a log found
// tampered with stays 1 even if writing the output then failed.
func worse(a, b int) int {
	rank := func(c int) int {
		switch c {
		case exitOK:
			return 0
		case exitError:
			return 1
		case exitUsage:
			return 2
		}
		return 3 // exitFailed
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
