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
    pub gpc0: bool,
    pub gpc0_rate: Option<u64>,
    pub gpt0: bool,
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
    Gpc0,
    Gpc0Rate,
    Gpt0,
}
