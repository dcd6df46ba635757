package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

type dumpLine struct {
	Pos       string                `json:"pos"`
	Hash      string                `json:"hash"`
	KeyID     string                `json:"keyId,omitempty"`
	Signature string                `json:"signature,omitempty"`
	Record    canonical.AuditRecord `json:"record"`
}

func dumpCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("dump", stderr)
	if err := parse(fs, args); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fs, "DIR|FILE"); why != "" {
		return badArgs(stderr, "dump", why)
	}
	// SIGINT or SIGTERM stops the dump between two records: the lines
	// printed are whole records, flushed; exit 3.
	ctx, stopSignals := interrupts()
	defer stopSignals()
	var read readSoFar
	var n uint64
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	// Each line is encoded into line, then written with names.JSON: a
	// record's text is its writer's, and a right-to-left override or a
	// C1 control in it, as encoding/json writes them, made a terminal
	// show the record otherwise than its bytes. Escaped, the JSON value
	// is the same.
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	// writeErr is stdout's error, which run says (once) and makes exit 3:
	// said here too, it would be two lines for one closed pipe.
	var writeErr error
	each := func(rec sdk.Sealed, pos wal.Position) error {
		if ctx.Err() != nil {
			return errInterrupted
		}
		v, err := canonical.Open(rec.Bytes)
		if err != nil { // bytes in the log that are not a record: damage, exit 1
			return failed(fmt.Errorf("%s: %w", pos, err))
		}
		l := dumpLine{Pos: pos.String(), Hash: rec.Hash.String(), Record: v.Decode()}
		if rec.Signed {
			l.KeyID, l.Signature = rec.KeyID.String(), hex.EncodeToString(rec.Sig[:])
		}
		line.Reset()
		if err := enc.Encode(l); err != nil {
			return err
		}
		if _, err := out.Write(names.JSON(line.Bytes())); err != nil {
			writeErr = err
			return err
		}
		n++
		read.set(n, pos)
		if readHook != nil {
			readHook(ctx)
		}
		return nil
	}
	var err error
	var torn wal.Recovery // where a torn tail starts, what it was
	if fi, serr := os.Stat(fs.Arg(0)); serr == nil && fi.Mode().IsRegular() {
		if err := notASegment("dump", fs.Arg(0)); err != nil {
			fmt.Fprintln(stderr, "ronaudit dump:", err)
			return exitUsage
		}
		var info wal.SegmentInfo
		info, err = sdk.ReadSegment(fs.Arg(0), each)
		torn = wal.Recovery{TornBytes: info.TornBytes, TornAt: wal.Position{File: fs.Arg(0), Offset: info.End}, TornReason: info.TornReason}
	} else {
		torn, err = sdk.ReadDir(fs.Arg(0), each)
		if err == nil && torn.Segments == 0 {
			// An empty dump of a wrong path would look like an empty log.
			// As for verify, the directory was read: exit 1.
			err = failed(fmt.Errorf("no segment files (*.seg) in %s: not a log directory, or its segments are gone", fs.Arg(0)))
		}
	}
	if errors.Is(err, errInterrupted) {
		out.Flush()
		fmt.Fprintf(stderr, "ronaudit dump: interrupted after %s: each line printed is a whole record; none after it was printed\n", &read)
		return exitError
	}
	if err != nil {
		// Damage to the segments (wal.ErrCorrupt) is 1; a log that
		// cannot be read, or stdout that cannot be written, 3.
		out.Flush()
		if writeErr != nil && errors.Is(err, writeErr) {
			return exitError
		}
		// The names under DIR, and the targets of links there, are
		// whoever made the tree's: said on one line (oneLine).
		fmt.Fprintln(stderr, "ronaudit dump:", &oneLine{err})
		return exitCode(err)
	}
	if torn.TornBytes > 0 {
		// What a crash leaves (not a failure, as for verify), but the
		// dump stops short of the file's end: say where, and why.
		out.Flush()
		fmt.Fprintln(stderr, names.Line(fmt.Sprintf("ronaudit dump: not dumped: a torn tail of %d bytes at %s (%s), which the next open for writing cuts",
			torn.TornBytes, torn.TornAt, torn.TornReason)))
	}
	return 0
}
