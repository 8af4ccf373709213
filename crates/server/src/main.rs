//! `mailsync`: the server-side companion of the mailsync console.
//!
//! * `mailsync serve`   — serve the built console (Trunk's `dist/`) over HTTP.
//! * `mailsync analyze` — analyze Mailbox Details logs from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod analyze;
mod api;
mod assets;
mod auth;
mod boundary;
mod engine;
mod error;
mod listen;
mod mail;
mod odata_sql;
mod oidc;
mod samples;
mod serve;
mod state;
mod store;
mod throttle;
mod webapi;

#[derive(Debug, Parser)]
#[command(
    name = "mailsync",
    version,
    about = "Dynamics 365 server-side synchronization console and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the built console (a Trunk `dist/` directory) over HTTP.
    Serve(Box<serve::ServeArgs>),
    /// Analyze Mailbox Details log files and print a diagnosis.
    Analyze {
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Log files, or folders of .log files, to analyze.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Write synthetic Mailbox Details logs in varied states (for demos and benchmarks).
    SampleLogs {
        /// How many logs to write.
        #[arg(long, default_value_t = 100)]
        count: u64,
        /// Folder to write them into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Seed: the same seed writes the same logs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write `.br` and `.gz` variants of a built console's files (scripts/build.sh).
    #[command(hide = true)]
    CompressAssets(assets::CompressArgs),
}

fn main() -> ExitCode {
    // clap prints usage errors and exits with status 2 on bad usage.
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Analyze { json, paths } => analyze::run(json, &paths),
        Command::SampleLogs { count, out, seed } => samples::run(count, &out, seed),
        Command::CompressAssets(args) => assets::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults() {
        let cli = Cli::try_parse_from(["mailsync", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.port, 8080);
        assert_eq!(args.bind.to_string(), "127.0.0.1");
        assert_eq!(args.dist, None);
    }

    #[test]
    fn analyze_requires_a_path() {
        assert!(Cli::try_parse_from(["mailsync", "analyze", "--json"]).is_err());
        let cli = Cli::try_parse_from(["mailsync", "analyze", "--json", "a.log", "b.log"]).unwrap();
        let Command::Analyze { json, paths } = cli.command else {
            panic!("expected analyze");
        };
        assert!(json);
        assert_eq!(paths, [PathBuf::from("a.log"), PathBuf::from("b.log")]);
    }
}
