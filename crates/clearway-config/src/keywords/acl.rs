//! `acl NAME CRITERION [FLAGS] PATTERNS...`, conditions (`if|unless` with `!`, `||`, `or` and
//! anonymous `{ ... }` ACLs), sample expressions and `%[expr]` templates. Knows the criteria and their default
//! match kinds; must not know which keyword a condition belongs to.

use super::Res;
use crate::model::Userlist;
use crate::rules::{
    parse_int_range, parse_net, AclTest, CertField, Chain, Condition, Dn, Expr, Fetch, MatchKind, Piece, Template,
    Term, Type,
};
use std::sync::Arc;

thread_local! {
    /// The userlists of the configuration being read, which `http_auth(LIST)` names: set by
    /// the resolver for the proxy sections (a userlist may come after the line naming it).
    static USERLISTS: std::cell::RefCell<Vec<Arc<Userlist>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with `lists` as the userlists ACLs may name.
pub fn with_userlists<R>(lists: &[Arc<Userlist>], f: impl FnOnce() -> R) -> R {
    let before = USERLISTS.with(|u| std::mem::replace(&mut *u.borrow_mut(), lists.to_vec()));
    let r = f();
    USERLISTS.with(|u| *u.borrow_mut() = before);
    r
}

fn userlist(name: &str) -> Option<Arc<Userlist>> {
    USERLISTS.with(|u| u.borrow().iter().find(|l| l.name == name).cloned())
}

/// A named ACL as declared so far in a section: every line with that name, any of which may match.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub tests: Vec<AclTest>,
}

/// A sample expression `FETCH[(ARGS)][,CONV[(ARGS)]]...` and the match kind it implies for
/// `-m` less ACLs: the fetch's (`path_beg`), or after converters their output type's.
pub fn expression(word: &str) -> Result<(Expr, MatchKind), String> {
    let (call, calls) = clearway_sample::args::parse(word)?;
    let (fetch, kind) = criterion(&call, word)?;
    if calls.is_empty() {
        return Ok((Expr::new(fetch), kind));
    }
    let (convs, out) = Chain::new(&calls, fetch.kind()).map_err(|e| format!("'{word}': {e}"))?;
    let kind = match out {
        Type::Bool => MatchKind::Bool,
        Type::Int => MatchKind::Int,
        Type::Addr | Type::Ipv4 | Type::Ipv6 => MatchKind::Ip,
        Type::Bin => MatchKind::Bin,
        _ => MatchKind::Str,
    };
    Ok((Expr { fetch, convs }, kind))
}

/// The fetch a call names, and the match kind it implies.
fn criterion(call: &clearway_sample::args::Call, word: &str) -> Result<(Fetch, MatchKind), String> {
    let base = call.name.as_str();
    // `fetch()`: no argument, as HAProxy reads it.
    let joined = call.args.as_ref().map(|a| a.join(","));
    let arg = joined.as_deref().filter(|a| !a.is_empty());
    let one = |what: &str| -> Result<&str, String> {
        match call.args() {
            [a] => Ok(a.as_str()),
            _ => Err(format!("'{base}' expects {what}, e.g. '{base}(...)'")),
        }
    };
    let header = |kind| -> Result<(Fetch, MatchKind), String> {
        // `hdr(NAME[,OCC])`: only the name is used; every occurrence is tried.
        let name = arg
            .map(|a| a.split(',').next().unwrap_or("").trim())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("'{base}' needs a header name, e.g. '{base}(host)'"))?;
        Ok((Fetch::Hdr(name.to_ascii_lowercase()), kind))
    };
    let no_arg = |f: Fetch, m: MatchKind| -> Result<(Fetch, MatchKind), String> {
        match arg {
            Some(_) => Err(format!("'{base}' takes no argument")),
            None => Ok((f, m)),
        }
    };
    use MatchKind as M;
    let suffix = |s: &str| match s {
        "" => Some(M::Str),
        "_beg" => Some(M::Beg),
        "_end" => Some(M::End),
        "_sub" => Some(M::Sub),
        "_reg" => Some(M::Reg),
        "_dom" => Some(M::Dom),
        "_dir" => Some(M::Dir),
        "_len" => Some(M::Len),
        _ => None,
    };
    match base {
        "src" => no_arg(Fetch::Src, M::Ip),
        "dst" => no_arg(Fetch::Dst, M::Ip),
        "src_port" => no_arg(Fetch::SrcPort, M::Int),
        "dst_port" => no_arg(Fetch::DstPort, M::Int),
        "method" => no_arg(Fetch::Method, M::Str),
        "req.ver" | "req_ver" => no_arg(Fetch::Version, M::Str),
        "query" => no_arg(Fetch::Query, M::Str),
        "ssl_fc" => no_arg(Fetch::SslFc, M::Bool),
        "ssl_fc_has_sni" => no_arg(Fetch::SslFcHasSni, M::Bool),
        "fc_rcvd_proxy" => no_arg(Fetch::FcRcvdProxy, M::Bool),
        "fc_pp_authority" => no_arg(Fetch::FcPpAuthority, M::Str),
        "fc_pp_unique_id" => no_arg(Fetch::FcPpUniqueId, M::Str),
        "ssl_fc_protocol" => no_arg(Fetch::SslFcProtocol, M::Str),
        "ssl_fc_cipher" => no_arg(Fetch::SslFcCipher, M::Str),
        "ssl_fc_alpn" => no_arg(Fetch::SslFcAlpn, M::Str),
        "ssl_c_used" | "ssl_fc_has_crt" => no_arg(Fetch::Cert(CertField::Used), M::Bool),
        "ssl_c_verify" => no_arg(Fetch::Cert(CertField::Verify), M::Int),
        "ssl_c_err" => no_arg(Fetch::Cert(CertField::Err), M::Int),
        "ssl_c_ca_err" => no_arg(Fetch::Cert(CertField::CaErr), M::Int),
        "ssl_c_serial" => no_arg(Fetch::Cert(CertField::Serial), M::Bin),
        "ssl_c_sha1" => no_arg(Fetch::Cert(CertField::Sha1), M::Bin),
        "ssl_c_der" => no_arg(Fetch::Cert(CertField::Der), M::Bin),
        "ssl_c_notbefore" => no_arg(Fetch::Cert(CertField::NotBefore), M::Str),
        "ssl_c_notafter" => no_arg(Fetch::Cert(CertField::NotAfter), M::Str),
        "ssl_c_version" => no_arg(Fetch::Cert(CertField::Version), M::Int),
        "ssl_c_sig_alg" => no_arg(Fetch::Cert(CertField::SigAlg), M::Str),
        "ssl_c_key_alg" => no_arg(Fetch::Cert(CertField::KeyAlg), M::Str),
        "ssl_c_s_dn" | "ssl_c_i_dn" => Ok((
            Fetch::Cert(CertField::Dn {
                issuer: base == "ssl_c_i_dn",
                dn: dn_args(base, arg)?,
            }),
            M::Str,
        )),
        "req.ssl_sni" | "req_ssl_sni" => no_arg(Fetch::ReqSslSni, M::Str),
        "req.ssl_hello_type" | "req_ssl_hello_type" => no_arg(Fetch::ReqSslHelloType, M::Int),
        "req.ssl_alpn" => no_arg(Fetch::ReqSslAlpn, M::Str),
        "res.len" => no_arg(Fetch::ResLen, M::Int),
        "res.payload" => {
            let (offset, len) = arg
                .and_then(|a| a.split_once(','))
                .and_then(|(o, l)| Some((o.trim().parse().ok()?, l.trim().parse().ok()?)))
                .ok_or_else(|| format!("'{base}' expects an offset and a length, e.g. '{base}(0,4)'"))?;
            Ok((Fetch::ResPayload { offset, len }, M::Bin))
        }
        "req.len" | "req_len" => no_arg(Fetch::ReqLen, M::Int),
        "req.payload" | "payload" => {
            let (offset, len) = arg
                .and_then(|a| a.split_once(','))
                .and_then(|(o, l)| Some((o.trim().parse().ok()?, l.trim().parse().ok()?)))
                .ok_or_else(|| format!("'{base}' expects an offset and a length, e.g. '{base}(0,4)'"))?;
            Ok((Fetch::ReqPayload { offset, len }, M::Bin))
        }
        "http_auth" | "http_auth_group" => {
            let list = arg
                .map(str::trim)
                .ok_or_else(|| format!("'{base}' needs a userlist, e.g. '{base}(admins)'"))?;
            let ul = userlist(list).ok_or_else(|| format!("'{word}': no userlist named '{list}'"))?;
            Ok(if base == "http_auth" {
                (Fetch::HttpAuth(ul), M::Bool)
            } else {
                (Fetch::HttpAuthGroup(ul), M::Str)
            })
        }
        "pathq" => no_arg(Fetch::PathQ, M::Str),
        "url_ip" => no_arg(Fetch::UrlIp, M::Ip),
        "url_port" => no_arg(Fetch::UrlPort, M::Int),
        "http_auth_type" => no_arg(Fetch::HttpAuthType, M::Str),
        "http_auth_user" => no_arg(Fetch::HttpAuthUser, M::Str),
        "http_auth_pass" => no_arg(Fetch::HttpAuthPass, M::Str),
        "var" => {
            let (name, default) = match call.args() {
                [n] => (n, None),
                [n, d] => (n, Some(d.clone())),
                _ => return Err(format!("'{word}': expects a variable name, e.g. 'var(txn.name)'")),
            };
            let name = clearway_sample::VarName::parse(name)?;
            Ok((Fetch::Var { name, default }, M::Str))
        }
        "str" => Ok((Fetch::Str(one("a text")?.to_string()), M::Str)),
        "int" => {
            let n = one("an integer")?;
            let n = n
                .trim()
                .parse()
                .map_err(|_| format!("'{word}': '{n}' is not an integer"))?;
            Ok((Fetch::Int(n), M::Int))
        }
        "bool" => {
            let b = one("a boolean")?;
            let b = match b {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => return Err(format!("'{word}': '{b}' is not a boolean (0, 1, true, false)")),
            };
            Ok((Fetch::Bool(b), M::Bool))
        }
        "bin" => {
            let h = one("hexadecimal bytes")?;
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|x| u8::from_str_radix(x, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| format!("'{word}': '{h}' is not hexadecimal bytes"))?;
            Ok((Fetch::Bin(bytes), M::Bin))
        }
        "ipv4" | "ipv6" => {
            let a = one("an address")?;
            let ip: std::net::IpAddr = a.parse().map_err(|_| format!("'{word}': '{a}' is not an address"))?;
            if ip.is_ipv4() != (base == "ipv4") {
                return Err(format!("'{word}': '{a}' is not an {base} address"));
            }
            Ok((Fetch::Ip(ip), M::Ip))
        }
        "env" => Ok((Fetch::Env(one("a variable name")?.to_string()), M::Str)),
        "always_true" => no_arg(Fetch::Always(true), M::Bool),
        "always_false" => no_arg(Fetch::Always(false), M::Bool),
        "status" => no_arg(Fetch::Status, M::Int),
        "hdr_ip" => header(M::Ip),
        "req.hdr" | "req.fhdr" | "fhdr" => header(M::Str),
        "res.hdr" | "shdr" => {
            let (f, m) = header(M::Str)?;
            match f {
                Fetch::Hdr(n) => Ok((Fetch::ResHdr(n), m)),
                _ => Ok((f, m)),
            }
        }
        b => {
            for (prefix, fetch) in [
                ("path", Fetch::Path),
                ("url", Fetch::Url),
                ("ssl_fc_sni", Fetch::SslFcSni),
            ] {
                if let Some(m) = b.strip_prefix(prefix).and_then(suffix) {
                    return no_arg(fetch, m);
                }
            }
            if let Some(m) = b.strip_prefix("hdr").and_then(suffix) {
                return header(m);
            }
            Err(format!("unknown ACL criterion '{word}'"))
        }
    }
}

/// `ssl_c_s_dn` arguments: `[ENTRY[,OCC[,FORMAT]]]`.
fn dn_args(base: &str, arg: Option<&str>) -> Result<Dn, String> {
    let Some(arg) = arg else {
        return Ok(Dn::default());
    };
    let mut parts = arg.split(',').map(str::trim);
    let entry = parts.next().filter(|e| !e.is_empty()).map(String::from);
    let occ = match parts.next() {
        None | Some("") => 1,
        Some(n) => n
            .parse::<i64>()
            .map_err(|_| format!("'{base}({arg})': the occurrence '{n}' is not a number"))?,
    };
    let rfc2253 = match parts.next() {
        None | Some("") => false,
        Some("rfc2253") => true,
        Some(f) => {
            return Err(format!(
                "'{base}({arg})': the format '{f}' is unknown (only rfc2253 exists)"
            ))
        }
    };
    if parts.next().is_some() {
        return Err(format!(
            "'{base}({arg})': at most three arguments (entry, occurrence, format)"
        ));
    }
    Ok(Dn { entry, occ, rfc2253 })
}

const CRITERIA: &[&str] = &[
    "src",
    "dst",
    "src_port",
    "dst_port",
    "method",
    "path",
    "path_beg",
    "path_end",
    "path_sub",
    "path_reg",
    "path_dir",
    "path_dom",
    "url",
    "url_beg",
    "hdr",
    "hdr_beg",
    "hdr_end",
    "hdr_sub",
    "hdr_dom",
    "hdr_reg",
    "hdr_ip",
    "req.hdr",
    "ssl_fc",
    "ssl_fc_sni",
    "ssl_fc_has_sni",
    "fc_rcvd_proxy",
    "fc_pp_authority",
    "fc_pp_unique_id",
    "ssl_fc_protocol",
    "ssl_fc_cipher",
    "ssl_fc_alpn",
    "ssl_fc_has_crt",
    "ssl_c_used",
    "ssl_c_verify",
    "ssl_c_err",
    "ssl_c_ca_err",
    "ssl_c_s_dn",
    "ssl_c_i_dn",
    "ssl_c_serial",
    "ssl_c_sha1",
    "ssl_c_der",
    "ssl_c_notbefore",
    "ssl_c_notafter",
    "ssl_c_version",
    "ssl_c_sig_alg",
    "ssl_c_key_alg",
    "req.ssl_sni",
    "req.ssl_hello_type",
    "req.ssl_alpn",
    "req.len",
    "req.payload",
    "res.len",
    "res.payload",
    "query",
    "req.ver",
    "pathq",
    "url_ip",
    "url_port",
    "http_auth",
    "http_auth_group",
    "http_auth_type",
    "http_auth_user",
    "http_auth_pass",
];

/// Parses `CRITERION [FLAGS] PATTERNS...` (the words after the ACL name, or inside `{ }`).
pub fn test(words: &[String]) -> Result<AclTest, (String, Option<String>)> {
    let Some(first) = words.first() else {
        return Err(("an ACL needs a criterion, e.g. 'path_beg /api'".into(), None));
    };
    let (expr, mut matcher) = expression(first).map_err(|e| {
        let base = first.split('(').next().unwrap_or(first);
        let hint = if e.starts_with("unknown") {
            crate::suggest::hint(base, CRITERIA.iter().copied())
        } else {
            None
        };
        (e, hint)
    })?;
    let mut icase = false;
    let mut i = 1;
    let mut patterns = Vec::new();
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-i" => icase = true,
            "-n" | "-u" => {}
            "-m" => {
                i += 1;
                let kind = words
                    .get(i)
                    .ok_or("'-m' expects a match method (str, beg, end, sub, reg, ...)")
                    .map_err(|e| (e.to_string(), None))?;
                matcher = match kind.as_str() {
                    "str" => MatchKind::Str,
                    "beg" => MatchKind::Beg,
                    "end" => MatchKind::End,
                    "sub" => MatchKind::Sub,
                    "reg" => MatchKind::Reg,
                    "dom" => MatchKind::Dom,
                    "dir" => MatchKind::Dir,
                    "len" => MatchKind::Len,
                    "ip" => MatchKind::Ip,
                    "int" => MatchKind::Int,
                    "bool" => MatchKind::Bool,
                    "found" => MatchKind::Found,
                    "bin" => MatchKind::Bin,
                    other => {
                        let all = [
                            "str", "beg", "end", "sub", "reg", "dom", "dir", "len", "ip", "int", "bool", "found", "bin",
                        ];
                        return Err((
                            format!("unknown match method '-m {other}'"),
                            crate::suggest::hint(other, all),
                        ));
                    }
                };
            }
            "-f" => {
                i += 1;
                let path = words
                    .get(i)
                    .ok_or(("'-f' expects a file of patterns".to_string(), None))?;
                let text = std::fs::read_to_string(super::paths::file(path))
                    .map_err(|e| (format!("cannot read pattern file '{path}': {e}"), None))?;
                patterns.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from),
                );
            }
            "--" => {
                i += 1;
                break;
            }
            f if f.starts_with('-') && f.len() > 1 && !matches!(matcher, MatchKind::Int) => {
                return Err((
                    format!("unknown ACL flag '{f}'"),
                    Some("flags are -i, -m METHOD, -f FILE, -n, -u and --".into()),
                ));
            }
            _ => break,
        }
        i += 1;
    }
    let mut rest: Vec<String> = words[i.min(words.len())..].to_vec();
    // Integer operators: `gt 10` and friends become ranges.
    if matches!(matcher, MatchKind::Int | MatchKind::Len) {
        if let [op, n] = rest.as_slice() {
            let v: i64 = n.parse().map_err(|_| (format!("'{n}' is not an integer"), None))?;
            let range = match op.as_str() {
                "eq" => Some(format!("{v}")),
                "ge" => Some(format!("{v}:")),
                "gt" => Some(format!("{}:", v.saturating_add(1))),
                "le" => Some(format!(":{v}")),
                "lt" => Some(format!(":{}", v.saturating_sub(1))),
                _ => None,
            };
            if let Some(r) = range {
                rest = vec![r];
            }
        }
    }
    patterns.extend(rest);
    for p in &patterns {
        let checked = match matcher {
            MatchKind::Ip => parse_net(p).map(|_| ()),
            MatchKind::Int | MatchKind::Len => parse_int_range(p).map(|_| ()),
            MatchKind::Bin if p.len() % 2 != 0 || !p.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Err(format!("'{p}' is not a hexadecimal string"))
            }
            MatchKind::Reg => regex::RegexBuilder::new(p)
                .case_insensitive(icase)
                .build()
                .map(|_| ())
                .map_err(|e| format!("bad regular expression '{p}': {e}")),
            _ => Ok(()),
        };
        checked.map_err(|e| (e, None))?;
    }
    let Expr { fetch, convs } = expr;
    if let Fetch::HttpAuthGroup(ul) = &fetch {
        // As HAProxy: the groups must be the list's.
        if let Some(g) = patterns.iter().find(|g| !ul.groups.contains(g)) {
            return Err((format!("group '{g}' is not declared in userlist '{}'", ul.name), None));
        }
    }
    if patterns.is_empty() && !matches!(matcher, MatchKind::Bool | MatchKind::Found) {
        return Err((
            format!("the ACL criterion '{first}' needs at least one pattern to match"),
            Some("add a value, or use '-m found' to test that it exists".into()),
        ));
    }
    Ok(AclTest {
        fetch,
        convs,
        matcher,
        icase,
        patterns,
    })
}

/// ACLs every proxy has without declaring them, as in HAProxy.
fn predefined(name: &str) -> Option<AclTest> {
    let t = |fetch: Fetch, matcher: MatchKind, patterns: &[&str]| AclTest {
        fetch,
        convs: Chain::default(),
        matcher,
        icase: false,
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
    };
    Some(match name {
        "TRUE" => t(Fetch::Always(true), MatchKind::Bool, &[]),
        "FALSE" => t(Fetch::Always(false), MatchKind::Bool, &[]),
        "LOCALHOST" => t(Fetch::Src, MatchKind::Ip, &["127.0.0.0/8", "::1"]),
        "HTTP" => t(Fetch::Method, MatchKind::Found, &[]),
        "HTTP_1.0" => t(Fetch::Version, MatchKind::Str, &["1.0"]),
        "HTTP_1.1" => t(Fetch::Version, MatchKind::Str, &["1.1"]),
        "HTTP_2.0" => t(Fetch::Version, MatchKind::Str, &["2.0"]),
        "HTTP_URL_SLASH" => t(Fetch::Url, MatchKind::Beg, &["/"]),
        "HTTP_URL_STAR" => t(Fetch::Url, MatchKind::Str, &["*"]),
        "METH_GET" => t(Fetch::Method, MatchKind::Str, &["GET", "HEAD"]),
        "METH_HEAD" => t(Fetch::Method, MatchKind::Str, &["HEAD"]),
        "METH_POST" => t(Fetch::Method, MatchKind::Str, &["POST"]),
        "METH_PUT" => t(Fetch::Method, MatchKind::Str, &["PUT"]),
        "METH_DELETE" => t(Fetch::Method, MatchKind::Str, &["DELETE"]),
        "METH_OPTIONS" => t(Fetch::Method, MatchKind::Str, &["OPTIONS"]),
        "METH_CONNECT" => t(Fetch::Method, MatchKind::Str, &["CONNECT"]),
        "METH_TRACE" => t(Fetch::Method, MatchKind::Str, &["TRACE"]),
        _ => return None,
    })
}

/// Parses the words of a condition, starting at `if` or `unless`, against the ACLs declared so far.
pub fn condition(words: &[String], acls: &[Named]) -> Result<Condition, (String, Option<String>)> {
    let unless = match words.first().map(String::as_str) {
        Some("if") => false,
        Some("unless") => true,
        Some(w) => return Err((format!("expected 'if' or 'unless' before a condition, not '{w}'"), None)),
        None => return Err(("expected 'if' or 'unless'".into(), None)),
    };
    // `!{ ... }`, written without a space as HAProxy accepts it, is `! { ... }`.
    let split: Vec<String>;
    let words = if words.iter().any(|w| w == "!{") {
        split = words
            .iter()
            .flat_map(|w| match w.as_str() {
                "!{" => vec!["!".to_string(), "{".to_string()],
                _ => vec![w.clone()],
            })
            .collect();
        &split[..]
    } else {
        words
    };
    let mut any_of = vec![Vec::new()];
    let mut i = 1;
    let mut negate = false;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "||" | "or" => {
                if negate || any_of.last().is_some_and(Vec::is_empty) {
                    return Err((format!("'{w}' without an ACL before it"), None));
                }
                any_of.push(Vec::new());
            }
            "!" => negate = !negate,
            "{" => {
                let end = words[i..]
                    .iter()
                    .position(|w| w == "}")
                    .map(|p| p + i)
                    .ok_or(("anonymous ACL '{' is not closed with '}'".to_string(), None))?;
                let inner = &words[i + 1..end];
                let test = test(inner)?;
                any_of.last_mut().expect("a group").push(Term {
                    negate,
                    name: format!("{{ {} }}", inner.join(" ")),
                    tests: vec![test],
                });
                negate = false;
                i = end;
            }
            name => {
                let name = name.strip_prefix('!').map_or(name, |n| {
                    negate = !negate;
                    n
                });
                let tests = match acls.iter().find(|a| a.name == name) {
                    Some(a) => a.tests.clone(),
                    None => match predefined(name) {
                        Some(t) => vec![t],
                        None => {
                            let hint = crate::suggest::hint(name, acls.iter().map(|a| a.name.as_str()));
                            return Err((
                                format!("no ACL named '{name}' is declared before this line"),
                                hint.or(Some("declare it first: 'acl NAME CRITERION VALUES'".into())),
                            ));
                        }
                    },
                };
                any_of.last_mut().expect("a group").push(Term {
                    negate,
                    name: name.to_string(),
                    tests,
                });
                negate = false;
            }
        }
        i += 1;
    }
    if negate || any_of.iter().any(Vec::is_empty) {
        return Err(("incomplete condition: an ACL is missing".into(), None));
    }
    Ok(Condition { unless, any_of })
}

/// Splits a rule's words at `if`/`unless`: the action's words and the parsed condition.
pub fn split_condition<'a>(words: &'a [String], acls: &[Named]) -> Res<(&'a [String], Option<Condition>)> {
    match words.iter().position(|w| w == "if" || w == "unless") {
        Some(at) => Ok((&words[..at], Some(condition(&words[at..], acls)?))),
        None => Ok((words, None)),
    }
}

/// A value with `%[EXPR]` sample expressions (HAProxy's log-format subset for samples).
pub fn template(s: &str) -> Result<Template, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("%[") {
        text.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let (call, calls, used) = clearway_sample::args::parse_prefix(after).map_err(|e| format!("'{s}': {e}"))?;
        if after.as_bytes().get(used) != Some(&b']') {
            return Err(format!("'{s}': '%[' is not closed with ']'"));
        }
        let word = &after[..used];
        let (fetch, _) = criterion(&call, word).map_err(|e| format!("'{s}': {e}"))?;
        let (convs, out) = Chain::new(&calls, fetch.kind()).map_err(|e| format!("'{s}': {e}"))?;
        // A binary fetch written as it is (`%[ssl_c_sha1]`) would put raw bytes in a
        // header: refused with a hint, where HAProxy writes them. What converters make
        // binary (`b64dec`) is mostly text, and is written up to its first NUL, as HAProxy.
        if out == Type::Bin && calls.is_empty() {
            return Err(format!(
                "'{s}': '{word}' is binary, and written as it is it would put raw bytes in the text: \
                 write '%[{word},hex]'"
            ));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Expr(Expr { fetch, convs }));
        rest = &after[used + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Template(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn criteria_and_flags() {
        let t = test(&w("hdr_beg(Host) -i api.")).unwrap();
        assert_eq!(t.fetch, Fetch::Hdr("host".into()));
        assert_eq!(t.matcher, MatchKind::Beg);
        assert!(t.icase);
        let t = test(&w("path -m reg ^/a+$")).unwrap();
        assert_eq!(t.matcher, MatchKind::Reg);
        assert_eq!(test(&w("dst_port gt 1023")).unwrap().patterns, vec!["1024:"]);
        assert!(test(&w("src 10.0.0.0/40")).is_err());
        assert!(test(&w("path_reg (")).is_err());
        let e = test(&w("path_bgn /x")).unwrap_err();
        assert_eq!(e.1.as_deref(), Some("did you mean 'path_beg'?"));
        assert_eq!(test(&w("ssl_fc")).unwrap().matcher, MatchKind::Bool);
        assert!(test(&w("path")).is_err());
        // Converters: the match kind follows what they give.
        let t = test(&w("path,field(2,/),length gt 3")).unwrap();
        assert_eq!((t.matcher, t.convs.0.len()), (MatchKind::Int, 2));
        assert_eq!(test(&w("src,ipmask(24) 10.0.0.0")).unwrap().matcher, MatchKind::Ip);
        let t = test(&w("var(txn.x) -m str a")).unwrap();
        assert!(matches!(t.fetch, Fetch::Var { .. }));
        assert!(test(&w("var(x) a")).is_err());
        assert!(test(&w("path,nope a")).unwrap_err().0.contains("unknown converter"));
        assert_eq!(test(&w("str(a),lower a")).unwrap().fetch, Fetch::Str("a".into()));
    }

    #[test]
    fn conditions() {
        let acls = vec![Named {
            name: "api".into(),
            tests: vec![test(&w("path_beg /api")).unwrap()],
        }];
        let c = condition(&w("if api || { src 192.0.2.0/24 } !METH_GET"), &acls).unwrap();
        assert!(!c.unless);
        assert_eq!(c.any_of.len(), 2);
        assert_eq!(c.any_of[1].len(), 2);
        assert!(c.any_of[1][1].negate);
        let c = condition(&w("unless !api"), &acls).unwrap();
        assert!(c.unless && c.any_of[0][0].negate);
        assert!(condition(&w("if nope"), &acls).is_err());
        assert!(condition(&w("if api ||"), &acls).is_err());
        assert!(condition(&w("if { path_beg /x"), &acls).is_err());
        // `!{` without a space, as HAProxy reads it.
        let c = condition(&w("if !{ ssl_fc } api"), &acls).unwrap();
        assert!(c.any_of[0][0].negate && !c.any_of[0][1].negate, "{c:?}");
        assert_eq!(c.any_of[0][0].tests[0].fetch, Fetch::SslFc);
    }

    #[test]
    fn templates() {
        let t = template("for=%[src];host=%[hdr(host)]").unwrap();
        assert_eq!(
            t.0,
            vec![
                Piece::Text("for=".into()),
                Piece::Expr(Expr::new(Fetch::Src)),
                Piece::Text(";host=".into()),
                Piece::Expr(Expr::new(Fetch::Hdr("host".into())))
            ]
        );
        assert!(template("%[src").is_err());
        // Binary samples only as text (hexadecimal or otherwise).
        assert!(template("%[ssl_c_serial,hex]").is_ok());
        assert!(template("%[ssl_c_sha1]").unwrap_err().contains("ssl_c_sha1,hex"));
        // What a decoder gives is written as text, as HAProxy does.
        assert!(template("%[hdr(x),b64dec]").is_ok());
        assert!(template("%[src,hex]").is_ok());
        assert!(template("%[src_port,add(1)]").is_ok());
        assert!(template("%[src,add(1)]").unwrap_err().contains("integer input"));
        assert!(template("%[path,add(1)").is_err());
        let t = template("x%[path,field(2,/),lower]y").unwrap();
        assert!(matches!(&t.0[1], Piece::Expr(e) if e.convs.0.len() == 2));
        assert!(template("%[path,nope]").unwrap_err().contains("unknown converter"));
    }

    #[test]
    fn certificate_fetches() {
        let (e, m) = expression("ssl_c_s_dn(OU,-2,rfc2253)").unwrap();
        assert_eq!(m, MatchKind::Str);
        assert_eq!(
            e.fetch,
            Fetch::Cert(CertField::Dn {
                issuer: false,
                dn: Dn {
                    entry: Some("OU".into()),
                    occ: -2,
                    rfc2253: true
                }
            })
        );
        assert!(expression("ssl_c_i_dn(CN,x)").is_err());
        assert!(expression("ssl_c_i_dn(CN,1,ldap)").is_err());
        assert!(test(&["ssl_c_serial".to_string(), "0A1b".to_string()]).is_ok());
        assert!(test(&["ssl_c_serial".to_string(), "0A1".to_string()]).is_err());
    }
}
