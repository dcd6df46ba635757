package bench

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/benchfmt"
)

// record1KiB returns the benchmark record and its canonical bytes, from the
// committed vector so the bytes measured are the bytes specified.
func record1KiB(tb testing.TB) (canonical.AuditRecord, []byte) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", benchfmt.RecordVector))
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Records []struct {
			Record    canonical.AuditRecord `json:"record"`
			Canonical string                `json:"canonical"`
		} `json:"records"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		tb.Fatal(err)
	}
	b, err := hex.DecodeString(f.Records[0].Canonical)
	if err != nil || len(b) != 1024 {
		tb.Fatalf("record-1kib: %d bytes, %v", len(b), err)
	}
	return f.Records[0].Record, b
}
