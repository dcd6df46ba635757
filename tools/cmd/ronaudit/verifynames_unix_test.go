//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyQuotesNamesUnderDir: the names under a log directory (and
// under verify --exports) are whoever made the tree's, as are the
// targets of its symbolic links: one can hold a newline and a line of its
// own. verify and dump say them on one line, escaped (names.Line), in a
// FAIL as on stderr, as verify-bundle does (TestVerifyBundleQuotesDirNames).
func TestVerifyQuotesNamesUnderDir(t *testing.T) {
	dir := t.TempDir()
	keys, log, out := exportedChain(t, dir, "w", "s")
	pub := filepath.Join(keys, "k.pub")
	const fake = "ok: every record verified, nothing was changed"
	evil := "x\n" + fake + "\n"
	check := func(what string, want int, named bool, args ...string) {
		t.Helper()
		var stdout, stderr strings.Builder
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		output := stdout.String() + stderr.String()
		t.Logf("%s: exit %d:\n%s", what, code, output)
		if code != want {
			t.Fatalf("%s: exit %d, want %d:\n%s", what, code, want, output)
		}
		for _, line := range strings.Split(output, "\n") {
			if line == fake {
				t.Fatalf("%s: a name under the directory wrote a line of its own:\n%s", what, output)
			}
		}
		if named && !strings.Contains(output, `x\n`+fake) {
			t.Fatalf("%s: the name is not said, escaped:\n%s", what, output)
		}
	}

	// A directory under --exports holding bundles, named by no chain: FAIL.
	stray := filepath.Join(out, "w", evil)
	if err := os.MkdirAll(stray, 0o700); err != nil {
		t.Fatal(err)
	}
	b := "00000000000000000001-00000000000000000002.bundle"
	data, err := os.ReadFile(filepath.Join(out, "w", "s", b))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stray, b), data, 0o600); err != nil {
		t.Fatal(err)
	}
	check("verify --exports, a stray directory", exitFailed, true, "verify", log, "--pub", pub, "--exports", out)
	os.RemoveAll(stray)

	// A chain's directory of kept checkpoints that is a link to nowhere:
	// not read, exit 3, on stderr.
	if err := os.Symlink(evil, filepath.Join(log, "checkpoints", "w2")); err != nil {
		t.Fatal(err)
	}
	check("verify, a checkpoints link to nowhere", exitError, true, "verify", log, "--pub", pub)
	os.Remove(filepath.Join(log, "checkpoints", "w2"))

	// A segment that is a link to nowhere: verify and dump, exit 3 (the
	// wal does not say the link's target, but nothing may come through).
	if err := os.Symlink(evil, filepath.Join(log, "0000000000000002.seg")); err != nil {
		t.Fatal(err)
	}
	check("verify, a segment link to nowhere", exitError, false, "verify", log, "--pub", pub)
	check("dump, a segment link to nowhere", exitError, false, "dump", log)
}
