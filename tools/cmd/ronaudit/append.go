package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

func appendCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flags("append", stderr)
	dir := fs.String("wal", "", "log directory (created with mode 0700)")
	keyPath := fs.String("key", "", "private key file (mode 0600), from ronaudit keygen")
	stream := fs.String("stream", "", "stream of records that name none")
	writer := fs.String("writer", "", "writerId of records that name none")
	fsync := fs.String("fsync", "batch", "fsync policy: batch (group commit) or always")
	onBad := fs.String("on-bad", "stop", "a bad input line: stop the run, or skip it")
	sealEvery := fs.Int("seal-every", 0, "checkpoint-sealed: sign every Nth record (0: every record)")
	exportDir := fs.String("export", "", "also write export bundles here, one after each checkpoint (every 10,000 records, 15 minutes, and at exit)")
	var pubs multiFlag
	fs.Var(&pubs, "pub", "public key of an earlier signer of the log (repeatable), to verify its records on open")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || *keyPath == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: ronaudit append --wal DIR --key KEY [--stream S] [--writer W] [--fsync batch|always] [--on-bad stop|skip] < records.jsonl")
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
	signer, err := sdk.LoadSigner(*keyPath)
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit append:", err)
		return 1
	}
	// Checkpoints (every 10,000 records, every 15 minutes, and at exit)
	// are kept with the log, in DIR/checkpoints.
	var auto *export.Auto
	var kopts checkpoint.KeeperOptions
	if *exportDir != "" {
		sink := &export.FileSink{Dir: *exportDir}
		auto = &export.Auto{Exporter: &export.Exporter{Sink: sink, Signer: signer}, Prev: func(w, s string) (*export.State, error) {
			b, err := sink.Latest(checkpoint.Origin(w, s))
			if err != nil || b == nil {
				return nil, err
			}
			return b.State(), nil
		}}
		kopts.OnCheckpoint = auto.Checkpointed
	}
	keeper, err := checkpoint.NewKeeper(filepath.Join(*dir, "checkpoints"), signer, kopts)
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit append:", err)
		return 1
	}
	keys := sdk.NewKeySet(signer.Public())
	for _, p := range pubs {
		pub, err := sdk.LoadPublicKey(p)
		if err != nil {
			fmt.Fprintln(stderr, "ronaudit append:", err)
			return 1
		}
		keys.Add(pub)
	}
	log, rec, err := sdk.OpenDurable(*dir, sdk.Config{Signer: signer, SealEvery: *sealEvery, Observer: keeper},
		sdk.DurableOptions{WAL: wal.Options{Fsync: policy}, Keys: keys})
	if err != nil {
		fmt.Fprintln(stderr, "ronaudit append:", err)
		return 1
	}
	if auto != nil {
		auto.Log, auto.Keeper = log, keeper
	}
	if rec.WAL.TornBytes > 0 {
		fmt.Fprintf(stderr, "ronaudit append: recovered the log: cut a torn tail of %d bytes at %s (%s)\n", rec.WAL.TornBytes, rec.WAL.TornAt, rec.WAL.TornReason)
	}

	// Records are appended in input order and printed in that order, each
	// only once it is durable; the printer waits while the reader goes on,
	// so records share fsyncs.
	pending := make(chan sdk.Pending, 256)
	printed := make(chan error, 1)
	out := bufio.NewWriter(stdout)
	go func() {
		var first error
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
			fmt.Fprintf(out, "%d %s %s/%s%s\n", p.Seq, p.Record.Hash, p.Head.WriterID, p.Head.Stream, dup)
			if len(pending) == 0 {
				out.Flush()
			}
		}
		out.Flush()
		printed <- first
	}()

	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), canonical.MaxRecordSize*8)
	line, bad, code := 0, 0, 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if len(trimSpace(text)) == 0 {
			continue
		}
		var r canonical.AuditRecord
		err := json.Unmarshal(text, &r)
		if err == nil {
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
		if errors.Is(err, sdk.ErrStore) || errors.Is(err, sdk.ErrSign) {
			fmt.Fprintf(stderr, "ronaudit append: line %d: %v\n", line, err)
			code = 1
			break
		}
		bad++
		fmt.Fprintf(stderr, "ronaudit append: line %d: %v\n", line, err)
		if *onBad == "stop" {
			code = 1
			break
		}
	}
	if err := sc.Err(); err != nil && code == 0 {
		fmt.Fprintf(stderr, "ronaudit append: reading line %d: %v\n", line+1, err)
		code = 1
	}
	close(pending)
	if err := <-printed; err != nil {
		fmt.Fprintln(stderr, "ronaudit append:", err)
		code = 1
	}
	if err := log.Close(); err != nil {
		fmt.Fprintln(stderr, "ronaudit append: closing:", err)
		code = 1
	}
	if err := keeper.Close(); err != nil {
		fmt.Fprintln(stderr, "ronaudit append: checkpoints:", err)
		code = 1
	}
	if auto != nil {
		if err := auto.Close(); err != nil {
			fmt.Fprintln(stderr, "ronaudit append: export:", err)
			code = 1
		}
	}
	if bad > 0 && *onBad == "skip" {
		fmt.Fprintf(stderr, "ronaudit append: skipped %d bad line(s)\n", bad)
	}
	return code
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
