package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// Export bundles (sdk/export/FORMAT.md): export writes the next bundle of
// a chain, verify-bundle checks one bundle or directories of them as
// sequences, offline with only the public key.

func exportCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flags("export", stderr)
	dir := fs.String("wal", "", "log directory")
	keyPath := fs.String("key", "", "private key file (mode 0600) that signs the checkpoint")
	writer := fs.String("writer", "", "writerId of the chain")
	stream := fs.String("stream", "", "stream of the chain")
	out := fs.String("out", "", "bundle directory (one file per bundle under <writer>/<stream>/)")
	allowTail := fs.Bool("allow-unsealed-tail", false, "also vouch for records that no signature or kept checkpoint covers yet: only if you know the log was not written by anyone else")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of an earlier signer of the chain (repeatable), to verify its records before vouching for them")
	if err := parse(fs, args); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fs, "", "wal", "key", "writer", "stream", "out"); why != "" {
		return badArgs(stderr, "export", why)
	}
	if _, _, err := checkpoint.ParseOrigin(checkpoint.Origin(*writer, *stream)); err != nil {
		// --writer or --stream that no checkpoint can name (not UTF-8, a
		// NUL): the arguments, not the log.
		fmt.Fprintln(stderr, "ronaudit export: --writer and --stream:", err)
		return usageErr(stderr, "export")
	}
	// A chain that fails verification, or bundles under --out that do
	// not, is 1 (exitCode); a key refused, no records, an I/O error, 3.
	fail := func(err error) int { fmt.Fprintln(stderr, "ronaudit export:", err); return exitCode(err) }
	// As for checkpoint: a signal while the chain is verified stops it,
	// nothing written; one while the bundle is written waits till the
	// bundle is whole (FileSink writes it atomically).
	ctx, stopSignals := interrupts()
	defer stopSignals()
	signer, err := sdk.LoadSigner(*keyPath)
	if err != nil {
		return fail(err)
	}
	earlier, err := loadPubs(pubs)
	if err != nil {
		return fail(err)
	}
	// --out is a directory, made if missing: a file there (the records'
	// JSON Lines, given by mistake) is said as --out, not as the path
	// under it the sink would open ("open FILE/w/s: not a directory").
	if fi, err := os.Stat(*out); err == nil && !fi.IsDir() {
		return fail(operational(fmt.Errorf("--out %s: not a directory: give the bundle directory (made if missing)", names.Path(*out))))
	}
	sink := &export.FileSink{Dir: *out}
	defer reportTemps(stderr, "ronaudit export", sink.TempStats)
	latest, err := sink.Latest(checkpoint.Origin(*writer, *stream))
	if pe := (*os.PathError)(nil); err != nil && errors.As(err, &pe) && !errors.As(err, new(*export.Error)) {
		// The bundle directory cannot be read: the file system's error
		// names a path under it, so --out is said first.
		err = fmt.Errorf("--out %s: %w", names.Path(*out), err)
	}
	if err != nil {
		return fail(err)
	}
	var prev *export.State
	var m int64 // records the previous bundles hold
	if latest != nil {
		prev = latest.State()
		m = prev.Size
	}
	// The bundle's checkpoint vouches for every record in it: the chain is
	// verified and must be sealed already, as for ronaudit checkpoint. The
	// records after m are kept from that same read, so the bundle holds
	// exactly the bytes verified. They are copied into chunks of up to 16
	// MiB rather than one by one, and a full chunk is left as it is (its
	// records still point into it) instead of being copied into a larger one.
	var (
		recs  []sdk.Sealed
		arena []byte
		seq   int64
	)
	t, retired, err := vouchedUnlessInterrupted(ctx, stderr, "export", *dir, *writer, *stream, append(earlier, signer.Public()), *allowTail, func(rec sdk.Sealed) {
		if seq++; seq > m {
			if len(rec.Bytes) > cap(arena)-len(arena) {
				arena = make([]byte, 0, max(min(2*cap(arena), 16<<20), 64<<10, len(rec.Bytes)))
			}
			at := len(arena)
			arena = append(arena, rec.Bytes...)
			rec.Bytes = arena[at:len(arena):len(arena)]
			recs = append(recs, rec)
		}
	})
	if err == errInterrupted {
		return exitError
	}
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit export:", err)
		openHint(stderr, "export", err)
		return exitCode(err)
	}
	if t.Size() == 0 {
		fmt.Fprintf(stderr, "ronaudit export: no records of %s in %s\n", names.Chain(*writer, *stream), *dir)
		return exitError
	}
	// A key the chain retired at seq T vouches for at most T records
	// (checkpoint.InForce): sign with the key its transition names.
	for _, r := range retired {
		if r.Pub.Equal(signer.Public()) && uint64(t.Size()) > r.Seq {
			return fail(operational(fmt.Errorf("%w: key %s was retired at %s seq %d; sign with the key that transition names",
				sdk.ErrConfig, signer.KeyID(), names.Chain(*writer, *stream), r.Seq)))
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "ronaudit export: interrupted after the chain was verified: %s\n", nothing("export"))
		return exitError
	}
	if err := maySign(*dir, signer, append(earlier, signer.Public()), *writer, *stream); err != nil {
		code := fail(err)
		openHint(stderr, "export", err) // a damaged newest kept checkpoint
		return code
	}
	b, err := (&export.Exporter{Sink: sink, Signer: signer}).ExportTree(t, *writer, *stream, recs, prev)
	if errors.Is(err, export.ErrNothingToExport) {
		fmt.Fprintf(stdout, "nothing to export: %s has no records after seq %d\n", names.Chain(*writer, *stream), m)
		return interruptedWriting(ctx, stderr, "export", "nothing was to be written")
	}
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "exported %s seq %d..%d (%s, checkpoint size %d, from %d) -> %s\n", names.Chain(*writer, *stream),
		b.FirstSeq(), b.LastSeq(), count(len(b.Records), "record"), b.Size, b.PrevSize, filepath.Join(*out, filepath.FromSlash(b.Name())))
	return interruptedWriting(ctx, stderr, "export", "the bundle was written whole, as said")
}

// reportTemps says what a writer's sweep for the temporary files a crash
// left (export.TempStats) removed, or failed to remove, if anything.
func reportTemps(stderr io.Writer, cmd string, stats func() export.TempStats) {
	st := stats()
	if st.Removed > 0 {
		fmt.Fprintf(stderr, "%s: removed %d stale temporary file(s) a crash left (.tmp-*, an hour old or more)\n", cmd, st.Removed)
	}
	switch {
	case st.Failed > 0:
		fmt.Fprintf(stderr, "%s: warning: %d stale temporary file(s) not removed: %v\n", cmd, st.Failed, st.Err)
	case st.Err != nil: // a directory that could not be looked through
		fmt.Fprintf(stderr, "%s: warning: %v\n", cmd, st.Err)
	}
}

func verifyBundleCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fset := flags("verify-bundle", stderr)
	var pubs multiFlag
	fset.Var(&pubs, "pub", "public key file of the signer of checkpoints and records (repeatable; at least one)")
	cpPath := fset.String("checkpoint", "", "the latest signed checkpoint you trust: the bundles must reach it and agree with it")
	if err := parse(fset, reorder(args)); err != nil {
		return parseFailed(err)
	}
	if why := argsProblem(fset, "FILE|DIR", "pub"); why != "" {
		return badArgs(stderr, "verify-bundle", why)
	}
	// A verdict, FAIL on stdout and exit 1, for bundles or a checkpoint
	// that do not verify (the library's verification errors, and the
	// CLI's own marked failed); anything else (a file or directory that
	// cannot be read, a key file refused) is no verdict: stderr, exit 3.
	// The names under DIR are anyone's (a newline, a terminal escape): a
	// failure is said on one line whatever they hold.
	fail := func(err error) int { return reportFailure("verify-bundle", stdout, stderr, &oneLine{err}) }
	keys, err := loadPubs(pubs)
	if err != nil { // the caller's key file, not a verdict on the bundles
		return fail(operational(err))
	}
	vs, ks := export.KeyVerifiers(keys...), sdk.NewKeySet(keys...)
	// The trusted checkpoint is opened after the bundles of its chain
	// (export.VerifyDirTrusted): the keys their transitions name may sign
	// it, and a key they retired may not past its transition, as for the
	// bundles' own checkpoints. Its origin line says which chain it is.
	var trustedNote []byte
	var trustedOrigin string
	if *cpPath != "" {
		msg, err := checkpoint.ReadNote(*cpPath)
		if err != nil {
			return fail(err)
		}
		origin, _, _ := bytes.Cut(msg, []byte("\n"))
		if _, _, err := checkpoint.ParseOrigin(string(origin)); err != nil {
			return fail(fmt.Errorf("%s: %w", *cpPath, err))
		}
		trustedNote, trustedOrigin = msg, string(origin)
	}
	path := fset.Arg(0)
	fi, err := os.Stat(path)
	if err != nil {
		return fail(err)
	}
	if !fi.IsDir() {
		data, err := export.ReadFile(path)
		if err != nil {
			return fail(err)
		}
		if trustedNote != nil { // the bundle must start the chain to be checked against a checkpoint
			seq, err := export.VerifySequenceTrusted([]export.Named{{Name: path, Data: data}}, vs, ks, trustedNote)
			if err != nil {
				return fail(err)
			}
			printSequence(stdout, path, seq)
			return 0
		}
		s, err := export.VerifyBundle(data, vs, ks)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", path, err))
		}
		fmt.Fprintf(stdout, "ok: %s: %s seq %d..%d (%s, %d signed), checkpoint size %d extends size %d\n",
			names.Path(path), names.Chain(s.WriterID, s.Stream), s.PrevSize+1, s.Size, count(s.Records, "record"), s.Signed, s.Size, s.PrevSize)
		return 0
	}
	// A directory: every directory under it holding *.bundle files is the
	// sequence of one chain. PATH itself may be a symbolic link to one
	// (the separator makes WalkDir follow it); a link under it to a
	// directory is not walked into, and is refused rather than left out:
	// that chain would not have been checked. So is a link under it that
	// cannot be followed (to nothing, a loop): it may be a chain
	// directory whose target is gone.
	var dirs []string
	root := path
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(p)
			if err != nil {
				// A link to nothing, or a loop: a chain directory whose
				// target is gone would be left out as silently.
				return fmt.Errorf("%s is a symbolic link that cannot be followed: %w", p, err)
			}
			if fi.IsDir() { // refused as a bundle name that is none is: format, exit 1
				return failed(fmt.Errorf("%s is a symbolic link to a directory, not followed: verify it on its own", p))
			}
		}
		// As export.ListDir: a name beginning with "." is a FileSink's
		// temporary file, not a bundle (a directory holding only such
		// files is no chain's).
		if !d.IsDir() && filepath.Ext(p) == ".bundle" && !strings.HasPrefix(d.Name(), ".") && !slices.Contains(dirs, filepath.Dir(p)) {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if len(dirs) == 0 { // nothing verified is not ok: exit 1, as for verify of a log with no segments
		return fail(failed(fmt.Errorf("no *.bundle files under %s", path)))
	}
	slices.Sort(dirs)
	matched := false
	// The longest sequence of each chain so far, and its directory: two
	// directories of one chain are two signed histories of it, which
	// must agree (the longer extends the shorter's checkpoint); each
	// verified alone, a fork the signer made would pass twice.
	type sequence struct {
		dir string
		seq export.SequenceSummary
	}
	longest := map[string]sequence{}
	for _, d := range dirs {
		seq, err := export.VerifyDir(d, vs, ks, nil)
		if err == nil && trustedNote != nil && seq.Origin == trustedOrigin {
			matched = true
			seq, err = export.VerifyDirTrusted(d, vs, ks, trustedNote)
		}
		if err != nil {
			return fail(fmt.Errorf("%s: %w", d, err))
		}
		cur := sequence{d, seq}
		if o, ok := longest[seq.Origin]; !ok {
			longest[seq.Origin] = cur
		} else {
			short, long := o, cur
			if cur.seq.Records < o.seq.Records {
				short, long = cur, o
			}
			if _, err := export.VerifyDir(long.dir, vs, ks, &short.seq.Checkpoint); err != nil {
				return fail(fmt.Errorf("%s and %s hold bundles of one chain, %s, that disagree: %s checked against the checkpoint of %s at size %d: %w",
					o.dir, d, seq.Origin, long.dir, short.dir, short.seq.Checkpoint.Size, err))
			}
			longest[seq.Origin] = long
		}
		printSequence(stdout, d, seq)
	}
	if trustedNote != nil && !matched {
		// No bundles of its chain, so no transitions: the --pub keys alone.
		cp, err := checkpoint.Open(trustedNote, vs)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", *cpPath, err))
		}
		return fail(failed(fmt.Errorf("truncated: no bundles of %s (the trusted checkpoint vouches for %s)", cp.Origin, count(cp.Size, "record"))))
	}
	return 0
}

func printSequence(w io.Writer, path string, s export.SequenceSummary) {
	for _, b := range s.Bundles {
		fmt.Fprintf(w, "  seq %d..%d: %s, checkpoint size %d\n", b.PrevSize+1, b.Size, count(b.Records, "record"), b.Size)
	}
	last := s.Bundles[len(s.Bundles)-1]
	// The chain is said once: by the directory when it ends in the
	// chain's name as said (FileSink's <writer>/<stream>, plain names),
	// else after it (a directory named otherwise, or escaped names).
	chain := ": " + names.Chain(last.WriterID, last.Stream)
	if slash := filepath.ToSlash(path); names.Plain(last.WriterID) && names.Plain(last.Stream) &&
		(slash == chain[2:] || strings.HasSuffix(slash, "/"+chain[2:])) {
		chain = ""
	}
	fmt.Fprintf(w, "ok: %s%s: %s, records 1..%d, head %s\n", names.Path(path), chain, count(len(s.Bundles), "bundle"), s.Records, s.Head.Hash.String()[:16])
	if s.Trusted != nil {
		fmt.Fprintf(w, "checkpoint ok: the bundles reach and agree with the trusted checkpoint of size %d\n", s.Trusted.Size)
	}
}

// notASegment reports, as the error cmd (verify, dump) prints with exit
// 2, a FILE given where a log directory or one segment file belongs that
// is no segment at all: read as one, its header is "bad magic", which the
// commands report as a corrupt log (exit 1, the verdict on tampering),
// and an operator who gave the wrong file (an export bundle, the JSON
// Lines append reads) would take it for damage. An export bundle is
// named as one. Otherwise a file is no segment when its first
// len(wal.Magic) bytes hold fewer than half of the magic's bytes in
// place and are not all zero: a segment whose header was damaged (a
// byte or two of its magic changed, a header zeroed) is left to the
// command, which reports that damage (exit 1), as is a file shorter than
// the magic or one it cannot read.
func notASegment(cmd, path string) error {
	f, _, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	head := make([]byte, max(len(wal.Magic), len(export.Magic)))
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if len(head) >= len(export.Magic) && string(head[:len(export.Magic)]) == export.Magic {
		return fmt.Errorf("%s is an export bundle, not a log segment: ronaudit verify-bundle --pub KEY %s verifies it", path, path)
	}
	if len(head) < len(wal.Magic) {
		return nil
	}
	head = head[:len(wal.Magic)]
	inPlace, zeros := 0, 0
	for i, b := range head {
		if b == wal.Magic[i] {
			inPlace++
		}
		if b == 0 {
			zeros++
		}
	}
	if 2*inPlace >= len(wal.Magic) || zeros == len(head) {
		return nil
	}
	return fmt.Errorf("%s is not a log segment: it does not start with the segment magic (it starts with %q): %s takes a log directory, or one of its *.seg files",
		names.Path(path), head, cmd)
}
