package testvectors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFrozen(t *testing.T) {
	const old = `{"description": "a", "cases": [{"name": "x", "description": "b", "want": "ok", "n": 1}]}`
	for _, c := range []struct {
		new    string
		frozen bool // the change is refused
	}{
		{old, false},
		{`{"description": "other", "cases": [{"name": "x", "description": "other", "want": "ok", "n": 1}]}`, false},
		{`{"description": "a", "cases": [{"name": "x", "description": "b", "want": "ok", "n": 1}, {"name": "y"}]}`, false},
		{`{"description": "a", "cases": [{"name": "x", "description": "b", "want": "gap", "n": 1}]}`, true},
		{`{"description": "a", "cases": [{"name": "x", "description": "b", "want": "ok", "n": 1.0}]}`, true},
		{`{"description": "a", "cases": [{"name": "x", "description": "b", "want": "ok", "n": 1, "seq": 2}]}`, true},
		{`{"description": "a", "cases": [{"name": "x", "description": "b", "n": 1}]}`, true},
		{`{"description": "a", "cases": []}`, true},
		{`{"description": "a", "cases": {}}`, true},
	} {
		d, err := Frozen("f.json", []byte(old), []byte(c.new))
		if err != nil || (d != "") != c.frozen {
			t.Errorf("%s: %q, %v; want frozen %v", c.new, d, err, c.frozen)
		}
	}
	if d, _ := Frozen("f.note", []byte("a\n"), []byte("a\r\n")); d == "" {
		t.Error("Frozen let a note change a byte")
	}
	if _, err := Frozen("f.json", []byte(old), []byte(`{`)); err == nil {
		t.Error("Frozen read broken JSON")
	}
}

// TestUpdate: a refused change writes no file, not even those that could
// be written.
func TestUpdate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "v2")
	files := map[string][]byte{"a": []byte("1"), "b": []byte("2")}
	if err := Update(dir, files, Frozen); err != nil {
		t.Fatal(err)
	}
	if err := Update(dir, map[string][]byte{"a": []byte("1"), "b": []byte("3"), "c": []byte("4")}, Frozen); !errors.Is(err, ErrFrozen) {
		t.Fatalf("Update changed b: %v", err)
	}
	for name, want := range map[string]string{"a": "1", "b": "2"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s is %q, want %q", name, b, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "c")); err == nil {
		t.Error("Update wrote c before refusing b")
	}
}
