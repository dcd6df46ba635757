package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func verifyCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("verify", stderr)
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key file of a signer (repeatable); without one, signatures are not checked")
	allowTail := fs.Bool("allow-unsealed-tail", false, "accept records after a chain's last signature")
	cpPath := fs.String("checkpoint", "", "a signed checkpoint the log must extend (detects a cut, rolled back or forked log)")
	exportsDir := fs.String("exports", "", "the export directory of the log's bundles (node.Options.ExportDir, append --export): every chain's bundles must reach its newest kept checkpoint and hold every record of the log")
	if err := parse(fs, reorder(args)); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fs, "DIR|FILE"); why != "" {
		return badArgs(stderr, "verify", why)
	}
	if *cpPath != "" && len(pubs) == 0 {
		fmt.Fprintln(stderr, "ronaudit verify: --checkpoint needs --pub: the key of the checkpoint's signer")
		return 2
	}
	if *exportsDir != "" && len(pubs) == 0 {
		fmt.Fprintln(stderr, "ronaudit verify: --exports needs --pub: the key of the bundles' signer")
		return 2
	}
	ctx, stopSignals := interrupts()
	defer stopSignals()
	dir := fs.Arg(0)
	pubKeys, err := loadPubs(pubs)
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit verify:", err)
		return exitError
	}
	var keys *sdk.KeySet
	if len(pubKeys) > 0 {
		keys = sdk.NewKeySet(pubKeys...)
	}
	var bar func(uint64, wal.Position)
	if isTerminal(stderr) {
		bar = progressBar(stderr, dir)
	}
	// How far the reading got, said if a signal stops it: what it
	// reads after the signal is no part of what the command says.
	var read readSoFar
	progress := func(n uint64, at wal.Position) {
		if ctx.Err() != nil {
			return
		}
		read.set(n, at)
		if bar != nil {
			bar(n, at)
		}
		if readHook != nil {
			readHook(ctx)
		}
	}
	segment := false
	if fi, err := os.Stat(dir); err == nil && fi.Mode().IsRegular() {
		if err := notASegment("verify", dir); err != nil {
			fmt.Fprintln(stderr, "ronaudit verify:", err)
			return exitUsage
		}
		if *exportsDir != "" {
			fmt.Fprintf(stderr, "ronaudit verify: --exports needs the log directory, not one segment file (%s): the bundles hold each chain from seq 1\n", dir)
			return 2
		}
		if *cpPath != "" {
			// A checkpoint covers a chain from seq 1, across segments and
			// the log's key transitions: one segment file may hold neither.
			fmt.Fprintf(stderr, "ronaudit verify: --checkpoint needs the log directory, not one segment file (%s): a checkpoint covers its chain from seq 1, in every segment\n", dir)
			return 2
		}
		segment = true // one segment file: chains start where the file starts them
		fmt.Fprintln(stdout, "one segment: the first record of each chain in it is taken as the chain's start, and key transitions in earlier segments are not seen")
	}
	if *exportsDir != "" {
		// A path that does not exist is no verdict (the help, and
		// verify-bundle PATH): stderr, exit 3, said here before the log
		// is read. node.VerifyDir refuses it too (fs.ErrNotExist), but
		// its error would reach the code below as the log's.
		if _, err := os.Stat(*exportsDir); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			fmt.Fprintf(stderr, "ronaudit verify: --exports %s: %v: the log was not verified\n", *exportsDir, err)
			return exitError
		}
	}
	// A log directory is verified with the checkpoints kept with it as
	// seals (checkpoint.VerifyDir); one segment file keeps none.
	// With --exports, node.VerifyDir: the same, then each chain's bundles;
	// their failure (an *node.ExportError) is judged once the log holds.
	var res checkpoint.DirSummary
	var exported []node.ChainExports
	var exportErr error
	dopts := checkpoint.DirOptions{AllowUnsealedTail: *allowTail, Progress: progress}
	// The reading stops on SIGINT or SIGTERM: no verdict, exit 3.
	err = unlessInterrupted(ctx, func() error {
		var err error
		switch {
		case segment:
			res.Summary, err = sdk.VerifySegment(dir, keys, true, progress)
		case *exportsDir != "":
			var ns node.Summary
			ns, err = node.VerifyDir(dir, *exportsDir, pubKeys, dopts)
			res, exported = ns.DirSummary, ns.Exports
			if ee := (*node.ExportError)(nil); errors.As(err, &ee) {
				exportErr, err = err, nil
			}
		default:
			res, err = checkpoint.VerifyDir(dir, pubKeys, dopts)
		}
		return err
	})
	if bar != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err == errInterrupted {
		fmt.Fprintf(stderr, "ronaudit verify: interrupted after %s: nothing after it was verified, and the log has no verdict\n", &read)
		return exitError
	}
	sum := res.Summary
	if sum.WAL.Segments == 0 && (err == nil || errors.Is(err, wal.ErrCorrupt)) {
		// Nothing verified is not "ok": a wrong directory, or a log whose
		// segments are all gone, would pass (sdk.VerifyDir fails on it
		// too, naming the missing first segment). The directory was read:
		// a failure, exit 1, as for a log that lost some of its segments.
		fmt.Fprintf(stdout, "FAIL: no segment files (%s) in %s: not a log directory, or its segments are gone\n", "*.seg", names.Path(dir))
		return exitFailed
	}
	// The records are judged before the checkpoints kept with the log:
	// a failure of those, or an unsealed tail, comes once they hold.
	// Every failure is said on one line (oneLine): the names under DIR
	// and --exports, and the targets of links there, are whoever made
	// the tree's, and one can hold a newline and a line of its own.
	var de *checkpoint.DirError
	if err != nil && !errors.As(err, &de) && !errors.Is(err, sdk.ErrUnsealedTail) {
		if exitCode(err) != exitFailed {
			// Not a verdict: the log could not be read (permission
			// denied, an I/O error), so it is neither ok nor FAIL.
			fmt.Fprintf(stderr, "ronaudit verify: %v\n", &oneLine{err})
			fmt.Fprintf(stderr, "ronaudit verify: the log was not verified (%s verified before the error)\n", count(sum.Records, "record"))
			return exitError
		}
		fmt.Fprintf(stdout, "FAIL: %v\n", &oneLine{err})
		fmt.Fprintf(stdout, "verified %s of the log before the failure\n", count(sum.Records, "record"))
		if errors.Is(err, sdk.ErrUnknownKey) {
			fmt.Fprintln(stdout, "a signature is by a key none of the --pub files hold: give the signer's public key (--pub is repeatable)")
		}
		return exitFailed
	}
	sort.Slice(sum.Heads, func(i, j int) bool {
		a, b := sum.Heads[i], sum.Heads[j]
		return a.WriterID < b.WriterID || a.WriterID == b.WriterID && a.Stream < b.Stream
	})
	torn := ""
	if sum.WAL.TornBytes > 0 || sum.WAL.TornReason != "" {
		torn = names.Line(fmt.Sprintf("torn tail of %d bytes at %s (%s)", sum.WAL.TornBytes, sum.WAL.TornAt, sum.WAL.TornReason))
	}
	// A checkpoints directory, a kept checkpoint or --checkpoint that
	// cannot be read is not a verdict (reportFailure).
	failCheckpoint := func(err error) int {
		code := reportFailure("verify", stdout, stderr, &oneLine{err})
		if code == exitFailed && torn != "" && (errors.Is(err, checkpoint.ErrRollback) || errors.Is(err, checkpoint.ErrFork)) {
			fmt.Fprintf(stdout, "the log ends in a %s: records a checkpoint vouches for may have been there\n", torn)
		}
		return code
	}
	if keys != nil {
		printUnused(stdout, res.Unused)
	}
	// A chain no checkpoint can be kept for (its name is too long for a
	// directory: a log written before sdk.MaxChainName) comes once every
	// other chain holds; the checks below still run, and then it is no
	// verdict (exit 3): nothing vouches for it past its records, nor can
	// a checkpoint of it be missing.
	var unkept error
	if errors.Is(err, sdk.ErrChainName) {
		unkept, err = err, nil
	}
	if err != nil {
		return failCheckpoint(sealFailure(err, sum.Heads, keys != nil))
	}
	for _, h := range sum.Heads {
		if segment && h.SealedSeq < h.Seq && !*allowTail {
			return failCheckpoint(unsealedTail(h, nil, keys != nil))
		}
	}
	if *cpPath != "" {
		if err := checkAgainstCheckpoint(dir, *cpPath, pubKeys, sum.Retired, stdout); err != nil {
			return failCheckpoint(err)
		}
	}
	if exportErr != nil {
		return failCheckpoint(exportErr)
	}
	if unkept != nil {
		fmt.Fprintf(stderr, "ronaudit verify: %v\n", sealFailure(unkept, sum.Heads, keys != nil))
		signed := ""
		if keys == nil {
			signed = ", signatures NOT checked"
		}
		fmt.Fprintf(stderr, "ronaudit verify: the rest verified (%s in %s%s): every other chain with its kept checkpoints, and this chain's records, which no checkpoint can vouch for\n",
			count(sum.Records, "record"), count(len(sum.Heads), "stream"), signed)
		return exitError
	}
	fmt.Fprintf(stdout, "ok: %s in %s, %s", count(sum.Records, "record"), count(len(sum.Heads), "stream"), count(sum.WAL.Segments, "segment"))
	if sum.Seals > 0 {
		fmt.Fprintf(stdout, ", %s", count(sum.Seals, "seal"))
	}
	fmt.Fprintln(stdout)
	if keys == nil {
		fmt.Fprintln(stdout, "signatures NOT checked: give --pub KEY")
		if len(res.Unused) > 0 { // with no key, none of the kept checkpoints was checked
			fmt.Fprintf(stdout, "the checkpoints kept in %s were NOT checked (the log may be shorter than they vouch for): give --pub KEY\n", names.Path(filepath.Join(dir, "checkpoints")))
		}
	}
	if torn != "" {
		fmt.Fprintf(stdout, "%s: cut on the next open for writing\n", torn)
	}
	for _, h := range sum.Heads {
		fmt.Fprintf(stdout, "head %s seq %d hash %s sealed %d\n", names.Chain(h.WriterID, h.Stream), h.Seq, h.Hash, h.SealedSeq)
	}
	for _, ce := range exported {
		fmt.Fprintf(stdout, "exports %s: %s, records 1..%d, newest kept checkpoint %d: %s\n",
			names.Chain(ce.WriterID, ce.Stream), count(ce.Bundles, "bundle"), ce.Records, ce.Checkpoint, names.Path(ce.Dir))
	}
	return 0
}

// reorder moves flags after positional arguments to the front, so
// "verify DIR --pub KEY" works as well as "verify --pub KEY DIR".
// A flag that takes a value, given last without one ("verify DIR
// --pub"), is left last, without the positional arguments: put before
// them it took the first for its value, and the command said its
// directory was missing; last, the flag package says the flag needs an
// argument (the arguments are a usage error either way).
func reorder(args []string) []string {
	var flagArgs, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flagArgs = append(flagArgs, a)
			takesValue := !strings.Contains(a, "=") && a != "--allow-unsealed-tail" && a != "-allow-unsealed-tail"
			if takesValue && i+1 == len(args) {
				return flagArgs
			}
			if takesValue && !strings.HasPrefix(args[i+1], "-") {
				flagArgs = append(flagArgs, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flagArgs, pos...)
}

// progressBar returns a progress callback that draws a bar on a terminal:
// the share of the log's bytes verified, records and rate.
func progressBar(w io.Writer, path string) func(uint64, wal.Position) {
	sizes := map[string]int64{} // segment file -> bytes of the segments before it
	var total int64
	files := []string{path}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.seg"))
		sort.Strings(files)
	}
	for _, f := range files {
		sizes[f] = total
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	start, last := time.Now(), time.Time{}
	return func(n uint64, at wal.Position) {
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond && total > 0 {
			last = now
			done := float64(sizes[at.File]+at.Offset) / float64(total)
			bar := strings.Repeat("#", int(done*30)) + strings.Repeat(".", 30-int(done*30))
			fmt.Fprintf(w, "\r[%s] %3.0f%% %d records %.0f/s", bar, 100*done, n, float64(n)/now.Sub(start).Seconds())
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// sealFailure says a failure of checkpoint.VerifyDir or VerifyKept that
// is not in the log's records in verify's words: a kept checkpoint that
// does not hold (naming the chain and the file), the checkpoints
// directory that cannot be read, or a chain's unsealed tail (heads are
// the log's).
func sealFailure(err error, heads []sdk.Head, keyed bool) error {
	var de *checkpoint.DirError
	switch {
	case errors.As(err, &de) && de.WriterID == "" && de.Stream == "":
		return de // the directory kept with the log, or one under it
	case errors.As(err, &de) && errors.Is(de.Err, sdk.ErrChainName):
		return fmt.Errorf("%s cannot be checkpointed: %w", names.Chain(de.WriterID, de.Stream), de.Err)
	case errors.As(err, &de) && strings.HasSuffix(de.Path, ".note"):
		return fmt.Errorf("%s: checkpoint %s: %w", names.Chain(de.WriterID, de.Stream), de.Path, reword(de.Err))
	case errors.As(err, &de):
		return de.Err // a chain's history that cannot be listed: the error names it
	}
	var ve *sdk.VerifyError
	if errors.As(err, &ve) && ve.Reason == sdk.ReasonUnsealedTail {
		for _, h := range heads {
			if h.WriterID == ve.WriterID && h.Stream == ve.Stream {
				return unsealedTail(h, err, keyed)
			}
		}
	}
	return err
}

// printUnused says which kept checkpoints are signed by none of the --pub
// keys (say, by one a rotation named, not given), or only by a key the
// chain named after their size (checkpoint.InForce): not evidence either
// way, so not used.
func printUnused(w io.Writer, paths []string) {
	for _, path := range paths {
		fmt.Fprintf(w, "note: %s is signed by none of the --pub keys in force at its size; not used\n", names.Path(path))
	}
}

// unsealedTail is the failure of a chain whose records after h.SealedSeq
// no signature or checkpoint covers (err, if set, is the library's): a
// verification failure (exit 1). keyed says keys were given: then the
// seals are missing (checkpoints moved or deleted, a writer that did not
// close), and "give --pub" would send the reader the wrong way.
func unsealedTail(h sdk.Head, err error, keyed bool) error {
	if err == nil {
		err = sdk.ErrUnsealedTail
	}
	hint := "give --pub, or --allow-unsealed-tail"
	if keyed {
		hint = "no kept checkpoint or signature by the --pub keys covers them; --allow-unsealed-tail accepts them"
	}
	return failed(&reworded{fmt.Sprintf("%s seq %d: unsealed_tail: no signature or checkpoint covers seq %d..%d (%s)",
		names.Chain(h.WriterID, h.Stream), h.SealedSeq+1, h.SealedSeq+1, h.Seq, hint), err})
}

// count says n things: "1 record", "3 records".
func count[N int | int64 | uint64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatUint(uint64(n), 10) + " " + noun + "s"
}
