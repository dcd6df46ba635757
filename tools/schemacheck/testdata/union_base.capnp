# The base of the union tests: a struct with a union, which its records use.
@0xa1b2c3d4e5f60718;

struct U @0xa1b2c3d4e5f60719 {
  union {
    x @0 :Text;
    y @1 :UInt32;
  }
}
