package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

func appendCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flags("append", stderr)
	dir := fs.String("wal", "", "log directory (created with mode 0700; an existing one must be a log or empty)")
	keyPath := fs.String("key", "", "private key file (mode 0600), from ronaudit keygen")
	stream := fs.String("stream", "", "stream of records that name none")
	writer := fs.String("writer", "", "writerId of records that name none")
	fsync := fs.String("fsync", "batch", "fsync policy: batch (group commit) or always")
	onBad := fs.String("on-bad", "stop", "a bad input line: stop the run, or skip it")
	sealEvery := fs.Int("seal-every", 0, "checkpoint-sealed: records are not signed, a checkpoint signs each stream every N records (0: every record is signed)")
	exportDir := fs.String("export", "", "also write export bundles here, one after each checkpoint (every 10,000 records or --seal-every N, 15 minutes, and at exit)")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of an earlier signer of the log (repeatable): a key this one took over from by ronaudit rotate, to verify its records on open")
	if err := parse(fs, args); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fs, "", "wal", "key"); why != "" {
		return badArgs(stderr, "append", why)
	}
	// A name no record can hold is the arguments' fault, said once: it
	// was each line's ("line 1: ... writerId: text is not valid UTF-8"),
	// and under --on-bad skip every line was skipped and the run exit 0.
	for _, f := range []struct{ flag, value string }{{"--writer", *writer}, {"--stream", *stream}} {
		if !utf8.ValidString(f.value) || strings.IndexByte(f.value, 0) >= 0 {
			fmt.Fprintf(stderr, "ronaudit append: %s %q: not UTF-8 text without NUL bytes, as a record's names must be\n", f.flag, f.value)
			return 2
		}
	}
	if *sealEvery < 0 {
		fmt.Fprintln(stderr, "ronaudit append: --seal-every is 0 (every record signed) or N > 0")
		return 2
	}
	if *onBad != "stop" && *onBad != "skip" {
		fmt.Fprintln(stderr, "ronaudit append: --on-bad is stop or skip")
		return 2
	}
	policy, err := wal.ParseFsyncPolicy(*fsync)
	if err != nil || policy == wal.FsyncNever {
		fmt.Fprintln(stderr, "ronaudit append: --fsync is batch or always")
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit append:", err); return exitCode(err) }
	signer, err := sdk.LoadSigner(*keyPath)
	if err != nil {
		return fail(err)
	}
	// Every key is loaded before anything is made: a key refused must
	// not leave DIR/checkpoints behind, which verify fails as a log whose
	// segments are gone.
	earlier, err := loadPubs(pubs)
	if err != nil {
		return fail(err)
	}
	// node.Open wires the Macronode as every host does: the durable log,
	// the Keeper keeping checkpoints of every chain in DIR/checkpoints
	// (every 10,000 records, every 15 minutes, and at exit), with --export
	// an exporter writing a bundle after each checkpoint, and a ticker, so
	// that a chain whose input goes quiet is still checkpointed within the
	// 15 minutes. Under --seal-every N the checkpoints are the only seals,
	// so they come every N records: N is the most a crash or a cut can
	// leave unvouched for. No OnFailure: a failed checkpoint or export is
	// said once, at Close, which returns the part's first failure.
	opts := node.Options{
		SealEvery: *sealEvery,
		ExportDir: *exportDir,
		Durable:   sdk.DurableOptions{WAL: wal.Options{Fsync: policy}, Keys: sdk.NewKeySet(append(earlier, signer.Public())...)},
	}
	if *sealEvery > 1 {
		opts.Every = int64(*sealEvery)
	}
	n, rec, err := node.Open(*dir, signer, opts)
	if err != nil {
		// A log that fails verification is not extended: exit 1.
		fmt.Fprintln(stderr, "ronaudit append:", err)
		openHint(stderr, "append", err)
		return exitCode(err)
	}
	// Said after Close, once the sweeps are done: the checkpoints', then
	// the exporter's (deferred calls run last in, first out).
	defer reportTemps(stderr, "ronaudit append: export", n.ExportTempStats)
	defer reportTemps(stderr, "ronaudit append: checkpoints", n.Keeper().TempStats)
	log := n.Log()
	if rec.WAL.TornBytes > 0 {
		fmt.Fprintf(stderr, "ronaudit append: recovered the log: cut a torn tail of %d bytes at %s (%s)\n", rec.WAL.TornBytes, rec.WAL.TornAt, rec.WAL.TornReason)
	}

	// Records are appended in input order and printed in that order, each
	// only once it is durable; the printer waits while the reader goes on,
	// so records share fsyncs.
	pending := make(chan sdk.Pending, 256)
	printed := make(chan error, 1)
	// outFailed closes when an acknowledgment cannot be written (stdout
	// closed, a full disk): the reading stops then, as on a signal, since
	// records appended after it would be durable with nobody told.
	outFailed := make(chan struct{})
	go func() { printed <- printAcks(pending, stdout, outFailed) }()

	// SIGINT or SIGTERM stops the reading, not the run: what was
	// appended is still acknowledged, checkpointed and exported below. A
	// second signal kills as usual.
	ctx, stopSignals := interrupts()
	defer stopSignals()
	lines := readLines(stdin, maxLine)
	lineNo, bad, code := 0, 0, 0
read:
	for {
		var in inputLine
		select {
		case <-ctx.Done():
			stopSignals()
			fmt.Fprintf(stderr, "ronaudit append: interrupted after line %d: finishing what was appended\n", lineNo)
			code = exitError
			break read
		case <-outFailed:
			fmt.Fprintf(stderr, "ronaudit append: stdout could not be written: stopped reading after line %d: finishing what was appended\n", lineNo)
			code = exitError
			break read
		case l, ok := <-lines:
			if !ok {
				break read
			}
			in = l
		}
		lineNo++
		if in.err != nil {
			fmt.Fprintf(stderr, "ronaudit append: reading line %d: %v\n", lineNo, in.err)
			code = exitError
			break
		}
		var err error
		if in.tooLong {
			err = fmt.Errorf("longer than %d bytes, more than any record's JSON", maxLine)
		} else if len(trimSpace(in.text)) == 0 {
			continue
		} else {
			var r canonical.AuditRecord
			if err = parseLine(in.text, &r); err == nil {
				if r.WriterID == "" {
					r.WriterID = *writer
				}
				if r.Stream == "" {
					r.Stream = *stream
				}
				var p sdk.Pending
				if p, err = log.AppendPending(&r); err == nil {
					pending <- p
					continue
				}
			}
		}
		// A bad line's message may quote the line (a field name it
		// does not know, as the input spells it): one line (oneLine),
		// for the input is whoever feeds it.
		err = &oneLine{flagHint(err)}
		if errors.Is(err, sdk.ErrStore) || errors.Is(err, sdk.ErrSign) || errors.Is(err, sdk.ErrConfig) {
			// Not a bad line: the log or the key cannot take records
			// (a key the chain retired, say); --on-bad skip would skip
			// every line after it.
			fmt.Fprintf(stderr, "ronaudit append: line %d: %v\n", lineNo, err)
			code = exitError
			break
		}
		bad++
		fmt.Fprintf(stderr, "ronaudit append: line %d: %v\n", lineNo, err)
		if *onBad == "stop" { // input it cannot take: exit 3, not a verdict on the log
			code = exitError
			break
		}
	}
	close(pending)
	if err := <-printed; err != nil {
		fmt.Fprintln(stderr, "ronaudit append:", err)
		code = worse(code, exitCode(err))
	}
	// The log (every record it took is durable), then the Keeper (each
	// chain's checkpoint at its last record), then the exporter (their
	// bundles). Each part's failure is a line of its own: the log's
	// "closing: ", the others named "audit checkpoints: " and
	// "audit export: " by the Node.
	if err := n.Close(); err != nil {
		for _, e := range closeErrs(err) {
			if errors.Is(e, node.ErrCheckpoint) || errors.Is(e, node.ErrExport) {
				fmt.Fprintln(stderr, "ronaudit append:", e)
			} else {
				fmt.Fprintln(stderr, "ronaudit append: closing:", e)
			}
			code = worse(code, exitCode(e))
		}
	}
	if bad > 0 && *onBad == "skip" {
		fmt.Fprintf(stderr, "ronaudit append: skipped %d bad line(s)\n", bad)
	}
	return code
}

// utf8BOM is the byte-order mark in UTF-8, which an editor may put at
// the start of a file.
var utf8BOM = []byte("\xef\xbb\xbf")

// parseLine reads one input line as a record with the canonical parser
// itself. json.Unmarshal checked the line's syntax with encoding/json
// before the parser saw it, so two records on one line were "invalid
// character '{' after top-level value" and a byte-order mark "invalid
// character 'ï'": messages that do not say what is wrong. A byte-order
// mark is said here, as the input's, not the record's.
func parseLine(line []byte, r *canonical.AuditRecord) error {
	if bytes.HasPrefix(line, utf8BOM) {
		return errors.New("a byte-order mark at the start of the line: the input is JSON Lines in UTF-8, without one")
	}
	return r.UnmarshalJSON(line)
}

// flagHint adds to the error of a record that lacks its writerId or
// stream the flag that gives one: the record's own words ("writerId:
// required") do not say that append fills them in from --writer and
// --stream.
func flagHint(err error) error {
	var fe *canonical.FieldError
	if !errors.As(err, &fe) || fe.Reason != "required" {
		return err
	}
	switch fe.Field {
	case "writerId":
		return fmt.Errorf(`%w: give --writer W, or "writerId" in the line`, err)
	case "stream":
		return fmt.Errorf(`%w: give --stream S, or "stream" in the line`, err)
	}
	return err
}

// closeErrs splits the error of node.Node.Close into the failures it
// joins, one per part, to be said one a line.
func closeErrs(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// maxLine bounds an input line: far more than the JSON of the largest
// record the format allows.
const maxLine = canonical.MaxRecordSize * 8

// inputLine is one line of input, without its newline; tooLong says it
// had more than the limit (its text is then cut), err a read error.
type inputLine struct {
	text    []byte
	tooLong bool
	err     error
}

// readLines reads r line by line on its own goroutine, so that the caller
// can stop waiting for input (on a signal) at any time. A line longer
// than max is read to its end and sent cut, with tooLong set: it is one
// bad line, not the end of the input. The channel closes at the end of
// the input or after a read error.
func readLines(r io.Reader, max int) <-chan inputLine {
	out := make(chan inputLine, 64)
	go func() {
		defer close(out)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			var line []byte
			tooLong, eof := false, false
			for {
				chunk, err := br.ReadSlice('\n')
				if len(line)+len(chunk) > max+2 { // room for "\r\n"
					tooLong = true
				} else if !tooLong {
					line = append(line, chunk...)
				}
				if err == bufio.ErrBufferFull {
					continue
				}
				if err == io.EOF {
					eof = true
					break
				}
				if err != nil {
					out <- inputLine{err: err}
					return
				}
				break
			}
			if eof && len(line) == 0 && !tooLong {
				return
			}
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) > max {
				tooLong = true
			}
			if tooLong {
				line = nil
			}
			out <- inputLine{text: line, tooLong: tooLong}
			if eof {
				return
			}
		}
	}()
	return out
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// printAcks prints the acknowledgment of each record of pending, in
// order, once it is durable, until pending is closed, and returns the
// first failure to make one durable. It closes outFailed as soon as a
// write to stdout fails.
func printAcks(pending <-chan sdk.Pending, stdout io.Writer, outFailed chan<- struct{}) error {
	out := bufio.NewWriter(stdout)
	var first error
	failedOut := false
	failed := func(err error) {
		if err != nil && !failedOut {
			failedOut = true
			close(outFailed)
		}
	}
	flush := func() { failed(out.Flush()) }
	for p := range pending {
		if err := p.Wait(); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		dup := ""
		if p.Duplicate {
			dup = " duplicate"
		}
		// A full buffer is written out here, not only by flush: the
		// failure of that write is the Fprintf's (bufio keeps it), seen
		// at once, not once no record waits, which a steady input or a
		// slow fsync may put off until the input ends.
		_, err := fmt.Fprintf(out, "%d %s %s%s\n", p.Seq, p.Record.Hash, names.Chain(p.Head.WriterID, p.Head.Stream), dup)
		failed(err)
		if len(pending) == 0 {
			flush()
		}
	}
	flush()
	return first
}
