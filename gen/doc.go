// Package gen is the code generator behind capnpc-ronaudit: from a Cap'n
// Proto CodeGeneratorRequest it emits, per schema file, Go types with
// canonical encoders (AppendCanonical), strict openers (Open<Struct>, which
// accept exactly the canonical bytes) and zero-copy views.
//
// It supports structs of Bool, integers, floats, enums, Text, Data, structs
// of the same file, and lists of any of these. It refuses, with an
// *UnsupportedError naming the struct and, where there is one, the field,
// every shape it cannot encode canonically: unions (named or not), groups,
// explicit default values (the canonical form writes defaults as zero;
// NaN defaults included), AnyPointer and generics, interfaces, Void, lists
// of lists, enums without enumerants, recursive struct types, types from
// other files, schema names that become the same Go identifier, and a
// request of more than one schema file.
//
// Lists of zero-sized structs have a bound of their own, beyond the
// message size (capnpwire.MaxMessageBytes): a list of structs whose
// elements all encode to nothing (a struct without fields, or one whose fields all hold zero
// or empty values) takes no bytes per element, so a message may hold at
// most one such element per word of its canonical encoding, all such lists
// in it counted together (capnpwire.MaxEmptyElems). AppendCanonical refuses
// a value with more with a *capnpwire.EncodeError and Open<Struct> refuses
// such bytes, so a few words cannot make Decode allocate billions of
// elements. (A list of Bool, one bit per element, is bounded likewise by
// its count field, capnpwire.MaxListLen.)
package gen
