# Every schema shape capnpc-ronaudit supports, for its end-to-end tests
# (gen/internal/shapes). Not a product schema.

@0xba5e991615e9f452;

enum Color {
  # A small enum.
  red @0;
  green @1;
  blue @2;
}

struct Scalars {
  # Every data-section type, packed the way the compiler packs them.
  b @0 :Bool;
  i8 @1 :Int8;
  i16 @2 :Int16;
  i32 @3 :Int32;
  i64 @4 :Int64;
  u8 @5 :UInt8;
  u16 @6 :UInt16;
  u32 @7 :UInt32;
  u64 @8 :UInt64;
  f32 @9 :Float32;
  f64 @10 :Float64;
  color @11 :Color;
  b2 @12 :Bool;
}

struct Pair {
  # A struct without pointer fields: capnp-go's Canonicalize corrupts lists
  # of these, so the C++ tool is their oracle.
  a @0 :UInt64;
  b @1 :UInt32;
}

struct Leaf {
  # A struct with both sections.
  name @0 :Text;
  n @1 :Int32;
}

struct Empty {
  # A struct without fields.
}

struct Shapes {
  # The root of the end-to-end tests.
  scalars @0 :Scalars;
  text @1 :Text;
  data @2 :Data;
  pairs @3 :List(Pair);
  leaves @4 :List(Leaf);
  bools @5 :List(Bool);
  i8s @6 :List(Int8);
  u8s @7 :List(UInt8);
  i16s @8 :List(Int16);
  u16s @9 :List(UInt16);
  i32s @10 :List(Int32);
  u32s @11 :List(UInt32);
  i64s @12 :List(Int64);
  u64s @13 :List(UInt64);
  f32s @14 :List(Float32);
  f64s @15 :List(Float64);
  colors @16 :List(Color);
  texts @17 :List(Text);
  datas @18 :List(Data);
  nested @19 :Nested;
  flag @20 :Bool;
  count @21 :UInt32;
  empties @22 :List(Empty);
  empty @23 :Empty;

  struct Nested {
    # A nested declaration holding a struct and a list of structs.
    leaf @0 :Leaf;
    tag @1 :Text;
    leaves @2 :List(Leaf);
  }
}
