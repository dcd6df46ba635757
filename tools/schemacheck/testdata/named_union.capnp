# base.capnp with one change: a new named union of new fields (old records
# would read as its first member, as with group_union's unnamed one)
@0xb7a4e3f2c1d09e8a;

struct Rec @0xc4a1e2f3b5d6e7f8 {
  a @0 :UInt32;
  b @1 :Text;
  c @2 :List(Text);
  e @3 :Color;
  s @4 :Sub;
  u :union { x @5 :Text; y @6 :UInt32; }
}

struct Sub @0xd1e2f3a4b5c6d7e8 {
  x @0 :UInt16;
}

enum Color @0xe1f2a3b4c5d6e7f8 {
  red @0;
  green @1;
}
