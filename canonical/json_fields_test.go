package canonical

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fill sets every field of the generated struct v (and of the structs and
// lists it holds) to a non-zero value the format allows.
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Tag.Get("capnp") == "" {
				t.Fatalf("%s.%s has no capnp tag", path, f.Name)
			}
			fill(t, v.Field(i), path+"."+f.Tag.Get("capnp"))
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1) // for an enum, its first value after unknown
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(make([]byte, 32))
			v.Index(0).SetUint(1)
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), path+"[0]")
	default:
		t.Fatalf("%s: no filler for %s", path, v.Type())
	}
}

// TestJSONRenderingHasEveryField: the JSON rendering (json.go, written by
// hand) carries every field of the generated AuditRecord, so a field the
// schema gains cannot be dropped silently from what the CLI prints and
// reads and the vectors show: a record with every field set survives
// MarshalJSON and UnmarshalJSON whole.
func TestJSONRenderingHasEveryField(t *testing.T) {
	var r AuditRecord
	fill(t, reflect.ValueOf(&r).Elem(), "AuditRecord")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back AuditRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Fatalf("the JSON rendering lost a field (update canonical/json.go):\n%s\n got %+v\nwant %+v", b, back, r)
	}
}

// TestMarshalJSONRefusesWhatItCannotRender: a record whose rendering would
// read back as another record (text that is not UTF-8 becomes U+FFFD) or
// not at all (an unknown kind renders as "Kind(n)") is an error naming the
// field, not a rendering.
func TestMarshalJSONRefusesWhatItCannotRender(t *testing.T) {
	for field, r := range map[string]AuditRecord{
		"kind":             {Kind: Kind(200)},
		"writerId":         {WriterID: "a\xffb"},
		"subject.name":     {Subject: Subject{Name: "\xc3"}},
		"attrs[1].value":   {Attrs: []Attr{{Key: "a", Value: "x"}, {Key: "b", Value: "\xed\xa0\x80"}}},
		"actor.passportId": {Actor: Actor{PassportID: "\x80"}},
	} {
		b, err := json.Marshal(r)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: got %s, %v; want a *FieldError naming %s", field, b, err, field)
		}
	}
	// NUL is valid UTF-8 and reads back: rendered, not refused.
	b, err := json.Marshal(AuditRecord{Reason: "a\x00b"})
	var back AuditRecord
	if err != nil || json.Unmarshal(b, &back) != nil || back.Reason != "a\x00b" {
		t.Errorf("NUL in text: %s, %v, read back %q", b, err, back.Reason)
	}
}

// eachField calls visit with every field of the generated struct v (and of
// the structs and first elements of lists it holds, as fill makes them),
// named by its path in the JSON rendering and in FieldErrors:
// "actor.capId", "attrs[0].key".
func eachField(v reflect.Value, path string, visit func(path string, f reflect.Value)) {
	for i := 0; i < v.NumField(); i++ {
		p := v.Type().Field(i).Tag.Get("capnp")
		if path != "" {
			p = path + "." + p
		}
		f := v.Field(i)
		visit(p, f)
		switch {
		case f.Kind() == reflect.Struct:
			eachField(f, p, visit)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct && f.Len() > 0:
			visit(p+"[0]", f.Index(0))
			eachField(f.Index(0), p+"[0]", visit)
		}
	}
}

// TestEveryTextIsChecked: eachText, written by hand, lists every text
// field of the generated AuditRecord, so a text field the schema gains is
// held to the text rules by Normalize and MarshalJSON as the others are.
// Left out, Normalize would pass a NUL or bad UTF-8 in it (the generated
// encoder refuses the bytes later, naming no JSON path) and MarshalJSON
// would render bad UTF-8 as U+FFFD: a rendering that reads back as
// another record.
func TestEveryTextIsChecked(t *testing.T) {
	var paths []string
	var r AuditRecord
	fill(t, reflect.ValueOf(&r).Elem(), "AuditRecord")
	eachField(reflect.ValueOf(&r).Elem(), "", func(path string, f reflect.Value) {
		if f.Kind() == reflect.String {
			paths = append(paths, path)
		}
	})
	if len(paths) < 9 {
		t.Fatalf("found %d text fields: %v", len(paths), paths)
	}
	for _, want := range paths {
		for _, bad := range []string{"a\xffb", "a\x00b"} {
			var r AuditRecord
			fill(t, reflect.ValueOf(&r).Elem(), "AuditRecord")
			eachField(reflect.ValueOf(&r).Elem(), "", func(path string, f reflect.Value) {
				if path == want {
					f.SetString(bad)
				}
			})
			var fe *FieldError
			if err := Normalize(&r); !errors.As(err, &fe) || fe.Field != want {
				t.Errorf("Normalize with %q in %s: %v, want a *FieldError naming it (add the field to eachText)", bad, want, err)
			}
			if bad == "a\x00b" {
				continue // valid UTF-8: rendered, not refused
			}
			if b, err := json.Marshal(r); !errors.As(err, &fe) || fe.Field != want {
				t.Errorf("MarshalJSON with %q in %s: %s, %v, want a *FieldError naming it", bad, want, b, err)
			}
		}
	}
}

// TestEveryObjectIsCheckedByName: checkJSONNames, written by hand, walks
// every object of the rendering, so a struct field the schema gains has
// its names read exactly too. An object it does not know it skips, and
// encoding/json then matches its names in any case and keeps the last of
// two: the record would say what its writer never sent.
func TestEveryObjectIsCheckedByName(t *testing.T) {
	var r AuditRecord
	fill(t, reflect.ValueOf(&r).Elem(), "AuditRecord")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	eachField(reflect.ValueOf(&r).Elem(), "", func(path string, f reflect.Value) {
		if f.Kind() != reflect.Struct {
			return
		}
		n++
		// The first field of the object at path, its name in upper case.
		inner := f.Type().Field(0).Tag.Get("capnp")
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		obj := any(doc)
		for _, step := range strings.Split(path, ".") {
			name, elem, isElem := strings.Cut(step, "[")
			obj = obj.(map[string]any)[name]
			if isElem && elem == "0]" {
				obj = obj.([]any)[0]
			}
		}
		m := obj.(map[string]any)
		m[strings.ToUpper(inner)] = m[inner]
		delete(m, inner)
		changed, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		var back AuditRecord
		var fe *FieldError
		if err := json.Unmarshal(changed, &back); !errors.As(err, &fe) || !strings.Contains(fe.Field, path) {
			t.Errorf("%s.%s named %s: %v, want a *FieldError naming %s (checkJSONNames does not read that object)", path, inner, strings.ToUpper(inner), err, path)
		}
	})
	if n < 3 {
		t.Fatalf("found %d objects in the rendering, want actor, subject and attrs[0] at least", n)
	}
}
