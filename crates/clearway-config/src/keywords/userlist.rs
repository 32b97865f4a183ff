//! The lines of a `userlist` section: `group NAME [users U,...]` and `user NAME [password
//! HASH | insecure-password PASS] [groups G,...]`, resolved as HAProxy resolves them (every
//! group a user names and every user a group names must exist).

use super::Ctx;
use crate::ast::Section;
use crate::model::{Secret, User, Userlist};

/// The keywords of the section.
pub const KEYWORDS: &[&str] = &["user", "group"];

/// The crypt(3) schemes a `password` may use: those Clearway verifies.
const SCHEMES: &[&str] = &["$6$", "$5$", "$1$", "$2a$", "$2b$", "$2y$"];

/// Builds a userlist from its section; problems go to `ctx`.
pub fn build(s: &Section, ctx: &mut Ctx) -> Userlist {
    let mut ul = Userlist {
        name: s.name.clone(),
        span: s.span.clone(),
        groups: Vec::new(),
        users: Vec::new(),
    };
    // Names as written, resolved once every line is read.
    let mut group_users: Vec<(usize, String, crate::model::Span)> = Vec::new();
    let mut user_groups: Vec<(usize, String, crate::model::Span)> = Vec::new();
    for d in &s.directives {
        let Some(name) = d.arg(1).filter(|n| !n.is_empty()) else {
            ctx.error(&d.span, format!("'{}' expects a name", d.keyword()));
            continue;
        };
        match d.keyword() {
            "group" => {
                if ul.groups.iter().any(|g| g == name) {
                    ctx.warn(
                        &d.span,
                        format!("ignoring duplicated group '{name}' in userlist '{}'", ul.name),
                    );
                    continue;
                }
                // Kept only once the whole line is read and accepted.
                let mut lists = Vec::new();
                let mut words = d.words[2..].iter();
                let mut bad = false;
                while let Some(w) = words.next() {
                    match (w.as_str(), words.next()) {
                        ("users", Some(list)) => lists.push((ul.groups.len(), list.clone(), d.span.clone())),
                        _ => bad = true,
                    }
                }
                if bad {
                    ctx.error(
                        &d.span,
                        "'group' only supports the 'users' option, with a list of users",
                    );
                    continue;
                }
                group_users.extend(lists);
                ul.groups.push(name.to_string());
            }
            "user" => {
                if ul.user(name).is_some() {
                    ctx.warn(
                        &d.span,
                        format!("ignoring duplicated user '{name}' in userlist '{}'", ul.name),
                    );
                    continue;
                }
                let mut u = User {
                    name: name.to_string(),
                    secret: Secret::None,
                    groups: Vec::new(),
                };
                let mut lists = Vec::new();
                let mut words = d.words[2..].iter();
                let mut problem = None;
                while let Some(w) = words.next() {
                    match (w.as_str(), words.next()) {
                        ("password", Some(h)) if SCHEMES.iter().any(|p| h.starts_with(p)) || is_des(h) => {
                            u.secret = Secret::Crypt(h.clone())
                        }
                        ("password", Some(_)) => {
                            problem = Some((
                                format!("the encrypted password of user '{name}' uses a crypt(3) scheme Clearway does not verify"),
                                Some("use SHA-512 ('openssl passwd -6' or 'mkpasswd -m sha-512'), SHA-256, MD5 or bcrypt".to_string()),
                            ))
                        }
                        ("insecure-password", Some(p)) => u.secret = Secret::Plain(p.clone()),
                        ("groups", Some(list)) => lists.push((ul.users.len(), list.clone(), d.span.clone())),
                        _ => {
                            problem = Some((
                                "'user' only supports the 'password', 'insecure-password' and 'groups' options, each with a value".into(),
                                None,
                            ))
                        }
                    }
                }
                if let Some((m, h)) = problem {
                    ctx.error_hint(&d.span, m, h);
                    continue;
                }
                user_groups.extend(lists);
                ul.users.push(u);
            }
            other => ctx.error_hint(
                &d.span,
                format!("unknown keyword '{other}' in 'userlist' section (expected 'user' or 'group')"),
                crate::suggest::hint(other, KEYWORDS.iter().copied()),
            ),
        }
    }
    for (u, list, span) in user_groups {
        for g in list.split(',').filter(|g| !g.is_empty()) {
            match ul.groups.iter().position(|x| x == g) {
                Some(i) if !ul.users[u].groups.contains(&i) => ul.users[u].groups.push(i),
                Some(_) => {}
                None => ctx.error(
                    &span,
                    format!(
                        "cannot find group '{g}' for user '{}' in userlist '{}'",
                        ul.users[u].name, ul.name
                    ),
                ),
            }
        }
    }
    for (g, list, span) in group_users {
        for name in list.split(',').filter(|n| !n.is_empty()) {
            match ul.users.iter_mut().find(|u| u.name == name) {
                Some(u) if !u.groups.contains(&g) => u.groups.push(g),
                Some(_) => {}
                None => ctx.error(
                    &span,
                    format!(
                        "cannot find user '{name}' for group '{}' in userlist '{}'",
                        ul.groups[g], ul.name
                    ),
                ),
            }
        }
    }
    ul
}

/// A traditional DES crypt hash: 13 characters of `./0-9A-Za-z`.
fn is_des(h: &str) -> bool {
    h.len() == 13 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}
