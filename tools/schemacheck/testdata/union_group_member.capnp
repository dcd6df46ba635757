# union_base.capnp with one change: a group joins the union
@0xa1b2c3d4e5f60718;

struct U @0xa1b2c3d4e5f60719 {
  union {
    x @0 :Text;
    y @1 :UInt32;
    z :group { w @2 :Text; }
  }
}
