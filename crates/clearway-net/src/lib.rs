//! Linux socket plumbing for Clearway: the only crate with `unsafe` and raw socket options.
//! Owns how sockets are opened (listeners, transparent and spoofed server connections),
//! capability checks and daemonizing; must not know about configs, backends or sessions.

pub mod caps;
pub mod connect;
pub mod errors;
pub mod listen;
pub mod nftables;
pub mod privileges;
pub mod process;
mod sockopt;
pub mod splice;
pub mod system;
pub mod tproxy_setup;

pub use connect::{ConnectError, ConnectStage, SourceBind};
pub use listen::ListenSpec;
pub use sockopt::{drop_silently, set_keepalive, shutdown_both, Keepalive};
