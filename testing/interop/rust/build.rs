// Compiles the two schemas this reader decodes with, each in its own capnpc
// run: schema/audit.capnp (v1, the released schema) into audit_capnp.rs, and
// the evolution drill's gen/testdata/audit_v2.capnp into audit_v2_capnp.rs.
// Both files have the same file id 0xd394c48b34a2eab4 and the same struct and
// enum ids, so one `capnp compile` of both would fail with a duplicate id, and
// their generated code must live in separate Rust modules (lib.rs includes
// them as `audit_capnp` and `audit_v2_capnp`; the generated code names its
// own module after the file name, so those are the module names it expects).
// Paths are relative to this crate's directory, where cargo runs build.rs.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../../schema/audit.capnp");
    println!("cargo:rerun-if-changed=../../../gen/testdata/audit_v2.capnp");
    capnpc::CompilerCommand::new()
        .src_prefix("../../../schema")
        .file("../../../schema/audit.capnp")
        .run()
        .expect("compiling schema/audit.capnp (needs the `capnp` tool, Debian package capnproto)");
    capnpc::CompilerCommand::new()
        .src_prefix("../../../gen/testdata")
        .file("../../../gen/testdata/audit_v2.capnp")
        .run()
        .expect(
            "compiling gen/testdata/audit_v2.capnp (needs the `capnp` tool, Debian package capnproto)",
        );
}
