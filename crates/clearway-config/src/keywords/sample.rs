//! Sample expressions as configs write them: the fetch names HAProxy has and their
//! arguments (with the match kind each implies in an ACL), the converter chain after them,
//! and `%[EXPR]` templates. Knows names and arguments; must not know which keyword uses them.

use crate::model::Userlist;
use crate::rules::{CertField, Chain, Dn, Expr, Fetch, MatchKind, Piece, ProxyState, ServerState, Template, Type};
use std::sync::Arc;

thread_local! {
    /// The userlists of the configuration being read, which `http_auth(LIST)` names: set by
    /// the resolver for the proxy sections (a userlist may come after the line naming it).
    static USERLISTS: std::cell::RefCell<Vec<Arc<Userlist>>> = const { std::cell::RefCell::new(Vec::new()) };
}

thread_local! {
    /// The proxy whose lines are being read: the table stick-table fetches and actions use
    /// when they name none.
    static PROXY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The proxy whose lines come next.
pub fn set_proxy(name: &str) {
    PROXY.with(|p| name.clone_into(&mut p.borrow_mut()));
}

/// `table` when given, else the current proxy's.
pub fn table_or_own(table: Option<&str>) -> Option<String> {
    table
        .map(String::from)
        .or_else(|| PROXY.with(|p| Some(p.borrow().clone()).filter(|n| !n.is_empty())))
}

/// What HAProxy's stick-table fetches read, beside what Clearway has: a fetch naming one of
/// these is refused as not supported yet, any other name is not a stick-table fetch.
const HAPROXY_STICK_DATA: &[&str] = &[
    "bytes_in_cnt",
    "bytes_in_rate",
    "bytes_out_cnt",
    "bytes_out_rate",
    "get_gpc1",
    "gpc1_rate",
    "inc_gpc1",
    "clr_gpc1",
    "get_gpc",
    "gpc_rate",
    "inc_gpc",
    "clr_gpc",
    "get_gpt",
    "glitch_cnt",
    "kbytes_in",
    "kbytes_out",
    "trackers",
    "updt_conn_cnt",
];

/// A stick-table fetch: `sc_DATA(N[,T])`, `scN_DATA([T])`, `src_DATA([T])`; None when `base`
/// names none.
fn stick_fetch(base: &str, args: &[String], word: &str) -> Option<Result<(Fetch, MatchKind), String>> {
    use crate::model::StickData as D;
    use crate::rules::{StickSlot, StickWhat as W};
    let (slot, data, rest): (Option<StickSlot>, &str, &[String]) = if let Some(d) = base.strip_prefix("sc_") {
        let n = args
            .first()
            .and_then(|a| a.trim().parse::<u8>().ok())
            .filter(|n| *n < 3);
        (n.map(StickSlot::Sc), d, args.get(1..).unwrap_or_default())
    } else if let Some(d) = base.strip_prefix("src_") {
        (Some(StickSlot::Src), d, args)
    } else {
        let n = base.strip_prefix("sc")?.chars().next()?.to_digit(10)?;
        let d = base.get(4..).filter(|_| base.as_bytes().get(3) == Some(&b'_'))?;
        ((n < 3).then_some(StickSlot::Sc(n as u8)), d, args)
    };
    let what = match data {
        "conn_cnt" => W::Get(D::ConnCnt),
        "conn_cur" => W::Get(D::ConnCur),
        "conn_rate" => W::Get(D::ConnRate),
        "sess_cnt" => W::Get(D::SessCnt),
        "sess_rate" => W::Get(D::SessRate),
        "http_req_cnt" => W::Get(D::HttpReqCnt),
        "http_req_rate" => W::Get(D::HttpReqRate),
        "http_err_cnt" => W::Get(D::HttpErrCnt),
        "http_err_rate" => W::Get(D::HttpErrRate),
        "http_fail_cnt" => W::Get(D::HttpFailCnt),
        "http_fail_rate" => W::Get(D::HttpFailRate),
        "get_gpc0" => W::Get(D::Gpc0),
        "gpc0_rate" => W::Get(D::Gpc0Rate),
        "get_gpt0" => W::Get(D::Gpt0),
        "inc_gpc0" => W::IncGpc0,
        "clr_gpc0" => W::ClrGpc0,
        "tracked" if !matches!(slot, Some(StickSlot::Src)) => W::Tracked,
        d if !HAPROXY_STICK_DATA.contains(&d) => return None,
        _ => {
            return Some(Err(format!(
                "'{word}' is not supported yet (the stick-table fetches Clearway has read conn_cnt, conn_cur, \
                 conn_rate, sess_cnt, sess_rate, http_req_cnt, http_req_rate, http_err_cnt, http_err_rate, \
                 http_fail_cnt, http_fail_rate, get_gpc0, gpc0_rate, get_gpt0, inc_gpc0, clr_gpc0, tracked)"
            )))
        }
    };
    let Some(slot) = slot else {
        return Some(Err(format!("'{word}': the counter is 0, 1 or 2")));
    };
    if rest.len() > 1 {
        return Some(Err(format!("'{word}': too many arguments")));
    }
    let table = table_or_own(rest.first().map(String::as_str).filter(|t| !t.is_empty()));
    let kind = if what == W::Tracked {
        MatchKind::Bool
    } else {
        MatchKind::Int
    };
    Some(Ok((Fetch::Stick { slot, what, table }, kind)))
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

/// The fetches of a backend's or a server's state, by name.
const PROXY_STATES: &[(&str, ProxyState)] = &[
    ("nbsrv", ProxyState::Nbsrv),
    ("be_conn", ProxyState::Conn),
    ("be_conn_free", ProxyState::ConnFree),
    ("be_sess_rate", ProxyState::SessRate),
    ("connslots", ProxyState::Connslots),
    ("queue", ProxyState::Queue),
    ("avg_queue", ProxyState::AvgQueue),
];
const SERVER_STATES: &[(&str, ServerState)] = &[
    ("srv_is_up", ServerState::IsUp),
    ("srv_conn", ServerState::Conn),
    ("srv_conn_free", ServerState::ConnFree),
    ("srv_sess_rate", ServerState::SessRate),
];

/// `nbsrv([BACKEND])` and its kind, `srv_is_up(BACKEND/SERVER)` and its kind; None for
/// other names. Whether the names exist is checked once the whole configuration is read.
fn state_fetch(base: &str, arg: Option<&str>, word: &str) -> Option<Result<(Fetch, MatchKind), String>> {
    if let Some((_, what)) = PROXY_STATES.iter().find(|(n, _)| *n == base) {
        let backend = arg.map(|a| a.trim().to_string()).or_else(|| table_or_own(None));
        return Some(
            backend
                .map(|backend| (Fetch::Proxy { what: *what, backend }, MatchKind::Int))
                .ok_or_else(|| format!("'{word}' needs a backend name here")),
        );
    }
    let (_, what) = SERVER_STATES.iter().find(|(n, _)| *n == base)?;
    Some(match arg.and_then(|a| a.trim().split_once('/')) {
        Some((b, s)) if !b.is_empty() && !s.is_empty() => {
            let kind = if *what == ServerState::IsUp {
                MatchKind::Bool
            } else {
                MatchKind::Int
            };
            Ok((
                Fetch::Server {
                    what: *what,
                    backend: b.to_string(),
                    server: s.to_string(),
                },
                kind,
            ))
        }
        _ => Err(format!("'{base}' expects BACKEND/SERVER, e.g. '{base}(app/s1)'")),
    })
}

/// A sample expression `FETCH[(ARGS)][,CONV[(ARGS)]]...` and the match kind it implies for
/// `-m` less ACLs: the fetch's (`path_beg`), or after converters their output type's.
pub fn expression(word: &str) -> Result<(Expr, MatchKind), String> {
    let (call, calls) = clearway_sample::args::parse(word)?;
    let (fetch, kind) = criterion(&call, word)?;
    if calls.is_empty() {
        return Ok((Expr::new(fetch), kind));
    }
    let (convs, out) = chain(calls, fetch.kind()).map_err(|e| format!("'{word}': {e}"))?;
    let kind = match out {
        Type::Bool => MatchKind::Bool,
        Type::Int => MatchKind::Int,
        Type::Addr | Type::Ipv4 | Type::Ipv6 => MatchKind::Ip,
        Type::Bin => MatchKind::Bin,
        _ => MatchKind::Str,
    };
    Ok((Expr { fetch, convs }, kind))
}

/// The converters, a map's file found as the config's other files are (`default-path`).
fn chain(mut calls: Vec<clearway_sample::args::Call>, input: Type) -> Result<(Chain, Type), String> {
    for c in calls.iter_mut().filter(|c| c.name.starts_with("map")) {
        if let Some(file) = c.args.as_mut().and_then(|a| a.first_mut()) {
            *file = super::paths::file(&*file).display().to_string();
        }
    }
    Chain::new(&calls, input)
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
    if let Some(r) = stick_fetch(base, call.args(), word) {
        return r;
    }
    if let Some(r) = state_fetch(base, arg, word) {
        return r;
    }
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
        "ssl_fc_is_resumed" => no_arg(Fetch::SslFcIsResumed, M::Bool),
        "ssl_fc_err" => no_arg(Fetch::SslFcErr, M::Int),
        "fc_err" => no_arg(Fetch::FcErr, M::Int),
        "so_id" => no_arg(Fetch::SoId, M::Int),
        "so_name" => no_arg(Fetch::SoName, M::Str),
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
        "req.body" => no_arg(Fetch::ReqBody, M::Bin),
        "req.body_len" => no_arg(Fetch::ReqBodyLen, M::Int),
        "req.body_size" => no_arg(Fetch::ReqBodySize, M::Int),
        "res.body" => no_arg(Fetch::ResBody, M::Bin),
        "res.body_len" => no_arg(Fetch::ResBodyLen, M::Int),
        "res.body_size" => no_arg(Fetch::ResBodySize, M::Int),
        "req.body_param" => match call.args() {
            [n] => Ok((Fetch::ReqBodyParam(n.clone()), M::Str)),
            // Without a name, the first parameter.
            [] => Ok((Fetch::ReqBodyParam(String::new()), M::Str)),
            _ => Err(format!(
                "'{word}': expects a parameter name (case-insensitive names are not supported)"
            )),
        },
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
        "wait_end" => no_arg(Fetch::WaitEnd, M::Bool),
        "last_rule_file" => no_arg(Fetch::LastRuleFile, M::Str),
        "last_rule_line" => no_arg(Fetch::LastRuleLine, M::Int),
        "always_false" => no_arg(Fetch::Always(false), M::Bool),
        "status" => no_arg(Fetch::Status, M::Int),
        "hdr_ip" | "req.hdr_ip" => {
            let (f, _) = header(M::Ip)?;
            match f {
                Fetch::Hdr(n) => Ok((Fetch::HdrIp(n), M::Ip)),
                f => Ok((f, M::Ip)),
            }
        }
        "req.hdr" => header(M::Str),
        "req.fhdr" | "fhdr" | "res.fhdr" => {
            let (f, m) = header(M::Str)?;
            match f {
                Fetch::Hdr(n) if base == "res.fhdr" => Ok((Fetch::ResFHdr(n), m)),
                Fetch::Hdr(n) => Ok((Fetch::FHdr(n), m)),
                f => Ok((f, m)),
            }
        }
        "hdr_cnt" | "req.hdr_cnt" => Ok((Fetch::HdrCnt(arg.map(|a| a.trim().to_ascii_lowercase())), M::Int)),
        "cook" | "req.cook" | "cook_cnt" | "req.cook_cnt" | "cook_val" | "req.cook_val" | "res.cook" | "scook" => {
            let name = arg.map(str::to_string);
            Ok(match base.trim_start_matches("req.") {
                "cook" => (Fetch::Cook(name), M::Str),
                "cook_cnt" => (Fetch::CookCnt(name), M::Int),
                "cook_val" => (Fetch::CookVal(name), M::Int),
                _ => (Fetch::ResCook(name), M::Str),
            })
        }
        "url_param" | "urlp" => {
            let (name, delim) = match call.args() {
                [n] => (n, None),
                [n, d] if d.len() == 1 => (n, d.bytes().next()),
                _ => {
                    return Err(format!(
                        "'{word}': expects a parameter name and optionally a one-character delimiter"
                    ))
                }
            };
            Ok((
                Fetch::UrlParam {
                    name: name.clone(),
                    delim,
                },
                M::Str,
            ))
        }
        "base" => no_arg(Fetch::Base, M::Str),
        "base32" => no_arg(Fetch::Base32, M::Int),
        "base32+src" => no_arg(Fetch::Base32Src, M::Bin),
        "hdr_val" | "req.hdr_val" => {
            let (f, _) = header(M::Int)?;
            match f {
                Fetch::Hdr(n) => Ok((Fetch::HdrVal(n), M::Int)),
                f => Ok((f, M::Int)),
            }
        }
        "fc_http_major" => no_arg(Fetch::FcHttpMajor, M::Int),
        "http_first_req" => no_arg(Fetch::HttpFirstReq, M::Bool),
        "res.cache_hit" => no_arg(Fetch::ResCacheHit, M::Bool),
        "res.cache_name" => no_arg(Fetch::ResCacheName, M::Str),
        "fc_src" => no_arg(Fetch::FcSrc, M::Ip),
        "fc_dst" => no_arg(Fetch::FcDst, M::Ip),
        "fc_src_port" => no_arg(Fetch::FcSrcPort, M::Int),
        "fc_dst_port" => no_arg(Fetch::FcDstPort, M::Int),
        "fe_name" => no_arg(Fetch::FeName, M::Str),
        "unique-id" => no_arg(Fetch::UniqueId, M::Str),
        "fe_id" => no_arg(Fetch::FeId, M::Int),
        "be_name" => no_arg(Fetch::BeName, M::Str),
        "be_server_timeout" | "be_tunnel_timeout" | "cur_server_timeout" | "cur_tunnel_timeout" => no_arg(
            Fetch::Timeout {
                tunnel: base.ends_with("tunnel_timeout"),
                current: base.starts_with("cur_"),
            },
            M::Int,
        ),
        "be_id" => no_arg(Fetch::BeId, M::Int),
        "srv_name" => no_arg(Fetch::SrvName, M::Str),
        "srv_id" => no_arg(Fetch::SrvId, M::Int),
        "capture.req.uri" => no_arg(Fetch::CaptureReqUri, M::Str),
        "capture.req.hdr" | "capture.res.hdr" => {
            let n: usize = one("a slot number")?
                .trim()
                .parse()
                .map_err(|_| format!("'{word}': the slot is a number"))?;
            Ok((
                if base == "capture.req.hdr" {
                    Fetch::CaptureReqHdr(n)
                } else {
                    Fetch::CaptureResHdr(n)
                },
                M::Str,
            ))
        }
        "capture.req.method" => no_arg(Fetch::CaptureReqMethod, M::Str),
        "capture.req.ver" => no_arg(Fetch::CaptureReqVer, M::Str),
        "capture.res.ver" => no_arg(Fetch::CaptureResVer, M::Str),
        "uuid" => match call.args() {
            [] | [_] if arg.is_none_or(|a| a == "4") => Ok((Fetch::Uuid, M::Str)),
            _ => Err(format!("'{word}': only version 4 UUIDs")),
        },
        "rand" => {
            let range = arg
                .map(|a| {
                    a.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("'{word}': '{a}' is not a range"))
                })
                .transpose()?;
            Ok((Fetch::Rand(range), M::Int))
        }
        "date" => {
            let offset = arg
                .map(|a| {
                    a.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("'{word}': '{a}' is not an offset in seconds"))
                })
                .transpose()?;
            Ok((Fetch::Date(offset.unwrap_or(0)), M::Int))
        }
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

pub(super) const CRITERIA: &[&str] = &[
    "var",
    "str",
    "int",
    "bool",
    "bin",
    "ipv4",
    "ipv6",
    "env",
    "req.fhdr",
    "res.fhdr",
    "req.hdr_cnt",
    "req.hdr_ip",
    "req.hdr_val",
    "hdr_val",
    "base32",
    "base32+src",
    "fc_http_major",
    "http_first_req",
    "res.cache_hit",
    "res.cache_name",
    "fc_src",
    "fc_dst",
    "fc_src_port",
    "fc_dst_port",
    "req.cook",
    "req.cook_cnt",
    "req.cook_val",
    "res.cook",
    "url_param",
    "base",
    "fe_name",
    "be_name",
    "be_server_timeout",
    "be_tunnel_timeout",
    "cur_server_timeout",
    "cur_tunnel_timeout",
    "srv_name",
    "capture.req.uri",
    "capture.req.hdr",
    "capture.res.hdr",
    "uuid",
    "rand",
    "date",
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
    "ssl_fc_is_resumed",
    "ssl_fc_err",
    "fc_err",
    "so_id",
    "so_name",
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
    "req.body",
    "req.body_len",
    "req.body_size",
    "req.body_param",
    "res.body",
    "res.body_len",
    "res.body_size",
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
        let (convs, out) = chain(calls, fetch.kind()).map_err(|e| format!("'{s}': {e}"))?;
        // A binary fetch written as it is (`%[ssl_c_sha1]`) would put raw bytes in a
        // header: refused with a hint, where HAProxy writes them. What converters make
        // binary (`b64dec`) is mostly text, and is written up to its first NUL, as HAProxy.
        if out == Type::Bin && convs.is_empty() {
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
        assert!(super::super::acl::test(&["ssl_c_serial".to_string(), "0A1b".to_string()]).is_ok());
        assert!(super::super::acl::test(&["ssl_c_serial".to_string(), "0A1".to_string()]).is_err());
    }
}
