package schemacheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
)

// Rule names one evolution rule; every Problem carries the one it breaks.
type Rule string

// The rules.
const (
	RuleFileID           Rule = "file-id"           // the schema file's id changed
	RuleStructRemoved    Rule = "struct-removed"    // a struct of an earlier version is gone
	RuleStructID         Rule = "struct-id"         // a struct kept its name and changed its id
	RuleRenamed          Rule = "renamed"           // a struct, enum, field or enumerant changed its name
	RuleSectionShrunk    Rule = "section-shrunk"    // a data or pointer section got smaller
	RuleFieldRemoved     Rule = "field-removed"     // an ordinal of an earlier version is gone
	RuleOrdinalReused    Rule = "ordinal-reused"    // an ordinal now holds a different field
	RuleTypeChanged      Rule = "type-changed"      // a field's type changed
	RuleOffsetMoved      Rule = "offset-moved"      // a field's slot moved
	RuleDefaultChanged   Rule = "default-changed"   // a field's default changed, or a new field has one
	RuleUnionMembership  Rule = "union-membership"  // a field moved into, out of, or within a union, or a new union
	RuleGroupChanged     Rule = "group-changed"     // a field turned into a group or back
	RuleNewUnionMember   Rule = "new-union-member"  // a new field joined a union of an earlier version's struct
	RuleEnumRemoved      Rule = "enum-removed"      // an enum of an earlier version is gone
	RuleEnumID           Rule = "enum-id"           // an enum kept its name and changed its id
	RuleEnumerantRemoved Rule = "enumerant-removed" // an enumerant of an earlier version is gone
)

// Problem is one incompatibility between a recorded version and the
// current schema.
type Problem struct {
	Version int    // the recorded version it breaks
	Where   string // e.g. "AuditRecord.reason (@8)"
	Rule    Rule
	Detail  string // what changed, old -> new
}

func (p Problem) String() string {
	return fmt.Sprintf("v%d: %s: %s: %s", p.Version, p.Where, p.Rule, p.Detail)
}

// Check compares the current layout with one recorded version and returns
// every problem, in a stable order.
func Check(old, cur *Layout) []Problem {
	c := checker{v: old.Version, cur: map[string]*StructInfo{}}
	for i := range cur.Structs {
		c.cur[cur.Structs[i].ID] = &cur.Structs[i]
	}
	if old.FileID != cur.FileID {
		c.add(old.File, RuleFileID, old.FileID+" -> "+cur.FileID)
	}
	for o, n := range matched(&c, old.Structs, cur.Structs, "struct", RuleStructID, RuleStructRemoved,
		func(x *StructInfo) (string, string) { return x.ID, x.Name }) {
		c.checkStruct(o, n)
	}
	c.newStructs(old)
	for o, n := range matched(&c, old.Enums, cur.Enums, "enum", RuleEnumID, RuleEnumRemoved,
		func(x *EnumInfo) (string, string) { return x.ID, x.Name }) {
		if o.Name != n.Name {
			c.add(o.Name, RuleRenamed, "enum renamed to "+n.Name)
		}
		for v, name := range o.Enumerants {
			where := fmt.Sprintf("%s.%s (=%d)", o.Name, name, v)
			switch {
			case v >= len(n.Enumerants):
				c.add(where, RuleEnumerantRemoved, "value "+strconv.Itoa(v)+" is gone: records holding it would not open")
			case n.Enumerants[v] != name:
				c.add(where, RuleRenamed, "enumerant renamed to "+n.Enumerants[v])
			}
		}
	}
	sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].Where < c.problems[j].Where })
	return c.problems
}

// matched yields each old declaration with the current one of the same
// id, in old's order. An old one without a match is a problem: its id
// changed (a current one has its name) or it was removed.
func matched[T any](c *checker, old, cur []T, kind string, idRule, removedRule Rule, key func(*T) (id, name string)) iter.Seq2[*T, *T] {
	return func(yield func(*T, *T) bool) {
		byID, byName := map[string]*T{}, map[string]*T{}
		for i := range cur {
			id, name := key(&cur[i])
			byID[id], byName[name] = &cur[i], &cur[i]
		}
		for i := range old {
			o := &old[i]
			id, name := key(o)
			if n := byID[id]; n != nil {
				if !yield(o, n) {
					return
				}
			} else if n := byName[name]; n != nil {
				nid, _ := key(n)
				c.add(name, idRule, id+" -> "+nid)
			} else {
				c.add(name, removedRule, kind+" "+id+" is not in the schema")
			}
		}
	}
}

type checker struct {
	v        int
	cur      map[string]*StructInfo // the current layout's structs by id
	problems []Problem
}

func (c *checker) add(where string, r Rule, detail string) {
	c.problems = append(c.problems, Problem{Version: c.v, Where: where, Rule: r, Detail: detail})
}

func (c *checker) checkStruct(o, n *StructInfo) {
	if o.Name != n.Name {
		c.add(o.Name, RuleRenamed, "struct renamed to "+n.Name)
	}
	if n.DataWords < o.DataWords {
		c.add(o.Name, RuleSectionShrunk, fmt.Sprintf("data section %d -> %d words", o.DataWords, n.DataWords))
	}
	if n.Pointers < o.Pointers {
		c.add(o.Name, RuleSectionShrunk, fmt.Sprintf("pointer section %d -> %d", o.Pointers, n.Pointers))
	}
	if o.DiscriminantCount > 0 && n.DiscriminantOffset != o.DiscriminantOffset {
		c.add(o.Name, RuleUnionMembership, fmt.Sprintf("union discriminant moved from offset %d to %d", o.DiscriminantOffset, n.DiscriminantOffset))
	}
	byOrdinal := map[int]*FieldInfo{}
	byName := map[string]*FieldInfo{}
	for i := range n.Fields {
		byName[n.Fields[i].Name] = &n.Fields[i]
		if n.Fields[i].Ordinal >= 0 {
			byOrdinal[n.Fields[i].Ordinal] = &n.Fields[i]
		}
	}
	oldOrdinals, oldGroups := map[int]bool{}, map[string]bool{}
	for i := range o.Fields {
		of := &o.Fields[i]
		where := fmt.Sprintf("%s.%s (@%d)", o.Name, of.Name, of.Ordinal)
		var nf *FieldInfo
		if of.Ordinal >= 0 {
			oldOrdinals[of.Ordinal] = true
			nf = byOrdinal[of.Ordinal]
		} else {
			where = o.Name + "." + of.Name + " (group)"
			oldGroups[of.Name] = true
			nf = byName[of.Name]
		}
		if nf == nil {
			if g := c.groupHolding(n, of.Ordinal); g != "" && of.Ordinal >= 0 {
				// Same bytes, but a new name in the JSON rendering, the
				// Go API and the foreign readers.
				c.add(where, RuleGroupChanged, "moved into group "+g+": the field's path changes")
			} else {
				c.add(where, RuleFieldRemoved, "no field has this ordinal now")
			}
			continue
		}
		sameType := nf.Type == of.Type && (nf.Group == "") == (of.Group == "")
		if moved := byName[of.Name]; nf.Name != of.Name && moved != nil && moved.Ordinal != of.Ordinal {
			c.add(where, RuleOrdinalReused, fmt.Sprintf("%s moved to @%d and @%d now holds %s: records of the old layout would read one as the other", of.Name, moved.Ordinal, of.Ordinal, nf.Name))
			continue
		}
		if nf.Name != of.Name && !sameType {
			c.add(where, RuleOrdinalReused, fmt.Sprintf("now field %s of type %s (was %s): records of the old field would read as the new one", nf.Name, describeType(nf), describeType(of)))
			continue
		}
		if nf.Name != of.Name {
			c.add(where, RuleRenamed, "field renamed to "+nf.Name)
		}
		if (nf.Group == "") != (of.Group == "") {
			c.add(where, RuleGroupChanged, describeType(of)+" -> "+describeType(nf))
			continue
		}
		if nf.Type != of.Type {
			c.add(where, RuleTypeChanged, of.Type+" -> "+nf.Type)
		}
		if nf.Group == "" && nf.Offset != of.Offset {
			c.add(where, RuleOffsetMoved, fmt.Sprintf("slot offset %d -> %d", of.Offset, nf.Offset))
		}
		if !sameDefault(nf.Default, of.Default) {
			c.add(where, RuleDefaultChanged, fmt.Sprintf("default %s -> %s: the canonical form writes the value XOR the default", orNone(of.Default), orNone(nf.Default)))
		}
		if nf.Union != of.Union {
			c.add(where, RuleUnionMembership, unionText(of.Union)+" -> "+unionText(nf.Union))
		}
	}
	for i := range n.Fields {
		nf := &n.Fields[i]
		where := fmt.Sprintf("%s.%s (@%d)", n.Name, nf.Name, nf.Ordinal)
		switch {
		case nf.Ordinal < 0 && oldGroups[nf.Name], nf.Ordinal >= 0 && oldOrdinals[nf.Ordinal]:
			continue // checked above
		case nf.Ordinal < 0:
			// A new group: the union rules hold for it as for a field. Its
			// fields live in n's sections; the default and new-union rules
			// hold for it as for every new struct (newStructs).
			where = n.Name + "." + nf.Name + " (new group)"
		}
		if !zeroDefault(nf.Default) {
			c.add(where, RuleDefaultChanged, "a new field with default "+nf.Default+": old records would read it as that default, not as absent")
		}
		if nf.Union >= 0 && o.DiscriminantCount > 0 {
			c.add(where, RuleNewUnionMember, "joins a union that records of earlier versions already use")
		} else if nf.Union >= 0 {
			c.add(where, RuleUnionMembership, "a new union in a struct of an earlier version: "+newUnionReads)
		}
	}
}

// groupHolding returns the path of the group of s (at any depth) that
// holds the field of ordinal ord, or "".
func (c *checker) groupHolding(s *StructInfo, ord int) string {
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Group == "" || c.cur[f.Group] == nil {
			continue
		}
		g := c.cur[f.Group]
		for j := range g.Fields {
			if g.Fields[j].Group == "" && g.Fields[j].Ordinal == ord {
				return f.Name
			}
		}
		if sub := c.groupHolding(g, ord); sub != "" {
			return f.Name + "." + sub
		}
	}
	return ""
}

// newUnionReads is why a union no earlier version has is refused.
const newUnionReads = "old records would read as holding its first member, not as without it"

// newStructs reports each field with an explicit default, and each union,
// in a struct (or group) that old does not have. No record of old's version
// holds such a struct: where a new field would hold it, old records have
// a null pointer, which reads as a struct of defaults, so the field would
// read as its default, not as absent (and a new record would have two
// encodings of that value: null, and the value written out), and the union
// as its first member. A new group's fields and discriminant live in the
// sections of old records, where they read so just the same. A named union
// is a group, so it is checked here, as is an unnamed one in a new group;
// an unnamed one in an old struct is checked with its fields (checkStruct).
func (c *checker) newStructs(old *Layout) {
	had := map[string]bool{}
	for i := range old.Structs {
		had[old.Structs[i].ID] = true
	}
	for _, s := range c.cur {
		if had[s.ID] {
			continue
		}
		if s.DiscriminantCount > 0 {
			c.add(s.Name, RuleUnionMembership, "a new union: "+newUnionReads)
		}
		for i := range s.Fields {
			if f := &s.Fields[i]; f.Group == "" && !zeroDefault(f.Default) {
				c.add(fmt.Sprintf("%s.%s (@%d)", s.Name, f.Name, f.Ordinal), RuleDefaultChanged,
					"a new field with default "+f.Default+": old records would read it as that default, not as absent")
			}
		}
	}
}

// zeroDefaults are the renderings (valueString) of the explicit defaults
// that are the implicit one: zero bits, the first enumerant, empty text
// or data, an empty list or struct (pointerValue renders those null).
// Spelled out or not, such a default changes no byte and no reading.
var zeroDefaults = map[string]bool{
	"void": true, "bool = false": true, "enum = 0": true, `text = ""`: true, "data = ": true,
	"int8 = 0": true, "int16 = 0": true, "int32 = 0": true, "int64 = 0": true,
	"uint8 = 0": true, "uint16 = 0": true, "uint32 = 0": true, "uint64 = 0": true,
	"float32 = 0": true, "float64 = 0": true, // -0 renders as -0: its bits are not zero
	"list = null": true, "struct = null": true, "anyPointer = null": true,
}

// zeroDefault reports whether a field with default d (a FieldInfo.Default)
// reads and encodes as one without a default.
func zeroDefault(d string) bool { return d == "" || zeroDefaults[d] }

// sameDefault reports whether defaults a and b read and encode alike.
func sameDefault(a, b string) bool {
	if zeroDefault(a) || zeroDefault(b) {
		return zeroDefault(a) && zeroDefault(b)
	}
	return a == b
}

func describeType(f *FieldInfo) string {
	if f.Group != "" {
		return "group " + f.Group
	}
	return f.Type
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func unionText(u int) string {
	if u < 0 {
		return "not in a union"
	}
	return "union member " + strconv.Itoa(u)
}

// History is the recorded versions, oldest first.
type History []*Layout

var versionFile = regexp.MustCompile(`^v([0-9]+)\.json$`)

// LoadHistory reads dir/vN.json for every N.
func LoadHistory(dir string) (History, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var h History
	for _, e := range ents {
		m := versionFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var l Layout
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("schemacheck: %s: %w", e.Name(), err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("schemacheck: %s: data after the layout", e.Name())
		}
		if want, _ := strconv.Atoi(m[1]); l.Version != want {
			return nil, fmt.Errorf("schemacheck: %s records version %d", e.Name(), l.Version)
		}
		// A truncated or hand-edited file would check against less than
		// was released: every type its fields name must be in it.
		if err := l.closed(); err != nil {
			return nil, fmt.Errorf("schemacheck: %s is not a whole layout: %w", e.Name(), err)
		}
		h = append(h, &l)
	}
	sort.Slice(h, func(i, j int) bool { return h[i].Version < h[j].Version })
	return h, nil
}

// CheckAll checks the current layout against every recorded version.
func (h History) CheckAll(cur *Layout) []Problem {
	var all []Problem
	for _, old := range h {
		all = append(all, Check(old, cur)...)
	}
	return all
}

// Marshal renders a layout as the history file of version v.
func Marshal(l *Layout, v int) ([]byte, error) {
	c := *l
	c.Version = v
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
