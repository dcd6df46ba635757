package schemacheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSpecTableMatchesSchema: section 1 of canonical/SPEC.md, the table a
// reader in another language implements from, says what the compiled
// schema says: AuditRecord's id and section sizes, one row per field and
// no other, each with its type and place, the enumerants of Kind in
// order, and the place of every field of the structs it names. The
// generator and the vectors keep the code honest; this keeps the prose
// honest when the schema grows (SPEC section 8, step 3).
func TestSpecTableMatchesSchema(t *testing.T) {
	req, err := os.ReadFile(filepath.Join("..", "..", "gen", "testdata", "audit.req"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadLayout(req)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join("..", "..", "canonical", "SPEC.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range specProblems(l, string(spec)) {
		t.Error(p)
	}

	// The check can fail: the drill's v2 schema (two new fields) against
	// this text, and this text with one place or enumerant changed.
	req2, err := os.ReadFile(filepath.Join("..", "..", "gen", "testdata", "audit_v2.req"))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ReadLayout(req2)
	if err != nil {
		t.Fatal(err)
	}
	if ps := specProblems(l2, string(spec)); !strings.Contains(strings.Join(ps, "\n"), "has no row") {
		t.Errorf("the v2 drill's schema against the v1 text: %q, want a field without a row", ps)
	}
	for _, edit := range [][2]string{
		{"| Text | pointer 4 |", "| Text | pointer 5 |"},
		{"4 `indexWrite`, 5 `getServed`", "4 `getServed`, 5 `indexWrite`"},
		{"`anon` data bit 0", "`anon` data bit 1"},
		{"data section of 3 words", "data section of 2 words"},
		{"| UInt64 | data word 1 |", "| UInt32 | data word 1 |"},
	} {
		changed := strings.Replace(string(spec), edit[0], edit[1], 1)
		if changed == string(spec) {
			t.Fatalf("SPEC.md has no %q to change", edit[0])
		}
		if ps := specProblems(l, changed); len(ps) == 0 {
			t.Errorf("SPEC.md with %q for %q: no problem found", edit[1], edit[0])
		}
	}
}

// specProblems lists where section 1 of the spec text disagrees with l.
func specProblems(l *Layout, spec string) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	start := strings.Index(spec, "\n## 1. ")
	if start < 0 {
		return []string{"SPEC.md has no section 1"}
	}
	sec := spec[start+1:]
	if end := strings.Index(sec, "\n## 2. "); end >= 0 {
		sec = sec[:end]
	}
	structs := map[string]StructInfo{}
	for _, s := range l.Structs {
		structs[s.ID] = s
	}
	enums := map[string]EnumInfo{}
	for _, e := range l.Enums {
		enums[e.ID] = e
	}
	var rec StructInfo
	for _, s := range l.Structs {
		if s.Name == "AuditRecord" {
			rec = s
		}
	}
	if rec.Name == "" {
		return []string{"the schema has no AuditRecord"}
	}

	if !strings.Contains(sec, "(id\n`"+rec.ID+"`)") && !strings.Contains(sec, "(id `"+rec.ID+"`)") {
		bad("section 1 does not give AuditRecord's id %s", rec.ID)
	}
	words := regexp.MustCompile(`data section of (\d+) words\s+and (\d+) pointers`).FindStringSubmatch(sec)
	if words == nil || words[1] != strconv.Itoa(rec.DataWords) || words[2] != strconv.Itoa(rec.Pointers) {
		bad("section 1 gives the sections as %q, the schema has %d data words and %d pointers", words, rec.DataWords, rec.Pointers)
	}

	// The table: | `name` | type | place | rule |
	rows := map[string][3]string{}
	var order []string
	rowRE := regexp.MustCompile("^\\| `([A-Za-z0-9]+)` \\| ([^|]+) \\| ([^|]+) \\|(.*)\\|$")
	for _, line := range strings.Split(sec, "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := rows[m[1]]; dup {
			bad("field %s has two rows", m[1])
		}
		rows[m[1]] = [3]string{m[2], m[3], strings.TrimSpace(m[4])}
		order = append(order, m[1])
	}
	if len(order) != len(rec.Fields) {
		bad("the table has %d rows %v, AuditRecord has %d fields", len(order), order, len(rec.Fields))
	}
	for i, f := range rec.Fields {
		row, ok := rows[f.Name]
		if !ok {
			bad("field %s (@%d) has no row", f.Name, f.Ordinal)
			continue
		}
		if i < len(order) && order[i] != f.Name {
			bad("row %d is %s, the field of ordinal %d is %s", i+1, order[i], f.Ordinal, f.Name)
		}
		typ, place, rule := row[0], row[1], row[2]
		if want := specType(f.Type, structs, enums); typ != want {
			bad("%s: type %q, want %q", f.Name, typ, want)
		}
		if want := specPlace(f); place != want {
			bad("%s: place %q, want %q", f.Name, place, want)
		}
		if id, ok := strings.CutPrefix(f.Type, "Enum("); ok {
			e := enums[strings.TrimSuffix(id, ")")]
			var list []string
			for v, name := range e.Enumerants {
				list = append(list, strconv.Itoa(v)+" `"+name+"`")
			}
			if want := strings.Join(list, ", ") + "; no other value"; !strings.Contains(rule, want) {
				bad("%s: rule %q does not list the enumerants as %q", f.Name, rule, want)
			}
		}
		if id := structID(f.Type); id != "" {
			s := structs[id]
			for _, sf := range s.Fields {
				var at string
				switch {
				case sf.Type == "Bool":
					at = "`" + sf.Name + "` data bit " + strconv.Itoa(sf.Offset)
				case isPointer(sf.Type):
					at = "`" + sf.Name + "` p" + strconv.Itoa(sf.Offset)
				default:
					bad("%s.%s: type %s is not one this test knows how the table writes", s.Name, sf.Name, sf.Type)
					continue
				}
				if !strings.Contains(rule, at) {
					bad("%s: rule %q does not place %s.%s as %q", f.Name, rule, s.Name, sf.Name, at)
				}
			}
			if n := strings.Count(rule, "`"); n != 2*len(s.Fields) {
				bad("%s: rule %q names %d fields, %s has %d", f.Name, rule, n/2, s.Name, len(s.Fields))
			}
		}
	}
	return out
}

// specType is how the table writes a field's type.
func specType(t string, structs map[string]StructInfo, enums map[string]EnumInfo) string {
	switch {
	case strings.HasPrefix(t, "Enum("):
		return "enum " + enums[strings.TrimSuffix(strings.TrimPrefix(t, "Enum("), ")")].Name + " (UInt16)"
	case strings.HasPrefix(t, "Struct("):
		return "struct " + structs[structID(t)].Name
	case strings.HasPrefix(t, "List(Struct("):
		return "List(" + structs[structID(t)].Name + ")"
	}
	return t
}

// structID is the id of the struct a type is or lists; "" if none.
func structID(t string) string {
	i := strings.Index(t, "Struct(")
	if i < 0 {
		return ""
	}
	id := t[i+len("Struct("):]
	return id[:strings.Index(id, ")")]
}

func isPointer(t string) bool {
	return t == "Text" || t == "Data" || strings.HasPrefix(t, "Struct(") || strings.HasPrefix(t, "List(")
}

// bitsOf is the width of a data field's type; 0 for a pointer.
var bitsOf = map[string]int{"Bool": 1, "Int8": 8, "UInt8": 8, "Int16": 16, "UInt16": 16,
	"Int32": 32, "UInt32": 32, "Float32": 32, "Int64": 64, "UInt64": 64, "Float64": 64}

// specPlace is how the table writes where a field lives.
func specPlace(f FieldInfo) string {
	if isPointer(f.Type) {
		return "pointer " + strconv.Itoa(f.Offset)
	}
	bits := bitsOf[f.Type]
	if strings.HasPrefix(f.Type, "Enum(") {
		bits = 16
	}
	if bits == 64 {
		return "data word " + strconv.Itoa(f.Offset)
	}
	lo := f.Offset * bits
	return "data bits " + strconv.Itoa(lo) + "-" + strconv.Itoa(lo+bits-1)
}
