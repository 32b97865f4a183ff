//! Persistence as configured: a backend's `cookie` line, and the `force-persist` and
//! `ignore-persist` rules that bend it.

use super::{Condition, Span};

/// How the persistence cookie gets to the client (`cookie NAME MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CookieMode {
    /// No mode: the server sets the cookie to its own id; Clearway only reads it.
    #[default]
    Passive,
    /// `insert`: Clearway adds `Set-Cookie: NAME=SERVERID` to responses.
    Insert,
    /// `rewrite`: the server sets the cookie; Clearway replaces its value with the id.
    Rewrite,
    /// `prefix`: the server's cookie value gets `SERVERID~` in front; taken off again
    /// before the request goes to the server.
    Prefix,
}

/// `cookie NAME [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve]
/// [httponly] [secure] [domain D]* [maxidle T] [maxlife T] [attr A]*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePersist {
    pub span: Span,
    pub name: String,
    pub mode: CookieMode,
    /// `indirect`: the server never sees the cookie (insert mode takes it out of requests;
    /// a server's own cookie of that name is removed from responses to clients that have
    /// a valid one).
    pub indirect: bool,
    /// `nocache`: a response that gets the cookie also gets `Cache-control: private` when a
    /// shared cache could keep it.
    pub nocache: bool,
    /// `postonly`: the cookie is only inserted into responses to POST requests.
    pub postonly: bool,
    /// `preserve`: a cookie of that name the server sets itself is left alone.
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    /// `domain D`, each one a `; domain=D` attribute of the inserted cookie.
    pub domains: Vec<String>,
    /// `attr A`, each one a `; A` attribute of the inserted cookie.
    pub attrs: Vec<String>,
    /// `maxidle`: a cookie not seen for this many seconds is ignored (0: no limit). The
    /// inserted cookie carries the date it was last seen.
    pub maxidle: u32,
    /// `maxlife`: a cookie first given more than this many seconds ago is ignored (0: no
    /// limit). The inserted cookie carries the date it was first given.
    pub maxlife: u32,
}

impl CookiePersist {
    /// A passive cookie `name` without options, as a bare `cookie NAME` line says.
    pub fn named(span: Span, name: &str) -> CookiePersist {
        CookiePersist {
            span,
            name: name.to_string(),
            mode: CookieMode::Passive,
            indirect: false,
            nocache: false,
            postonly: false,
            preserve: false,
            httponly: false,
            secure: false,
            domains: Vec::new(),
            attrs: Vec::new(),
            maxidle: 0,
            maxlife: 0,
        }
    }
}

/// `force-persist` or `ignore-persist` with its condition; the first that holds decides.
#[derive(Debug, Clone)]
pub struct PersistRule {
    /// `force-persist` (else `ignore-persist`).
    pub force: bool,
    pub condition: Condition,
}
