//! Test harness for Clearway's end-to-end tests: network namespaces and a client / lb / server
//! topology, small real servers, clients, and the `clearway` process. Test code only: it must
//! never be a dependency of the product crates.

pub mod clearway;
pub mod client;
pub mod daemons;
pub mod netns;
pub mod pki;
pub mod servers;
pub mod topology;

pub use clearway::Clearway;
pub use client::{curl, request, request_from_port};
pub use netns::{require_root_and_netns, Netns};
pub use pki::{Leaf, Pki};
pub use servers::{EchoServer, HttpEchoServer, HttpStatusServer, PeerServer, RecordingHttpServer};
pub use topology::Topology;
