#!/usr/bin/env bash
# Rig: steady appends at RATE Hz (1000..5000) to a durable log with batched
# fsync for DURATION, then a JSON metrics snapshot (wal_fsync_seconds
# p50/p95/p99, audit_queue_depth, appended) under
# testing/performance/baselines/ron-audit/. `make rig-wal` runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
RATE="${RATE:-2000}"
DURATION="${DURATION:-10s}"
OUT="${OUT:-testing/performance/baselines/ron-audit/wal_steady.json}"
mkdir -p "$(dirname "$OUT")"
# DIR: put the log on a chosen filesystem (e.g. a slow device for chaos runs).
go run ./tools/cmd/rig wal-steady -rate "$RATE" -duration "$DURATION" ${DIR:+-dir "$DIR"} -out "$OUT"
