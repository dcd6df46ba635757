#!/usr/bin/env bash
# Rig: RUNS times, synthesize RECORDS records (default 10k) into a fresh
# durable log and time export plus checkpoint (read the log, build the
# Merkle tree, sign the checkpoint, write and fsync the bundle); then a JSON
# metrics snapshot (export_batch_seconds p50/p95/p99, target p95 <= 25 ms)
# under testing/performance/baselines/ron-audit/; it fails (after writing
# the snapshot) when the p95 is over the target. `make rig-export` runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
RUNS="${RUNS:-20}"
RECORDS="${RECORDS:-10000}"
OUT="${OUT:-testing/performance/baselines/ron-audit/export_batch.json}"
mkdir -p "$(dirname "$OUT")"
go run ./tools/cmd/rig export-batch -runs "$RUNS" -records "$RECORDS" -out "$OUT"
