//go:build !race

package analyzers_test

const raceEnabled = false
