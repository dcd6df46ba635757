//! `ronaudit-interop [--schema v1|v2] [<vectors dir>]`: checks every *.json
//! vector file of the directory (see lib.rs) and the negative vectors of its
//! `invalid/` directory (each must be refused), and exits non-zero if any
//! check failed. Each file is read with the schema its "schema" field names
//! (v1 if none; the negative vectors with v1); `--schema`, or else the
//! RONAUDIT_SCHEMA environment variable, reads every other file with the
//! given schema instead (v1, v2, or a schema path: see `Schema::parse`).

use std::path::PathBuf;
use std::process::ExitCode;

use ronaudit_interop::Schema;

const USAGE: &str = "usage: ronaudit-interop [--schema v1|v2] [<vectors dir>]";

fn main() -> ExitCode {
    let mut flag_schema: Option<String> = None;
    let mut dirs: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--schema" {
            match args.next() {
                Some(v) => flag_schema = Some(v),
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        } else if let Some(v) = a.strip_prefix("--schema=") {
            flag_schema = Some(v.to_owned());
        } else if a.starts_with('-') {
            eprintln!("rust-reader: unknown flag {a}\n{USAGE}");
            return ExitCode::from(2);
        } else {
            dirs.push(a);
        }
    }
    let dir = match dirs.as_slice() {
        [d] => PathBuf::from(d),
        [] => ronaudit_interop::default_vectors_dir(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let schema_override = match flag_schema {
        Some(s) => Schema::parse(&s)
            .map(Some)
            .map_err(|e| format!("--schema: {e}")),
        None => Schema::from_env(),
    };
    let schema_override = match schema_override {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rust-reader: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(s) = schema_override {
        println!(
            "rust-reader: reading every file with schema {s} ({})",
            s.path()
        );
    }
    let mut reports = match ronaudit_interop::check_dir_with(&dir, schema_override) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rust-reader: cannot list {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    if reports.is_empty() {
        eprintln!("rust-reader: no *.json vector files in {}", dir.display());
        println!("rust-reader: 0 passed, 1 failed");
        return ExitCode::FAILURE;
    }

    // The negative vectors (invalid/, schema v1), which must all be refused.
    reports.extend(ronaudit_interop::check_invalid_dir(&dir));

    let (mut passed, mut failed) = (0usize, 0usize);
    let mut first = None;
    for r in &reports {
        passed += r.passed;
        failed += r.failed();
        let status = if r.failures.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        if r.negative {
            println!(
                "{}: {} ({} that must be refused, {} refused, schema {}) {status}",
                r.file, r.name, r.records, r.passed, r.schema
            );
        } else {
            println!(
                "{}: {} ({}{} records checked, {} passed, schema {}) {status}",
                r.file,
                r.name,
                if r.chain { "chain, " } else { "" },
                r.records,
                r.passed,
                r.schema
            );
        }
        for f in &r.failures {
            eprintln!("  FAIL {f}");
            first.get_or_insert_with(|| f.clone());
        }
    }
    if let Some(f) = first {
        eprintln!("rust-reader: first failure: {f}");
    }
    println!("rust-reader: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
