//! The control plane's side of a running Clearway: the runtime commands (one implementation
//! each, whichever interface calls them) and the statistics and reports they show. Must not
//! accept connections or know how an interface frames its requests.

pub mod actions;
pub mod command;
pub mod errors;
pub mod help;
pub mod info;
pub mod page;
pub mod prometheus;
pub mod servers;
pub mod stats;
pub mod tables;
pub mod typed;

pub use command::{execute, parse, split, Cli, Command, Health, Level, Outcome, ServerName};
