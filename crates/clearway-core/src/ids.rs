//! Typed ids of a runtime's frontends, backends and servers: their positions in the
//! runtime's lists (config order, as HAProxy numbers its proxies and servers), so that a
//! frontend number cannot be taken for a backend's. An id names an object of one runtime;
//! what survives a reload is the name. Owns the types only.

/// A frontend (or the frontend half of a `listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrontendId(pub u32);

/// A backend (or the backend half of a `listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendId(pub u32);

/// A server of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId {
    pub backend: BackendId,
    /// Its position among the backend's servers.
    pub index: u32,
}

impl FrontendId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl BackendId {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Its server at position `index`.
    pub fn server(self, index: usize) -> ServerId {
        ServerId {
            backend: self,
            index: index as u32,
        }
    }
}

impl ServerId {
    /// Its position among its backend's servers.
    pub fn index(self) -> usize {
        self.index as usize
    }
}
