package canonical

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

// The C++ reference implementation as a third foreign reader of the
// vectors' fields: TestCxxAcceptsVectors shows it finds every vector's bytes
// canonical, which says nothing of what they hold; here its own decoding
// (capnp convert canonical:json) must give every field of each record's
// JSON rendering (testing/vectors/v1/README.md), as the Rust and Python
// readers' do.

// cxxRendering turns `capnp convert canonical:json` output of an
// AuditRecord into the vectors' rendering: C++ leaves out null pointers
// (empty values, which the rendering spells out), writes 64-bit integers as
// strings and Data as an array of bytes. A key it does not know fails, so a
// field the schema gains is not dropped unseen.
func cxxRendering(out []byte) (map[string]any, error) {
	var c map[string]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return nil, fmt.Errorf("C++ JSON: %w", err)
	}
	known := func(m map[string]any, where string, keys ...string) error {
		for k := range m {
			if !slices.Contains(keys, k) {
				return fmt.Errorf("C++ JSON: field %s%s the rendering lacks", where, k)
			}
		}
		return nil
	}
	if err := known(c, "", "v", "kind", "seq", "tsMs", "writerId", "stream", "actor", "subject", "reason", "attrs", "prev"); err != nil {
		return nil, err
	}
	obj := func(m map[string]any, k string) map[string]any {
		o, _ := m[k].(map[string]any)
		if o == nil {
			o = map[string]any{}
		}
		return o
	}
	str := func(m map[string]any, k string) any {
		if v, ok := m[k]; ok {
			return v
		}
		return ""
	}
	num := func(m map[string]any, k string) any {
		switch v := m[k].(type) {
		case nil:
			return json.Number("0")
		case string: // 64-bit integers
			return json.Number(v)
		default:
			return v
		}
	}
	actor, subject := obj(c, "actor"), obj(c, "subject")
	if err := known(actor, "actor.", "capId", "keyFpr", "passportId", "anon"); err != nil {
		return nil, err
	}
	if err := known(subject, "subject.", "contentId", "ledgerTxid", "name"); err != nil {
		return nil, err
	}
	anon, ok := actor["anon"]
	if !ok {
		anon = false
	}
	attrs := []any{}
	if l, ok := c["attrs"].([]any); ok {
		for i, a := range l {
			m, _ := a.(map[string]any)
			if err := known(m, fmt.Sprintf("attrs[%d].", i), "key", "value"); err != nil {
				return nil, err
			}
			attrs = append(attrs, map[string]any{"key": str(m, "key"), "value": str(m, "value")})
		}
	}
	var prev []byte
	if l, ok := c["prev"].([]any); ok {
		for _, b := range l {
			n, err := b.(json.Number).Int64()
			if err != nil || n < 0 || n > 255 {
				return nil, fmt.Errorf("C++ JSON: prev holds %v, not a byte", b)
			}
			prev = append(prev, byte(n))
		}
	}
	kind := c["kind"]
	if kind == nil {
		kind = "unknown"
	}
	return map[string]any{
		"v": num(c, "v"), "kind": kind, "seq": num(c, "seq"), "tsMs": num(c, "tsMs"),
		"writerId": str(c, "writerId"), "stream": str(c, "stream"),
		"actor": map[string]any{
			"capId": str(actor, "capId"), "keyFpr": str(actor, "keyFpr"),
			"passportId": str(actor, "passportId"), "anon": anon,
		},
		"subject": map[string]any{
			"contentId": str(subject, "contentId"), "ledgerTxid": str(subject, "ledgerTxid"),
			"name": str(subject, "name"),
		},
		"reason": str(c, "reason"), "attrs": attrs, "prev": hex.EncodeToString(prev),
	}, nil
}

// renderingDiff names the first field where got and want differ ("" if
// none), walking want's keys and got's alike, so a field either lacks fails.
func renderingDiff(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: C++ decoded %v, JSON has an object", path, got)
		}
		keys := []string{}
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, gok := g[k]
			wv, wok := w[k]
			if !gok || !wok {
				return fmt.Sprintf("%s%s: in C++'s decoding %v, in the JSON rendering %v", path, k, gok, wok)
			}
			if d := renderingDiff(path+k+".", gv, wv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: C++ decoded %v, JSON has %v", strings.TrimSuffix(path, "."), got, want)
		}
		for i := range w {
			if d := renderingDiff(fmt.Sprintf("%s[%d].", strings.TrimSuffix(path, "."), i), g[i], w[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("%s: C++ decoded %#v, JSON has %#v", strings.TrimSuffix(path, "."), got, want)
		}
		return ""
	}
}

// cxxFieldsDiff decodes canonical with the C++ tool and names the first
// field of the rendering (raw JSON, as in the vector file) it disagrees on.
func cxxFieldsDiff(canonical []byte, rendering json.RawMessage) (string, error) {
	out, err := capnptest.Convert("canonical", "json", schemaFile, "AuditRecord", canonical)
	if err != nil {
		return "", err
	}
	got, err := cxxRendering(out)
	if err != nil {
		return "", err
	}
	var want any
	d := json.NewDecoder(bytes.NewReader(rendering))
	d.UseNumber()
	if err := d.Decode(&want); err != nil {
		return "", err
	}
	// Through JSON and back, so both sides hold the same Go types.
	b, err := json.Marshal(got)
	if err != nil {
		return "", err
	}
	var norm any
	d = json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&norm); err != nil {
		return "", err
	}
	return renderingDiff("", norm, want), nil
}

type rawVectorFile struct {
	Records []struct {
		Record    json.RawMessage `json:"record"`
		Canonical string          `json:"canonical"`
	} `json:"records"`
}

// TestCxxDecodesVectorFields: C++'s decoding of every vector record's bytes
// is its JSON rendering, field by field.
func TestCxxDecodesVectorFields(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if len(paths) == 0 {
		t.Fatal("no vectors")
	}
	n := 0
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f rawVectorFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		for i, r := range f.Records {
			b, _ := hex.DecodeString(r.Canonical)
			d, err := cxxFieldsDiff(b, r.Record)
			if errors.Is(err, capnptest.ErrNoCapnp) {
				t.Skip("skipping the C++ check: ", err)
			}
			if err != nil {
				t.Fatalf("%s[%d]: %v", path, i, err)
			}
			if d != "" {
				t.Errorf("%s[%d]: %s", filepath.Base(path), i, d)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no vector records")
	}
}

// TestCxxFieldCheckBites: the check above fails, naming the field, on a
// rendering changed in any one field (every field of the rendering, absent
// versus empty included), and on bytes of another record.
func TestCxxFieldCheckBites(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorDir, "edge-maximal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f rawVectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	b, _ := hex.DecodeString(f.Records[0].Canonical)
	if _, err := capnptest.Convert("canonical", "json", schemaFile, "AuditRecord", b); errors.Is(err, capnptest.ErrNoCapnp) {
		t.Skip("skipping the C++ check: ", err)
	}
	mutate := func(change func(m map[string]any)) json.RawMessage {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(f.Records[0].Record))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		change(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	sub := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	appendX := func(m map[string]any, k string) { m[k] = m[k].(string) + "x" }
	cases := map[string]struct {
		change func(m map[string]any)
		field  string
	}{
		"v":                 {func(m map[string]any) { m["v"] = json.Number("2") }, "v:"},
		"kind":              {func(m map[string]any) { m["kind"] = "capIssued" }, "kind:"},
		"seq":               {func(m map[string]any) { m["seq"] = json.Number("18446744073709551614") }, "seq:"},
		"tsMs":              {func(m map[string]any) { m["tsMs"] = json.Number("1") }, "tsMs:"},
		"writerId":          {func(m map[string]any) { appendX(m, "writerId") }, "writerId:"},
		"stream":            {func(m map[string]any) { appendX(m, "stream") }, "stream:"},
		"actor.capId":       {func(m map[string]any) { appendX(sub(m, "actor"), "capId") }, "actor.capId:"},
		"actor.keyFpr":      {func(m map[string]any) { appendX(sub(m, "actor"), "keyFpr") }, "actor.keyFpr:"},
		"actor.passportId":  {func(m map[string]any) { appendX(sub(m, "actor"), "passportId") }, "actor.passportId:"},
		"actor.anon":        {func(m map[string]any) { sub(m, "actor")["anon"] = false }, "actor.anon:"},
		"actor.anon absent": {func(m map[string]any) { delete(sub(m, "actor"), "anon") }, "actor.anon:"},
		"subject.contentId": {func(m map[string]any) { appendX(sub(m, "subject"), "contentId") }, "subject.contentId:"},
		"subject.ledgerTxid": {func(m map[string]any) { appendX(sub(m, "subject"), "ledgerTxid") },
			"subject.ledgerTxid:"},
		"subject.name":   {func(m map[string]any) { appendX(sub(m, "subject"), "name") }, "subject.name:"},
		"reason":         {func(m map[string]any) { appendX(m, "reason") }, "reason:"},
		"reason null":    {func(m map[string]any) { m["reason"] = nil }, "reason:"},
		"reason absent":  {func(m map[string]any) { delete(m, "reason") }, "reason:"},
		"extra field":    {func(m map[string]any) { m["extra"] = "" }, "extra:"},
		"attrs dropped":  {func(m map[string]any) { m["attrs"] = m["attrs"].([]any)[1:] }, "attrs:"},
		"attrs[0].key":   {func(m map[string]any) { appendX(m["attrs"].([]any)[0].(map[string]any), "key") }, "attrs[0].key:"},
		"attrs[8].value": {func(m map[string]any) { appendX(m["attrs"].([]any)[8].(map[string]any), "value") }, "attrs[8].value:"},
		"prev":           {func(m map[string]any) { m["prev"] = strings.Repeat("00", 32) }, "prev:"},
	}
	if d, err := cxxFieldsDiff(b, f.Records[0].Record); err != nil || d != "" {
		t.Fatalf("unchanged rendering: %q, %v", d, err)
	}
	for name, c := range cases {
		d, err := cxxFieldsDiff(b, mutate(c.change))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(d, c.field) {
			t.Errorf("%s: want a difference at %q, got %q", name, c.field, d)
		}
	}
	// The bytes of another record (edge-minimal's) against this rendering.
	raw, err = os.ReadFile(filepath.Join(vectorDir, "edge-minimal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g rawVectorFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	other, _ := hex.DecodeString(g.Records[0].Canonical)
	if d, err := cxxFieldsDiff(other, f.Records[0].Record); err != nil || d == "" {
		t.Errorf("edge-minimal's bytes against edge-maximal's rendering: %q, %v", d, err)
	}
}
