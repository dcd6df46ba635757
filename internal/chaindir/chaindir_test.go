package chaindir

import (
	"strings"
	"testing"
)

// TestNameLen: NameLen is the length of Name, the directory name a
// Keeper and a FileSink write, for every kind of byte.
func TestNameLen(t *testing.T) {
	for _, c := range []string{"", "a", ".", "..", "...", "a/b", "é", "日本", "%", "\x00\xff", "svc@inst-1",
		strings.Repeat("a", 256), strings.Repeat("é", 43), string([]byte{0x7f, '~', '.', ' '})} {
		if got, want := NameLen(c), len(Name(c)); got != want {
			t.Errorf("NameLen(%q) = %d, len(Name) = %d", c, got, want)
		}
	}
	if Name(".") != "%2E" || Name("..") != "%2E%2E" || Name("...") != "..." {
		t.Errorf("dot names: %q %q %q", Name("."), Name(".."), Name("..."))
	}
}
