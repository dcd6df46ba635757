@0xd1f0a3b2c4e5f620;
# Requested together with b.capnp, which uses A: the generator refuses
# types of another file even when that file is requested too.
struct A {
  n @0 :UInt32;
}
