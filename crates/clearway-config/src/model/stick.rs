//! A proxy's stick table as the configuration describes it: key type, size, expiry and
//! what each entry stores; and what fetches read from entries.

use super::Span;
use std::time::Duration;

/// What a table stores (HAProxy's `store` list), rates with their period in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StickStore {
    pub conn_cnt: bool,
    pub conn_cur: bool,
    pub conn_rate: Option<u64>,
    pub sess_cnt: bool,
    pub sess_rate: Option<u64>,
    pub http_req_cnt: bool,
    pub http_req_rate: Option<u64>,
    /// HTTP errors (4xx answers, refused requests) and failures (5xx but 501 and 505).
    pub http_err_cnt: bool,
    pub http_err_rate: Option<u64>,
    pub http_fail_cnt: bool,
    pub http_fail_rate: Option<u64>,
    pub gpc0: bool,
    pub gpc0_rate: Option<u64>,
    pub gpt0: bool,
    /// The server an entry sends its sessions to (`server_id`, `server_key`): kept by the
    /// tables `stick` rules use.
    pub server_id: bool,
}

/// The type of a stick table's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickKind {
    Ip,
    Ipv6,
    Integer,
    String,
    Binary,
}

/// A proxy's `stick-table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickTable {
    pub span: Span,
    pub kind: StickKind,
    /// Key bytes kept for `string` and `binary` keys.
    pub len: usize,
    pub size: usize,
    pub expire: Option<Duration>,
    /// A full table refuses new entries rather than forgetting old ones.
    pub nopurge: bool,
    pub store: StickStore,
    /// `srvkey addr`: entries name their server by its address (else by its name).
    pub srvkey_addr: bool,
}

/// A value a fetch reads from an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickData {
    ConnCnt,
    ConnCur,
    ConnRate,
    SessCnt,
    SessRate,
    HttpReqCnt,
    HttpReqRate,
    HttpErrCnt,
    HttpErrRate,
    HttpFailCnt,
    HttpFailRate,
    Gpc0,
    Gpc0Rate,
    Gpt0,
}

/// What a `stick` line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickOp {
    /// `stick match`: a request whose key has an entry goes to the entry's server.
    Match,
    /// `stick on`: match, then store.
    On,
    /// `stick store-request`: the key, read from the request, remembers the server used.
    StoreRequest,
    /// `stick store-response`: the same, read from the response.
    StoreResponse,
}

impl StickOp {
    pub fn matches(self) -> bool {
        matches!(self, StickOp::Match | StickOp::On)
    }

    /// Stores a key read from the request.
    pub fn stores_request(self) -> bool {
        matches!(self, StickOp::On | StickOp::StoreRequest)
    }
}

/// `stick on|match|store-request|store-response EXPR [table T] [if|unless COND]` of a backend.
#[derive(Debug, Clone)]
pub struct StickRule {
    pub span: Span,
    pub op: StickOp,
    pub expr: crate::rules::Expr,
    /// The table: the one named, else the backend's own.
    pub table: String,
    pub condition: Option<super::Condition>,
}
