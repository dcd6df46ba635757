@0xd1f0a3b2c4e5f611;
enum E {}
struct S {
  e @0 :E;
  n @1 :UInt8;
}
