// Package schemacheck keeps the record schema's growth safe: it records
// the layout of each released schema version (schema/history/vN.json) and
// rejects a schema change that Cap'n Proto's evolution rules forbid, or
// that would change the canonical bytes, and so the hashes, of records
// written under an earlier version.
//
// A layout is everything of a compiled schema that decides bytes or
// identity: file, struct and enum ids; each struct's data and pointer
// section sizes; each field's ordinal, name, slot offset, type, default
// and union membership; each enum's enumerants by value. It is read from
// the CodeGeneratorRequest that `capnp compile -o-` writes (make gen keeps
// gen/testdata/audit.req current), so the check needs no capnp binary.
//
// What a change may do, against every recorded version:
//
//   - add fields (new ordinals), structs and enumerants (new values): an
//     old record has the new fields zero or null, and the canonical form
//     truncates zero data words and null pointers, so its bytes are the
//     same under the new schema;
//   - nothing else. Removing, renaming, retyping, moving (offset) or
//     re-defaulting a field, moving it into or out of a union, reusing
//     an ordinal, changing an id, shrinking a section, removing or
//     renaming an enumerant: each is reported with the field and the rule.
//
// Names are part of the contract here (stricter than Cap'n Proto's wire
// rules): the JSON rendering, the generated Go API and the foreign readers
// use them. Groups obey the union rules as fields do (a new group may not
// join a union records use, nor form a new union). The default rule holds
// for every field no released version has, in an old struct, a new group
// (its fields live in the sections of old records) or a new struct (old
// records have its pointer null, which reads as a struct of defaults).
// Likewise no union may be new, unnamed or named (a named union is a
// group), in an old struct, a new group or a new struct: old records would
// read as holding its first member. A default spelled out as the one the
// field has anyway (zero bits, the first enumerant, empty text, data, list
// or struct) is no default: adding or dropping it changes nothing. Moving
// a field into a group keeps its bytes but changes its name, so it is
// refused too.
//
// What a layout cannot record is refused rather than passed: a field of a
// type imported from another file, of an interface type, and generic
// structs (a parameter's layout depends on each use). AnyPointer's kinds (AnyStruct, AnyList,
// Capability) are told apart. A history file must be one whole layout:
// nothing after it, and every type its fields name declared in it.
package schemacheck

import (
	"fmt"
	"regexp"
	"sort"

	"capnproto.org/go/capnp/v3"
	"capnproto.org/go/capnp/v3/std/capnp/schema"

	"github.com/rustyonions/ron-audit-go/gen"
)

// Layout is one schema version's layout.
type Layout struct {
	Version int          `json:"version"` // the schema version it was released as (canonical.SchemaVersion); 0 in a current layout
	File    string       `json:"file"`
	FileID  string       `json:"fileId"`
	Structs []StructInfo `json:"structs"`
	Enums   []EnumInfo   `json:"enums"`
}

// StructInfo is one struct's layout.
type StructInfo struct {
	ID                 string      `json:"id"`
	Name               string      `json:"name"` // scoped, e.g. "AuditRecord" or "Outer.Inner"
	DataWords          int         `json:"dataWords"`
	Pointers           int         `json:"pointers"`
	DiscriminantCount  int         `json:"discriminantCount,omitempty"`
	DiscriminantOffset int         `json:"discriminantOffset,omitempty"`
	Fields             []FieldInfo `json:"fields"` // by ordinal
}

// FieldInfo is one field's layout.
type FieldInfo struct {
	Name    string `json:"name"`
	Ordinal int    `json:"ordinal"` // -1 for a group's implicit ordinal
	// Union is the field's discriminant value when it is a member of its
	// struct's union; -1 when it is not.
	Union   int    `json:"union"`
	Group   string `json:"group,omitempty"`   // a group's struct id
	Offset  int    `json:"offset"`            // slot offset, in units of the type's size (pointer index for pointers)
	Type    string `json:"type,omitempty"`    // e.g. "UInt32", "List(Text)", "Struct(0x...)"
	Default string `json:"default,omitempty"` // an explicit default, in Cap'n Proto text form
}

// EnumInfo is one enum's layout.
type EnumInfo struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Enumerants []string `json:"enumerants"` // by value
}

func hexID(id uint64) string { return fmt.Sprintf("%#016x", id) }

// ReadLayout reads the layout of the one file a CodeGeneratorRequest asks
// for.
func ReadLayout(req []byte) (*Layout, error) {
	r, byID, err := gen.ReadRequest(req)
	if err != nil {
		return nil, fmt.Errorf("schemacheck: %w", err)
	}
	files, err := r.RequestedFiles()
	if err != nil {
		return nil, err
	}
	if files.Len() != 1 {
		return nil, fmt.Errorf("schemacheck: the request has %d files; want one schema file", files.Len())
	}
	name, _ := files.At(0).Filename()
	l := &Layout{File: name, FileID: hexID(files.At(0).Id())}
	if err := l.node(byID, files.At(0).Id(), ""); err != nil {
		return nil, err
	}
	sort.Slice(l.Structs, func(i, j int) bool { return l.Structs[i].Name < l.Structs[j].Name })
	sort.Slice(l.Enums, func(i, j int) bool { return l.Enums[i].Name < l.Enums[j].Name })
	if err := l.closed(); err != nil {
		return nil, fmt.Errorf("schemacheck: %s: %w", name, err)
	}
	return l, nil
}

var typeRef = regexp.MustCompile(`(Struct|Enum|Interface)\((0x[0-9a-f]{16})\)`)

// closed checks that every struct and enum a field's type names is one
// of the layout's own: the layout of a type imported from another file
// is not recorded, so a change to it would pass unseen. The check refuses
// what it cannot check. A recorded history file must be closed as well
// (a truncated or hand-edited one is not).
func (l *Layout) closed() error {
	if len(l.Structs) == 0 {
		return fmt.Errorf("no struct")
	}
	ids := map[string]bool{}
	for _, s := range l.Structs {
		ids[s.ID] = true
	}
	for _, e := range l.Enums {
		ids[e.ID] = true
	}
	for _, s := range l.Structs {
		for _, f := range s.Fields {
			if f.Group != "" && !ids[f.Group] {
				return fmt.Errorf("%s.%s: group %s has no layout", s.Name, f.Name, f.Group)
			}
			for _, m := range typeRef.FindAllStringSubmatch(f.Type, -1) {
				if !ids[m[2]] {
					return fmt.Errorf("%s.%s: its type %s is not declared in this file (imported types are not checked)", s.Name, f.Name, f.Type)
				}
			}
		}
	}
	return nil
}

// node adds node id, named name, and the structs and enums nested in it:
// called for the file, and for each group.
func (l *Layout) node(byID map[uint64]schema.Node, id uint64, name string) error {
	return gen.Walk(byID, id, name, func(name string, n schema.Node) error {
		switch n.Which() {
		case schema.Node_Which_structNode:
			return l.addStruct(byID, n, name)
		case schema.Node_Which_enum:
			names, err := gen.EnumerantNames(n)
			if err != nil {
				return err
			}
			l.Enums = append(l.Enums, EnumInfo{ID: hexID(n.Id()), Name: name, Enumerants: names})
		}
		return nil
	})
}

func (l *Layout) addStruct(byID map[uint64]schema.Node, n schema.Node, name string) error {
	if n.IsGeneric() {
		return fmt.Errorf("schemacheck: %s is generic: a type parameter's layout depends on each use, which the check does not record", name)
	}
	st := n.StructNode()
	s := StructInfo{ID: hexID(n.Id()), Name: name, DataWords: int(st.DataWordCount()), Pointers: int(st.PointerCount()),
		DiscriminantCount: int(st.DiscriminantCount()), DiscriminantOffset: int(st.DiscriminantOffset())}
	fields, err := st.Fields()
	if err != nil {
		return err
	}
	for i := 0; i < fields.Len(); i++ {
		f := fields.At(i)
		fname, _ := f.Name()
		fi := FieldInfo{Name: fname, Ordinal: -1, Union: -1}
		if f.Ordinal().Which() == schema.Field_ordinal_Which_explicit {
			fi.Ordinal = int(f.Ordinal().Explicit())
		}
		if dv := f.DiscriminantValue(); dv != schema.Field_noDiscriminant {
			fi.Union = int(dv)
		}
		switch f.Which() {
		case schema.Field_Which_slot:
			slot := f.Slot()
			fi.Offset = int(slot.Offset())
			t, err := slot.Type()
			if err != nil {
				return err
			}
			if fi.Type, err = typeString(t); err != nil {
				return err
			}
			if slot.HadExplicitDefault() {
				v, err := slot.DefaultValue()
				if err != nil {
					return err
				}
				if fi.Default, err = valueString(v); err != nil {
					return err
				}
			}
		case schema.Field_Which_group:
			gid := f.Group().TypeId()
			fi.Group = hexID(gid)
			if err := l.node(byID, gid, name+"."+fname); err != nil {
				return err
			}
		}
		s.Fields = append(s.Fields, fi)
	}
	sort.Slice(s.Fields, func(i, j int) bool {
		a, b := s.Fields[i], s.Fields[j]
		if a.Ordinal != b.Ordinal {
			return a.Ordinal < b.Ordinal
		}
		return a.Name < b.Name
	})
	l.Structs = append(l.Structs, s)
	return nil
}

// valueString renders an explicit default. Scalars, Text and Data are
// rendered whole; a struct, list or AnyPointer default as the hex of its
// canonical bytes (pointerValue), so that changing one value for another
// is seen, not only adding or removing one.
func valueString(v schema.Value) (string, error) {
	switch v.Which() {
	case schema.Value_Which_void:
		return "void", nil
	case schema.Value_Which_bool:
		return fmt.Sprintf("bool = %v", v.Bool()), nil
	case schema.Value_Which_int8:
		return fmt.Sprintf("int8 = %d", v.Int8()), nil
	case schema.Value_Which_int16:
		return fmt.Sprintf("int16 = %d", v.Int16()), nil
	case schema.Value_Which_int32:
		return fmt.Sprintf("int32 = %d", v.Int32()), nil
	case schema.Value_Which_int64:
		return fmt.Sprintf("int64 = %d", v.Int64()), nil
	case schema.Value_Which_uint8:
		return fmt.Sprintf("uint8 = %d", v.Uint8()), nil
	case schema.Value_Which_uint16:
		return fmt.Sprintf("uint16 = %d", v.Uint16()), nil
	case schema.Value_Which_uint32:
		return fmt.Sprintf("uint32 = %d", v.Uint32()), nil
	case schema.Value_Which_uint64:
		return fmt.Sprintf("uint64 = %d", v.Uint64()), nil
	case schema.Value_Which_float32:
		return fmt.Sprintf("float32 = %v", v.Float32()), nil
	case schema.Value_Which_float64:
		return fmt.Sprintf("float64 = %v", v.Float64()), nil
	case schema.Value_Which_enum:
		return fmt.Sprintf("enum = %d", v.Enum()), nil
	case schema.Value_Which_text:
		t, err := v.Text()
		return fmt.Sprintf("text = %q", t), err
	case schema.Value_Which_data:
		d, err := v.Data()
		return fmt.Sprintf("data = %x", d), err
	case schema.Value_Which_list:
		p, err := v.List()
		return pointerValue("list", p, err)
	case schema.Value_Which_structValue:
		p, err := v.StructValue()
		return pointerValue("struct", p, err)
	case schema.Value_Which_anyPointer:
		p, err := v.AnyPointer()
		return pointerValue("anyPointer", p, err)
	case schema.Value_Which_interface:
		return "interface", nil
	}
	return "", fmt.Errorf("schemacheck: unknown default value kind %v", v.Which())
}

// pointerValue renders a pointer default as kind = hex of the canonical
// bytes of a struct whose one pointer holds a copy of it: equal values give
// equal text whatever their layout in the request (canonicalize). An empty
// value (a list of no elements, a struct of zero size) renders as null:
// a null pointer reads as it, with or without the default.
func pointerValue(kind string, p capnp.Ptr, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if !p.IsValid() {
		return kind + " = null", nil
	}
	seg, err := holderSegment(p)
	if err != nil {
		return "", fmt.Errorf("schemacheck: copying a %s default: %w", kind, err)
	}
	b, err := canonicalize(seg)
	if err != nil {
		return "", fmt.Errorf("schemacheck: a %s default: %w", kind, err)
	}
	if emptyHeld(b) {
		return kind + " = null", nil
	}
	return fmt.Sprintf("%s = %x", kind, b), nil
}

// holderSegment copies p into pointer 0 of the root struct of a new
// single-segment message and returns that segment's bytes.
func holderSegment(p capnp.Ptr) ([]byte, error) {
	_, seg, err := capnp.NewMessage(capnp.SingleSegment(nil))
	if err != nil {
		return nil, err
	}
	holder, err := capnp.NewRootStruct(seg, capnp.ObjectSize{PointerCount: 1})
	if err != nil {
		return nil, err
	}
	if err := holder.SetPtr(0, p); err != nil {
		return nil, err
	}
	return seg.Data(), nil
}

// unbranded refuses a generic struct's use with type arguments: the
// layout records the struct, not what its parameters are bound to.
func unbranded(b schema.Brand, err error) error {
	if err != nil {
		return err
	}
	if !b.HasScopes() {
		return nil
	}
	scopes, err := b.Scopes()
	if err != nil {
		return err
	}
	if scopes.Len() > 0 {
		return fmt.Errorf("schemacheck: a generic struct used with type arguments: generic types are not checked")
	}
	return nil
}

func typeString(t schema.Type) (string, error) {
	switch t.Which() {
	case schema.Type_Which_void:
		return "Void", nil
	case schema.Type_Which_bool:
		return "Bool", nil
	case schema.Type_Which_int8:
		return "Int8", nil
	case schema.Type_Which_int16:
		return "Int16", nil
	case schema.Type_Which_int32:
		return "Int32", nil
	case schema.Type_Which_int64:
		return "Int64", nil
	case schema.Type_Which_uint8:
		return "UInt8", nil
	case schema.Type_Which_uint16:
		return "UInt16", nil
	case schema.Type_Which_uint32:
		return "UInt32", nil
	case schema.Type_Which_uint64:
		return "UInt64", nil
	case schema.Type_Which_float32:
		return "Float32", nil
	case schema.Type_Which_float64:
		return "Float64", nil
	case schema.Type_Which_text:
		return "Text", nil
	case schema.Type_Which_data:
		return "Data", nil
	case schema.Type_Which_list:
		el, err := t.List().ElementType()
		if err != nil {
			return "", err
		}
		s, err := typeString(el)
		return "List(" + s + ")", err
	case schema.Type_Which_enum:
		return "Enum(" + hexID(t.Enum().TypeId()) + ")", nil
	case schema.Type_Which_structType:
		if err := unbranded(t.StructType().Brand()); err != nil {
			return "", err
		}
		return "Struct(" + hexID(t.StructType().TypeId()) + ")", nil
	case schema.Type_Which_interface:
		// A layout records structs and enums, not interfaces: refused here
		// for what it is (closed() would call it imported).
		return "", fmt.Errorf("schemacheck: an interface type (%s): interfaces are not recorded, so not checked", hexID(t.Interface().TypeId()))
	case schema.Type_Which_anyPointer:
		ap := t.AnyPointer()
		switch ap.Which() {
		case schema.Type_anyPointer_Which_unconstrained:
			switch ap.Unconstrained().Which() {
			case schema.Type_anyPointer_unconstrained_Which_struct:
				return "AnyStruct", nil
			case schema.Type_anyPointer_unconstrained_Which_list:
				return "AnyList", nil
			case schema.Type_anyPointer_unconstrained_Which_capability:
				return "Capability", nil
			}
			return "AnyPointer", nil
		}
		return "", fmt.Errorf("schemacheck: a type parameter: generic types are not checked")
	}
	return "", fmt.Errorf("schemacheck: unknown type %v", t.Which())
}
