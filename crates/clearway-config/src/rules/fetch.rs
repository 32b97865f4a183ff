//! The fetches a sample expression starts from: what each reads (the connection, the
//! request, the response, the process's state), its type, and where it may be used.

use super::{CertField, Type, VarName};
use std::net::IpAddr;

/// A sample fetch: a piece of the connection or of the request that an ACL looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// A test HAProxy never matches where it is written (a request's header read by a
    /// response rule, when the request's headers are gone): it gives no value.
    Never,
    /// The client's address (`src`).
    Src,
    /// The address the client connected to (`dst`).
    Dst,
    SrcPort,
    DstPort,
    /// The path of the request, without the query string.
    Path,
    /// The request target as received (`url`).
    Url,
    /// The query string, without `?`.
    Query,
    Method,
    /// The HTTP version as `1.0`, `1.1`, `2.0`.
    Version,
    /// The path and query of the request (`pathq`): an absolute target's too.
    PathQ,
    /// The IPv4 address and the port of an absolute request target's host (`url_ip`,
    /// `url_port`: 80 for `http://`, 443 for `https://` without one).
    UrlIp,
    UrlPort,
    /// Values of a request header (lower-case name); `hdr()` splits values on commas.
    Hdr(String),
    /// Values of a response header, for `http-response` rules.
    ResHdr(String),
    /// The response status code.
    Status,
    /// Whether the client connection is TLS (`ssl_fc`).
    SslFc,
    /// The SNI the client sent in a TLS connection we terminate (`ssl_fc_sni`).
    SslFcSni,
    /// Whether that client sent an SNI (`ssl_fc_has_sni`).
    SslFcHasSni,
    /// The listening socket's number (`so_id`) and its bind line's `name` (`so_name`).
    SoId,
    SoName,
    /// Whether its TLS session was resumed (`ssl_fc_is_resumed`).
    SslFcIsResumed,
    /// The TLS layer's error on that connection (`ssl_fc_err`): 0, as a request reaches the
    /// rules and logs only over a connection without one.
    SslFcErr,
    /// The client connection's error (`fc_err`): 0, for the same reason.
    FcErr,
    /// The TLS version (`ssl_fc_protocol`: `TLSv1.3`), suite (`ssl_fc_cipher`), and ALPN
    /// protocol (`ssl_fc_alpn`) of that connection.
    SslFcProtocol,
    SslFcCipher,
    SslFcAlpn,
    /// Whether the connection began with a PROXY protocol header (`fc_rcvd_proxy`), and the
    /// authority and unique-id TLVs of a version 2 one (`fc_pp_authority`, `fc_pp_unique_id`).
    FcRcvdProxy,
    FcPpAuthority,
    FcPpUniqueId,
    /// A field of the certificate that client presented (`ssl_c_*`, `ssl_fc_has_crt`).
    Cert(CertField),
    /// How many bytes of the server's response are buffered (`res.len`), and `len` of them
    /// from `offset` (`res.payload(offset,len)`; 0: all from `offset`): `tcp-response` rules.
    ResLen,
    ResPayload {
        offset: usize,
        len: usize,
    },
    /// The SNI of a TLS ClientHello read without decrypting (`req.ssl_sni`, tcp mode).
    ReqSslSni,
    /// 1 when the buffered data starts with a TLS ClientHello (`req.ssl_hello_type`).
    ReqSslHelloType,
    /// The protocols that ClientHello offers by ALPN, one value each (`req.ssl_alpn`).
    ReqSslAlpn,
    /// How many bytes of the request are buffered (`req.len`).
    ReqLen,
    /// `req.body`: the request body's bytes read ahead for the rules (`wait-for-body`,
    /// `option http-buffer-request`); `req.body_len` their length; `req.body_size` the whole
    /// body's length when the request gives it; `req.body_param(NAME)` a form parameter.
    ReqBody,
    ReqBodyLen,
    ReqBodySize,
    ReqBodyParam(String),
    /// `res.body`, `res.body_len`, `res.body_size`: the same of a response's body
    /// (`http-response wait-for-body`).
    ResBody,
    ResBodyLen,
    ResBodySize,
    /// `len` buffered bytes from `offset` (`req.payload(offset,len)`; 0: all from `offset`).
    ReqPayload {
        offset: usize,
        len: usize,
    },
    /// `always_true` / `always_false`.
    Always(bool),
    /// `last_rule_file`, `last_rule_line`: where the rule that last decided for this request
    /// is written (an accept, a refusal, an answer).
    LastRuleFile,
    LastRuleLine,
    /// `wait_end` (the `WAIT_END` ACL): true once content inspection is over (its delay
    /// ended, its buffer is full or the sender is done); until then, not decided.
    WaitEnd,
    /// `http_auth(LIST)`: the request's Basic credentials are a user of the list.
    HttpAuth(std::sync::Arc<crate::model::Userlist>),
    /// `http_auth_group(LIST)`: the groups of that user, when the credentials are right.
    HttpAuthGroup(std::sync::Arc<crate::model::Userlist>),
    /// `http_auth_type`, `http_auth_user`, `http_auth_pass`: the scheme of the
    /// `Authorization` header, and the user and password of Basic credentials.
    HttpAuthType,
    HttpAuthUser,
    HttpAuthPass,
    /// `var(NAME[,DEFAULT])`: a variable, or DEFAULT (text) when it is not set.
    Var {
        name: VarName,
        default: Option<String>,
    },
    /// Constants: `str(TEXT)`, `int(N)`, `bool(B)`, `bin(HEX)`, `ipv4(A)`/`ipv6(A)`.
    Str(String),
    Int(i64),
    Bool(bool),
    Bin(Vec<u8>),
    Ip(IpAddr),
    /// `env(NAME)`: an environment variable of the process.
    Env(String),
    /// `req.fhdr(NAME)`, `res.fhdr(NAME)`: whole values of a header, commas kept.
    FHdr(String),
    ResFHdr(String),
    /// `req.hdr_cnt([NAME])`: how many values (comma-split) the header has (all headers'
    /// without a name).
    HdrCnt(Option<String>),
    /// `req.hdr_ip(NAME)`: a header's values read as addresses (an IPv4 one may end in a port).
    HdrIp(String),
    /// `req.cook([NAME])`, `req.cook_cnt([NAME])`, `req.cook_val([NAME])`: the values of a
    /// request cookie (the first cookie's without a name), how many there are, and the value
    /// as an integer; `res.cook([NAME])` the cookie a response sets.
    Cook(Option<String>),
    CookCnt(Option<String>),
    CookVal(Option<String>),
    ResCook(Option<String>),
    /// `url_param(NAME[,DELIM])` (`urlp`): a query parameter's value.
    UrlParam {
        name: String,
        delim: Option<u8>,
    },
    /// `base`: the Host header's value and the path.
    Base,
    /// `capture.req.hdr(N)`, `capture.res.hdr(N)`: what the frontend's capture slot N holds.
    CaptureReqHdr(usize),
    CaptureResHdr(usize),
    /// `base32`: a 32-bit hash of `base`; `base32+src`: that hash then the client's address,
    /// as bytes.
    Base32,
    Base32Src,
    /// `hdr_val(NAME)`, `req.hdr_val`: a header's values as integers.
    HdrVal(String),
    /// `fc_http_major`: the client's HTTP major version (1 or 2).
    FcHttpMajor,
    /// `http_first_req`: the request is its connection's first.
    HttpFirstReq,
    /// `res.cache_hit`: the response came from a cache; `res.cache_name`: which.
    ResCacheHit,
    ResCacheName,
    /// `fc_src`, `fc_dst`, `fc_src_port`, `fc_dst_port`: the client connection's own
    /// addresses, not those a PROXY protocol header gave.
    FcSrc,
    FcDst,
    FcSrcPort,
    FcDstPort,
    /// `fe_name`, `fe_id`, `be_name`, `be_id`, `srv_name`, `srv_id`: the frontend, and the
    /// backend and server that handle the request (known once it was routed; the server's
    /// once the response came).
    FeName,
    FeId,
    BeName,
    BeId,
    /// `be_server_timeout`, `be_tunnel_timeout` (the backend's, in ms), `cur_server_timeout`,
    /// `cur_tunnel_timeout` (this request's, after `set-timeout`).
    Timeout {
        tunnel: bool,
        current: bool,
    },
    SrvName,
    SrvId,
    /// `capture.req.uri`, `capture.req.method`, `capture.req.ver`: the request line as it
    /// came, before any rule rewrote it; `capture.res.ver`: the response's version.
    CaptureReqUri,
    CaptureReqMethod,
    CaptureReqVer,
    CaptureResVer,
    /// `unique-id`: the request's id (`unique-id-format`).
    UniqueId,
    /// `sc_DATA(N[,TABLE])`, `scN_DATA([TABLE])`, `src_DATA([TABLE])`: a stick table entry's
    /// value, the entry being the one tracked by counter N, or the client address's.
    Stick {
        slot: StickSlot,
        what: StickWhat,
        table: Option<String>,
    },
    /// `nbsrv`, `be_conn`, `connslots`, ... of a backend (the rule's own proxy when the
    /// fetch names none).
    Proxy {
        what: ProxyState,
        backend: String,
    },
    /// `srv_is_up(B/S)`, `srv_conn(B/S)`, `srv_conn_free(B/S)`.
    Server {
        what: ServerState,
        backend: String,
        server: String,
    },
    /// `uuid`, `rand([RANGE])`, `date([OFFSET])`.
    Uuid,
    Rand(Option<u64>),
    Date(i64),
}

impl Fetch {
    /// True when the fetch reads an HTTP request: in `mode tcp`, the client's first bytes
    /// parsed as one, as HAProxy does.
    pub fn reads_request(&self) -> bool {
        matches!(
            self,
            Fetch::Path
                | Fetch::Url
                | Fetch::PathQ
                | Fetch::UrlIp
                | Fetch::UrlPort
                | Fetch::Query
                | Fetch::Method
                | Fetch::Version
                | Fetch::Hdr(_)
                | Fetch::HttpAuth(_)
                | Fetch::HttpAuthGroup(_)
                | Fetch::HttpAuthType
                | Fetch::HttpAuthUser
                | Fetch::HttpAuthPass
                | Fetch::FHdr(_)
                | Fetch::HdrCnt(_)
                | Fetch::HdrIp(_)
                | Fetch::Cook(_)
                | Fetch::CookCnt(_)
                | Fetch::CookVal(_)
                | Fetch::UrlParam { .. }
                | Fetch::Base
                | Fetch::Base32
                | Fetch::Base32Src
                | Fetch::HdrVal(_)
        )
    }

    /// True when the fetch reads the request's headers or body, which HAProxy no longer has
    /// when the response rules run (its method it keeps).
    pub fn needs_request_headers(&self) -> bool {
        (self.reads_request() && *self != Fetch::Method)
            || matches!(
                self,
                Fetch::ReqBody | Fetch::ReqBodyLen | Fetch::ReqBodySize | Fetch::ReqBodyParam(_)
            )
    }

    /// True when the fetch reads no session (a constant, a variable, a stick table, the
    /// process's or a backend's state): the sample engine answers it, not the session.
    pub fn internal(&self) -> bool {
        matches!(
            self,
            Fetch::Var { .. }
                | Fetch::Str(_)
                | Fetch::Int(_)
                | Fetch::Bool(_)
                | Fetch::Bin(_)
                | Fetch::Ip(_)
                | Fetch::Env(_)
                | Fetch::Uuid
                | Fetch::Rand(_)
                | Fetch::Date(_)
                | Fetch::Stick { .. }
                | Fetch::Proxy { .. }
                | Fetch::Server { .. }
        )
    }

    /// True when the fetch reads which backend or server handles the request.
    pub fn reads_route(&self) -> bool {
        matches!(
            self,
            Fetch::BeName | Fetch::BeId | Fetch::SrvName | Fetch::SrvId | Fetch::Timeout { .. }
        )
    }

    /// True when the fetch reads the server's response bytes (`tcp-response` rules only).
    pub fn reads_response(&self) -> bool {
        matches!(self, Fetch::ResLen | Fetch::ResPayload { .. })
    }

    /// True when the fetch reads the client's first bytes.
    pub fn reads_request_bytes(&self) -> bool {
        matches!(
            self,
            Fetch::ReqSslSni | Fetch::ReqSslHelloType | Fetch::ReqSslAlpn | Fetch::ReqLen | Fetch::ReqPayload { .. }
        ) || self.reads_request()
    }

    /// True when the fetch needs an HTTP response (not available in `mode tcp`).
    pub fn needs_http(&self) -> bool {
        matches!(
            self,
            Fetch::ResHdr(_)
                | Fetch::ResFHdr(_)
                | Fetch::ResCook(_)
                | Fetch::ReqBody
                | Fetch::ReqBodyLen
                | Fetch::ReqBodySize
                | Fetch::ReqBodyParam(_)
                | Fetch::ResBody
                | Fetch::ResBodyLen
                | Fetch::ResBodySize
                | Fetch::Status
                | Fetch::CaptureResVer
                | Fetch::CaptureResHdr(_)
                | Fetch::ResCacheHit
                | Fetch::ResCacheName
        )
    }

    /// In a sample expression (not an ACL), HAProxy takes the last value of these (the
    /// last occurrence of a header or cookie), the first of the others.
    pub fn last_in_sample(&self) -> bool {
        matches!(
            self,
            Fetch::Hdr(_)
                | Fetch::ResHdr(_)
                | Fetch::FHdr(_)
                | Fetch::ResFHdr(_)
                | Fetch::HdrIp(_)
                | Fetch::HdrVal(_)
                | Fetch::Cook(Some(_))
                | Fetch::ResCook(Some(_))
                | Fetch::CookVal(Some(_))
        )
    }

    /// The type of what the fetch yields (`Any`: known only when it runs).
    pub fn kind(&self) -> Type {
        match self {
            Fetch::Src | Fetch::Dst | Fetch::UrlIp | Fetch::FcSrc | Fetch::FcDst => Type::Addr,
            Fetch::Base32Src => Type::Bin,
            Fetch::Ip(ip) if ip.is_ipv4() => Type::Ipv4,
            Fetch::Ip(_) => Type::Ipv6,
            Fetch::SrcPort
            | Fetch::DstPort
            | Fetch::SoId
            | Fetch::FcErr
            | Fetch::SslFcErr
            | Fetch::UrlPort
            | Fetch::Status
            | Fetch::ResLen
            | Fetch::ReqLen
            | Fetch::ReqBodyLen
            | Fetch::ReqBodySize
            | Fetch::ResBodyLen
            | Fetch::ResBodySize
            | Fetch::ReqSslHelloType
            | Fetch::Int(_)
            | Fetch::HdrCnt(_)
            | Fetch::CookCnt(_)
            | Fetch::CookVal(_)
            | Fetch::Rand(_)
            | Fetch::Date(_)
            | Fetch::FeId
            | Fetch::Base32
            | Fetch::HdrVal(_)
            | Fetch::FcHttpMajor
            | Fetch::FcSrcPort
            | Fetch::FcDstPort
            | Fetch::BeId
            | Fetch::Timeout { .. }
            | Fetch::SrvId
            | Fetch::LastRuleLine
            | Fetch::Proxy { .. } => Type::Int,
            Fetch::Server {
                what: ServerState::IsUp,
                ..
            } => Type::Bool,
            Fetch::Server { .. } => Type::Int,
            Fetch::Stick {
                what: StickWhat::Tracked,
                ..
            } => Type::Bool,
            Fetch::Stick { .. } => Type::Int,
            Fetch::HdrIp(_) => Type::Addr,
            Fetch::SslFc
            | Fetch::SslFcHasSni
            | Fetch::SslFcIsResumed
            | Fetch::FcRcvdProxy
            | Fetch::HttpFirstReq
            | Fetch::ResCacheHit
            | Fetch::Always(_)
            | Fetch::WaitEnd
            | Fetch::HttpAuth(_)
            | Fetch::Bool(_) => Type::Bool,
            Fetch::ResPayload { .. } | Fetch::ReqPayload { .. } | Fetch::ReqBody | Fetch::ResBody | Fetch::Bin(_) => {
                Type::Bin
            }
            Fetch::Cert(f) => match f {
                CertField::Used => Type::Bool,
                CertField::Verify | CertField::Err | CertField::CaErr | CertField::Version => Type::Int,
                CertField::Serial | CertField::Sha1 | CertField::Der => Type::Bin,
                _ => Type::Str,
            },
            Fetch::Var { .. } => Type::Any,
            _ => Type::Str,
        }
    }
}

/// What a backend-state fetch reads (all integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyState {
    /// `nbsrv`: usable servers (the active ones, else the backups in use).
    Nbsrv,
    /// `be_conn`: sessions with a server or waiting for one.
    Conn,
    /// `be_conn_free`: free connection slots on the servers in use (-1: one has no limit).
    ConnFree,
    /// `be_sess_rate`: sessions per second.
    SessRate,
    /// `connslots`: free slots and queue places of the servers up (-1: one has no limit).
    Connslots,
    /// `queue`: sessions waiting for a slot.
    Queue,
    /// `avg_queue`: those per usable server, rounded up.
    AvgQueue,
}

/// What a server-state fetch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// `srv_is_up`: not in maintenance, and up when checked.
    IsUp,
    /// `srv_conn`: its connections in use.
    Conn,
    /// `srv_conn_free`: its free slots (-1: no limit).
    ConnFree,
    /// `srv_sess_rate`: sessions it was given over the last second.
    SessRate,
}

/// Which entry a stick-table fetch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickSlot {
    /// The one tracked by `track-scN`.
    Sc(u8),
    /// The client address's (`src_*`).
    Src,
}

/// What a stick-table fetch does with the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickWhat {
    Get(crate::model::StickData),
    /// `sc_inc_gpc0`, `src_inc_gpc0`: gpc0 plus one, its new value.
    IncGpc0,
    /// `sc_clr_gpc0`, `src_clr_gpc0`: gpc0 back to 0, its value before.
    ClrGpc0,
    /// `sc_tracked(N)`: whether counter N tracks an entry.
    Tracked,
}
