package canonical

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSpecWorkedExample: the worked example of SPEC.md is what the encoder
// writes and hashes, so the prose and the code agree.
func TestSpecWorkedExample(t *testing.T) {
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(info string) string {
		re := regexp.MustCompile("(?s)```" + info + "\n(.*?)```")
		m := re.FindSubmatch(spec)
		if m == nil {
			t.Fatalf("SPEC.md has no ```%s block", info)
		}
		return string(m[1])
	}
	var rec AuditRecord
	if err := json.Unmarshal([]byte(block("json")), &rec); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, line := range strings.Split(strings.TrimSpace(block("text worked-example")), "\n") {
		_, rest, _ := strings.Cut(line, ": ")
		b, err := hex.DecodeString(strings.ReplaceAll(rest[:23], " ", ""))
		if err != nil || len(b) != 8 {
			t.Fatalf("bad line %q: %v", line, err)
		}
		want = append(want, b...)
	}
	got, err := AppendRecord(nil, &rec, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("SPEC.md worked example differs from the encoder\n got %x\nwant %x", got, want)
	}
	if h := RecordHash(got).String(); h != strings.TrimSpace(block("text worked-example-hash")) {
		t.Fatalf("SPEC.md hash differs: encoder hashes to %s", h)
	}
	if !strings.Contains(string(spec), "has these "+strconv.Itoa(len(got))+" canonical bytes") {
		t.Errorf("SPEC.md states the wrong length; it is %d", len(got))
	}
}
