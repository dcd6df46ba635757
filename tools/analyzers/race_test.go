//go:build race

package analyzers_test

// Under the race detector loading and building a whole program takes
// several times longer; make test runs the amnesia check without it
// (with the Allocs tests).
const raceEnabled = true
