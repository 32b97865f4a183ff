//! A proxy's statistics page as configured (`stats uri`, `auth`, `realm`, `http-request`,
//! `admin`), compiled: which requests it takes and who may see it. Owns those decisions;
//! must not render the page or act on servers (`service` does).

use super::auth::{same, Credentials};
use super::samples::ReqSamples;
use crate::acl::Cond;
use clearway_config::model::{StatsAccessKind, StatsPage};
use http::Method;

/// A proxy's statistics page, compiled.
#[derive(Debug)]
pub struct StatsApp {
    pub(super) page: StatsPage,
    access: Vec<(StatsAccessKind, Option<Cond>)>,
    pub(super) admin: Vec<Cond>,
}

/// What the access rules decided for one request.
pub(super) enum Access {
    Allow,
    Deny,
    Auth(String),
}

impl StatsApp {
    pub fn new(page: &StatsPage) -> StatsApp {
        StatsApp {
            access: page
                .access
                .iter()
                .map(|a| (a.kind.clone(), a.condition.as_ref().map(Cond::new)))
                .collect(),
            admin: page.admin.iter().map(Cond::new).collect(),
            page: page.clone(),
        }
    }

    /// Whether a request asks for the page: GET, HEAD or POST on a target starting with the
    /// prefix (its path and query when the prefix starts with `/`). Returns what follows it.
    pub fn matches<'a>(&self, method: &Method, target: &'a str) -> Option<&'a str> {
        if !matches!(*method, Method::GET | Method::HEAD | Method::POST) {
            return None;
        }
        target.strip_prefix(self.page.uri.as_str())
    }

    pub(super) fn access(&self, s: &ReqSamples<'_>) -> Access {
        for (kind, cond) in &self.access {
            if !Cond::holds(cond, s) {
                continue;
            }
            return match kind {
                StatsAccessKind::Allow => Access::Allow,
                StatsAccessKind::Deny => Access::Deny,
                StatsAccessKind::Auth { realm } => Access::Auth(realm.clone().unwrap_or_else(|| self.realm())),
            };
        }
        if !self.page.users.is_empty() && !self.known_user(s.req) {
            return Access::Auth(self.realm());
        }
        Access::Allow
    }

    fn realm(&self) -> String {
        self.page.realm.clone().unwrap_or_else(|| "HAProxy Statistics".into())
    }

    /// Whether the request's Basic credentials are one of `stats auth`'s users.
    fn known_user(&self, req: &http::request::Parts) -> bool {
        let Some(Credentials::Basic { user, pass }) = Credentials::of(req) else {
            return false;
        };
        // Every user and password compared in full: the time taken says nothing of how
        // much of a guess was right.
        self.page.users.iter().fold(false, |found, (u, p)| {
            found | (same(u.as_bytes(), &user) & same(p.as_bytes(), &pass))
        })
    }
}

/// The request target the page's prefix is compared with.
/// Borrowed in the usual case (a prefix starting with `/`), so that a frontend with a page
/// allocates nothing for the requests that are not for it.
pub(super) fn target<'a>(page: &StatsPage, uri: &'a http::Uri) -> std::borrow::Cow<'a, str> {
    if page.uri.starts_with('/') {
        uri.path_and_query().map_or("/", |p| p.as_str()).into()
    } else {
        uri.to_string().into()
    }
}

/// Whether `req` is for `app`'s page.
pub fn wants_page(app: &StatsApp, req: &http::request::Parts) -> bool {
    app.matches(&req.method, &target(&app.page, &req.uri)).is_some()
}
