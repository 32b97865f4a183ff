//! The statistics page's contents: the HTML report (one table per proxy, server rows coloured
//! by state, forms to change servers when the page has admin rights) and its `;csv` export
//! (HAProxy's columns, as `show stat`). Owns what the page shows and its options in the URI
//! (`;csv`, `;up`, `;no-maint`, `;norefresh`, `scope=`); must not change any state.

use super::stats::{self, Row};
use crate::model::Runtime;
use crate::process::uptime_secs;
use clearway_config::model::StatsPage;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Csv,
}

/// How one request wants the page, from the proxy's settings and the URI after the prefix.
#[derive(Debug, Clone)]
pub struct View {
    pub format: Format,
    /// `;up`: servers that are down are left out.
    pub hide_down: bool,
    /// `;no-maint`: servers in maintenance are left out.
    pub hide_maint: bool,
    /// `;norefresh` on a page with `stats refresh`.
    pub no_refresh: bool,
    /// `scope=TEXT`: only proxies whose name holds TEXT.
    pub search: Option<String>,
    /// The page may change servers (`stats admin`).
    pub admin: bool,
    /// The result of the last form, from `;st=CODE`.
    pub status: Option<&'static str>,
    pub proxy: String,
    page: StatsPage,
}

/// The longest `scope=` text HAProxy keeps.
const SEARCH_MAX: usize = 31;

impl View {
    pub fn new(page: &StatsPage, proxy: &str, rest: &str, admin: bool) -> View {
        let search = rest.find("scope=").and_then(|at| {
            let text: String = rest[at + 6..]
                .chars()
                .take_while(|c| !matches!(c, ';' | '&' | ' '))
                .take(SEARCH_MAX)
                .collect();
            // Proxy names are plain words: anything else is no search at all.
            (!text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
            .then_some(text)
        });
        View {
            format: if rest.contains(";csv") {
                Format::Csv
            } else {
                Format::Html
            },
            hide_down: rest.contains(";up"),
            hide_maint: rest.contains(";no-maint"),
            no_refresh: page.refresh.is_some() && rest.contains(";norefresh"),
            search,
            admin,
            status: status_of(rest),
            proxy: proxy.to_string(),
            page: page.clone(),
        }
    }

    /// The options to keep in the page's own links and redirects.
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        if self.hide_down {
            s.push_str(";up");
        }
        if self.no_refresh {
            s.push_str(";norefresh");
        }
        if let Some(q) = &self.search {
            s.push_str("?scope=");
            s.push_str(q);
        }
        s
    }

    fn shows_proxy(&self, name: &str) -> bool {
        (self.page.scope.is_empty() || self.page.scope.iter().any(|s| s == name))
            && self
                .search
                .as_ref()
                .is_none_or(|q| name.to_ascii_lowercase().contains(&q.to_ascii_lowercase()))
    }

    fn shows_row(&self, r: &Row) -> bool {
        if !self.shows_proxy(r.get("pxname")) {
            return false;
        }
        if r.get("type") != "2" {
            return true;
        }
        let status = r.get("status");
        !(self.hide_down && status.starts_with("DOWN") || self.hide_maint && status == "MAINT")
    }
}

/// The code of the last form's result in the URI (`;st=DONE`), if any.
pub fn status_of(rest: &str) -> Option<&'static str> {
    let at = rest.find(";st=")?;
    let code = rest.get(at + 4..at + 8).unwrap_or("");
    Some(
        ["DONE", "PART", "NONE", "DENY", "ERRP", "EXCD"]
            .into_iter()
            .find(|c| *c == code)
            .unwrap_or("UNKN"),
    )
}

/// What a result code tells the operator.
fn status_text(code: &str) -> (&'static str, &'static str) {
    match code {
        "DONE" => ("up", "Action processed successfully."),
        "PART" => (
            "going_down",
            "Action partially processed (some servers could not be changed).",
        ),
        "NONE" => ("going_down", "Nothing has changed."),
        "DENY" => ("down", "Action denied: this page has no admin rights ('stats admin')."),
        "ERRP" => ("down", "Action not processed because of invalid parameters."),
        "EXCD" => ("down", "Action not processed: the request was too large."),
        _ => ("down", "Unexpected result."),
    }
}

/// The `;csv` export: HAProxy's CSV, limited to what the page shows.
pub fn csv(rt: &Runtime, view: &View) -> String {
    let mut out = stats::header();
    out.push('\n');
    for r in stats::rows(rt, stats::Filter::default()) {
        if view.shows_row(&r) {
            out.push_str(&r.csv());
            out.push('\n');
        }
    }
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The CSS class of a row: its kind, or for servers their state.
fn class_of(r: &Row) -> &'static str {
    match r.get("type") {
        "0" => "frontend",
        "1" => "backend",
        "3" => "socket",
        _ => {
            let s = r.get("status");
            if s.contains("return path broken") {
                "rpbroken"
            } else if s == "MAINT" {
                "maint"
            } else if s.starts_with("DRAIN") {
                "draining"
            } else if s.starts_with("DOWN") {
                "down"
            } else if s == "no check" {
                "nocheck"
            } else {
                "up"
            }
        }
    }
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;margin:16px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h1 small{font-weight:normal;color:#667}
.info{display:flex;gap:24px;flex-wrap:wrap;margin:8px 0 12px}
.info div{background:#fff;border:1px solid #dde;border-radius:6px;padding:8px 12px}
.links a{margin-right:14px}
.msg{padding:6px 10px;border-radius:6px;margin:8px 0}
table.px{border-collapse:collapse;margin:14px 0;background:#fff;min-width:60%}
table.px th,table.px td{border:1px solid #ccd;padding:2px 6px;text-align:right;white-space:nowrap}
table.px th{background:#eef0f4;font-weight:600}
table.px td.n,table.px th.n{text-align:left}
table.px caption{text-align:left;font-weight:bold;font-size:15px;padding:4px 0}
tr.frontend td{background:#e8eefc}tr.socket td{background:#f3f6fd}tr.backend td{background:#dde6f7;font-weight:600}
tr.up td{background:#d9f5d6}tr.down td{background:#f7c9c9}tr.maint td{background:#c7c6f0}
tr.draining td{background:#f2d7a8}tr.nocheck td{background:#eef1e6}tr.rpbroken td{background:#ffb347}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #ccd}
form.act{margin:4px 0 0}
";

/// The HTML report.
pub fn html(rt: &Runtime, view: &View) -> String {
    let p = &view.page;
    let mut o = String::with_capacity(16 * 1024);
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Statistics Report for Clearway</title>\
         <link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body>"
    );
    let node = p
        .show_node
        .as_ref()
        .map(|n| n.clone().unwrap_or_else(|| crate::log::time::hostname().to_string()));
    let _ = writeln!(
        o,
        "<h1>Clearway statistics{}</h1>",
        node.map(|n| format!(" <small>on {}</small>", esc(&n)))
            .unwrap_or_default()
    );
    if let Some(Some(d)) = &p.show_desc {
        let _ = writeln!(o, "<p>{}</p>", esc(d));
    }
    let _ = write!(
        o,
        "<div class=\"info\"><div><b>pid</b> {}<br><b>uptime</b> {}<br><b>threads</b> {}</div>\
         <div><b>sessions</b> {} of {} (global maxconn)</div>",
        std::process::id(),
        super::info::uptime_text(uptime_secs()),
        rt.threads,
        rt.global_conns.in_use(),
        rt.global_conns.max(),
    );
    if !p.hide_version {
        let _ = write!(o, "<div><b>version</b> Clearway {}</div>", env!("CARGO_PKG_VERSION"));
    }
    o.push_str("</div>\n");
    if let Some(code) = view.status {
        let (class, text) = status_text(code);
        let _ = writeln!(o, "<div class=\"msg {class}\">{text}</div>");
    }
    let base = esc(&p.uri);
    let keep = esc(&view.suffix());
    let _ = write!(o, "<p class=\"links\"><a href=\"{base}{keep}\">Refresh now</a>");
    if p.refresh.is_some() {
        if view.no_refresh {
            let _ = write!(
                o,
                "<a href=\"{base}{}\">Enable refresh</a>",
                suffix_without(view, "norefresh")
            );
        } else {
            let _ = write!(o, "<a href=\"{base};norefresh{keep}\">Disable refresh</a>");
        }
    }
    if view.hide_down {
        let _ = write!(
            o,
            "<a href=\"{base}{}\">Show all servers</a>",
            suffix_without(view, "up")
        );
    } else {
        let _ = write!(o, "<a href=\"{base};up{keep}\">Hide servers that are down</a>");
    }
    let _ = writeln!(o, "<a href=\"{base};csv{keep}\">CSV export</a></p>");
    let _ = writeln!(
        o,
        "<form method=\"get\" action=\"{base}\"><input name=\"scope\" size=\"12\" maxlength=\"{SEARCH_MAX}\" value=\"{}\"> \
         <button>Search proxies</button></form>",
        esc(view.search.as_deref().unwrap_or(""))
    );
    o.push_str(
        "<p class=\"legend\"><span class=\"\" style=\"background:#d9f5d6\">up</span>\
         <span style=\"background:#f7c9c9\">down</span><span style=\"background:#f2d7a8\">draining</span>\
         <span style=\"background:#c7c6f0\">maintenance</span><span style=\"background:#eef1e6\">not checked</span>\
         <span style=\"background:#ffb347\">up, return path broken</span></p>\n",
    );
    let rows = stats::rows(rt, stats::Filter::default());
    let ids = stats::proxy_ids(rt);
    for (name, iid) in &ids {
        if !view.shows_proxy(name) {
            continue;
        }
        let mine: Vec<&Row> = rows
            .iter()
            .filter(|r| r.get("pxname") == name && view.shows_row(r))
            .collect();
        proxy_table(&mut o, name, *iid, &mine, view, p.show_legends);
    }
    o.push_str("</body></html>\n");
    o
}

fn suffix_without(view: &View, flag: &str) -> String {
    let mut v = view.clone();
    match flag {
        "up" => v.hide_down = false,
        _ => v.no_refresh = false,
    }
    esc(&v.suffix())
}

const HEAD1: &str = "<tr><th class=\"n\" rowspan=\"2\"></th><th colspan=\"3\">Queue</th><th colspan=\"5\">Sessions</th>\
<th colspan=\"2\">Bytes</th><th colspan=\"2\">Denied</th><th colspan=\"3\">Errors</th><th colspan=\"2\">Warnings</th>\
<th colspan=\"3\">HTTP responses</th><th colspan=\"7\">Server</th></tr>\n<tr><th>Cur</th><th>Max</th><th>Limit</th>\
<th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th>\
<th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>2xx</th><th>4xx</th><th>5xx</th>\
<th class=\"n\">Status</th><th class=\"n\">LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th></tr>\n";

const CELLS: [&str; 20] = [
    "qcur", "qmax", "qlimit", "scur", "smax", "slim", "stot", "lbtot", "bin", "bout", "dreq", "dresp", "ereq", "econ",
    "eresp", "wretr", "wredis", "hrsp_2xx", "hrsp_4xx", "hrsp_5xx",
];

fn proxy_table(o: &mut String, name: &str, iid: u32, rows: &[&Row], view: &View, legends: bool) {
    let has_servers = rows.iter().any(|r| r.get("type") == "2");
    let form = view.admin && has_servers;
    if form {
        let _ = write!(
            o,
            "<form class=\"act\" method=\"post\" action=\"{}{}\">",
            esc(&view.page.uri),
            esc(&view.suffix())
        );
    }
    let legend = if legends {
        let mode = rows.first().map_or("", |r| r.get("mode"));
        format!(" <small>(id {iid}, mode {mode})</small>")
    } else {
        String::new()
    };
    let _ = write!(
        o,
        "<table class=\"px\"><caption>{}{legend}</caption>\n{HEAD1}",
        esc(name)
    );
    for r in rows {
        let label = match r.get("type") {
            "0" => "Frontend".to_string(),
            "1" => "Backend".to_string(),
            "3" => esc(r.get("svname")),
            _ if form => format!(
                "<label><input type=\"checkbox\" name=\"s\" value=\"{0}\"> {0}</label>",
                esc(r.get("svname"))
            ),
            _ => esc(r.get("svname")),
        };
        let _ = write!(o, "<tr class=\"{}\"><td class=\"n\">{label}</td>", class_of(r));
        for c in CELLS {
            let _ = write!(o, "<td>{}</td>", esc(r.get(c)));
        }
        let chk = if r.get("check_status").is_empty() {
            String::new()
        } else {
            format!("{} in {}ms", r.get("check_status"), r.get("check_duration"))
        };
        let _ = writeln!(
            o,
            "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.get("status")),
            esc(&chk),
            esc(r.get("weight")),
            if r.get("act") == "1" && r.get("type") == "2" { "Y" } else { r.get("act") },
            if r.get("bck") == "1" && r.get("type") == "2" { "Y" } else { r.get("bck") },
            esc(r.get("chkfail")),
            esc(r.get("chkdown")),
        );
    }
    o.push_str("</table>\n");
    if form {
        let _ = writeln!(
            o,
            "Choose the action to perform on the checked servers: <select name=\"action\">\
             <option value=\"\"></option><option value=\"ready\">Set state to READY</option>\
             <option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option>\
             <option value=\"dhlth\">Health: disable checks</option><option value=\"ehlth\">Health: enable checks</option>\
             <option value=\"hrunn\">Health: force UP</option><option value=\"hdown\">Health: force DOWN</option>\
             <option value=\"shutdown\">Kill sessions</option>\
             </select><input type=\"hidden\" name=\"b\" value=\"#{iid}\"> <button>Apply</button></form>"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(scope: &[&str], refresh: bool) -> StatsPage {
        StatsPage {
            span: clearway_config::model::Span {
                file: "t".into(),
                line: 1,
            },
            uri: "/s".into(),
            realm: None,
            users: Vec::new(),
            refresh: refresh.then(|| std::time::Duration::from_secs(5)),
            admin: Vec::new(),
            hide_version: false,
            show_legends: false,
            show_node: None,
            show_desc: None,
            scope: scope.iter().map(|s| s.to_string()).collect(),
            access: Vec::new(),
        }
    }

    #[test]
    fn options_in_the_uri() {
        let v = View::new(&page(&[], true), "p", "?;csv;up;norefresh;scope=b1&x", false);
        assert_eq!(v.format, Format::Csv);
        assert!(v.hide_down && v.no_refresh && !v.hide_maint);
        assert_eq!(v.search.as_deref(), Some("b1"));
        assert_eq!(v.suffix(), ";up;norefresh?scope=b1");
        // No refresh to stop on a page without one; a search with odd bytes is no search.
        let v = View::new(&page(&[], false), "p", ";norefresh?scope=<x>", false);
        assert!(!v.no_refresh);
        assert_eq!(v.search, None);
        assert_eq!(status_of(";st=DONE;up"), Some("DONE"));
        assert_eq!(status_of(";st=WHAT"), Some("UNKN"));
        assert_eq!(status_of(""), None);
    }

    #[test]
    fn scope_and_search_choose_proxies() {
        let v = View::new(&page(&["web", "api"], false), "p", "?scope=AP", false);
        assert!(v.shows_proxy("api"));
        assert!(!v.shows_proxy("web"), "not matching the search");
        assert!(!v.shows_proxy("apix"), "not in 'stats scope'");
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
