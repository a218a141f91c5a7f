//! `perfwarden config default`: print the embedded default config (annotated TOML).

use super::{CommandError, Globals, Outcome};
use crate::config::DEFAULT_CONFIG;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the embedded default config as annotated TOML
    Default,
}

pub(super) fn run(_globals: &Globals, args: Args) -> Result<Outcome, CommandError> {
    match args.command {
        ConfigCommand::Default => Ok(Outcome::ok(DEFAULT_CONFIG.to_string())),
    }
}
