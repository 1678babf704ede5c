//! The `gatehouse` command line.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "A hosted gateway for MCP servers")]
pub struct Cli {
    /// Configuration file (default: ./gatehouse.toml, if present).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the dashboard, API and gateway (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run a small demo MCP server (echo, slow_echo, ticker) to put behind Gatehouse.
    DemoMcp {
        /// Where it listens.
        #[arg(long, default_value = "127.0.0.1:8931")]
        bind: std::net::SocketAddr,
    },
}
