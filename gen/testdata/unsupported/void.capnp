@0xd1f0a3b2c4e5f60e;
struct V {
  v @0 :Void;
}
