package schemacheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func layout(t *testing.T, name string) *Layout {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".req"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadLayout(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRules: each schema in testdata is base.capnp with one change; the
// check reports exactly the rules that change breaks, naming the field.
func TestRules(t *testing.T) {
	base := layout(t, "base")
	base.Version = 1
	for name, want := range map[string][]string{
		"base":              nil,
		"add_ok":            nil, // new fields, a new struct, a new enumerant
		"removed":           {"Rec: section-shrunk: pointer section 3 -> 2", "Rec.s (@4): field-removed"},
		"type_changed":      {"Rec.a (@0): type-changed: UInt32 -> UInt64", "Rec.e (@3): offset-moved: slot offset 2 -> 4"},
		"list_type":         {"Rec.c (@2): type-changed: List(Text) -> List(Data)"},
		"renamed":           {"Rec.b (@1): renamed: field renamed to bee"},
		"ordinal_reused":    {"Rec.s (@4): ordinal-reused"},
		"default_changed":   {"Rec.a (@0): default-changed: default (none) -> uint32 = 5"},
		"new_default":       {"Rec.d (@5): default-changed: a new field with default"},
		"into_union":        {"Rec.b (@1): union-membership: not in a union -> union member 0", "Rec.z (@5): union-membership: a new union"},
		"struct_id":         {"Rec.s (@4): type-changed: Struct(0xd1e2f3a4b5c6d7e8) -> Struct(0xd1e2f3a4b5c6d7e9)", "Sub: struct-id: 0xd1e2f3a4b5c6d7e8 -> 0xd1e2f3a4b5c6d7e9"},
		"struct_removed":    {"Rec: section-shrunk: pointer section 3 -> 2", "Rec.s (@4): field-removed", "Sub: struct-removed"},
		"enumerant_removed": {"Color.green (=1): enumerant-removed"},
		"enumerant_renamed": {"Color.green (=1): renamed: enumerant renamed to verde"},
		"enum_id":           {"Color: enum-id: 0xe1f2a3b4c5d6e7f8 -> 0xe1f2a3b4c5d6e7f9", "Rec.e (@3): type-changed: Enum(0xe1f2a3b4c5d6e7f8) -> Enum(0xe1f2a3b4c5d6e7f9)"},
		"ordinals_swapped":  {"Rec.a (@0): ordinal-reused: a moved to @1 and @0 now holds b", "Rec.b (@1): ordinal-reused: b moved to @0 and @1 now holds a"},
		"group_union":       {"Rec.ga (new group): union-membership: a new union", "Rec.gb (new group): union-membership: a new union"},
		"group_default":     {"Rec.g.z (@5): default-changed: a new field with default uint32 = 7"},
		// A new struct's fields live behind a pointer that old records
		// have null: each reads as its default there.
		"new_struct_default": {"Nested.y (@0): default-changed: a new field with default text = \"hi\""},
		"into_group":         {"Rec.b (@1): group-changed: moved into group g: the field's path changes"},
		// A new union is one wherever old records read through it: a named
		// union is a group, so it and an unnamed union in a new group were
		// not checked as group_union's unnamed one is; nor was a union in
		// a new struct, whose null pointer old records have.
		"named_union":       {"Rec.u: union-membership: a new union"},
		"group_holds_union": {"Rec.g: union-membership: a new union"},
		"new_struct_union":  {"Nested: union-membership: a new union"},
		// Changes the wire would bear but this project's rules not: the
		// bytes of old records stay, their reading or rendering does not.
		"text_to_data":       {"Rec.b (@1): type-changed: Text -> Data"},
		"int_sign":           {"Rec.a (@0): type-changed: UInt32 -> Int32"},
		"enum_default":       {"Rec.e (@3): default-changed: default (none) -> enum = 1"},
		"struct_renamed":     {"Sub: renamed: struct renamed to Sub2"},
		"enumerants_swapped": {"Color.green (=1): renamed: enumerant renamed to red", "Color.red (=0): renamed: enumerant renamed to green"},
		"grown_ok":           nil, // new fields in Sub and in Rec's padding, a new enum, a const, an annotation
	} {
		t.Run(name, func(t *testing.T) {
			got := Check(base, layout(t, name))
			if len(got) != len(want) {
				t.Fatalf("%d problems, want %d: %v", len(got), len(want), got)
			}
			for i, p := range got {
				if s := p.String(); !strings.HasPrefix(s, "v1: "+want[i]) {
					t.Errorf("problem %d: %q, want it to start with %q", i, s, "v1: "+want[i])
				}
			}
		})
	}
}

// TestGrownInPlace: grown_ok's new field p sits in the padding of Rec's
// old data section, and Sub grew both sections: the cases TestRules passes
// are the ones they say they are.
func TestGrownInPlace(t *testing.T) {
	base, grown := layout(t, "base"), layout(t, "grown_ok")
	find := func(l *Layout, name string) StructInfo {
		return l.Structs[slices.IndexFunc(l.Structs, func(s StructInfo) bool { return s.Name == name })]
	}
	rec := find(grown, "Rec")
	if p := rec.Fields[slices.IndexFunc(rec.Fields, func(f FieldInfo) bool { return f.Name == "p" })]; p.Type != "UInt16" || (p.Offset+1)*16 > 64*find(base, "Rec").DataWords {
		t.Errorf("p is not in the padding of Rec's old data section: %+v", p)
	}
	if b, g := find(base, "Sub"), find(grown, "Sub"); g.DataWords <= b.DataWords || g.Pointers <= b.Pointers {
		t.Errorf("Sub's sections did not both grow: %d/%d -> %d/%d", b.DataWords, b.Pointers, g.DataWords, g.Pointers)
	}
}

// TestMovedOut: a field moved out of a union or a group, and a plain field
// joining a union records use, are refused (the other direction is in
// TestRules).
func TestMovedOut(t *testing.T) {
	for _, c := range []struct {
		old, cur string
		want     []string
	}{
		{"into_union", "base", []string{"Rec: section-shrunk: data section 2 -> 1 words", "Rec: union-membership: union discriminant moved",
			"Rec.b (@1): union-membership: union member 0 -> not in a union", "Rec.z (@5): field-removed"}},
		{"into_group", "base", []string{"Rec.g: struct-removed", "Rec.g (group): field-removed"}},
		{"union_base", "union_member", []string{"U.w (@2): new-union-member"}},
	} {
		old := layout(t, c.old)
		old.Version = 1
		got := Check(old, layout(t, c.cur))
		if len(got) != len(c.want) {
			t.Errorf("%s -> %s: %d problems, want %d: %v", c.old, c.cur, len(got), len(c.want), got)
			continue
		}
		for i, p := range got {
			if !strings.HasPrefix(p.String(), "v1: "+c.want[i]) {
				t.Errorf("%s -> %s: problem %d: %q, want it to start with %q", c.old, c.cur, i, p, "v1: "+c.want[i])
			}
		}
	}
}

// TestPointerDefaults: a list or struct default changed from one value to
// another is a changed default, as for scalars (rendered only as "(set)",
// both would look alike and the change would pass).
func TestPointerDefaults(t *testing.T) {
	a, b := layout(t, "pointer_default_a"), layout(t, "pointer_default_b")
	a.Version = 1
	if got := Check(a, layout(t, "pointer_default_a")); len(got) != 0 {
		t.Fatalf("a against itself: %v", got)
	}
	got := Check(a, b)
	want := []string{"v1: Rec.c (@2): default-changed: default list = ", "v1: Rec.s (@4): default-changed: default struct = "}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(got), len(want), got)
	}
	for i, p := range got {
		if !strings.HasPrefix(p.String(), want[i]) {
			t.Errorf("problem %d: %q, want it to start with %q", i, p, want[i])
		}
	}
}

// TestStructListDefaults: a default that is a list of structs without
// pointer fields is compared by value. capnp.Canonicalize copied such a
// list without its tag word and without cutting the elements to their
// canonical size, so a list of two empty structs rendered as one of one
// (the change passed), and growing the element struct changed the
// rendering of an unchanged value (a compatible change was refused).
func TestStructListDefaults(t *testing.T) {
	a := layout(t, "list_default_a")
	a.Version = 1
	got := Check(a, layout(t, "list_default_b"))
	if len(got) != 1 || !strings.HasPrefix(got[0].String(), "v1: Rec.e (@0): default-changed: default list = ") {
		t.Errorf("two empty structs -> one: %v, want one default-changed of Rec.e", got)
	}
	if got := Check(a, layout(t, "list_default_grown")); len(got) != 0 {
		t.Errorf("the element struct grew, the values did not change: %v, want no problem", got)
	}
}

// TestZeroDefaults: a default spelled out as the one a field has anyway
// (0, false, the first enumerant, "", [], ()) changes no byte and no
// reading, in either direction and on a new field; -0.0 is not such a
// default (its bits are not zero).
func TestZeroDefaults(t *testing.T) {
	base, zero := layout(t, "base"), layout(t, "zero_default")
	base.Version, zero.Version = 1, 1
	if got := Check(base, layout(t, "zero_default")); len(got) != 0 {
		t.Errorf("base -> zero_default: %d problems, want none: %v", len(got), got)
	}
	// Back, the new fields are gone and the sections shrink: only that.
	for _, p := range Check(zero, layout(t, "base")) {
		if p.Rule == RuleDefaultChanged {
			t.Errorf("zero_default -> base: %v", p)
		}
	}
	got := Check(base, layout(t, "negzero_default"))
	if len(got) != 1 || !strings.HasPrefix(got[0].String(), "v1: Rec.f (@5): default-changed: a new field with default float64 = -0") {
		t.Errorf("base -> negzero_default: %v, want the new field's default -0", got)
	}
}

// TestGroupJoinsUnion: a group joining a union that records already use
// is refused as a plain field is (groups have no ordinal of their own).
func TestGroupJoinsUnion(t *testing.T) {
	base := layout(t, "union_base")
	base.Version = 1
	got := Check(base, layout(t, "union_group_member"))
	if len(got) != 1 || !strings.HasPrefix(got[0].String(), "v1: U.z (new group): new-union-member") {
		t.Fatalf("%v", got)
	}
}

// TestUncheckable: what the layout cannot record is refused, not passed:
// a type from another file, a generic struct, an interface (refused for
// what it is, not as if it were imported). AnyPointer's kinds are
// told apart.
func TestUncheckable(t *testing.T) {
	for name, want := range map[string]string{
		"imported":  "is not declared in this file",
		"generic":   "generic",
		"interface": "an interface type",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".req"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReadLayout(b); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, want)
		}
	}
	l := layout(t, "any_kinds")
	rec := l.Structs[slices.IndexFunc(l.Structs, func(s StructInfo) bool { return s.Name == "Rec" })]
	var types []string
	for _, f := range rec.Fields[5:] {
		types = append(types, f.Type)
	}
	if want := []string{"AnyPointer", "AnyStruct", "AnyList", "Capability"}; !slices.Equal(types, want) {
		t.Fatalf("types %v, want %v", types, want)
	}
}

// TestLayoutFields: the layout records what decides bytes.
func TestLayoutFields(t *testing.T) {
	l := layout(t, "into_union")
	var rec StructInfo
	for _, s := range l.Structs {
		if s.Name == "Rec" {
			rec = s
		}
	}
	if rec.DiscriminantCount != 2 || rec.Pointers != 3 {
		t.Fatalf("%+v", rec)
	}
	i := slices.IndexFunc(rec.Fields, func(f FieldInfo) bool { return f.Name == "c" })
	if f := rec.Fields[i]; f.Type != "List(Text)" || f.Ordinal != 2 || f.Union != -1 || f.Offset != 1 {
		t.Fatalf("%+v", f)
	}
	d := layout(t, "default_changed")
	if f := d.Structs[slices.IndexFunc(d.Structs, func(s StructInfo) bool { return s.Name == "Rec" })].Fields[0]; f.Default == "" {
		t.Fatalf("explicit default not recorded: %+v", f)
	}
}

// TestHistoryRoundTrip: Marshal and LoadHistory agree, and a history file
// that names another version, or has unknown fields, is refused.
func TestHistoryRoundTrip(t *testing.T) {
	dir := t.TempDir()
	base := layout(t, "base")
	b, err := Marshal(base, 1)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "v1.json"), b, 0o644)
	h, err := LoadHistory(dir)
	if err != nil || len(h) != 1 || h[0].Version != 1 {
		t.Fatalf("%v %v", h, err)
	}
	base.Version = 1
	if !reflect.DeepEqual(h[0], base) {
		t.Fatalf("round trip changed the layout")
	}
	os.WriteFile(filepath.Join(dir, "v2.json"), b, 0o644) // says version 1
	if _, err := LoadHistory(dir); err == nil {
		t.Fatal("v2.json recording version 1 accepted")
	}
	os.WriteFile(filepath.Join(dir, "v2.json"), bytes.Replace(b, []byte(`"version": 1`), []byte(`"version": 2, "extra": 1`), 1), 0o644)
	if _, err := LoadHistory(dir); err == nil {
		t.Fatal("unknown field accepted")
	}
	os.Remove(filepath.Join(dir, "v2.json"))
	// A truncated or hand-edited file is not a whole layout: data after
	// it, no struct, or a field whose type it does not declare.
	thin := `{"version":1,"file":"x.capnp","fileId":"0xb7a4e3f2c1d09e8a","structs":[],"enums":[]}`
	dangling := bytes.Replace(b, []byte(`"name": "Sub"`), []byte(`"name": "Sub2"`), 1)
	dangling = bytes.Replace(dangling, []byte(`"id": "0xd1e2f3a4b5c6d7e8"`), []byte(`"id": "0xd1e2f3a4b5c6d7e9"`), 1)
	for name, bad := range map[string][]byte{"trailing": append(append([]byte{}, b...), []byte("{}\n")...), "thin": []byte(thin), "dangling": dangling} {
		os.WriteFile(filepath.Join(dir, "v1.json"), bad, 0o644)
		if _, err := LoadHistory(dir); err == nil {
			t.Errorf("%s history file accepted", name)
		}
	}
}

// TestRealSchema: schema/audit.capnp, as compiled in gen/testdata, is
// compatible with every released layout in schema/history.
func TestRealSchema(t *testing.T) {
	b, err := os.ReadFile("../../gen/testdata/audit.req")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ReadLayout(b)
	if err != nil {
		t.Fatal(err)
	}
	h, err := LoadHistory("../../schema/history")
	if err != nil || len(h) == 0 {
		t.Fatalf("history: %v (%d versions)", err, len(h))
	}
	if p := h.CheckAll(cur); len(p) > 0 {
		t.Fatalf("the schema breaks its history: %v", p)
	}
}

// TestDrillSchema: the evolution drill's v2 (gen/testdata/audit_v2.capnp:
// a data field, a pointer field, a nested struct, an enum value) is an
// accepted growth of v1.
func TestDrillSchema(t *testing.T) {
	b, err := os.ReadFile("../../gen/testdata/audit_v2.req")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := ReadLayout(b)
	if err != nil {
		t.Fatal(err)
	}
	h, err := LoadHistory("../../schema/history")
	if err != nil {
		t.Fatal(err)
	}
	if p := h.CheckAll(v2); len(p) > 0 {
		t.Fatalf("the drill's v2 breaks v1: %v", p)
	}
	if reflect.DeepEqual(v2.Structs, h[0].Structs) {
		t.Fatal("the drill's v2 adds nothing")
	}
}

// TestRequestsFresh recompiles the test schemas when capnp is installed
// (CI installs it): the checked-in requests are what they compile to.
func TestRequestsFresh(t *testing.T) {
	if _, err := exec.LookPath("capnp"); err != nil {
		t.Skip("capnp not installed")
	}
	files, _ := filepath.Glob("testdata/*.capnp")
	for _, f := range files {
		cmd := exec.Command("capnp", "compile", "-o-", filepath.Base(f))
		cmd.Dir = "testdata"
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		req, err := os.ReadFile(strings.TrimSuffix(f, ".capnp") + ".req")
		if err != nil || !bytes.Equal(out, req) {
			t.Errorf("%s: the checked-in request is stale: capnp compile -o- %s > %s.req", f, filepath.Base(f), strings.TrimSuffix(filepath.Base(f), ".capnp"))
		}
	}
}
