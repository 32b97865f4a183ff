//! The runtime commands, in HAProxy's spelling (`show stat`, `set server be/s1 state drain`,
//! ...): parsed from one line's words, checked against the caller's level, and carried out on
//! the running state. This is the one implementation of each command that the stats socket
//! (and later the stats page's admin actions and the web admin) call. Answers are HAProxy's
//! where scripts read them. Must not do I/O beyond the state it changes.

use super::{actions, info, stats};
use crate::model::{Backend, Runtime};
use clearway_core::{Admin, ServerRt};
use std::sync::Arc;

/// What a connection to the stats socket may do (`level` on the `stats socket` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Read only: `show` and `get` commands.
    User,
    /// Also what cannot hurt traffic (`clear counters`).
    Operator,
    /// Everything.
    Admin,
}

impl Level {
    pub fn parse(word: &str) -> Option<Level> {
        match word {
            "user" => Some(Level::User),
            "operator" => Some(Level::Operator),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Level::User => "user",
            Level::Operator => "operator",
            Level::Admin => "admin",
        }
    }
}

/// A connection's standing on the runtime API: its level, and the modes it turned on
/// (`experimental-mode on`, `expert-mode on`), which last as long as the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cli {
    pub level: Level,
    pub experimental: bool,
    pub expert: bool,
}

impl Cli {
    pub fn at(level: Level) -> Cli {
        Cli {
            level,
            experimental: false,
            expert: false,
        }
    }
}

/// The modes a connection may turn on, as HAProxy names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Experimental,
    Expert,
}

/// How `show stat` writes the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatFormat {
    Csv,
    Typed,
    Json,
}

/// `backend/server`, as the commands name a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName {
    pub backend: String,
    pub server: String,
}

/// A weight as `set weight` takes it: absolute, or a percentage of the initial weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Absolute(u32),
    Percent(u32),
}

/// The operational state `set server ... health` forces until the next check says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    /// Lowers the connection's level (`operator`, `user`).
    Lower(Level),
    ShowCliLevel,
    Prompt,
    Quit,
    ShowInfo,
    ShowStat(stats::Filter, StatFormat),
    ShowServersState(Option<String>),
    ShowBackend,
    ShowVersion,
    ShowTransparent,
    GetWeight(ServerName),
    SetWeight(ServerName, Weight),
    SetState(ServerName, Admin),
    SetHealth(ServerName, Health),
    /// `set server B/S fqdn NAME`: for a server resolved at run time.
    SetFqdn(ServerName, String),
    /// `set server B/S addr IP [port PORT]`.
    SetAddr(ServerName, String, Option<String>),
    /// `disable server` / `enable server` (HAProxy's older spelling of `set server ... state`).
    Disable(ServerName),
    Enable(ServerName),
    DisableHealth(ServerName),
    EnableHealth(ServerName),
    DisableAgent(ServerName),
    EnableAgent(ServerName),
    /// `add server B/S ADDR [params]`: the words after the name.
    AddServer(ServerName, Vec<String>),
    /// `del server B/S`.
    DelServer(ServerName),
    ClearCounters {
        all: bool,
    },
    /// `set maxconn frontend NAME N`, `set maxconn server B/S N`, `set maxconn global N`.
    SetMaxconnFrontend(String, u32),
    SetMaxconnServer(ServerName, u32),
    SetMaxconnGlobal(u32),
    /// `show sess`: the sessions in progress.
    ShowSess,
    /// `show sess ID` (one session's details; None: `all`, every one's).
    ShowSessDetail(Option<u64>),
    /// `shutdown sessions server B/S`: ends the sessions in progress on a server.
    ShutdownSessions(ServerName),
    /// `show errors [PROXY|IID] [request|response]`: the last malformed requests.
    ShowErrors {
        proxy: Option<String>,
        responses_only: bool,
    },
    /// `get var proc.NAME`: a process variable's type and value.
    GetVar(String),
    /// `set var proc.NAME [expr|fmt] VALUE` (experimental mode): a sample expression or a
    /// log-format string, from constants and other variables.
    SetVar {
        name: String,
        fmt: bool,
        value: String,
    },
    /// `experimental-mode [on|off]`, `expert-mode [on|off]`: None asks whether it is on.
    Mode(Mode, Option<bool>),
    /// `show table [NAME [key K | data.T OP V ...]]`, `clear table NAME [...]`, `set table
    /// NAME key K [data.T V]*`: the table's name, then the words after it.
    Table(super::tables::Action, Option<String>, Vec<String>),
}

/// Splits one command line into commands at unescaped `;`, and each into words at spaces;
/// a backslash makes the next character plain.
pub fn split(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            ';' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                out.push(std::mem::take(&mut words));
            }
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    out.push(words);
    out.retain(|w| !w.is_empty());
    out
}

fn server_name(w: Option<&String>) -> Result<ServerName, String> {
    let w = w.ok_or("Require 'backend/server'.")?;
    match w.split_once('/') {
        Some((b, s)) if !b.is_empty() && !s.is_empty() => Ok(ServerName {
            backend: b.to_string(),
            server: s.to_string(),
        }),
        _ => Err("Require 'backend/server'.".into()),
    }
}

fn weight(w: Option<&String>) -> Result<Weight, String> {
    let w = w.ok_or("Require <weight> or <weight%>.")?;
    let (digits, percent) = match w.strip_suffix('%') {
        Some(d) => (d, true),
        None => (w.as_str(), false),
    };
    let n: u32 = digits
        .parse()
        .map_err(|_| "Require <weight> or <weight%>.".to_string())?;
    if percent {
        Ok(Weight::Percent(n))
    } else if n > 256 {
        Err("Absolute weight can only be between 0 and 256 inclusive.".into())
    } else {
        Ok(Weight::Absolute(n))
    }
}

/// Reads one command's words. Err: the answer to give (HAProxy's wording where it has one).
pub fn parse(words: &[String]) -> Result<Command, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let cmd = match w.as_slice() {
        ["help", ..] => Command::Help,
        ["prompt", ..] => Command::Prompt,
        ["quit", ..] => Command::Quit,
        ["operator"] => Command::Lower(Level::Operator),
        ["user"] => Command::Lower(Level::User),
        ["show", "cli", "level"] => Command::ShowCliLevel,
        ["show", "info", ..] => Command::ShowInfo,
        ["show", "stat", rest @ ..] => {
            // `[<iid> <type> <sid>] [typed|json] [desc] [up] [no-maint]`, as HAProxy reads it.
            let mut format = StatFormat::Csv;
            let mut nums = Vec::new();
            for w in rest {
                match *w {
                    "typed" => format = StatFormat::Typed,
                    "json" => format = StatFormat::Json,
                    "desc" | "up" | "no-maint" => {}
                    n => nums.push(
                        n.parse::<i64>()
                            .map_err(|_| "Usage: show stat [<iid> <type> <sid>] [typed|json]".to_string())?,
                    ),
                }
            }
            let filter = match nums.as_slice() {
                [] => stats::Filter::default(),
                [iid, t, sid] => {
                    let any = |n: i64| (n >= 0).then_some(n as u32);
                    stats::Filter {
                        iid: any(*iid),
                        types: if *t < 0 { super::stats::ALL_TYPES } else { *t as u8 },
                        sid: any(*sid),
                    }
                }
                _ => return Err("Usage: show stat [<iid> <type> <sid>] [typed|json]".into()),
            };
            Command::ShowStat(filter, format)
        }
        ["show", "servers", "state"] => Command::ShowServersState(None),
        ["show", "servers", "state", b] => Command::ShowServersState(Some(b.to_string())),
        ["show", "backend"] => Command::ShowBackend,
        ["show", "sess"] => Command::ShowSess,
        ["show", "sess", "all", ..] => Command::ShowSessDetail(None),
        // As HAProxy reads it (strtoul, base 0): `0x` hexadecimal, `0` octal, else decimal;
        // what does not read is no session.
        ["show", "sess", id, ..] => Command::ShowSessDetail(Some(c_number(id))),
        ["show", "version"] => Command::ShowVersion,
        ["show", "transparent"] => Command::ShowTransparent,
        ["get", "weight", ..] => Command::GetWeight(server_name(words.get(2))?),
        ["get", "var"] => return Err("Missing process-wide variable identifier.".into()),
        ["get", "var", name, ..] => Command::GetVar(name.to_string()),
        ["set", "var"] => return Err("Missing process-wide variable identifier.".into()),
        ["set", "var", _] => return Err("Missing either 'expr', 'fmt' or expression.".into()),
        ["set", "var", name, value] => Command::SetVar {
            name: name.to_string(),
            fmt: false,
            value: value.to_string(),
        },
        ["set", "var", name, kind, value, ..] => Command::SetVar {
            name: name.to_string(),
            fmt: match *kind {
                "fmt" => true,
                "expr" => false,
                k => {
                    return Err(format!(
                        "'set var': arg type must be either 'expr' or 'fmt' but got '{k}'."
                    ))
                }
            },
            value: value.to_string(),
        },
        [kw @ ("experimental-mode" | "expert-mode"), rest @ ..] => {
            let mode = if *kw == "expert-mode" {
                Mode::Expert
            } else {
                Mode::Experimental
            };
            // As HAProxy: any word but `on` turns it off.
            Command::Mode(mode, rest.first().map(|w| *w == "on"))
        }
        [verb @ ("show" | "clear" | "set"), "table", rest @ ..] => {
            use super::tables::Action;
            let action = match *verb {
                "show" => Action::Show,
                "clear" => Action::Clear,
                _ => Action::Set,
            };
            let args = rest.iter().skip(1).map(|w| w.to_string()).collect();
            Command::Table(action, rest.first().map(|n| n.to_string()), args)
        }
        ["set", "weight", ..] => {
            let s = server_name(words.get(2))?;
            Command::SetWeight(s, weight(words.get(3))?)
        }
        ["set", "server", ..] => {
            let s = server_name(words.get(2))?;
            match w.get(3) {
                Some(&"state") => match w.get(4) {
                    Some(&"ready") => Command::SetState(s, Admin::Ready),
                    Some(&"drain") => Command::SetState(s, Admin::Drain),
                    Some(&"maint") => Command::SetState(s, Admin::Maint),
                    _ => return Err("'set server <srv> state' expects 'ready', 'drain' and 'maint'.".into()),
                },
                Some(&"weight") => Command::SetWeight(s, weight(words.get(4))?),
                Some(&"health") => match w.get(4) {
                    Some(&"up") => Command::SetHealth(s, Health::Up),
                    Some(&"down") => Command::SetHealth(s, Health::Down),
                    _ => return Err("'set server <srv> health' expects 'up' or 'down'.".into()),
                },
                Some(&"addr") => match (w.get(4), w.get(5), w.get(6)) {
                    (Some(a), None, _) => Command::SetAddr(s, a.to_string(), None),
                    (Some(a), Some(&"port"), Some(p)) => Command::SetAddr(s, a.to_string(), Some(p.to_string())),
                    _ => return Err("set server <b>/<s> addr requires an address and optionally a port.".into()),
                },
                Some(&"fqdn") => match w.get(4) {
                    Some(name) => Command::SetFqdn(s, name.to_string()),
                    None => return Err("set server <b>/<s> fqdn requires a FQDN.".into()),
                },
                Some(other) => {
                    return Err(format!(
                        "'set server <srv> {other}' is not supported by Clearway; usage: set server <backend>/<server> addr | fqdn | health | state | weight"
                    ))
                }
                None => return Err("usage: set server <backend>/<server> addr | fqdn | health | state | weight".into()),
            }
        }
        ["disable", "server", ..] => Command::Disable(server_name(words.get(2))?),
        ["enable", "server", ..] => Command::Enable(server_name(words.get(2))?),
        ["disable", "health", ..] => Command::DisableHealth(server_name(words.get(2))?),
        ["enable", "health", ..] => Command::EnableHealth(server_name(words.get(2))?),
        ["disable", "agent", ..] => Command::DisableAgent(server_name(words.get(2))?),
        ["enable", "agent", ..] => Command::EnableAgent(server_name(words.get(2))?),
        ["add", "server", ..] => {
            Command::AddServer(server_name(words.get(2))?, words.iter().skip(3).cloned().collect())
        }
        ["del", "server", ..] => Command::DelServer(server_name(words.get(2))?),
        ["set", "maxconn", "frontend", rest @ ..] => match rest {
            [] => return Err("A frontend name is expected.".into()),
            [name, n, ..] => Command::SetMaxconnFrontend(name.to_string(), int(n)?),
            [_] => return Err("Integer value expected.".into()),
        },
        ["set", "maxconn", "server", ..] => {
            Command::SetMaxconnServer(server_name(words.get(3))?, int(w.get(4).copied().unwrap_or(""))?)
        }
        ["set", "maxconn", "global", n, ..] => Command::SetMaxconnGlobal(int(n)?),
        ["shutdown", "sessions", "server", ..] => Command::ShutdownSessions(server_name(words.get(3))?),
        ["shutdown", "sessions", ..] => return Err("'shutdown sessions' only supports 'server'.".into()),
        ["set", "maxconn", "global"] => return Err("Expects an integer value.".into()),
        ["show", "errors", rest @ ..] => Command::ShowErrors {
            proxy: rest.first().filter(|p| **p != "-1").map(|p| p.to_string()),
            responses_only: rest.get(1) == Some(&"response"),
        },
        ["clear", "counters"] => Command::ClearCounters { all: false },
        ["clear", "counters", "all"] => Command::ClearCounters { all: true },
        _ => return Err(unknown(&w)),
    };
    Ok(cmd)
}

/// A number as C's `strtoul(s, NULL, 0)` reads it: `0x` hexadecimal, a leading `0` octal,
/// else decimal; 0 when nothing reads.
fn c_number(s: &str) -> u64 {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None if s.len() > 1 && s.starts_with('0') => (&s[1..], 8),
        None => (s, 10),
    };
    let end = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    u64::from_str_radix(&digits[..end], radix).unwrap_or(0)
}

/// A non-negative integer argument.
fn int(s: &str) -> Result<u32, String> {
    s.parse().map_err(|_| "Integer value expected.".to_string())
}

/// The answer to a command Clearway does not know: HAProxy's kind, with the commands whose
/// first word matches.
fn unknown(w: &[&str]) -> String {
    let first = w.first().copied().unwrap_or("");
    let near: Vec<String> = super::help::HELP
        .iter()
        .filter(|(c, _)| c.split(' ').next() == Some(first))
        .map(|(c, d)| format!("  {c:<40}: {d}"))
        .collect();
    if near.is_empty() {
        format!("Unknown command: '{}'. Use 'help' to list the commands.", w.join(" "))
    } else {
        format!(
            "Unknown command, but maybe one of the following ones is a better match:\n{}",
            near.join("\n")
        )
    }
}

/// The least level a command needs.
pub fn needs(c: &Command) -> Level {
    match c {
        Command::SetWeight(..)
        | Command::SetState(..)
        | Command::SetHealth(..)
        | Command::SetFqdn(..)
        | Command::SetAddr(..)
        | Command::Disable(_)
        | Command::Enable(_)
        | Command::DisableHealth(_)
        | Command::EnableHealth(_)
        | Command::DisableAgent(_)
        | Command::EnableAgent(_)
        | Command::AddServer(..)
        | Command::DelServer(_)
        | Command::SetMaxconnFrontend(..)
        | Command::SetMaxconnServer(..)
        | Command::SetMaxconnGlobal(_)
        | Command::ShutdownSessions(_)
        | Command::ClearCounters { all: true }
        | Command::Mode(..) => Level::Admin,
        // Listing the tables is a user's; looking into one, or changing it, an operator's.
        Command::Table(super::tables::Action::Show, None, _) => Level::User,
        // Client addresses: not for a user-level socket, as in HAProxy.
        Command::ShowSess
        | Command::ShowSessDetail(_)
        | Command::ClearCounters { all: false }
        | Command::ShowErrors { .. }
        | Command::GetVar(_)
        | Command::SetVar { .. }
        | Command::Table(..) => Level::Operator,
        _ => Level::User,
    }
}

/// What a command did: its answer, and the connection's level and mode after it.
#[derive(Debug)]
pub struct Outcome {
    pub answer: String,
    /// The command asks to close the connection.
    pub quit: bool,
    /// The command toggles interactive mode.
    pub prompt: bool,
}

impl Outcome {
    fn say(answer: impl Into<String>) -> Outcome {
        Outcome {
            answer: answer.into(),
            quit: false,
            prompt: false,
        }
    }
}

fn find<'a>(rt: &'a Runtime, n: &ServerName) -> Result<(&'a Arc<Backend>, usize, &'a ServerRt), String> {
    let be = rt
        .backends
        .iter()
        .find(|b| b.rt.name == n.backend)
        .ok_or("No such backend.")?;
    let i = be.server_index(&n.server).ok_or("No such server.")?;
    Ok((be, i, &be.rt.servers[i]))
}

/// Carries out `c` for a connection (whose level `operator`/`user` lower in place, and
/// whose modes `experimental-mode`/`expert-mode` set).
pub fn execute(rt: &Runtime, c: &Command, cli: &mut Cli) -> Outcome {
    if matches!(c, Command::SetVar { .. }) && !cli.experimental {
        return Outcome::say("This command is restricted to experimental mode only.\n");
    }
    if needs(c) > cli.level {
        return Outcome::say("Permission denied\n");
    }
    match run(rt, c, cli) {
        Ok(o) => o,
        Err(e) => Outcome::say(format!("{e}\n")),
    }
}

fn run(rt: &Runtime, c: &Command, cli: &mut Cli) -> Result<Outcome, String> {
    let said = |s: String| Ok(Outcome::say(s));
    let level = &mut cli.level;
    match c {
        Command::Help => said(super::help::help()),
        Command::Lower(l) => {
            *level = (*level).min(*l);
            said(String::new())
        }
        Command::ShowCliLevel => said(format!("{}\n", level.word())),
        Command::Prompt => Ok(Outcome {
            prompt: true,
            ..Outcome::say("")
        }),
        Command::Quit => Ok(Outcome {
            quit: true,
            ..Outcome::say("")
        }),
        Command::ShowInfo => said(info::show_info(rt)),
        Command::ShowStat(f, StatFormat::Csv) => said(stats::csv(rt, *f)),
        Command::ShowStat(f, StatFormat::Typed) => said(super::typed::typed(&stats::rows(rt, *f))),
        Command::ShowStat(f, StatFormat::Json) => said(super::typed::json(&stats::rows(rt, *f))),
        Command::ShowServersState(b) => info::servers_state(rt, b.as_deref()).map(Outcome::say),
        Command::ShowBackend => {
            let mut s = String::from("# name\n");
            for b in &rt.backends {
                s.push_str(&b.rt.name);
                s.push('\n');
            }
            said(s)
        }
        Command::ShowVersion => said(format!("{}\n", env!("CARGO_PKG_VERSION"))),
        Command::ShowTransparent => said(info::show_transparent(rt)),
        Command::ShowSess => said(info::show_sess(rt)),
        Command::ShowSessDetail(id) => said(info::show_sess_detail(rt, *id)),
        Command::GetVar(name) => said(crate::acl::show_process_var(name).ok_or("Variable not found.")?),
        Command::SetVar { name, fmt, value } => {
            if clearway_sample::VarName::parse(name).is_ok_and(|v| v.scope != clearway_sample::Scope::Proc) {
                return Err(format!(
                    "'set var': cannot set variable '{name}', only scope 'proc' is permitted here."
                ));
            }
            let kw = if *fmt { "set-var-fmt" } else { "set-var" };
            let (name, value) = clearway_config::process_var(kw, name, value)?;
            crate::acl::assign_process_var(&name, &value);
            said(String::new())
        }
        Command::Mode(mode, on) => {
            let (flag, word) = match mode {
                Mode::Experimental => (&mut cli.experimental, "experimental-mode"),
                Mode::Expert => (&mut cli.expert, "expert-mode"),
            };
            match on {
                Some(on) => {
                    *flag = *on;
                    said(String::new())
                }
                None => said(format!("{word} is {}\n", if *flag { "ON" } else { "OFF" })),
            }
        }
        Command::Table(action, name, args) => said(super::tables::command(*action, name.as_deref(), args)?),
        Command::GetWeight(n) => {
            let (_, _, s) = find(rt, n)?;
            said(format!("{} (initial {})\n", s.weight(), s.initial_weight))
        }
        Command::SetWeight(n, w) => {
            let (be, i, s) = find(rt, n)?;
            let new = match *w {
                Weight::Absolute(v) => v,
                Weight::Percent(p) => actions::percent_of(s, p),
            };
            actions::set_weight(be, i, new)?;
            said(String::new())
        }
        Command::SetState(n, a) => {
            let (be, i, _) = find(rt, n)?;
            actions::set_admin(be, i, *a);
            said(String::new())
        }
        Command::Disable(n) => {
            let (be, i, _) = find(rt, n)?;
            actions::set_admin(be, i, Admin::Maint);
            said(String::new())
        }
        Command::Enable(n) => {
            let (be, i, s) = find(rt, n)?;
            if s.admin() == Admin::Maint {
                actions::set_admin(be, i, Admin::Ready);
            }
            said(String::new())
        }
        Command::SetHealth(n, h) => {
            let (be, i, s) = find(rt, n)?;
            s.set_up(*h == Health::Up);
            s.changed_at(crate::process::uptime_secs());
            let word = if *h == Health::Up { "UP" } else { "DOWN" };
            tracing::warn!(
                "Server {}/{} is {word} (forced by the runtime API).",
                be.rt.name,
                s.name
            );
            actions::after_change(be, i);
            said(String::new())
        }
        Command::SetAddr(n, addr, port) => {
            let (be, i, _) = find(rt, n)?;
            said(actions::set_addr(be, i, addr, port.as_deref()))
        }
        Command::SetFqdn(n, _) => {
            let (_, _, s) = find(rt, n)?;
            // As HAProxy: only a server resolved at run time can change names.
            if !s.resolved_at_run_time() {
                return Err("set server <b>/<s> fqdn failed because no resolution is configured.".into());
            }
            Err("'set server <b>/<s> fqdn' is not supported by Clearway yet for servers resolved at run time.".into())
        }
        Command::DisableHealth(n) => {
            let (be, i, s) = find(rt, n)?;
            s.set_checks_stopped(true);
            actions::after_change(be, i);
            said(String::new())
        }
        Command::EnableHealth(n) => {
            let (be, i, s) = find(rt, n)?;
            s.set_checks_stopped(false);
            actions::after_change(be, i);
            said(String::new())
        }
        Command::DisableAgent(n) | Command::EnableAgent(n) => {
            let (be, i, s) = find(rt, n)?;
            let stop = matches!(c, Command::DisableAgent(_));
            be.side(i).set_agent_stopped(stop);
            if stop && s.agent_down() {
                // A stopped agent no longer holds its server down.
                s.set_agent_down(false);
                actions::after_change(be, i);
            }
            said(String::new())
        }
        Command::AddServer(n, words) => said(super::servers::add(rt, (&n.backend, &n.server), words)),
        Command::DelServer(n) => said(super::servers::del(rt, (&n.backend, &n.server))),
        Command::ClearCounters { all } => {
            for fe in &rt.frontends {
                fe.max_sessions.clear_max();
                if *all {
                    fe.counters.clear();
                }
            }
            for be in &rt.backends {
                be.rt.conns.clear_max();
                be.queue.clear_max();
                if *all {
                    be.rt.counters.clear();
                }
                for s in &be.rt.servers {
                    if *all {
                        s.clear_counters();
                    } else {
                        s.clear_max();
                    }
                }
            }
            said(String::new())
        }
        Command::SetMaxconnFrontend(name, n) => {
            let fe = rt
                .frontends
                .iter()
                .find(|f| &f.name == name)
                .ok_or("No such frontend.")?;
            fe.conns.set(*n);
            said(String::new())
        }
        Command::SetMaxconnServer(n, max) => {
            let (be, i, _) = find(rt, n)?;
            actions::set_maxconn(be, i, *max);
            said(String::new())
        }
        Command::SetMaxconnGlobal(n) => {
            if *n == 0 || *n > rt.global_maxconn {
                return Err("Value out of range.".into());
            }
            rt.global_conns.set(*n);
            said(String::new())
        }
        Command::ShutdownSessions(n) => {
            let (be, i, s) = find(rt, n)?;
            // Present whenever a stats socket exists, which is how this command comes.
            if let Some(k) = &be.side(i).kill {
                tracing::warn!(
                    "Server {}/{}: its sessions are shut down (runtime API).",
                    be.rt.name,
                    s.name
                );
                k.fire();
            }
            said(String::new())
        }
        Command::ShowErrors { proxy, responses_only } => {
            super::errors::show(rt, proxy.as_deref(), *responses_only).map(Outcome::say)
        }
    }
}

#[cfg(test)]
mod tests;
