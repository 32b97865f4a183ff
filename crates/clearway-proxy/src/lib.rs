//! Clearway's data plane: turns a validated config into live frontends and backends, accepts
//! client connections, hands each to a server and forwards bytes both ways.
//! Must not parse config text or touch process-level state (daemon, signals, privileges).

pub mod acl;
pub mod checks;
pub mod control;
pub mod counted;
pub mod dispatch;
pub mod dns;
pub mod error;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod inspect;
pub mod kill;
pub mod limit;
pub mod listen;
pub mod log;
pub mod model;
pub mod process;
pub mod proxy_protocol;
pub mod queue;
pub mod runtime;
pub mod server;
pub mod session;
pub mod sessions;
pub mod socks4;
pub mod state_fetch;
pub mod stick;
pub mod stream;
mod timer;
pub mod tls;
pub mod workers;

pub use error::BuildError;
pub use model::Runtime;
