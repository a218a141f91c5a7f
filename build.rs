//! Build details for `perfwarden --version` and the `perfwarden.build.info` series: the
//! commit (with `-dirty` when the tree had changes), the compiler and the target. Read
//! from git when the source is a checkout, else "unknown" (a crate tarball, a package
//! build without .git); never fails the build.

use std::process::Command;

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = output("git", &["rev-parse", "--short=12", "HEAD"]).map(|commit| {
        let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        if dirty {
            format!("{commit}-dirty")
        } else {
            commit
        }
    });
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]);
    let target = std::env::var("TARGET").unwrap_or_default();
    println!(
        "cargo:rustc-env=PERFWARDEN_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=PERFWARDEN_RUSTC={}",
        rustc_version.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rustc-env=PERFWARDEN_TARGET={target}");
    // A new commit or checkout changes HEAD (or the ref it names).
    for path in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
