//go:build race

package shapes

// The race detector changes what escapes and allocates, so the allocation
// tests run only without it (make test runs both).
const raceEnabled = true
