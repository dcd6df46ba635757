package canonical

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON rendering of a record is the one the test vectors use and the
// CLI reads and writes: every field present, empty values as "", false, 0
// or [], kind by its schema name, prev in hex.

type jsonRecord struct {
	V        uint16      `json:"v"`
	Kind     string      `json:"kind"`
	Seq      uint64      `json:"seq"`
	TsMs     uint64      `json:"tsMs"`
	WriterID string      `json:"writerId"`
	Stream   string      `json:"stream"`
	Actor    jsonActor   `json:"actor"`
	Subject  jsonSubject `json:"subject"`
	Reason   string      `json:"reason"`
	Attrs    []jsonAttr  `json:"attrs"`
	Prev     string      `json:"prev"`
}

type jsonActor struct {
	CapID      string `json:"capId"`
	KeyFpr     string `json:"keyFpr"`
	PassportID string `json:"passportId"`
	Anon       bool   `json:"anon"`
}

type jsonSubject struct {
	ContentID  string `json:"contentId"`
	LedgerTxid string `json:"ledgerTxid"`
	Name       string `json:"name"`
}

type jsonAttr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// MarshalJSON renders r with every field present. A record the rendering
// cannot hold so that UnmarshalJSON reads it back is a *FieldError naming
// the field: a kind the schema lacks, and text that is not UTF-8, which
// encoding/json would silently turn into U+FFFD. Records from Open have
// neither.
func (r AuditRecord) MarshalJSON() ([]byte, error) {
	if !r.Kind.IsKnown() {
		return nil, &FieldError{Field: "kind", Reason: "unknown kind " + strconv.Itoa(int(r.Kind)) + " has no name to render"}
	}
	if err := checkUTF8(&r); err != nil {
		return nil, err
	}
	j := jsonRecord{
		V: r.V, Kind: r.Kind.String(), Seq: r.Seq, TsMs: r.TsMs, WriterID: r.WriterID, Stream: r.Stream,
		Actor:   jsonActor{CapID: r.Actor.CapID, KeyFpr: r.Actor.KeyFpr, PassportID: r.Actor.PassportID, Anon: r.Actor.Anon},
		Subject: jsonSubject{ContentID: r.Subject.ContentID, LedgerTxid: r.Subject.LedgerTxid, Name: r.Subject.Name},
		Reason:  r.Reason, Attrs: make([]jsonAttr, len(r.Attrs)), Prev: hex.EncodeToString(r.Prev),
	}
	for i, a := range r.Attrs {
		j.Attrs[i] = jsonAttr(a)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the rendering strictly: unknown fields, a field
// name in another case or given twice, an unknown kind name, a prev that
// is not hex, anything after the record, and text that is not UTF-8 (raw
// bytes, or a \u escape of half a surrogate pair) are errors. Missing
// fields are empty. encoding/json alone would turn bad text into U+FFFD,
// match "WRITERID" to writerId and keep the last of two writerIds: the
// record would say what its writer never sent, or not what another JSON
// reader of the same line sees.
func (r *AuditRecord) UnmarshalJSON(b []byte) error {
	if err := checkJSONText(b); err != nil {
		return err
	}
	if err := checkJSONNames(b); err != nil {
		return err
	}
	var j jsonRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if k := te.Type.Kind(); k >= reflect.Uint && k <= reflect.Uint64 && strings.HasPrefix(te.Value, "number") {
				// A number, but not one the field holds (-1, 1.5, 2^64):
				// "want a JSON number, got a number" would not say why.
				max := ^uint64(0) >> (64 - te.Type.Bits())
				return &FieldError{Field: te.Field, Reason: "want an integer from 0 to " + strconv.FormatUint(max, 10) + ", got " + te.Value}
			}
			return &FieldError{Field: te.Field, Reason: "want a JSON " + jsonKind(te.Type) + ", got a " + te.Value}
		}
		return &FieldError{Field: "json", Reason: strings.TrimPrefix(err.Error(), "json: ")}
	}
	if dec.More() {
		return &FieldError{Field: "json", Reason: "data after the record"}
	}
	kind := KindUnknown
	if j.Kind != "" {
		k, ok := ParseKind(j.Kind)
		if !ok {
			return &FieldError{Field: "kind", Reason: "unknown kind " + strconv.Quote(j.Kind)}
		}
		kind = k
	}
	prev, err := hex.DecodeString(j.Prev)
	if err != nil {
		return &FieldError{Field: "prev", Reason: "not hex: " + err.Error()}
	}
	*r = AuditRecord{
		V: j.V, Kind: kind, Seq: j.Seq, TsMs: j.TsMs, WriterID: j.WriterID, Stream: j.Stream,
		Actor:   Actor{CapID: j.Actor.CapID, KeyFpr: j.Actor.KeyFpr, PassportID: j.Actor.PassportID, Anon: j.Actor.Anon},
		Subject: Subject{ContentID: j.Subject.ContentID, LedgerTxid: j.Subject.LedgerTxid, Name: j.Subject.Name},
		Reason:  j.Reason,
	}
	if len(prev) > 0 {
		r.Prev = prev
	}
	for _, a := range j.Attrs {
		r.Attrs = append(r.Attrs, Attr(a))
	}
	return nil
}

// checkUTF8 names the first text of r that is not valid UTF-8.
func checkUTF8(r *AuditRecord) error {
	return eachText(r, func(field string, i int, s string) error {
		if !utf8.ValidString(s) {
			return &FieldError{Field: textField(field, i), Reason: "text is not valid UTF-8"}
		}
		return nil
	})
}

// The field names of each object of the rendering.
var (
	jsonRecordNames  = jsonNames(jsonRecord{})
	jsonActorNames   = jsonNames(jsonActor{})
	jsonSubjectNames = jsonNames(jsonSubject{})
	jsonAttrNames    = jsonNames(jsonAttr{})
)

func jsonNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	names := map[string]bool{}
	for i := range t.NumField() {
		names[t.Field(i).Tag.Get("json")] = true
	}
	return names
}

// checkJSONNames walks the document's tokens: one object, whose field
// names, and those of actor, subject and each attr, are the rendering's
// exactly (case included) and each at most once, and nothing after it.
// Values are left to encoding/json, which reports their types. An object
// of a struct field the schema adds must be walked here too
// (TestEveryObjectIsCheckedByName fails until it is).
func checkJSONNames(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var object func(names map[string]bool, field string) error
	// value consumes one value; fields that hold objects of the rendering
	// are checked as such.
	value := func(name, field string) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch {
		case t == json.Delim('{') && (name == "actor" || name == "subject" || name == "attrs[]"):
			names := map[string]map[string]bool{"actor": jsonActorNames, "subject": jsonSubjectNames, "attrs[]": jsonAttrNames}[name]
			return object(names, field)
		case t == json.Delim('[') && name == "attrs":
			for i := 0; dec.More(); i++ {
				if t, err := dec.Token(); err != nil {
					return err
				} else if t == json.Delim('{') {
					if err := object(jsonAttrNames, "attrs["+strconv.Itoa(i)+"]"); err != nil {
						return err
					}
					continue
				}
				// Not an object: encoding/json reports its type.
			}
			_, err := dec.Token()
			return err
		case t == json.Delim('{') || t == json.Delim('['):
			for depth := 1; depth > 0; { // another value: skip it
				t, err := dec.Token()
				if err != nil {
					return err
				}
				switch t {
				case json.Delim('{'), json.Delim('['):
					depth++
				case json.Delim('}'), json.Delim(']'):
					depth--
				}
			}
		}
		return nil
	}
	object = func(names map[string]bool, field string) error {
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := t.(string)
			where := name
			if field != "" {
				where = field + "." + name
			}
			switch {
			case seen[name]:
				return &FieldError{Field: where, Reason: "given twice"}
			case !names[name]:
				for n := range names {
					if strings.EqualFold(n, name) {
						return &FieldError{Field: where, Reason: "unknown field; the rendering spells it " + strconv.Quote(n)}
					}
				}
				return &FieldError{Field: where, Reason: "unknown field"}
			}
			seen[name] = true
			if err := value(name, where); err != nil {
				return err
			}
		}
		_, err := dec.Token() // the closing brace
		return err
	}
	fail := func(err error) error {
		var fe *FieldError
		if errors.As(err, &fe) {
			return err
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// A cut record: the Decoder's Token says "EOF", which reads
			// as the end of the input, not as what is wrong with it.
			return &FieldError{Field: "json", Reason: "unexpected end of JSON input"}
		}
		return &FieldError{Field: "json", Reason: strings.TrimPrefix(err.Error(), "json: ")}
	}
	t, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if t != json.Delim('{') {
		return &FieldError{Field: "json", Reason: "want a JSON object"}
	}
	if err := object(jsonRecordNames, ""); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Field: "json", Reason: "data after the record"}
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	case reflect.Struct:
		return "object"
	}
	return "number"
}

// checkJSONText finds text in a JSON document that is not UTF-8: a raw
// byte sequence that is not, or a \u escape of a surrogate that is not
// half of a pair. It names the byte offset.
func checkJSONText(b []byte) error {
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return &FieldError{Field: "json", Reason: "text is not valid UTF-8 (byte " + strconv.Itoa(off) + ")"}
	}
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			if i+5 < len(b) && b[i+1] == 'u' {
				r1 := hex4(b[i+2 : i+6])
				if utf16.IsSurrogate(r1) {
					ok := i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' &&
						utf16.DecodeRune(r1, hex4(b[i+8:i+12])) != utf8.RuneError
					if !ok {
						return &FieldError{Field: "json", Reason: "text is not valid UTF-8: \\u" + string(b[i+2:i+6]) + " is half a surrogate pair (byte " + strconv.Itoa(i) + ")"}
					}
					i += 6
				}
				i += 5
			} else {
				i++ // the escaped byte
			}
		}
	}
	return nil
}

// hex4 decodes four hex digits; -1 when they are not.
func hex4(b []byte) rune {
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return -1
	}
	return rune(v)
}
