#!/usr/bin/env bash
# Runs the Go benchmarks of bench/ in ROUNDS rounds, each round running
# every benchmark matching BENCH once (BENCHTIME each, -benchmem), and
# writes go test's output of all rounds to OUT. The Makefile's bench,
# perf-gate, perf-gate-short and rebaseline targets measure through it.
#
# Why rounds and not `go test -count N`: -count runs one benchmark N
# times back to back before the next, so a neighbour's burst of a few
# seconds on this shared machine lands on every run of one benchmark and
# none of its calibration, and the medians the table and the gate take
# (internal/benchfmt) carry it into a ratio. In rounds, the runs of one
# benchmark are a round apart, so such a burst reaches one of them and
# the median leaves it out.
#
# The output reads as one -count N run: internal/benchfmt groups result
# lines by name over the whole file. A failed round fails the script
# (pipefail: tee does not hide the binary's exit status), and its FAIL
# lines, or a crash's panic (the binary, run directly, prints no FAIL line
# then), stay in OUT, which perfgate and benchtable refuse.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROUNDS="${ROUNDS:-5}"
BENCH="${BENCH:-.}"
BENCHTIME="${BENCHTIME:-1s}"
OUT="${OUT:-bench.out}"
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "bench_rounds: ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2 ;; esac
bin="$PWD/bench/bench.test"
go test -c -o "$bin" ./bench
out="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
# What this run selects, as configuration lines go test's own look like:
# perfgate holds a benchmark of its baseline that BENCH selects but the
# run lacks, or has in fewer rounds than ROUNDS, red instead of skipped.
printf 'bench-pattern: %s\nbench-rounds: %s\n' "$BENCH" "$ROUNDS" >"$out"
status=0
for ((i = 1; i <= ROUNDS; i++)); do
	# In bench/, as go test runs it: the benches read ../testing/vectors.
	(cd bench && "$bin" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.benchtime "$BENCHTIME") 2>&1 | tee -a "$out" || status=$?
	if [ "$status" -ne 0 ]; then
		echo "bench_rounds: round $i of $ROUNDS failed (exit $status)" >&2
		exit "$status"
	fi
done
