package canonical

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
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

// MarshalJSON renders r with every field present.
func (r AuditRecord) MarshalJSON() ([]byte, error) {
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

// UnmarshalJSON reads the rendering strictly: unknown fields, an unknown
// kind name or a prev that is not hex are errors. Missing fields are empty.
func (r *AuditRecord) UnmarshalJSON(b []byte) error {
	var j jsonRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return &FieldError{Field: "json", Reason: err.Error()}
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
