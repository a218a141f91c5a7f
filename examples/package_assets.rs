//! Writes what the Debian package installs beside the binary and cannot be hand-kept in
//! step with the command line: a man page per command (`perfwarden.1`, `perfwarden-run.1`,
//! `perfwarden-db-check.1`, …) and the bash, zsh and fish completions, all generated from
//! the clap definitions the binary parses with, so they cannot drift from it.
//!
//! An example rather than a subcommand: the generators stay out of the shipped binary.
//! `scripts/build-deb.sh` runs it; by hand:
//! `cargo run --example package_assets -- DIR` writes `DIR/man/*.1` and
//! `DIR/completions/{perfwarden.bash,_perfwarden,perfwarden.fish}`.

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;
use perfwarden::cli::Cli;

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: package_assets DIR");
        std::process::exit(1);
    };
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(Cli::command(), &man)?;

    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut Cli::command(), "perfwarden", &completions)?;
    }
    let pages = std::fs::read_dir(&man)?.count();
    println!(
        "{pages} man pages in {}, completions in {}",
        man.display(),
        completions.display()
    );
    Ok(())
}
