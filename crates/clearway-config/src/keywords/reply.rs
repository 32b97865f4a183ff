//! The answers a config writes: `return` and `deny` replies (a status, then the proxy's error
//! page, an error file, an `http-errors` section's page, or a body with its headers), and the
//! error pages of a proxy (`errorfile`, `errorloc*`, `http-error`, `errorfiles`) with the
//! `http-errors` sections they may come from.

use super::http::{header_name, tpl};
use super::Res;
use crate::ast::Directive;
use crate::rules::{ErrorFile, Reply, ReplyFrom, ERROR_STATUSES};

fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err((msg.into(), None))
}

thread_local! {
    /// The `http-errors` sections of the configuration being read, by name.
    static HTTP_ERRORS: std::cell::RefCell<Vec<(String, Vec<ErrorFile>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with `sections` as the `http-errors` sections replies and `errorfiles` name.
pub fn with_http_errors<R>(sections: &[(String, Vec<ErrorFile>)], f: impl FnOnce() -> R) -> R {
    let before = HTTP_ERRORS.with(|h| std::mem::replace(&mut *h.borrow_mut(), sections.to_vec()));
    let r = f();
    HTTP_ERRORS.with(|h| *h.borrow_mut() = before);
    r
}

/// The error files of `http-errors NAME`.
pub fn http_errors(what: &str, name: &str) -> Res<Vec<ErrorFile>> {
    HTTP_ERRORS.with(|h| {
        let h = h.borrow();
        h.iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .ok_or_else(|| {
                (
                    format!("'{what}': no http-errors section named '{name}'"),
                    crate::suggest::hint(name, h.iter().map(|(n, _)| n.as_str())),
                )
            })
    })
}

pub(super) fn status_code(what: &str, n: &str) -> Res<u16> {
    match n.parse::<u16>() {
        Ok(c) if (200..=599).contains(&c) => Ok(c),
        _ => fail(format!("'{what}': '{n}' is not an HTTP status code (200 to 599)")),
    }
}

/// `return|deny [status N] [content-type T] [default-errorfiles | errorfile F | errorfiles
/// NAME | string S | lf-string S | file F | lf-file F] [hdr NAME VALUE]...`.
pub(super) fn reply(what: &str, args: &[String]) -> Res<Reply> {
    let mut r = Reply {
        status: 200,
        content_type: None,
        body: Vec::new(),
        format: None,
        headers: Vec::new(),
        from: ReplyFrom::Fields,
    };
    // Where the answer comes from, by the keyword that said it (one at most).
    let mut source: Option<&str> = None;
    let mut section = None;
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut val = |name: &str| -> Res<&String> {
            it.next()
                .ok_or_else(|| (format!("'{what} {name}' expects a value"), None))
        };
        if matches!(
            k.as_str(),
            "default-errorfiles" | "errorfile" | "errorfiles" | "string" | "lf-string" | "file" | "lf-file"
        ) {
            if let Some(other) = source {
                return fail(format!("'{what}': '{k}' and '{other}' both say what to answer"));
            }
            source = Some(k.as_str());
        }
        match k.as_str() {
            "status" => r.status = status_code(what, val("status")?)?,
            "default-errorfiles" => r.from = ReplyFrom::Default,
            "errorfile" => r.from = ReplyFrom::Raw(read_errorfile(what, val(k)?)?),
            "errorfiles" => section = Some(val(k)?.clone()),
            "content-type" => r.content_type = Some(val("content-type")?.clone()),
            "string" => r.body = val(k)?.as_bytes().to_vec(),
            "lf-string" => r.format = Some(tpl(val(k)?)?),
            "file" | "lf-file" => {
                let f = val(k)?;
                let body = std::fs::read(super::paths::file(f))
                    .map_err(|e| (format!("'{what}': cannot read '{f}': {e}"), None))?;
                if k == "file" {
                    r.body = body;
                } else {
                    let text =
                        String::from_utf8(body).map_err(|_| (format!("'{what}': '{f}' is not UTF-8 text"), None))?;
                    r.format = Some(tpl(&text)?);
                }
            }
            "hdr" => {
                let name = header_name(what, Some(val("hdr")?))?;
                let v = it
                    .next()
                    .ok_or((format!("'{what} hdr {name}' expects a value"), None))?;
                r.headers.push((name, tpl(v)?));
            }
            other => {
                let all = [
                    "status",
                    "content-type",
                    "default-errorfiles",
                    "errorfile",
                    "errorfiles",
                    "string",
                    "lf-string",
                    "file",
                    "lf-file",
                    "hdr",
                ];
                return Err((
                    format!("'{what}': unknown parameter '{other}'"),
                    crate::suggest::hint(other, all),
                ));
            }
        }
    }
    // `errorfiles NAME`: that section's page for the status, else the proxy's error page.
    if let Some(name) = section {
        r.from = match http_errors(what, &name)?.into_iter().find(|e| e.status == r.status) {
            Some(e) => ReplyFrom::Raw(e.response),
            None => ReplyFrom::Default,
        };
    }
    if r.from != ReplyFrom::Fields && (r.content_type.is_some() || !r.headers.is_empty()) {
        return fail(format!(
            "'{what}': 'content-type' and 'hdr' go with a body of the line, not with an error file"
        ));
    }
    let has_body = !r.body.is_empty() || r.format.as_ref().is_some_and(|t| !t.0.is_empty());
    if has_body && r.content_type.is_none() {
        return fail(format!("'{what}': a body needs a 'content-type'"));
    }
    if !has_body {
        r.content_type = None;
    }
    Ok(r)
}

/// A status an error page may replace.
fn error_status(kw: &str, code: &str) -> Res<u16> {
    let status: u16 = code.parse().unwrap_or(0);
    if !ERROR_STATUSES.contains(&status) {
        return fail(format!(
            "'{kw}': status '{code}' cannot be replaced (one of {})",
            ERROR_STATUSES
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(status)
}

/// `errorloc[302|303] CODE URL`: the error answered by a redirection there, as HAProxy
/// writes it (`Cache-Control: no-cache`, an empty body).
pub fn errorloc(d: &Directive) -> Res<ErrorFile> {
    let kw = d.keyword();
    let (Some(code), Some(url), None) = (d.arg(1), d.arg(2), d.arg(3)) else {
        return fail(format!("'{kw}' expects a status code and a URL"));
    };
    let status = error_status(kw, code)?;
    if url.bytes().any(|b| b.is_ascii_control()) {
        return fail(format!("'{kw}': the URL holds a control character"));
    }
    let head = if kw == "errorloc303" {
        "303 See Other"
    } else {
        "302 Found"
    };
    let response =
        format!("HTTP/1.1 {head}\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: {url}\r\n\r\n");
    Ok(ErrorFile {
        span: d.span.clone(),
        status,
        response: response.into_bytes(),
    })
}

/// `http-error status CODE [content-type T] [string S | file F | errorfile F | errorfiles
/// NAME | default-errorfiles] [hdr NAME VALUE]...`: the page for that error, written as
/// `return` is (None: the built-in page). Formats (`lf-string`, `lf-file`, `%[...]` in a
/// header) are not supported yet.
pub fn http_error(d: &Directive) -> Res<(u16, Option<ErrorFile>)> {
    let what = "http-error";
    let (Some("status"), Some(code)) = (d.arg(1), d.arg(2)) else {
        return fail("'http-error' expects 'status CODE' first");
    };
    let status = error_status(what, code)?;
    let r = reply(what, &d.words[1..])?;
    match r.from {
        ReplyFrom::Raw(response) => {
            return Ok((
                status,
                Some(ErrorFile {
                    span: d.span.clone(),
                    status,
                    response,
                }),
            ))
        }
        // The built-in page: nothing replaces it.
        ReplyFrom::Default => return Ok((status, None)),
        ReplyFrom::Fields => {}
    }
    if r.format.is_some()
        || r.headers
            .iter()
            .any(|(_, t)| t.0.iter().any(|p| matches!(p, crate::rules::Piece::Expr(_))))
    {
        return fail(
            "'http-error': formats (lf-string, lf-file, %[...]) are not supported yet; use string, file or errorfile",
        );
    }
    // No reason phrase: the page's status line is written anew when it is sent.
    let mut response = format!("HTTP/1.1 {} \r\n", r.status);
    if let Some(ct) = &r.content_type {
        response.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    for (n, v) in &r.headers {
        let text: String =
            v.0.iter()
                .map(|p| match p {
                    crate::rules::Piece::Text(t) => t.as_str(),
                    crate::rules::Piece::Expr(_) => "",
                })
                .collect();
        response.push_str(&format!("{n}: {text}\r\n"));
    }
    response.push_str(&format!("Content-Length: {}\r\n\r\n", r.body.len()));
    let mut response = response.into_bytes();
    response.extend_from_slice(&r.body);
    Ok((
        status,
        Some(ErrorFile {
            span: d.span.clone(),
            status,
            response,
        }),
    ))
}

/// An error file's bytes: a complete HTTP response, or nothing (the connection is then
/// closed without an answer, as HAProxy does with an empty file).
fn read_errorfile(what: &str, file: &str) -> Res<Vec<u8>> {
    let path = &super::paths::file(file);
    let response =
        std::fs::read(path).map_err(|e| (format!("'{what}': cannot read '{}': {e}", path.display()), None))?;
    if response.is_empty() {
        return Ok(response);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    match httparse::Response::new(&mut headers).parse(&response) {
        Ok(httparse::Status::Complete(_)) => Ok(response),
        _ => Err((
            format!("'{what}': '{}' is not a complete HTTP response", path.display()),
            Some("the file holds the whole response: a status line, headers, an empty line, then the body".into()),
        )),
    }
}

/// `errorfile CODE FILE`: reads the file now, so a missing file is a config error.
pub fn errorfile(d: &Directive) -> Res<ErrorFile> {
    let (Some(code), Some(file), None) = (d.arg(1), d.arg(2), d.arg(3)) else {
        return fail("'errorfile' expects a status code and a file");
    };
    let status = error_status("errorfile", code)?;
    Ok(ErrorFile {
        span: d.span.clone(),
        status,
        response: read_errorfile(&format!("errorfile {code}"), file)?,
    })
}

/// `errorfiles NAME [CODE...]`: the section's files (those of the codes given), as if
/// written here one by one.
pub fn errorfiles(d: &Directive) -> Res<Vec<ErrorFile>> {
    let Some(name) = d.arg(1) else {
        return fail("'errorfiles' expects the name of an http-errors section");
    };
    let codes = d.words[2..]
        .iter()
        .map(|c| error_status("errorfiles", c))
        .collect::<Res<Vec<u16>>>()?;
    let files = http_errors("errorfiles", name)?;
    Ok(files
        .into_iter()
        .filter(|f| codes.is_empty() || codes.contains(&f.status))
        .map(|f| ErrorFile {
            span: d.span.clone(),
            ..f
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::rules::{HttpAction, ReplyFrom};

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("cw-reply-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("403.http"), "HTTP/1.1 403 Forbidden\r\nx-err: mine\r\n\r\nno").unwrap();
        std::fs::write(d.join("empty.http"), "").unwrap();
        d
    }

    #[test]
    fn error_pages_from_files_and_sections() {
        let d = dir();
        let cfg = format!(
            "http-errors site\n errorfile 403 {0}/403.http\n errorfile 500 {0}/empty.http\n\
             defaults\n mode http\n errorfiles site 403\n\
             frontend f\n bind :1\n errorfiles site\n http-error status 403 default-errorfiles\n\
             http-request deny deny_status 404 errorfiles site if {{ path /a }}\n\
             http-request deny status 403 errorfiles site if {{ path /b }}\n\
             http-request deny if {{ path /c }}\n",
            d.display()
        );
        let l = crate::parse_str("t.cfg", &cfg).unwrap();
        let f = l.config.frontend("f").unwrap();
        // The section's 403 and 500, then the 403 taken back by http-error.
        let statuses: Vec<u16> = f.http.errorfiles.iter().map(|e| e.status).collect();
        assert_eq!(statuses, [500]);
        assert!(
            f.http.errorfiles[0].response.is_empty(),
            "an empty file: close without answer"
        );
        let deny = |i: usize| match &f.http.request_rules[i].action {
            HttpAction::Deny { status, reply } => (*status, reply.as_ref().map(|r| r.from.clone())),
            other => panic!("{other:?}"),
        };
        // The section has no 404: the proxy's page.
        assert_eq!(deny(0), (404, None));
        assert!(matches!(deny(1), (403, Some(ReplyFrom::Raw(r))) if r.ends_with(b"no")));
        assert_eq!(deny(2), (403, None));
        for (line, says) in [
            ("errorfiles nope", "no http-errors section named 'nope'"),
            ("errorfiles site 999", "cannot be replaced"),
            ("http-request deny errorfiles site string x", "both say what to answer"),
            (
                "http-request return errorfile /dev/null content-type text/plain",
                "not with an error file",
            ),
        ] {
            let cfg = format!("http-errors site\nfrontend f\n bind :1\n mode http\n {line}\n");
            let e = crate::parse_str("t.cfg", &cfg).unwrap_err().to_string();
            assert!(e.contains(says), "{line}: {e}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
