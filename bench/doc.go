// Package bench holds the Go benchmarks of ron-audit, next to the raw
// primitives they are measured against in the same run (calibration
// benches), because machines here are shared and noisy: targets are ratios,
// not absolute times. `make bench` runs them and prints the table
// (tools/cmd/benchtable).
//
// Every benchmark works on the same record: testing/vectors/v1/record-1kib.json,
// whose canonical bytes are exactly 1,024.
package bench
