@0xd1f0a3b2c4e5f621;
using import "a.capnp".A;
struct B {
  as @0 :List(A);
}
