// Package synctrace checks, for tests, the crash-consistency order of the
// file system calls a program really makes: it runs the program under
// strace, reads back the calls that create, write, link, rename, truncate
// and fsync files, and reports what a power loss could take away from
// under something that depends on it. A crash test that kills a process
// (SIGKILL) cannot see that: the page cache survives the process, so a
// missing fsync of a file, or of the directory that holds a new entry,
// only shows when the machine loses power.
//
// It is a developer check: where strace is not installed, or may not
// trace (no ptrace in a container), Run skips the test and says why.
package synctrace

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Calls are the system calls Run traces.
const Calls = "openat,write,pwrite64,fsync,fdatasync,rename,renameat,renameat2,ftruncate,unlink,unlinkat,mkdirat,linkat,close"

// Event is one traced call that succeeded, its file descriptors resolved
// to the absolute paths they were opened with.
type Event struct {
	Line  int    // line in the trace, from 1
	Call  string // "openat", "write", "fsync", ...
	Path  string // the file or directory (of the fd, or the path named)
	Path2 string // linkat, renameat: the new name
	Flags string // openat: the flags as strace prints them
	FD    int    // write, fsync, ...: the fd; openat: the fd returned
	Text  string // the trace line
}

// Trace is what Run saw.
type Trace struct {
	Events []Event
}

// Run runs name with args (env added to the test's environment) in dir
// under strace -f, with no input, and returns its calls. It fails the test if the
// program exits with an error, and skips it if strace is missing or
// cannot trace here.
func Run(t testing.TB, dir string, env []string, name string, args ...string) *Trace {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed: this developer check traces the program's fsyncs (apt-get install strace)")
	}
	out := filepath.Join(t.TempDir(), "trace.txt")
	cmd := exec.Command(strace, append([]string{"-f", "-qq", "-e", "trace=" + Calls, "-o", out, name}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(b), "ptrace") || strings.Contains(string(b), "Operation not permitted") {
			t.Skipf("strace cannot trace here: %s", b)
		}
		t.Fatalf("strace %s %q: %v\n%s", name, args, err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := Parse(f, dir)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

var (
	lineRE = regexp.MustCompile(`^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)`)
	strRE  = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
)

// Parse reads an strace -f output (calls may be split into "unfinished"
// and "resumed" lines) whose relative paths are relative to cwd, or to
// the directory fd the call names (unlinkat(3, "f"): os.RemoveAll and
// os.Root make such calls). Only calls that succeeded are kept. A path
// relative to a directory fd the trace never showed opened is an error:
// the trace cannot be checked.
//
// The fd table is one for every pid in the trace: strace -f prints the
// ids of threads, and a Go program's threads share its table (a file is
// opened on one thread and fsynced on another). A table per pid would
// lose those fds; the programs traced here fork no children that would
// need tables of their own.
func Parse(f *os.File, cwd string) (*Trace, error) {
	tr := &Trace{}
	fds := map[int]string{} // one process: its threads share the table
	unfinished := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	// resolve makes p absolute: relative to the directory dirArg says
	// (AT_FDCWD, a directory fd, or "" for calls without one: cwd).
	resolve := func(dirArg, p string) (string, error) {
		if filepath.IsAbs(p) {
			return filepath.Clean(p), nil
		}
		base := cwd
		if dirArg != "" && dirArg != "AT_FDCWD" {
			fd, err := strconv.Atoi(dirArg)
			dir, ok := fds[fd]
			if err != nil || !ok {
				return "", fmt.Errorf("synctrace: trace line %d: %q is relative to directory fd %s, which the trace does not show opened", n, p, dirArg)
			}
			base = dir
		}
		return filepath.Join(base, p), nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		pid, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimLeft(rest, " ")
		if i := strings.Index(rest, " <unfinished ...>"); i >= 0 {
			unfinished[pid] = rest[:i]
			continue
		}
		if strings.HasPrefix(rest, "<... ") {
			_, after, ok := strings.Cut(rest, " resumed>")
			if !ok {
				continue
			}
			rest = unfinished[pid] + after
			delete(unfinished, pid)
			line = pid + " " + rest
		}
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		call, argText := m[2], m[3]
		ret, _ := strconv.Atoi(m[4])
		if ret < 0 {
			continue
		}
		// The path arguments, each absolute: a directory fd argument
		// comes right before its path (split by the strings' positions,
		// not at ", ", which a path may hold).
		var paths []string
		var afterPath string // openat: what follows its path
		for _, loc := range strRE.FindAllStringSubmatchIndex(argText, -1) {
			if call == "write" || call == "pwrite64" {
				break // a buffer, no path
			}
			afterPath = strings.TrimPrefix(argText[loc[1]:], ", ")
			before := strings.TrimSuffix(argText[:loc[0]], ", ")
			if i := strings.LastIndex(before, ", "); i >= 0 {
				before = before[i+2:]
			}
			p, err := resolve(before, argText[loc[2]:loc[3]])
			if err != nil {
				return nil, err
			}
			paths = append(paths, p)
		}
		args := strings.Split(argText, ", ")
		fdArg := func() int { v, _ := strconv.Atoi(args[0]); return v }
		e := Event{Line: n, Call: call, Text: line}
		switch call {
		case "openat":
			if len(paths) == 0 {
				continue
			}
			e.Path, e.FD = paths[0], ret
			e.Flags, _, _ = strings.Cut(afterPath, ", ")
			fds[ret] = e.Path
		case "close":
			delete(fds, fdArg())
			continue
		case "write", "pwrite64", "fsync", "fdatasync", "ftruncate":
			e.FD = fdArg()
			e.Path = fds[e.FD]
		case "mkdirat", "unlinkat", "unlink":
			if len(paths) == 0 {
				continue
			}
			e.Path = paths[0]
		case "linkat", "renameat", "renameat2", "rename":
			if len(paths) < 2 {
				continue
			}
			e.Path, e.Path2 = paths[0], paths[1]
		default:
			continue
		}
		tr.Events = append(tr.Events, e)
	}
	return tr, sc.Err()
}

// Entry is a directory entry the program made (a directory created, a
// file created, linked or renamed into place) and where in the trace.
type Entry struct {
	Path string
	At   Event
}

// Entries returns the directory entries made under root that are still
// there at the end of the trace: mkdirat, openat with O_CREAT, linkat
// and renameat targets, less those unlinked or renamed away later.
func (tr *Trace) Entries(root string) []Entry {
	var out []Entry
	live := map[string]int{}
	add := func(p string, e Event) {
		if !within(root, p) {
			return
		}
		if i, ok := live[p]; ok {
			out[i].At = e // made again: the later one counts
			return
		}
		live[p] = len(out)
		out = append(out, Entry{Path: p, At: e})
	}
	drop := func(p string) {
		if i, ok := live[p]; ok {
			out[i].Path = ""
			delete(live, p)
		}
	}
	for _, e := range tr.Events {
		switch e.Call {
		case "mkdirat":
			add(e.Path, e)
		case "openat":
			if strings.Contains(e.Flags, "O_CREAT") {
				add(e.Path, e)
			}
		case "linkat":
			add(e.Path2, e)
		case "renameat", "renameat2", "rename":
			drop(e.Path)
			add(e.Path2, e)
		case "unlinkat", "unlink":
			drop(e.Path)
		}
	}
	kept := out[:0]
	for _, en := range out {
		if en.Path != "" {
			kept = append(kept, en)
		}
	}
	return kept
}

// SyncedAfter reports whether path (a file or a directory) was fsynced
// (or fdatasynced) after trace line `after` and before line `before` (0:
// the end), and the first such event.
func (tr *Trace) SyncedAfter(path string, after, before int) (Event, bool) {
	for _, e := range tr.Events {
		if e.Line <= after || (before > 0 && e.Line >= before) {
			continue
		}
		if (e.Call == "fsync" || e.Call == "fdatasync") && e.Path == path {
			return e, true
		}
	}
	return Event{}, false
}

// UnsyncedEntries returns the entries under root (Entries) made before
// line before (0: the end of the trace) whose parent directory was not
// fsynced after the entry was made and before that line: a power loss
// can take those away though the program went on as if they were there.
func (tr *Trace) UnsyncedEntries(root string, before int) []Entry {
	var bad []Entry
	for _, en := range tr.Entries(root) {
		if before > 0 && en.At.Line >= before {
			continue
		}
		if _, ok := tr.SyncedAfter(filepath.Dir(en.Path), en.At.Line, before); !ok {
			bad = append(bad, en)
		}
	}
	return bad
}

// First returns the first event for which match is true.
func (tr *Trace) First(match func(Event) bool) (Event, bool) {
	for _, e := range tr.Events {
		if match(e) {
			return e, true
		}
	}
	return Event{}, false
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
