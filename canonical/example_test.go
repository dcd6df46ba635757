package canonical_test

import (
	"fmt"

	"github.com/rustyonions/ron-audit-go/canonical"
)

func ExampleAppendRecord() {
	rec := canonical.AuditRecord{
		Kind:     canonical.KindCapIssued,
		Seq:      1,
		TsMs:     1764201600000,
		WriterID: "svc-gateway@inst-1",
		Stream:   "caps",
		Actor:    canonical.Actor{CapID: "cap-7"},
		Reason:   "issued",
		Attrs:    []canonical.Attr{{Key: "ip", Value: "203.0.113.0/24"}},
		Prev:     canonical.Genesis[:],
	}
	buf := make([]byte, 0, canonical.DefaultMaxRecord) // reuse it: no allocation per record
	b, err := canonical.AppendRecord(buf, &rec, canonical.DefaultLimits)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(b), "bytes, hash", canonical.RecordHash(b))
	// Output: 224 bytes, hash f6a20a68dcf6cc61d63d753ec38ae72478c3ba789dac608bedbff4848bccf5eb
}

func ExampleOpen() {
	rec := canonical.AuditRecord{Seq: 1, WriterID: "w", Stream: "s", Prev: canonical.Genesis[:],
		Attrs: []canonical.Attr{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}}
	b, _ := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)

	v, err := canonical.Open(b) // strict: only exactly canonical bytes of a valid record
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s/%s seq %d, %d attrs, first %s\n", v.WriterID(), v.Stream(), v.Seq(), v.Attrs().Len(), v.Attrs().At(0).Key())

	h := canonical.RecordHash(b)
	b[len(b)-1] ^= 1 // flip a bit of prev: still canonical, but another record
	_, err = canonical.Open(b)
	fmt.Println(err == nil, canonical.RecordHash(b) == h)

	_, err = canonical.Open(append(b, 0, 0, 0, 0, 0, 0, 0, 0))
	fmt.Println(err)
	// Output:
	// w/s seq 1, 2 attrs, first a
	// true false
	// canonical: not canonical at byte 200: bytes after the end of the message
}
