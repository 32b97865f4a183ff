//! `retry-on`: what failures a backend retries a request after.

/// The conditions of `retry-on` (HAProxy's default: connection failures only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOn {
    /// `conn-failure`: the connection (or its TLS handshake) failed.
    pub conn_failure: bool,
    /// `empty-response`: the server closed without answering.
    pub empty_response: bool,
    /// `junk-response`: what came back was not an HTTP response.
    pub junk_response: bool,
    /// `response-timeout`: no response within `timeout server`.
    pub response_timeout: bool,
    /// Status codes answered that are retried (401, 403, 404, 408, 425, 500 to 504).
    pub statuses: Vec<u16>,
}

impl Default for RetryOn {
    fn default() -> RetryOn {
        RetryOn {
            conn_failure: true,
            empty_response: false,
            junk_response: false,
            response_timeout: false,
            statuses: Vec::new(),
        }
    }
}

/// The status codes `retry-on` accepts.
pub const RETRY_STATUSES: &[u16] = &[401, 403, 404, 408, 425, 500, 501, 502, 503, 504];

impl RetryOn {
    /// Reads `retry-on` keywords; Err names the first it does not know.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<RetryOn, String> {
        let mut r = RetryOn {
            conn_failure: false,
            ..RetryOn::default()
        };
        for w in words {
            match w {
                "none" => {
                    r = RetryOn {
                        conn_failure: false,
                        ..RetryOn::default()
                    }
                }
                "conn-failure" => r.conn_failure = true,
                "empty-response" => r.empty_response = true,
                "junk-response" => r.junk_response = true,
                "response-timeout" => r.response_timeout = true,
                // Clearway never sends early data: nothing to be rejected.
                "0rtt-rejected" => {}
                "all-retryable-errors" => {
                    r.conn_failure = true;
                    r.empty_response = true;
                    r.junk_response = true;
                    r.response_timeout = true;
                    r.statuses.extend([500, 502, 503, 504]);
                }
                s => match s.parse::<u16>() {
                    Ok(n) if RETRY_STATUSES.contains(&n) => r.statuses.push(n),
                    _ => return Err(format!("'retry-on': unknown keyword '{s}'")),
                },
            }
        }
        r.statuses.sort_unstable();
        r.statuses.dedup();
        Ok(r)
    }

    /// Some condition is about the response (a retry sends the request again).
    pub fn after_response(&self) -> bool {
        self.empty_response || self.junk_response || self.response_timeout || !self.statuses.is_empty()
    }
}
