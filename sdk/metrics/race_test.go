//go:build race

package metrics

// The race detector changes what escapes and allocates, so the allocation
// test runs only without it.
const raceEnabled = true
