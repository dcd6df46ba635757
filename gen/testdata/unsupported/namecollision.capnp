@0xd1f0a3b2c4e5f60a;
struct A {
  capId @0 :Text;
  capID @1 :Text;
}
