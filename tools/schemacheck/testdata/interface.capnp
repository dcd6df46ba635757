# A field of an interface type declared in the same file: the layout does
# not record interfaces, so the check refuses the schema (and says why).
@0xb7a4e3f2c1d09e8a;

struct Rec @0xc4a1e2f3b5d6e7f8 {
  a @0 :UInt32;
  svc @1 :Svc;
}

interface Svc @0xd1e2f3a4b5c6d7e0 {}
