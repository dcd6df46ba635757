package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseBundleName: exactly the names BundleName gives are bundle
// names.
func TestParseBundleName(t *testing.T) {
	for _, c := range []struct {
		name        string
		first, last uint64
	}{
		{"00000000000000000001-00000000000000000001.bundle", 1, 1},
		{"00000000000000000006-00000000000000000013.bundle", 6, 13},
		{"00000000000000000001-09223372036854775807.bundle", 1, 1<<63 - 1},
	} {
		f, l, ok := parseBundleName(c.name)
		if !ok || f != c.first || l != c.last {
			t.Errorf("%s: %d %d %v, want %d %d", c.name, f, l, ok, c.first, c.last)
		}
		if got := filepath.Base(BundleName("ron-audit/w/s", f, l)); got != c.name {
			t.Errorf("BundleName(%d, %d) = %s, want %s", f, l, got, c.name)
		}
	}
	for _, name := range []string{
		"zzz.bundle",
		"00000000000000000000-00000000000000000003.bundle", // seqs start at 1
		"00000000000000000004-00000000000000000003.bundle", // first > last
		"09223372036854775808-09223372036854775808.bundle", // 2^63
		"99999999999999999999-99999999999999999999.bundle", // past uint64
		"0000000000000000001-00000000000000000003.bundle",  // 19 digits
		"000000000000000000001-00000000000000000003.bundle",
		"+0000000000000000001-00000000000000000003.bundle",
		"0000000000000000000a-00000000000000000003.bundle",
		"00000000000000000001-00000000000000000003b.bundle",
		"00000000000000000001-00000000000000000003.bundle.bundle",
		"00000000000000000001_00000000000000000003.bundle",
		"00000000000000000001-00000000000000000002-00000000000000000003.bundle",
		"00000000000000000001-00000000000000000003.BUNDLE",
	} {
		if f, l, ok := parseBundleName(name); ok {
			t.Errorf("%s: accepted as %d..%d", name, f, l)
		}
	}
}

// TestStrayBundleNameRefused: a *.bundle file in a chain directory whose
// name no bundle has ("zzz.bundle", which sorts after every bundle) would
// be the newest bundle to a listing that took it. Every listing refuses
// it with an *Error (format, ErrBundleName) naming the file: ListDir, Bundles,
// Latest, Prev (of a fresh sink), WriteBundle, VerifyDir and
// VerifyDirTrusted.
func TestStrayBundleNameRefused(t *testing.T) {
	signer := newSigner(t, 1)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 8, plain)
	out := t.TempDir()
	sink := &FileSink{Dir: out}
	e := &Exporter{Sink: sink, Signer: signer}
	tree := treeOf(recs)
	b1, err := e.ExportTree(tree, testWriter, testStream, recs[:5], nil)
	if err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(out, filepath.Dir(b1.Name()))
	if _, err := VerifyDir(chain, vs, keys, nil); err != nil {
		t.Fatalf("clean directory: %v", err)
	}
	for _, stray := range []string{"zzz.bundle", "00000000000000000001-00000000000000000005b.bundle", "00000000000000000000-00000000000000000000.bundle"} {
		t.Run(stray, func(t *testing.T) {
			path := filepath.Join(chain, stray)
			if err := os.WriteFile(path, mustRead(t, filepath.Join(out, b1.Name())), 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			check := func(what string, err error) {
				t.Helper()
				var ee *Error
				if !errors.Is(err, ErrBundleName) || !errors.Is(err, ErrFormat) || !errors.As(err, &ee) || ee.Bundle != stray || !strings.Contains(err.Error(), stray) {
					t.Errorf("%s: %v; want a format *Error wrapping ErrBundleName naming %s", what, err, stray)
				}
			}
			_, err := ListDir(chain)
			check("ListDir", err)
			_, err = sink.Bundles(b1.Origin)
			check("Bundles", err)
			latest, err := sink.Latest(b1.Origin)
			check("Latest", err)
			if latest != nil {
				t.Errorf("Latest returned a bundle (size %d)", latest.Size)
			}
			_, err = (&FileSink{Dir: out}).Prev(testWriter, testStream)
			check("Prev", err)
			_, err = VerifyDir(chain, vs, keys, nil)
			check("VerifyDir", err)
			_, err = VerifyDirTrusted(chain, vs, keys, nil)
			check("VerifyDirTrusted", err)
			_, err = (&Exporter{Sink: &FileSink{Dir: out}, Signer: signer}).ExportTree(tree, testWriter, testStream, recs[5:], b1.State())
			check("WriteBundle", err)
		})
	}
	// Hidden files and subdirectories are still no bundles, and not refused.
	if err := os.WriteFile(filepath.Join(chain, ".tmp-1.bundle"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(chain, "sub.bundle"), 0o700); err != nil {
		t.Fatal(err)
	}
	if latest, err := sink.Latest(b1.Origin); err != nil || latest == nil || latest.Size != 5 {
		t.Fatalf("Latest with a hidden file and a subdirectory: %v %v", latest, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDirectoryAtBundleName: a directory at a bundle's name, passed over
// as a subdirectory, would make Latest take a chain whose newest bundle
// was replaced by it for a chain with no bundles (and the next write fail
// with ErrBundleExists: no verdict), while a verifier saw only a bundle
// missing. So it is listed, and refused as not a regular file (format),
// as a segment or a kept checkpoint that is a directory is, by Latest,
// Prev, WriteBundle and VerifyDir alike.
func TestDirectoryAtBundleName(t *testing.T) {
	signer := newSigner(t, 1)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 8, plain)
	out := t.TempDir()
	e := &Exporter{Sink: &FileSink{Dir: out}, Signer: signer}
	tree := treeOf(recs)
	b1, err := e.ExportTree(tree, testWriter, testStream, recs[:5], nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, b1.Name())
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v; want format, not a regular file", what, err)
		}
	}
	if paths, err := ListDir(filepath.Dir(path)); err != nil || len(paths) != 1 || paths[0] != path {
		t.Errorf("ListDir: %q %v; want [%s]", paths, err, path)
	}
	sink := &FileSink{Dir: out}
	_, err = sink.Latest(b1.Origin)
	check("Latest", err)
	_, err = (&FileSink{Dir: out}).Prev(testWriter, testStream)
	check("Prev", err)
	_, err = VerifyDir(filepath.Dir(path), vs, keys, nil)
	check("VerifyDir", err)
	_, err = (&Exporter{Sink: sink, Signer: signer}).ExportTree(tree, testWriter, testStream, recs, nil)
	if err == nil || !errors.Is(err, ErrBundleExists) {
		t.Errorf("ExportTree over it from no previous bundle: %v; want ErrBundleExists (it overlaps)", err)
	}
}
