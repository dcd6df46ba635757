# A file another test schema imports a type from.
@0xf0e1d2c3b4a59687;

struct Ext @0xf0e1d2c3b4a59688 {
  a @0 :UInt32;
}
