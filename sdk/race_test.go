//go:build race

package sdk_test

// The race detector changes what escapes and allocates, so the allocation
// tests run only without it (make test runs both).
const raceEnabled = true
