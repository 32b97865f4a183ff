//! Clearway's runtime model without I/O: live server state, backends and balance algorithms,
//! and the source-address rules of transparent proxying. Must not open sockets, spawn tasks or
//! read the clock: the data plane (clearway-proxy) drives it.

pub mod append;
pub mod backend;
pub mod balance;
pub mod capture;
pub mod counters;
pub mod health;
pub mod ids;
pub mod listener;
pub mod rate;
pub mod server;
pub mod source;
pub mod stick;
pub mod thread;

pub use append::AppendOnly;
pub use backend::{BackendRt, Choice};
pub use counters::{Counters, Field, Gauge};
pub use ids::{BackendId, FrontendId, ServerId};
pub use listener::{ListenerConn, ListenerRt};
pub use server::{Admin, LastCheck, ServerRt};
