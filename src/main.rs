//! Thin binary: parse the command line, run the library, print the error once, exit with
//! the documented code.

use std::io::Write;

use clap::Parser;
use perfwarden::cli::{self, Cli, Command};
use perfwarden::exit;
use perfwarden::logging::{self, LogFormat};

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let mut cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; usage errors exit 1 (not clap's 2,
            // which perfwarden reserves for "a benchmark failed").
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    cli.argv = argv;
    // The daemon logs what it does; a command only warns.
    match &cli.command {
        Command::Daemon(args) => logging::init(args.log_format, "info"),
        _ => logging::init(LogFormat::Auto, "warn"),
    }
    match cli::execute(cli) {
        Ok(outcome) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = stdout.write_all(outcome.stdout.as_bytes());
            let _ = stdout.flush();
            drop(stdout);
            eprint!("{}", outcome.after);
            std::process::exit(outcome.code);
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            std::process::exit(e.code);
        }
    }
}
