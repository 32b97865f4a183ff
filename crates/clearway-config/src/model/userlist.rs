//! `userlist` sections: users with their passwords and groups, which `http_auth(LIST)` and
//! `http_auth_group(LIST)` check a request's Basic credentials against.

use super::Span;

/// A `userlist NAME` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Userlist {
    pub name: String,
    pub span: Span,
    /// Group names, in the order declared.
    pub groups: Vec<String>,
    pub users: Vec<User>,
}

/// `user NAME password HASH|insecure-password PASS [groups G,...]`, with the groups of
/// `group G users NAME,...` lines added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub secret: Secret,
    /// Indexes into the list's `groups`.
    pub groups: Vec<usize>,
}

/// How a user's password is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// No password given: the user never authenticates, as in HAProxy.
    None,
    /// `insecure-password`: in clear.
    Plain(String),
    /// `password`: a crypt(3) hash (`$6$`, `$5$`, `$1$`, `$2b$`, or traditional DES).
    Crypt(String),
}

impl Userlist {
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}
