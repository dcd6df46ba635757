@0xd1f0a3b2c4e5f60b;
enum Kind {
  capIssued @0;
}
struct KindCapIssued {
  x @0 :UInt32;
}
