package sdk

import "github.com/rustyonions/ron-audit-go/sdk/wal"

// VerifySegmentData is VerifySegment over segment bytes in memory, for
// FuzzVerifySegment: a file written per input stalls the fuzzing engine.
func VerifySegmentData(data []byte, keys *KeySet, allowUnsealedTail bool) (Summary, error) {
	return verifySegment("", keys, allowUnsealedTail, nil, func(fn func(wal.Frame) error) (wal.SegmentInfo, error) {
		return wal.ReadSegment(data, true, fn)
	})
}

// VerifyChainParallelInOrder is VerifyChainParallel with its segments run
// one after another, in order, and the records they read counted.
func VerifyChainParallelInOrder(recs []Sealed, keys *KeySet, opts VerifyOptions, workers int) (read int, res Result, err error) {
	res, err = verifyChainParallel(recs, keys, opts, workers, &read)
	return read, res, err
}
