//! HTTP Basic authentication against `userlist` sections, as HAProxy checks it: the
//! credentials of a request's `Authorization` header (`Proxy-Authorization` for a proxy
//! request), a user of the list whose password matches (in clear, or a crypt(3) hash).

use clearway_config::model::{Secret, User, Userlist};
use http::header::{AUTHORIZATION, PROXY_AUTHORIZATION};
use http::request::Parts;

/// Marks a request that asks Clearway to act as a proxy (a target that is not a path) in a
/// frontend with `option http-use-proxy-header`: its credentials come in
/// `Proxy-Authorization`, and `auth` answers it with a 407.
#[derive(Debug, Clone, Copy)]
pub struct ProxyRequest;

impl ProxyRequest {
    /// Marks `req`, in a frontend with the option, when it is one: an HTTP/1 request in
    /// absolute or authority form (an HTTP/2 one always has a path).
    pub fn mark(req: &mut Parts) {
        let target = req.uri.path_and_query().map_or("", |p| p.as_str());
        let proxied = req.uri.scheme().is_some() || !(target.starts_with('/') || target.starts_with('*'));
        if req.version != http::Version::HTTP_2 && proxied {
            req.extensions.insert(ProxyRequest);
        }
    }

    pub fn is(req: &Parts) -> bool {
        req.extensions.get::<ProxyRequest>().is_some()
    }
}

/// What a request's authorization header says.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    /// As sent (not necessarily UTF-8: browsers send Latin-1).
    Basic {
        user: Vec<u8>,
        pass: Vec<u8>,
    },
    Bearer,
}

impl Credentials {
    /// The request's credentials, if it carries readable ones: `Basic` with a base64
    /// `user:pass`, or `Bearer`.
    pub fn of(req: &Parts) -> Option<Credentials> {
        use base64::Engine;
        let field = if ProxyRequest::is(req) {
            PROXY_AUTHORIZATION
        } else {
            AUTHORIZATION
        };
        let v = req.headers.get(field)?.to_str().ok()?;
        let (scheme, data) = v.split_once(' ')?;
        if scheme.is_empty() {
            return None;
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(Credentials::Bearer);
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(data.trim_start_matches(' ').trim_end())
            .ok()?;
        let colon = raw.iter().position(|&b| b == b':')?;
        Some(Credentials::Basic {
            user: raw[..colon].to_vec(),
            pass: raw[colon + 1..].to_vec(),
        })
    }

    /// HAProxy's name of the scheme (`http_auth_type`).
    pub fn scheme(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => "Basic",
            Credentials::Bearer => "Bearer",
        }
    }
}

/// Asks for Basic credentials in `realm` on `r` (`field`: `WWW-Authenticate`, or
/// `Proxy-Authenticate` for a proxy request).
pub fn challenge<B>(r: &mut http::Response<B>, field: http::header::HeaderName, realm: &str) {
    let realm = realm.replace(['"', '\\'], "");
    if let Ok(v) = http::HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        r.headers_mut().insert(field, v);
    }
}

/// The user of `list` these credentials authenticate, if any.
pub fn check<'a>(list: &'a Userlist, creds: &Credentials) -> Option<&'a User> {
    let Credentials::Basic { user, pass } = creds else {
        return None;
    };
    let u = list.users.iter().find(|u| u.name.as_bytes() == user.as_slice())?;
    let ok = match &u.secret {
        Secret::None => false,
        Secret::Plain(p) => same(p.as_bytes(), pass),
        Secret::Crypt(hash) => pwhash::unix::verify(pass, hash),
    };
    ok.then_some(u)
}

/// Whether two strings are equal, in a time that depends on their lengths only.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use clearway_config::model::Span;

    fn request(auth: &str) -> Parts {
        let (p, ()) = http::Request::builder()
            .uri("/")
            .header("authorization", auth)
            .body(())
            .unwrap()
            .into_parts();
        p
    }

    #[test]
    fn basic_credentials_are_checked_in_clear_and_hashed() {
        let list = Userlist {
            name: "l".into(),
            span: Span {
                file: "t".into(),
                line: 1,
            },
            groups: vec!["g".into()],
            users: vec![
                User {
                    name: "scott".into(),
                    secret: Secret::Plain("cat".into()),
                    groups: vec![0],
                },
                // `openssl passwd -6 -salt k6y3o.eP secret`
                User {
                    name: "boss".into(),
                    secret: Secret::Crypt(
                        "$6$k6y3o.eP$PBB.tfeKmQRT5Xl/drYaLsOKR8cBcdOOeaq7JYq7eJWgGHSNlC/M/GdNHKlBiA17WQ1tWOULAGr76LPTfQgB5."
                            .into(),
                    ),
                    groups: vec![],
                },
                User {
                    name: "nopass".into(),
                    secret: Secret::None,
                    groups: vec![],
                },
            ],
        };
        let basic = |u: &str, p: &str| {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            Credentials::of(&request(&format!("Basic {b}"))).unwrap()
        };
        assert_eq!(check(&list, &basic("scott", "cat")).map(|u| &u.name[..]), Some("scott"));
        assert!(check(&list, &basic("scott", "dog")).is_none());
        assert!(check(&list, &basic("boss", "secret")).is_some());
        assert!(check(&list, &basic("boss", "Secret")).is_none());
        assert!(check(&list, &basic("nobody", "cat")).is_none());
        assert!(check(&list, &basic("nopass", "")).is_none());
        let c = Credentials::of(&request("bearer abc")).unwrap();
        assert_eq!((c.scheme(), check(&list, &c).is_none()), ("Bearer", true));
        assert!(Credentials::of(&request("Basic !!!")).is_none());
        // Not UTF-8 (a browser's Latin-1): read as sent.
        assert_eq!(
            Credentials::of(&request("Basic dTrp")),
            Some(Credentials::Basic {
                user: b"u".to_vec(),
                pass: vec![0xe9]
            })
        );
        assert!(Credentials::of(&request("Basic")).is_none());
        assert!(Credentials::of(&request("Basic dXNlcg==")).is_none(), "no colon");
        assert_eq!(
            Credentials::of(&request("BASIC   YTpiOmM=")),
            Some(Credentials::Basic {
                user: b"a".to_vec(),
                pass: b"b:c".to_vec()
            })
        );
    }

    #[test]
    fn comparisons_take_the_whole_strings() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3creT"));
        assert!(!same(b"s3cret", b"s3cre"));
        assert!(same(b"", b""));
    }
}
