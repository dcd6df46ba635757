# The base of the evolution-rule tests: each other schema here is this one
# with one change, and the same file, struct and enum ids. Here: field a
# retyped UInt32 -> Int32 (the same bits, another value and rendering).
@0xb7a4e3f2c1d09e8a;
struct Rec @0xc4a1e2f3b5d6e7f8 {
  a @0 :Int32;
  b @1 :Text;
  c @2 :List(Text);
  e @3 :Color;
  s @4 :Sub;
}
struct Sub @0xd1e2f3a4b5c6d7e8 {
  x @0 :UInt16;
}
enum Color @0xe1f2a3b4c5d6e7f8 {
  red @0;
  green @1;
}
