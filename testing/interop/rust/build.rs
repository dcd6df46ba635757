fn main() {
    println!("cargo:rerun-if-changed=../../../schema/audit.capnp");
    capnpc::CompilerCommand::new()
        .src_prefix("../../../schema")
        .file("../../../schema/audit.capnp")
        .run()
        .expect("compiling schema/audit.capnp (needs the `capnp` tool, Debian package capnproto)");
}
