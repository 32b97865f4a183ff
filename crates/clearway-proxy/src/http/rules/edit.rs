//! What the rules do to a message, once decided: the address headers (`option forwardfor`,
//! `option originalto`), header edits, the request target rewritten (with a regex's groups
//! expanded), and the response a `redirect` makes.

use super::*;

/// Adds the client's address header of `option forwardfor`, unless excluded.
pub fn forward_for(f: Option<&ForwardFor>, headers: &mut HeaderMap, client: IpAddr) {
    add_address(f, headers, client, "x-forwarded-for");
}

/// Adds the address the client reached, `option originalto`'s header, unless excluded.
pub fn original_to(f: Option<&ForwardFor>, headers: &mut HeaderMap, dst: IpAddr) {
    add_address(f, headers, dst, "x-original-to");
}

pub(super) fn add_address(f: Option<&ForwardFor>, headers: &mut HeaderMap, client: IpAddr, default: &'static str) {
    let Some(f) = f else { return };
    if let Some(net) = f.except.as_deref().and_then(|n| rules::parse_net(n).ok()) {
        if rules::net_contains(net, client) {
            return;
        }
    }
    let header = f
        .header
        .as_deref()
        .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok())
        .unwrap_or(HeaderName::from_static(default));
    if f.if_none && headers.contains_key(&header) {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&client.to_canonical().to_string()) {
        headers.append(header, v);
    }
}

/// A header change, its value already computed.
pub(super) enum Edit<'a> {
    None,
    Set(&'a HeaderName, HeaderValue),
    Add(&'a HeaderName, HeaderValue),
    Del(&'a HeaderName),
    DelMatching(rules::MatchKind, &'a str, Option<&'a Regex>),
    Replace(&'a HeaderName, &'a Regex, String, bool),
}

#[inline]
pub(super) fn prepare<'a>(a: &'a Action, s: &dyn Samples) -> Edit<'a> {
    let value = |n: &HeaderName, v: &Value| match v {
        Value::Fixed(v) => Some(v.clone()),
        Value::Rendered(t) => {
            let v = HeaderValue::from_str(&render(t, s)).ok();
            if v.is_none() {
                tracing::debug!("header {n}: the computed value is not a valid header value; rule skipped");
            }
            v
        }
    };
    match a {
        Action::Set(n, t) => value(n, t).map_or(Edit::None, |v| Edit::Set(n, v)),
        Action::Add(n, t) => value(n, t).map_or(Edit::None, |v| Edit::Add(n, v)),
        Action::Del(n) => Edit::Del(n),
        Action::DelMatching(kind, pat, re) => Edit::DelMatching(*kind, pat, re.as_ref()),
        Action::Replace(n, re, t, values) => Edit::Replace(n, re, render(t, s), *values),
        _ => Edit::None,
    }
}

pub(super) fn apply(e: Edit<'_>, headers: &mut HeaderMap) {
    match e {
        Edit::None => {}
        Edit::Set(n, v) => {
            headers.insert(n.clone(), v);
        }
        Edit::Add(n, v) => {
            headers.append(n.clone(), v);
        }
        Edit::Del(n) => {
            headers.remove(n);
        }
        Edit::DelMatching(kind, pat, re) => {
            let hit = |n: &str| match kind {
                rules::MatchKind::Beg => n.starts_with(pat),
                rules::MatchKind::End => n.ends_with(pat),
                rules::MatchKind::Sub => n.contains(pat),
                _ => re.is_some_and(|r| r.is_match(n)),
            };
            let names: Vec<HeaderName> = headers.keys().filter(|n| hit(n.as_str())).cloned().collect();
            for n in names {
                headers.remove(n);
            }
        }
        Edit::Replace(n, re, rep, values) => {
            let old: Vec<HeaderValue> = headers.get_all(n).iter().cloned().collect();
            if old.is_empty() {
                return;
            }
            headers.remove(n);
            // As HAProxy: a value the regex matches is replaced whole.
            let one = |v: &str| re.captures(v).map(|caps| expand(&rep, &caps));
            for v in old {
                let new = match v.to_str() {
                    Ok(text) if values => {
                        let pieces: Vec<String> = text
                            .split(',')
                            .map(|p| one(p.trim_start()).unwrap_or_else(|| p.to_string()))
                            .collect();
                        HeaderValue::from_str(&pieces.join(",")).unwrap_or(v)
                    }
                    Ok(text) => one(text).and_then(|t| HeaderValue::from_str(&t).ok()).unwrap_or(v),
                    Err(_) => v,
                };
                headers.append(n.clone(), new);
            }
        }
    }
}

/// `uri` with its path replaced, keeping the query.
/// A rule's new request target; the one the request came with is kept, the first time,
/// for `capture.req.uri`.
pub(super) fn retarget(req: &mut Parts, u: Uri) {
    if req.extensions.get::<crate::http::samples::OriginalUri>().is_none() {
        let was = std::mem::replace(&mut req.uri, u);
        req.extensions.insert(crate::http::samples::OriginalUri(was));
    } else {
        req.uri = u;
    }
}

/// The replacement of a `replace-*` rule: `\N` is group N of the match.
pub(super) fn expand(with: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::with_capacity(with.len());
    let mut chars = with.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('\\', Some(n)) => {
                chars.next();
                out.push_str(caps.get(n as usize).map_or("", |m| m.as_str()));
            }
            _ => out.push(c),
        }
    }
    out
}

/// `uri` with another path and query (its scheme and authority kept).
pub(super) fn with_path_query(uri: &Uri, pq: &str) -> Option<Uri> {
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    Uri::from_parts(parts).ok()
}

pub(super) fn with_path(uri: &Uri, path: &str) -> Option<Uri> {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    Uri::from_parts(parts).ok()
}

pub(super) fn redirect(r: &rules::Redirect, req: &Parts, s: &dyn Samples) -> http::Response<Bytes> {
    let (uri, headers) = (&req.uri, &req.headers);
    let target = render(&r.target, s);
    let mut path = uri.path().to_string();
    if r.append_slash && !path.ends_with('/') {
        path.push('/');
    }
    let query = match (uri.query(), r.drop_query) {
        (Some(q), false) => format!("?{q}"),
        _ => String::new(),
    };
    let location = match r.kind {
        RedirectKind::Location => target,
        // A prefix of "/" means "the same path on this site".
        RedirectKind::Prefix if target == "/" => format!("{path}{query}"),
        RedirectKind::Prefix => format!("{}{path}{query}", target.trim_end_matches('/')),
        RedirectKind::Scheme => {
            let host = headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
                .or_else(|| uri.authority().map(|a| a.to_string()))
                .unwrap_or_default();
            // The port belonged to the old scheme.
            let host = match host.rsplit_once(':') {
                Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']') && !h.is_empty() => h,
                _ => host.as_str(),
            }
            .to_string();
            format!("{target}://{host}{path}{query}")
        }
    };
    let mut page = default_page(r.code);
    page.body = Bytes::new();
    page.headers.retain(|(n, _)| n == http::header::CACHE_CONTROL);
    if let Ok(v) = HeaderValue::from_str(&location) {
        page.headers.push((http::header::LOCATION, v));
    }
    page.response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_references_are_expanded() {
        let re = Regex::new("^a(.*)-(.)$").unwrap();
        let caps = re.captures("abc-d").unwrap();
        assert_eq!(expand(r"\2\1$x\9", &caps), "dbc$x");
    }

    #[test]
    fn forwardfor_except_and_if_none() {
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        let mut h = HeaderMap::new();
        let f = ForwardFor::default();
        forward_for(Some(&f), &mut h, ip);
        assert_eq!(h["x-forwarded-for"], "192.0.2.2");
        let f = ForwardFor {
            except: Some("192.0.2.0/24".into()),
            ..Default::default()
        };
        let mut h = HeaderMap::new();
        forward_for(Some(&f), &mut h, ip);
        assert!(h.is_empty());
        let f = ForwardFor {
            header: Some("X-Client".into()),
            if_none: true,
            ..Default::default()
        };
        let mut h = HeaderMap::new();
        h.insert("x-client", HeaderValue::from_static("1.1.1.1"));
        forward_for(Some(&f), &mut h, ip);
        assert_eq!(h.get_all("x-client").iter().count(), 1);
    }
}
