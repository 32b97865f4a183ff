//! Clearway's control-plane interfaces: the stats socket (HAProxy's runtime API), and later
//! the stats page, Prometheus and the web admin. They read the running state and change it
//! only through `clearway_proxy::control`'s commands. Must not touch the data path.

pub mod socket;

pub use socket::StatsSockets;
