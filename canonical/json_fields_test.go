package canonical

import (
	"encoding/json"
	"errors"
	"reflect"
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
