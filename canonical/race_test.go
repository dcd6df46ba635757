//go:build race

package canonical

// The race detector changes what escapes and allocates, so the allocation
// tests run only without it (make test runs both).
const raceEnabled = true
