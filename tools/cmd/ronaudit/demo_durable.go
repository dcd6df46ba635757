package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// macronode runs the durable flow on local files in dir: a key pair on
// disk, a Macronode opened with node.Open (a WAL with group-commit fsync,
// a checkpoint.Keeper keeping signed checkpoints in wal/checkpoints),
// concurrent appenders on several streams, a clean close, a reopen
// (recovery, checked against the checkpoints), and a full verification of
// the log and its checkpoints with the public key, as `ronaudit verify`
// does.
func macronode(w io.Writer, dir string, n int) error {
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return err
	}
	// One key pair per demo directory: a second run on the same directory
	// appends to the log the first one wrote, under the same key.
	privPath, pubPath := filepath.Join(keys, "demo.key"), filepath.Join(keys, "demo.pub")
	if _, err := os.Stat(privPath); errors.Is(err, fs.ErrNotExist) {
		if privPath, pubPath, _, err = sdk.GenerateKeyFiles(keys, "demo"); err != nil {
			return err
		}
	}
	signer, err := sdk.LoadSigner(privPath)
	if err != nil {
		return err
	}
	id := signer.KeyID()
	var mu sync.Mutex
	var fsyncs []time.Duration
	logDir := filepath.Join(dir, "wal")
	opts := sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncBatch, MaxBatch: 32, OnFsync: func(d time.Duration, frames int) {
		if frames > 0 {
			mu.Lock()
			fsyncs = append(fsyncs, d)
			mu.Unlock()
		}
	}}}
	n0, rec, err := node.Open(logDir, signer, node.Options{Durable: opts})
	if err != nil {
		return err
	}
	log := n0.Log()
	before := rec.Records

	workers := 64 // enough appenders in flight to fill group commits
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	ts := uint64(time.Now().UnixMilli())
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := canonical.AuditRecord{Kind: canonical.KindIndexWrite, WriterID: "svc-index@inst-1",
				Stream: "index-" + strconv.Itoa(g%4), Reason: "index entry written",
				Subject: canonical.Subject{ContentID: "b3:00ff" + strconv.Itoa(g)}}
			for i := g; i < n; i += workers {
				r.TsMs = ts + uint64(i)
				r.Attrs = append(r.Attrs[:0], canonical.Attr{Key: "entry", Value: strconv.Itoa(i)})
				if _, err := log.Append(&r); err != nil { // returns once durable
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return errors.Join(err, n0.Close())
	}
	if err := n0.Close(); err != nil { // the log, then each chain's checkpoint at its last record
		return err
	}

	start = time.Now()
	n1, rec, err := node.Open(logDir, signer, node.Options{})
	if err != nil {
		return err
	}
	reopen := time.Since(start)
	if err := n1.Close(); err != nil {
		return err
	}

	pub, err := sdk.LoadPublicKey(pubPath)
	if err != nil {
		return err
	}
	start = time.Now()
	sum, err := checkpoint.VerifyDir(logDir, []ed25519.PublicKey{pub}, checkpoint.DirOptions{})
	if err != nil {
		return err
	}
	verify := time.Since(start)

	// The newest checkpoint the Keeper kept of one stream (its Close's, at
	// the stream's last record) and a proof that one of its records is in
	// it, checked as a verifier with only the public key would.
	tree, hashes, err := chainTree(logDir, "svc-index@inst-1", "index-0")
	if err != nil {
		return err
	}
	kept, err := checkpoint.LoadHistory(filepath.Join(logDir, "checkpoints"), "svc-index@inst-1", "index-0")
	if err != nil {
		return err
	}
	if len(kept) == 0 {
		return fmt.Errorf("demo: no checkpoint of svc-index@inst-1/index-0 kept in %s", filepath.Join(logDir, "checkpoints"))
	}
	cpMsg := kept[len(kept)-1]
	cpPath := filepath.Join(dir, "index-0.checkpoint")
	if err := os.WriteFile(cpPath, cpMsg, 0o644); err != nil {
		return err
	}
	cp, err := openCheckpointFile(cpPath, pubPath)
	if err != nil {
		return err
	}
	seq := int64(len(hashes)/2 + 1)
	start = time.Now()
	proof, err := tree.InclusionProof(seq-1, cp.Size)
	if err != nil {
		return err
	}
	if err := checkpoint.VerifyInclusion(cp, seq-1, hashes[seq-1], proof); err != nil {
		return err
	}
	proveTime := time.Since(start)

	slices.Sort(fsyncs)
	q := func(p float64) time.Duration {
		if len(fsyncs) == 0 {
			return 0
		}
		return fsyncs[min(len(fsyncs)-1, int(p*float64(len(fsyncs))))]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(w, "\nMacronode demo: durable log in %s, key %s (id %s)\n", logDir, privPath, id)
	fmt.Fprintf(w, "  append  %9.0f records/s durable, %d appenders on 4 streams, group commit (an fsync once 32 records wait or 2 ms pass, covering all appended before it)\n", float64(n)/elapsed.Seconds(), workers)
	fmt.Fprintf(w, "  fsync   %d fsyncs for %d records; p50 %.2f ms, p95 %.2f ms, p99 %.2f ms\n", len(fsyncs), n, ms(q(0.50)), ms(q(0.95)), ms(q(0.99)))
	fmt.Fprintf(w, "  reopen  %d records replayed and verified in %v (%d before this run)\n", rec.Records, reopen.Round(time.Millisecond), before)
	fmt.Fprintf(w, "  verify  %d records, %d streams and %d kept checkpoints in %v; check it yourself: ronaudit verify %s --pub %s --checkpoint %s\n",
		sum.Records, len(sum.Heads), sum.Used, verify.Round(time.Millisecond), logDir, pubPath, cpPath)
	fmt.Fprintf(w, "  checkpoint of %s: size %d, root %x... (C2SP signed note in %s)\n", names.Chain(cp.WriterID, cp.Stream), cp.Size, cp.Root[:8], cpPath)
	fmt.Fprintf(w, "  proof   record seq %d is in it: %d hashes, made and checked in %v\n", seq, len(proof), proveTime.Round(time.Microsecond))
	return nil
}
