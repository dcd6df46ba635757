#!/usr/bin/env bash
# Rig: drive an emitter (depth 1024, workers from GOMAXPROCS, every record
# signed) at LOAD (default 1.1, 110%) of the capacity it measures first,
# for DURATION, then a JSON metrics snapshot under
# testing/performance/baselines/ron-audit/. It fails unless appended +
# dropped = offered exactly (in the Prometheus metrics and in the
# emitter's Stats), no goroutine outlives Close, the heap stays within
# its bound, and TryEmit's p99 is under 5 us. `make rig-shed` runs it.
# STORE=wal storms a durable log (batch fsync) in a temporary directory
# instead of RAM and writes shed_storm_wal.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
LOAD="${LOAD:-1.1}"
DURATION="${DURATION:-5s}"
STORE="${STORE:-memory}"
args=()
case "$STORE" in
memory) OUT="${OUT:-testing/performance/baselines/ron-audit/shed_storm.json}" ;;
wal)
	OUT="${OUT:-testing/performance/baselines/ron-audit/shed_storm_wal.json}"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	args=(-wal "$tmp/wal")
	;;
*) echo "shed_storm.sh: STORE is memory or wal, not $STORE" >&2; exit 2 ;;
esac
mkdir -p "$(dirname "$OUT")"
go run ./tools/cmd/rig shed-storm -load "$LOAD" -duration "$DURATION" -out "$OUT" "${args[@]}"
