//! The command line, HAProxy-style: `-f FILE|DIR` (repeatable), `-c`, `-D`, `-p`, `-q`, `-d`,
//! `-db`, `-v`/`-vv`. Owns argument parsing only; must not act on the arguments.

use clap::{ArgAction, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "clearway",
    about = "Clearway: an HAProxy-compatible load balancer with transparent proxying",
    disable_version_flag = true
)]
pub struct Cli {
    /// Configuration file or directory (its *.cfg files, in name order); repeatable.
    #[arg(short = 'f', value_name = "FILE|DIR", action = ArgAction::Append)]
    pub files: Vec<PathBuf>,
    /// Check the configuration and exit: 0 valid, 1 invalid.
    #[arg(short = 'c')]
    pub check: bool,
    /// Run in the background (daemon).
    #[arg(short = 'D')]
    pub daemon: bool,
    /// Write the process id to this file.
    #[arg(short = 'p', value_name = "PIDFILE")]
    pub pidfile: Option<PathBuf>,
    /// Quiet: print errors only.
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Debug: stay in the foreground and print debug messages.
    #[arg(short = 'd')]
    pub debug: bool,
    /// With -d, written -db: stay in the foreground without debug output (like HAProxy's -db).
    #[arg(short = 'b', hide = true)]
    pub no_background: bool,
    /// -v prints the version; -vv also prints build details.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub version: u8,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check what this host needs for transparent proxying and print the fix for what is missing.
    Doctor {
        /// Configuration file or directory; without one, everything is checked.
        #[arg(short = 'f', value_name = "FILE|DIR", action = ArgAction::Append)]
        files: Vec<PathBuf>,
        /// Print the checklist as JSON.
        #[arg(long)]
        json: bool,
        /// Also test each usesrc backend's return path live, from the servers'
        /// `check-transparent-source` address.
        #[arg(long)]
        probe: bool,
        /// Like --probe, from this client-side address.
        #[arg(long, value_name = "CLIENT_IP")]
        probe_from: Option<IpAddr>,
    },
}

impl Cli {
    /// `-db` is `-d` plus `-b`: foreground, without debug output.
    pub fn debug_output(&self) -> bool {
        self.debug && !self.no_background
    }
    pub fn foreground(&self) -> bool {
        self.debug || self.no_background
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_style_flags() {
        let c = Cli::try_parse_from(["clearway", "-f", "a.cfg", "-f", "dir", "-db", "-p", "/run/x.pid"]).unwrap();
        assert_eq!(c.files, vec![PathBuf::from("a.cfg"), PathBuf::from("dir")]);
        assert!(c.foreground() && !c.debug_output());
        assert_eq!(c.pidfile, Some(PathBuf::from("/run/x.pid")));
        let c = Cli::try_parse_from(["clearway", "-vv"]).unwrap();
        assert_eq!(c.version, 2);
        let c = Cli::try_parse_from(["clearway", "-c", "-q", "-f", "x"]).unwrap();
        assert!(c.check && c.quiet);
        let c = Cli::try_parse_from([
            "clearway",
            "doctor",
            "-f",
            "x.cfg",
            "--json",
            "--probe-from",
            "192.0.2.2",
        ])
        .unwrap();
        let Some(Command::Doctor {
            files,
            json,
            probe,
            probe_from,
        }) = c.command
        else {
            panic!()
        };
        assert_eq!(
            (files.len(), json, probe, probe_from),
            (1, true, false, Some("192.0.2.2".parse().unwrap()))
        );
    }
}
