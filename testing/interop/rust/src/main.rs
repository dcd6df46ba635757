//! `ronaudit-interop [--schema v1|v2] [<vectors dir>]`: checks every *.json
//! vector file of the directory (see lib.rs) and the negative vectors of its
//! `invalid/` directory (each must be refused) and the checkpoint vectors of
//! its `checkpoints/` directory (see checkpoint.rs) and the export bundle
//! vectors of its `bundles/` directory (every *.json of it: see bundle.rs), and
//! exits non-zero if any check failed, or if the directory holds something it
//! would not read (`check_layout`: an unknown subdirectory, an unknown file of
//! `invalid/`, an empty or missing one of the three subdirectories). Each
//! file is read with the schema its "schema" field names (v1 if none; the
//! negative vectors with v1); `--schema`, or else the RONAUDIT_SCHEMA
//! environment variable, reads every other file with the given schema
//! instead (v1, v2, or a schema path: see `Schema::parse`).

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

    // The checkpoint and proof vectors (checkpoints/*.json), if any.
    let cps = match ronaudit_interop::checkpoint::checkpoint_vector_files(&dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!(
                "rust-reader: cannot list {}/checkpoints: {e}",
                dir.display()
            );
            return ExitCode::from(2);
        }
    };

    // Each file's line and failures, as (line, failures, passed, failed).
    let mut shown: Vec<(String, Vec<String>, usize, usize)> = Vec::new();
    for r in &reports {
        let line = if r.negative {
            format!(
                "{}: {} ({} that must be refused, {} refused, schema {})",
                r.file, r.name, r.records, r.passed, r.schema
            )
        } else {
            format!(
                "{}: {} ({}{} records checked, {} passed, schema {})",
                r.file,
                r.name,
                if r.chain { "chain, " } else { "" },
                r.records,
                r.passed,
                r.schema
            )
        };
        let failures = r.failures.iter().map(|f| f.to_string()).collect();
        shown.push((line, failures, r.passed, r.failed()));
    }
    for p in cps {
        let r = ronaudit_interop::checkpoint::check_checkpoint_file(&p);
        let line = format!(
            "{}: {} ({} checkpoints, proofs and refusals checked, {} passed)",
            r.file, r.name, r.items, r.passed
        );
        let failures = r.failures.iter().map(|f| format!("{}: {f}", r.file));
        shown.push((line, failures.collect(), r.passed, r.failed()));
    }
    // The export bundle vectors (bundles/*.json), if any.
    let bundles = match ronaudit_interop::bundle::vector_files(&dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("rust-reader: cannot list {}/bundles: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    for bundles in bundles {
        let mut r = ronaudit_interop::bundle::check_file(&bundles);
        let rel = bundles.strip_prefix(&dir).unwrap_or(&bundles);
        r.file = rel.display().to_string();
        let line = format!(
            "{}: bundles ({} cases verified, {} with the expected verdict)",
            r.file, r.cases, r.passed
        );
        let failures = r.failures.iter().map(|f| format!("{}: {f}", r.file));
        shown.push((line, failures.collect(), r.passed, r.failed()));
    }

    // The layout: no subdirectory or file this reader would skip unseen.
    let layout = ronaudit_interop::check_layout(&dir);
    let n = usize::from(!layout.is_empty());
    shown.push((
        format!(
            "{}: layout (subdirectories {:?})",
            dir.display(),
            ronaudit_interop::SUBDIRS
        ),
        layout,
        1 - n,
        n,
    ));

    let (mut passed, mut failed) = (0usize, 0usize);
    let mut first = None;
    for (line, failures, p, f) in shown {
        passed += p;
        failed += f;
        let status = if failures.is_empty() { "ok" } else { "FAILED" };
        println!("{line} {status}");
        for f in failures {
            eprintln!("  FAIL {f}");
            first.get_or_insert(f);
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
