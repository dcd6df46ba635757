//! `ronaudit-interop <vectors dir>`: checks every *.json vector file of the
//! directory (see lib.rs) and exits non-zero if any check failed.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match args.as_slice() {
        [d] => PathBuf::from(d),
        [] => ronaudit_interop::default_vectors_dir(),
        _ => {
            eprintln!("usage: ronaudit-interop [<vectors dir>]");
            return ExitCode::from(2);
        }
    };
    let reports = match ronaudit_interop::check_dir(&dir) {
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
        println!(
            "{}: {} ({}{} records checked, {} passed) {status}",
            r.file,
            r.name,
            if r.chain { "chain, " } else { "" },
            r.records,
            r.passed
        );
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
