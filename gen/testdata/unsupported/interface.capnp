@0xd1f0a3b2c4e5f60d;
interface I {
  ping @0 () -> ();
}
