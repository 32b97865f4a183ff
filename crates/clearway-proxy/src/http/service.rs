//! Requests a proxy answers itself instead of forwarding them (HAProxy's applets): its
//! statistics page (`stats uri` and the rest) and `http-request use-service
//! prometheus-exporter`. Owns answering them: the access decision of `stats_app` carried out
//! (401, 403), a posted admin form turned into runtime commands; what the pages say comes
//! from `control`.

use super::body::ResBody;
use super::samples::ReqSamples;
use super::stats_app::{target, Access, StatsApp};
use crate::acl::ConnSamples;
use crate::control::{self, page::View, Command, Level, ServerName};
use crate::model::Runtime;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::BodyExt;

/// The largest form the page accepts (HAProxy's buffer size): larger posts change nothing.
const MAX_FORM: usize = 16 * 1024;

/// The answer of the page `app` of proxy `proxy` to `req` (which `wants_page`), and whether
/// the access rules refused it.
pub async fn stats_page(
    app: &StatsApp,
    proxy: &str,
    rt: Option<std::sync::Arc<Runtime>>,
    req: &http::request::Parts,
    body: super::req_body::ReqBody,
    conn: &ConnSamples,
    errors: &super::reply::ErrorPages,
) -> (Response<ResBody>, bool) {
    let s = ReqSamples { conn, req };
    match app.access(&s) {
        Access::Allow => {}
        Access::Deny => return (errors.response(None, 403), true),
        Access::Auth(realm) => {
            let mut r = errors.response(None, 401);
            super::auth::challenge(&mut r, header::WWW_AUTHENTICATE, &realm);
            return (r, false);
        }
    }
    let Some(rt) = rt else {
        return (errors.response(None, 503), false);
    };
    let full = target(&app.page, &req.uri);
    let rest = app.matches(&req.method, &full).unwrap_or_default();
    let admin = app.admin.iter().any(|c| c.eval(&s));
    let view = View::new(&app.page, proxy, rest, admin);
    if req.method == Method::POST {
        let code = if admin { post(&rt, body).await } else { "DENY" };
        let location = format!("{};st={code}{}", app.page.uri, view.suffix());
        let mut r = local(StatusCode::SEE_OTHER, "text/plain", String::new(), &req.method);
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return (r, false);
    }
    drop(body);
    let (text, content_type) = match view.format {
        control::page::Format::Csv => (control::page::csv(&rt, &view), "text/plain"),
        control::page::Format::Html => (control::page::html(&rt, &view), "text/html"),
    };
    let mut r = local(StatusCode::OK, content_type, text, &req.method);
    if let (Some(t), false, control::page::Format::Html) = (app.page.refresh, view.no_refresh, view.format) {
        r.headers_mut().insert("refresh", HeaderValue::from(t.as_secs().max(1)));
    }
    (r, false)
}

/// A page of the proxy's own, never cached (no body for a HEAD request).
fn local(status: StatusCode, content_type: &'static str, text: String, method: &Method) -> Response<ResBody> {
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(text)
    };
    let len = body.len();
    let mut r = Response::new(ResBody::local(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// Carries out a posted form (`b=BACKEND&s=SERVER...&action=ACTION`, the page's own): the
/// code the page then shows (HAProxy's: DONE, PART, NONE, ERRP, EXCD).
async fn post(rt: &Runtime, body: super::req_body::ReqBody) -> &'static str {
    let limited = http_body_util::Limited::new(body, MAX_FORM);
    let Ok(form) = limited.collect().await.map(|c| c.to_bytes()) else {
        return "EXCD";
    };
    let Form {
        backend: Some(b),
        action: Some(a),
        servers,
    } = Form::parse(&form)
    else {
        return "ERRP";
    };
    let ids = control::stats::proxy_ids(rt);
    let name = match b.strip_prefix('#') {
        Some(id) => match ids.iter().find(|(_, i)| id.parse() == Ok(*i)) {
            Some((n, _)) => n.clone(),
            None => return "ERRP",
        },
        None => b,
    };
    if !rt.backends.iter().any(|x| x.rt.name == name) {
        return "ERRP";
    }
    let make: fn(ServerName) -> Option<Command> = match a.as_str() {
        "ready" | "enable" => |n| Some(Command::SetState(n, clearway_core::Admin::Ready)),
        "drain" => |n| Some(Command::SetState(n, clearway_core::Admin::Drain)),
        "maint" | "disable" => |n| Some(Command::SetState(n, clearway_core::Admin::Maint)),
        "dhlth" => |n| Some(Command::DisableHealth(n)),
        "ehlth" => |n| Some(Command::EnableHealth(n)),
        "hrunn" | "start" => |n| Some(Command::SetHealth(n, control::Health::Up)),
        "hdown" | "stop" => |n| Some(Command::SetHealth(n, control::Health::Down)),
        "shutdown" => |n| Some(Command::ShutdownSessions(n)),
        // Known to HAProxy, not to Clearway (no agent checks, no NOLB state): the servers
        // named are counted as not changed.
        "hnolb" | "dagent" | "eagent" | "arunn" | "adown" => |_| None,
        _ => return "ERRP",
    };
    let (mut total, mut done) = (0, 0);
    for s in servers {
        total += 1;
        let Some(c) = make(ServerName {
            backend: name.clone(),
            server: s,
        }) else {
            continue;
        };
        let mut cli = control::Cli::at(Level::Admin);
        if control::execute(rt, &c, &mut cli).answer.is_empty() {
            done += 1;
        }
    }
    match (total, done) {
        (0, _) => "NONE",
        (t, d) if t == d => "DONE",
        (_, 0) => "ERRP",
        _ => "PART",
    }
}

/// The fields of the page's form that matter: the backend, the action, the servers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Form {
    pub backend: Option<String>,
    pub action: Option<String>,
    pub servers: Vec<String>,
}

impl Form {
    /// Reads `application/x-www-form-urlencoded` bytes; other fields are ignored.
    pub fn parse(body: &[u8]) -> Form {
        let mut f = Form::default();
        for pair in body.split(|&b| b == b'&') {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let v = url_decode(v);
            match k {
                b"b" => f.backend = Some(v),
                b"s" => f.servers.push(v),
                b"action" => f.action = Some(v),
                _ => {}
            }
        }
        f
    }
}

/// A form value: `+` is a space, `%XX` a byte.
fn url_decode(v: &[u8]) -> String {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < v.len() => {
                let hex = std::str::from_utf8(&v[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The answer of `http-request use-service prometheus-exporter`.
pub fn prometheus(rt: Option<std::sync::Arc<Runtime>>, req: &http::request::Parts) -> Response<ResBody> {
    let Some(rt) = rt else {
        return super::reply::default_page(503).response();
    };
    let (status, text) = match control::prometheus::scopes(req.uri.query()) {
        Ok(scopes) => (StatusCode::OK, control::prometheus::render(&rt, &scopes)),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    local(status, control::prometheus::CONTENT_TYPE, text, &req.method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_form_is_read() {
        let f = Form::parse(b"s=srv1&s=srv2&x&action=maint&b=%233&=");
        assert_eq!(f.backend.as_deref(), Some("#3"));
        assert_eq!(f.action.as_deref(), Some("maint"));
        assert_eq!(f.servers, ["srv1", "srv2"]);
        assert_eq!(Form::parse(b""), Form::default());
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(url_decode(b"%233"), "#3");
        assert_eq!(url_decode(b"a+b%2"), "a b%2");
        assert_eq!(url_decode(b"%zz%"), "%zz%");
        assert_eq!(url_decode(b""), "");
    }
}
