package crashtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const childEnv = "CRASHTEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "print": // three lines, a cut one, then wait to be killed
		os.Stdout.WriteString("ready\n1\n2\n3")
		time.Sleep(time.Minute)
		os.Exit(3)
	case "exit": // ends by itself
		os.Stdout.WriteString("ready\n")
		os.Stderr.WriteString("child: giving up\n")
		os.Exit(0)
	}
	os.Exit(2)
}

func start(t *testing.T, role string) *Child {
	return Start(t, os.Args[0], []string{childEnv + "=" + role}, "-test.run=^$")
}

// TestLinesAndKill: Line returns complete lines in order and times out
// when none comes; a line the kill cut is not returned.
func TestLinesAndKill(t *testing.T) {
	c := start(t, "print")
	for _, want := range []string{"ready", "1", "2"} {
		if got, err := c.Line(30 * time.Second); got != want || err != nil {
			t.Fatalf("Line: %q, %v; want %q", got, err, want)
		}
	}
	if got, err := c.Line(50 * time.Millisecond); err == nil {
		t.Fatalf("Line returned %q from a line not ended", got)
	}
	if rest := c.Kill(t, nil); len(rest) != 0 {
		t.Fatalf("Kill returned %q, want nothing (the cut line is left out)", rest)
	}
}

// TestKillRest: Kill returns the lines Line did not.
func TestKillRest(t *testing.T) {
	c := start(t, "print")
	if got, err := c.Line(30 * time.Second); got != "ready" || err != nil {
		t.Fatalf("Line: %q, %v", got, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		c.mu.Lock()
		n := len(c.lines)
		c.mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if rest := c.Kill(t, nil); strings.Join(rest, ",") != "1,2" {
		t.Fatalf("Kill returned %q, want [1 2]", rest)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

// TestKillFails: Kill fails the test, with the child's stderr, when the
// child ended by itself or the caller gave up on it.
func TestKillFails(t *testing.T) {
	c := start(t, "exit")
	if got, err := c.Line(30 * time.Second); got != "ready" || err != nil {
		t.Fatalf("Line: %q, %v", got, err)
	}
	_, err := c.Line(30 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "ended") {
		t.Fatalf("Line after the child exited: %v", err)
	}
	r := &fatalRecorder{TB: t}
	c.Kill(r, nil)
	if !strings.Contains(r.msg, "ended by itself") || !strings.Contains(r.msg, "child: giving up") {
		t.Fatalf("Kill of a child that exited: %q", r.msg)
	}

	c = start(t, "print")
	r = &fatalRecorder{TB: t}
	c.Kill(r, fmt.Errorf("too slow"))
	if !strings.HasPrefix(r.msg, "too slow") {
		t.Fatalf("Kill with a reason: %q", r.msg)
	}
}
