//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyBundleQuotesDirNames: the directories under verify-bundle's
// DIR are named by whoever made the tree an auditor was given, so a name
// can hold a newline and a line of its own. Like a chain's names
// (names_quoted.txtar), such a directory is written quoted, in the "ok"
// line as in a FAIL: no line of the report is one the names wrote.
func TestVerifyBundleQuotesDirNames(t *testing.T) {
	dir := t.TempDir()
	keys, _, out := exportedChain(t, dir, "svc@inst-1", "caps")
	const fake = "ok: every chain verified, nothing was changed"
	audit := filepath.Join(dir, "audit")
	evil := filepath.Join(audit, "x\n"+fake+"\n")
	if err := os.MkdirAll(audit, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(out, "svc@inst-1", "caps"), evil); err != nil {
		t.Fatal(err)
	}
	verify := func() (int, string) {
		var stdout, stderr strings.Builder
		code := run([]string{"verify-bundle", "--pub", filepath.Join(keys, "k.pub"), audit}, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	check := func(what string, code, want int, output string) {
		t.Helper()
		t.Logf("%s:\n%s", what, output)
		if code != want {
			t.Fatalf("%s: exit %d, want %d:\n%s", what, code, want, output)
		}
		for _, line := range strings.Split(output, "\n") {
			if line == fake {
				t.Fatalf("%s: the directory's name wrote a line of its own:\n%s", what, output)
			}
		}
		if !strings.Contains(output, `x\n`+fake) {
			t.Fatalf("%s: the directory is not named, quoted:\n%s", what, output)
		}
	}
	code, output := verify()
	check("ok", code, 0, output)

	// A damaged bundle there: the FAIL line names the directory, quoted.
	bundle := filepath.Join(evil, "00000000000000000001-00000000000000000002.bundle")
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 1
	if err := os.WriteFile(bundle, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, output = verify()
	check("FAIL", code, 1, output)
}
