//! `compression algo|type|offload`: which responses a proxy compresses, and how.

/// A compression algorithm HAProxy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompAlgo {
    /// Nothing compressed, but the response is treated as a compressed one (no length,
    /// weak ETag, `Vary`), as HAProxy does.
    Identity,
    /// zlib's format (RFC 1950), sent as `deflate`.
    Deflate,
    /// A bare deflate stream (RFC 1951), also sent as `deflate`.
    RawDeflate,
    Gzip,
}

impl CompAlgo {
    /// The name in `compression algo`.
    pub fn parse(name: &str) -> Option<CompAlgo> {
        Some(match name {
            "identity" => CompAlgo::Identity,
            "deflate" => CompAlgo::Deflate,
            "raw-deflate" => CompAlgo::RawDeflate,
            "gzip" => CompAlgo::Gzip,
            _ => return None,
        })
    }

    /// The coding's name in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            CompAlgo::Identity => "identity",
            CompAlgo::Deflate | CompAlgo::RawDeflate => "deflate",
            CompAlgo::Gzip => "gzip",
        }
    }
}

/// A proxy half's `compression` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compression {
    /// In HAProxy's order of preference: the last named first.
    pub algos: Vec<CompAlgo>,
    /// Content types compressed (prefixes, any case); empty: any but `multipart`.
    pub types: Vec<String>,
    /// `compression offload`: `Accept-Encoding` is taken out of requests, so servers send
    /// plain responses for the proxy to compress.
    pub offload: bool,
}
