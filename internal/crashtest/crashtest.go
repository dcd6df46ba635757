// Package crashtest runs a child process for a test that kills it with
// SIGKILL: the crash tests of sdk and sdk/wal start their own test binary
// as a writer, read what it acknowledges on stdout, and kill it mid-write.
// For tests only.
package crashtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Child is a running child process and the lines it has printed.
type Child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer  // read only after Wait
	done   chan struct{} // closed once stdout has ended
	more   chan struct{} // a line came or stdout ended

	mu    sync.Mutex
	lines []string // complete lines: a line cut by the kill is left out
	read  int      // lines Line returned
	ended bool
}

// Start runs exe with args and env added to its environment, and reads
// its stdout from then on (so the child never blocks on a full pipe).
func Start(t testing.TB, exe string, env []string, args ...string) *Child {
	t.Helper()
	c := &Child{cmd: exec.Command(exe, args...), done: make(chan struct{}), more: make(chan struct{}, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		br := bufio.NewReader(out)
		for {
			s, err := br.ReadString('\n')
			c.mu.Lock()
			if err == nil {
				c.lines = append(c.lines, strings.TrimSuffix(s, "\n"))
			} else {
				c.ended = true
			}
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// Line returns the child's next line, waiting up to timeout for it. The
// error says the output ended (the child exited) or the time passed.
func (c *Child) Line(timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.read < len(c.lines) {
			c.read++
			s := c.lines[c.read-1]
			c.mu.Unlock()
			return s, nil
		}
		ended, n := c.ended, len(c.lines)
		c.mu.Unlock()
		if ended {
			return "", fmt.Errorf("child's output ended after %d lines", n)
		}
		select {
		case <-c.more:
		case <-timer.C:
			return "", fmt.Errorf("no line from the child in %v (after %d lines)", timeout, n)
		}
	}
}

// Kill kills the child with SIGKILL, waits for it, and returns the lines
// it printed that Line did not return. It fails t, showing the child's
// stderr, if why (the caller's reason to give up on the child) is not nil,
// or if the child ended by itself.
func (c *Child) Kill(t testing.TB, why error) []string {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done // before Wait, which closes the pipe
	werr := c.cmd.Wait()
	var ws syscall.WaitStatus
	if ps := c.cmd.ProcessState; ps != nil {
		ws, _ = ps.Sys().(syscall.WaitStatus)
	}
	if why == nil && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
		why = errors.New("child ended by itself")
	}
	if why != nil {
		t.Fatalf("%v (%v)\nchild stderr:\n%s", why, werr, c.stderr.String())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines[c.read:]
}

// Stderr returns what the child wrote to stderr; call it after Kill.
func (c *Child) Stderr() string { return c.stderr.String() }
