//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestUnreadableIsOperational: a log, checkpoint, proof, bundle or key
// that cannot be read for its mode (chmod 000), and output that cannot be
// written, are operational errors, exit 3, said on stderr, never "FAIL"
// (exit 1, which says the data was read and does not verify), and never
// ok. Modes do not stop root: run as root, the CLI runs as the user
// nobody, on files it owns; the test is skipped when that cannot be done.
func TestUnreadableIsOperational(t *testing.T) {
	base, err := os.MkdirTemp("", "ronaudit-exit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error { // so that RemoveAll can go in
			if d != nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(base, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	cliCheckpoint(t)
	for _, args := range [][]string{
		{"prove", "--wal", "log", "--checkpoint", "cp.note", "--pub", "keys/k.pub", "--seq", "2"},
		{"export", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s", "--out", "ex"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr.String())
		}
		if args[0] == "prove" {
			if err := os.WriteFile("proof.json", stdout.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Mkdir("ro", 0o755); err != nil {
		t.Fatal(err)
	}
	cli := cliAs(t, base, work)

	bundle, _ := filepath.Glob("ex/w/s/*.bundle")
	seg, _ := filepath.Glob("log/*.seg")
	if len(bundle) != 1 || len(seg) != 1 {
		t.Fatalf("bundles %q, segments %q", bundle, seg)
	}
	for _, c := range []struct {
		name  string
		path  string // made mode 000 (0o555 for "ro")
		args  []string
		inErr string // in stderr
	}{
		{"segment", seg[0], []string{"verify", "log", "--pub", "keys/k.pub"}, "permission denied"},
		{"segment file", seg[0], []string{"verify", seg[0], "--pub", "keys/k.pub"}, "permission denied"},
		{"log directory", "log", []string{"verify", "log", "--pub", "keys/k.pub"}, "permission denied"},
		{"rotate log directory", "log", []string{"rotate", "--wal", "log", "--key", "keys/k.key", "--new-key", "keys/k.key"}, "permission denied"},
		{"checkpoints directory", "log/checkpoints", []string{"verify", "log", "--pub", "keys/k.pub"}, "permission denied"},
		{"dump segment", seg[0], []string{"dump", "log"}, "permission denied"},
		{"checkpoint", "cp.note", []string{"verify", "log", "--pub", "keys/k.pub", "--checkpoint", "cp.note"}, "permission denied"},
		{"proof", "proof.json", []string{"verify-proof", "--checkpoint", "cp.note", "--pub", "keys/k.pub", "proof.json"}, "permission denied"},
		{"bundle", bundle[0], []string{"verify-bundle", "--pub", "keys/k.pub", "ex"}, "permission denied"},
		{"public key", "keys/k.pub", []string{"verify", "log", "--pub", "keys/k.pub"}, "permission denied"},
		{"private key", "keys/k.key", []string{"checkpoint", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s"}, "permission denied"},
		{"output directory", "ro", []string{"checkpoint", "--wal", "log", "--key", "keys/k.key", "--writer", "w", "--stream", "s", "--out", "ro/cp.note"}, "permission denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			mode := fs.FileMode(0)
			if c.path == "ro" {
				mode = 0o555
			}
			if err := os.Chmod(c.path, mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(c.path, fi.Mode().Perm())
			code, stdout, stderr := cli(c.args...)
			if code != exitError || !strings.Contains(stderr, c.inErr) || strings.Contains(stdout, "FAIL") || strings.Contains(stdout, "ok:") {
				t.Errorf("%q with %s mode %v: exit %d, stdout %q, stderr %q; want exit 3, %q on stderr, neither FAIL nor ok on stdout",
					c.args, c.path, mode, code, stdout, stderr, c.inErr)
			}
		})
	}
	// The same log, readable and tampered with: exit 1, FAIL.
	if code, stdout, stderr := cli("verify", "log", "--pub", "keys/k.pub"); code != exitOK {
		t.Fatalf("verify: exit %d: %s%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(seg[0])
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 1 // inside the first record, with records after it: damage the WAL finds (its frame CRC)
	if err := os.WriteFile(seg[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := cli("verify", "log", "--pub", "keys/k.pub"); code != exitFailed || !strings.Contains(stdout, "FAIL: ") {
		t.Errorf("verify of a tampered log: exit %d, stdout %q, stderr %q; want exit 1 and FAIL", code, stdout, stderr)
	}
}

// cliAs returns a function that runs the CLI (this test binary, as a
// child) in dir and returns its exit status, stdout and stderr. Run as
// root, it runs it as the user nobody, giving nobody base (where the
// test binary is copied, so that nobody may run it); it skips t when
// there is no such user.
func cliAs(t *testing.T, base, dir string) func(args ...string) (int, string, string) {
	t.Helper()
	bin := os.Args[0]
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Skipf("running as root, and no user nobody to run the CLI as (file modes do not stop root): %v", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			t.Skipf("user nobody: uid %q gid %q", u.Uid, u.Gid)
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		bin = filepath.Join(base, "ronaudit.test")
		if err := copyFile(os.Args[0], bin); err != nil {
			t.Fatal(err)
		}
		err = filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, int(uid), int(gid))
		})
		if err != nil {
			t.Fatal(err)
		}
		// The CLI runs: is it nobody, and do modes stop it?
		probe := exec.Command(bin, "dump", "/root/.ronaudit-no-such-file")
		probe.Env = append(os.Environ(), "RONAUDIT_TEST_MAIN=1")
		probe.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := probe.Run(); err != nil && !errors.As(err, new(*exec.ExitError)) {
			t.Skipf("cannot run the CLI as nobody: %v", err)
		}
	}
	return func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "RONAUDIT_TEST_MAIN=1")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return code, stdout.String(), stderr.String()
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
