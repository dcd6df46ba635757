# base.capnp with one change: a new field whose default is -0.0, not 0:
# the canonical form writes its value XOR the default's bits, so this
# default is not the implicit one (zero_default spells out those).
@0xb7a4e3f2c1d09e8a;

struct Rec @0xc4a1e2f3b5d6e7f8 {
  a @0 :UInt32;
  b @1 :Text;
  c @2 :List(Text);
  e @3 :Color;
  s @4 :Sub;
  f @5 :Float64 = -0.0;
}

struct Sub @0xd1e2f3a4b5c6d7e8 {
  x @0 :UInt16;
}

enum Color @0xe1f2a3b4c5d6e7f8 {
  red @0;
  green @1;
}
