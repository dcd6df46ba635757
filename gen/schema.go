package gen

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"capnproto.org/go/capnp/v3"
	"capnproto.org/go/capnp/v3/std/capnp/schema"
)

// Kind is the kind of a field's type, as far as this generator supports it.
type Kind int

// Supported type kinds.
const (
	Bool Kind = iota + 1
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Float32
	Float64
	Enum
	Text
	Data
	StructKind
	List
)

// Bits returns the size of a data-section kind in bits, 0 for pointer kinds.
func (k Kind) Bits() int {
	switch k {
	case Bool:
		return 1
	case Int8, Uint8:
		return 8
	case Int16, Uint16, Enum:
		return 16
	case Int32, Uint32, Float32:
		return 32
	case Int64, Uint64, Float64:
		return 64
	}
	return 0
}

// IsPointer reports whether values of the kind live behind a pointer.
func (k Kind) IsPointer() bool { return k.Bits() == 0 }

// Type is a field type.
type Type struct {
	Kind   Kind
	Enum   *EnumDecl   // Kind == Enum
	Struct *StructDecl // Kind == StructKind
	Elem   *Type       // Kind == List
}

// Field is one field of a struct.
type Field struct {
	Name   string // as in the schema, e.g. "writerId"
	GoName string // e.g. "WriterID"
	Doc    string
	Type   Type
	// Offset is in units of the type's size for data fields (as in the
	// schema), and the pointer slot for pointer fields.
	Offset int
	Index  int // position in the schema's field list (ordinal order)
}

// StructDecl is one struct of the schema.
type StructDecl struct {
	Name      string // scoped schema name, e.g. "AuditRecord" or "Outer.Inner"
	GoName    string
	ID        uint64
	Doc       string
	DataWords int
	PtrCount  int
	Fields    []*Field // declaration (code) order
}

// EnumDecl is one enum of the schema.
type EnumDecl struct {
	Name       string
	GoName     string
	ID         uint64
	Doc        string
	Enumerants []Enumerant // by value
}

// Enumerant is one value of an enum.
type Enumerant struct {
	Name   string
	GoName string
	Doc    string
}

// File is one schema file of a request, with every struct and enum it
// declares (nested ones included), in declaration order.
type File struct {
	Name    string // as given to capnp compile, e.g. "schema/audit.capnp"
	ID      uint64
	Structs []*StructDecl
	Enums   []*EnumDecl
}

// UnsupportedError reports a schema shape the generator refuses.
type UnsupportedError struct {
	Node   string // schema name of the struct or enum
	Field  string // field name, or ""
	Reason string
}

func (e *UnsupportedError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("unsupported schema: %s.%s: %s", e.Node, e.Field, e.Reason)
	}
	return fmt.Sprintf("unsupported schema: %s: %s", e.Node, e.Reason)
}

// Load parses a CodeGeneratorRequest (a message as `capnp compile -o-`
// writes it: unpacked, with a segment table) and returns its requested files.
func Load(req []byte) ([]*File, error) {
	r, nodes, err := ReadRequest(req)
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	l := &loader{nodes: nodes, docs: map[uint64]schema.Node_SourceInfo{},
		structs: map[uint64]*StructDecl{}, enums: map[uint64]*EnumDecl{}}
	infos, err := r.SourceInfo()
	if err != nil {
		return nil, err
	}
	for i := 0; i < infos.Len(); i++ {
		l.docs[infos.At(i).Id()] = infos.At(i)
	}
	files, err := r.RequestedFiles()
	if err != nil {
		return nil, err
	}
	if files.Len() > 1 {
		// Each generated file declares the same package-level helpers, and
		// a type of one file used by another would lack its list code:
		// the package would not compile.
		name, _ := files.At(1).Filename()
		return nil, &UnsupportedError{Node: name, Reason: "one schema file per request (run the generator once per file, each into its own package)"}
	}
	var out []*File
	for i := 0; i < files.Len(); i++ {
		name, _ := files.At(i).Filename()
		f := &File{Name: name, ID: files.At(i).Id()}
		l.file = f
		if err := l.scope(files.At(i).Id()); err != nil {
			return nil, err
		}
		if err := l.resolve(); err != nil {
			return nil, err
		}
		if err := checkNames(f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// checkNames refuses schema names that become the same Go identifier
// (capId and capID are both CapID), which would emit code that does not
// compile: within a struct's fields, and among the package-level names
// the emitter declares for each struct and enum.
func checkNames(f *File) error {
	pkg := map[string]string{} // Go identifier -> schema name that made it
	claim := func(goName, by string) error {
		if other, taken := pkg[goName]; taken {
			return &UnsupportedError{Node: by, Reason: "its Go name " + goName + " is also made by " + other}
		}
		pkg[goName] = by
		return nil
	}
	for _, s := range f.Structs {
		for _, n := range []string{s.GoName, s.GoName + "View", s.GoName + "ListView", "Open" + s.GoName} {
			if err := claim(n, s.Name); err != nil {
				return err
			}
		}
		// The generated methods of the value (AppendCanonical) and the view
		// (Decode) share a namespace with the fields' Go names.
		fields := map[string]string{"AppendCanonical": "", "Decode": ""}
		for _, fl := range s.Fields {
			if other, taken := fields[fl.GoName]; taken {
				return &UnsupportedError{Node: s.Name, Field: fl.Name, Reason: "its Go name " + fl.GoName + " is also " + fieldOwner(other)}
			}
			fields[fl.GoName] = fl.Name
		}
	}
	for _, e := range f.Enums {
		for _, n := range []string{e.GoName, "Parse" + e.GoName} {
			if err := claim(n, e.Name); err != nil {
				return err
			}
		}
		for _, en := range e.Enumerants {
			if err := claim(en.GoName, e.Name+"."+en.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldOwner(name string) string {
	if name == "" {
		return "a generated method's"
	}
	return "field " + name + "'s"
}

// ReadRequest reads a CodeGeneratorRequest (unpacked, with a segment
// table, as `capnp compile -o-` writes it) and indexes its nodes by id:
// the generator and tools/schemacheck both start here.
func ReadRequest(req []byte) (schema.CodeGeneratorRequest, map[uint64]schema.Node, error) {
	msg, err := capnp.Unmarshal(req)
	if err != nil {
		return schema.CodeGeneratorRequest{}, nil, fmt.Errorf("reading request: %w", err)
	}
	msg.ResetReadLimit(1 << 40)
	r, err := schema.ReadRootCodeGeneratorRequest(msg)
	if err != nil {
		return schema.CodeGeneratorRequest{}, nil, fmt.Errorf("reading request: %w", err)
	}
	list, err := r.Nodes()
	if err != nil {
		return schema.CodeGeneratorRequest{}, nil, fmt.Errorf("reading request: %w", err)
	}
	nodes := make(map[uint64]schema.Node, list.Len())
	for i := 0; i < list.Len(); i++ {
		nodes[list.At(i).Id()] = list.At(i)
	}
	return r, nodes, nil
}

// ErrMissingNode: a node a request refers to is not in it.
var ErrMissingNode = errors.New("node missing from the CodeGeneratorRequest")

// Walk calls visit with node id of a request's nodes (by ReadRequest),
// named name, and then, depth first in declaration order, with every node
// nested in it, each named by its scope ("Outer.Inner"; the nodes of a
// file, named "", by their own names). The generator and
// tools/schemacheck both walk a schema file this way. A node missing from
// nodes is ErrMissingNode; visit's error ends the walk.
func Walk(nodes map[uint64]schema.Node, id uint64, name string, visit func(name string, n schema.Node) error) error {
	n, ok := nodes[id]
	if !ok {
		return fmt.Errorf("%w: %s (@%#016x)", ErrMissingNode, name, id)
	}
	if err := visit(name, n); err != nil {
		return err
	}
	nested, err := n.NestedNodes()
	if err != nil {
		return err
	}
	for i := 0; i < nested.Len(); i++ {
		short, _ := nested.At(i).Name()
		if name != "" {
			short = name + "." + short
		}
		if err := Walk(nodes, nested.At(i).Id(), short, visit); err != nil {
			return err
		}
	}
	return nil
}

// EnumerantNames returns the names of an enum node's enumerants, by value.
func EnumerantNames(n schema.Node) ([]string, error) {
	list, err := n.Enum().Enumerants()
	if err != nil {
		return nil, err
	}
	names := make([]string, list.Len())
	for i := range names {
		names[i], _ = list.At(i).Name()
	}
	return names, nil
}

type loader struct {
	nodes   map[uint64]schema.Node
	docs    map[uint64]schema.Node_SourceInfo
	structs map[uint64]*StructDecl
	enums   map[uint64]*EnumDecl
	file    *File
	pending []pendingField
}

type pendingField struct {
	s    *StructDecl
	f    *Field
	node schema.Field
}

func (l *loader) doc(id uint64) string {
	s, _ := l.docs[id].DocComment()
	return strings.TrimSpace(s)
}

func (l *loader) memberDoc(id uint64, i int) string {
	m, err := l.docs[id].Members()
	if err != nil || i >= m.Len() {
		return ""
	}
	s, _ := m.At(i).DocComment()
	return strings.TrimSpace(s)
}

// scope adds the structs and enums of file id, in declaration order.
func (l *loader) scope(id uint64) error {
	return Walk(l.nodes, id, "", func(name string, n schema.Node) error {
		switch n.Which() {
		case schema.Node_Which_structNode:
			return l.addStruct(n, name)
		case schema.Node_Which_enum:
			return l.addEnum(n, name)
		case schema.Node_Which_interface:
			return &UnsupportedError{Node: name, Reason: "interfaces are not supported"}
		}
		return nil // the file, consts and annotations: nothing to encode
	})
}

func goTypeName(scoped string) string {
	parts := strings.Split(scoped, ".")
	for i, p := range parts {
		parts[i] = GoName(p)
	}
	return strings.Join(parts, "_")
}

func (l *loader) addEnum(n schema.Node, name string) error {
	e := &EnumDecl{Name: name, GoName: goTypeName(name), ID: n.Id(), Doc: l.doc(n.Id())}
	names, err := EnumerantNames(n)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		// A field of it would hold 0, its default, which names nothing:
		// the encoder and the opener would refuse every struct holding one.
		return &UnsupportedError{Node: name, Reason: "enums without enumerants are not supported (0, the default of a field of it, would name nothing)"}
	}
	for i, en := range names {
		e.Enumerants = append(e.Enumerants, Enumerant{Name: en, GoName: e.GoName + GoName(en), Doc: l.memberDoc(n.Id(), i)})
	}
	l.enums[n.Id()] = e
	l.file.Enums = append(l.file.Enums, e)
	return nil
}

func (l *loader) addStruct(n schema.Node, name string) error {
	st := n.StructNode()
	switch {
	case n.IsGeneric():
		return &UnsupportedError{Node: name, Reason: "generic structs are not supported"}
	case st.IsGroup():
		return &UnsupportedError{Node: name, Reason: "groups are not supported"}
	case st.DiscriminantCount() > 0:
		return &UnsupportedError{Node: name, Field: firstUnionMember(st), Reason: "unions are not supported"}
	}
	s := &StructDecl{Name: name, GoName: goTypeName(name), ID: n.Id(), Doc: l.doc(n.Id()),
		DataWords: int(st.DataWordCount()), PtrCount: int(st.PointerCount())}
	fields, err := st.Fields()
	if err != nil {
		return err
	}
	for i := 0; i < fields.Len(); i++ {
		fn := fields.At(i)
		fname, _ := fn.Name()
		if fn.Which() != schema.Field_Which_slot {
			reason := "groups are not supported"
			if g, ok := l.nodes[fn.Group().TypeId()]; ok && g.StructNode().DiscriminantCount() > 0 {
				reason = "unions are not supported"
			}
			return &UnsupportedError{Node: name, Field: fname, Reason: reason}
		}
		if fn.DiscriminantValue() != 0xffff {
			return &UnsupportedError{Node: name, Field: fname, Reason: "unions are not supported"}
		}
		if fn.Slot().HadExplicitDefault() {
			return &UnsupportedError{Node: name, Field: fname, Reason: "explicit default values are not supported (the canonical form writes defaults as zero)"}
		}
		f := &Field{Name: fname, GoName: GoName(fname), Doc: l.memberDoc(n.Id(), i),
			Offset: int(fn.Slot().Offset()), Index: i}
		s.Fields = append(s.Fields, f)
		l.pending = append(l.pending, pendingField{s: s, f: f, node: fn})
	}
	sort.SliceStable(s.Fields, func(a, b int) bool {
		return fields.At(s.Fields[a].Index).CodeOrder() < fields.At(s.Fields[b].Index).CodeOrder()
	})
	l.structs[n.Id()] = s
	l.file.Structs = append(l.file.Structs, s)
	return nil
}

// firstUnionMember names the first field of st's unnamed union, so the
// error points at a field, not just the struct.
func firstUnionMember(st schema.Node_structNode) string {
	fields, err := st.Fields()
	if err != nil {
		return ""
	}
	for i := 0; i < fields.Len(); i++ {
		if fields.At(i).DiscriminantValue() != 0xffff {
			name, _ := fields.At(i).Name()
			return name
		}
	}
	return ""
}

// resolve types once every declaration of the file is known.
func (l *loader) resolve() error {
	for _, p := range l.pending {
		t, err := p.node.Slot().Type()
		if err != nil {
			return err
		}
		typ, err := l.typeOf(t, p.s.Name, p.f.Name, false)
		if err != nil {
			return err
		}
		p.f.Type = *typ
	}
	l.pending = nil
	for _, s := range l.file.Structs {
		if err := checkSlots(s); err != nil {
			return err
		}
		if path := cycle(s, nil); path != nil {
			return &UnsupportedError{Node: s.Name, Reason: "recursive struct types are not supported: " + strings.Join(path, " -> ")}
		}
	}
	return nil
}

func (l *loader) typeOf(t schema.Type, node, field string, inList bool) (*Type, error) {
	no := func(why string) error { return &UnsupportedError{Node: node, Field: field, Reason: why} }
	simple := map[schema.Type_Which]Kind{
		schema.Type_Which_bool: Bool, schema.Type_Which_int8: Int8, schema.Type_Which_int16: Int16,
		schema.Type_Which_int32: Int32, schema.Type_Which_int64: Int64, schema.Type_Which_uint8: Uint8,
		schema.Type_Which_uint16: Uint16, schema.Type_Which_uint32: Uint32, schema.Type_Which_uint64: Uint64,
		schema.Type_Which_float32: Float32, schema.Type_Which_float64: Float64,
		schema.Type_Which_text: Text, schema.Type_Which_data: Data,
	}
	if k, ok := simple[t.Which()]; ok {
		return &Type{Kind: k}, nil
	}
	switch t.Which() {
	case schema.Type_Which_enum:
		e, ok := l.enums[t.Enum().TypeId()]
		if !ok {
			return nil, no("enums from other files are not supported")
		}
		return &Type{Kind: Enum, Enum: e}, nil
	case schema.Type_Which_structType:
		s, ok := l.structs[t.StructType().TypeId()]
		if !ok {
			return nil, no("structs from other files are not supported")
		}
		return &Type{Kind: StructKind, Struct: s}, nil
	case schema.Type_Which_list:
		if inList {
			return nil, no("lists of lists are not supported")
		}
		et, err := t.List().ElementType()
		if err != nil {
			return nil, err
		}
		elem, err := l.typeOf(et, node, field, true)
		if err != nil {
			return nil, err
		}
		return &Type{Kind: List, Elem: elem}, nil
	case schema.Type_Which_void:
		return nil, no("Void is not supported")
	case schema.Type_Which_interface:
		return nil, no("interfaces are not supported")
	case schema.Type_Which_anyPointer:
		return nil, no("AnyPointer and generic parameters are not supported")
	}
	return nil, no(fmt.Sprintf("type %d is not supported", t.Which()))
}

// checkSlots makes sure the fields fill the sections the compiler laid out,
// which is what the generated layout tables assume.
func checkSlots(s *StructDecl) error {
	seen := make([]bool, s.PtrCount)
	for _, f := range s.Fields {
		if f.Type.Kind.IsPointer() {
			if f.Offset >= s.PtrCount || seen[f.Offset] {
				return &UnsupportedError{Node: s.Name, Field: f.Name, Reason: "pointer slot outside or shared"}
			}
			seen[f.Offset] = true
		} else if (f.Offset+1)*f.Type.Kind.Bits() > 64*s.DataWords {
			return &UnsupportedError{Node: s.Name, Field: f.Name, Reason: "data field outside the data section"}
		}
	}
	for i, ok := range seen {
		if !ok {
			return &UnsupportedError{Node: s.Name, Reason: fmt.Sprintf("pointer slot %d has no field", i)}
		}
	}
	return nil
}

// cycle returns a path through struct-typed fields (directly or in lists)
// from s back to a struct already on path, or nil.
func cycle(s *StructDecl, path []*StructDecl) []string {
	for i, p := range path {
		if p == s {
			var names []string
			for _, q := range path[i:] {
				names = append(names, q.Name)
			}
			return append(names, s.Name)
		}
	}
	path = append(path, s)
	for _, f := range s.Fields {
		t := &f.Type
		if t.Kind == List {
			t = t.Elem
		}
		if t.Kind == StructKind {
			if c := cycle(t.Struct, path); c != nil {
				return c
			}
		}
	}
	return nil
}

// GoName turns a schema name into an exported Go name, spelling common
// initialisms the Go way at word ends: capId -> CapID, url -> URL.
func GoName(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	for _, w := range []string{"Id", "Url", "Uri", "Json", "Http", "Ip", "Tls", "Utf8"} {
		var b strings.Builder
		for rest := s; ; {
			i := strings.Index(rest, w)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(w)
			atBoundary := end == len(rest) || (rest[end] >= 'A' && rest[end] <= 'Z') || (rest[end] >= '0' && rest[end] <= '9')
			b.WriteString(rest[:i])
			if atBoundary {
				b.WriteString(strings.ToUpper(w))
			} else {
				b.WriteString(w)
			}
			rest = rest[end:]
		}
		s = b.String()
	}
	return s
}
