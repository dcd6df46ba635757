# union_base.capnp with one change: a new plain field joins the union that
# records already use (records of the new member would read as unknown to
# old readers, and the generated code has no unions).
@0xa1b2c3d4e5f60718;

struct U @0xa1b2c3d4e5f60719 {
  union {
    x @0 :Text;
    y @1 :UInt32;
    w @2 :Data;
  }
}
