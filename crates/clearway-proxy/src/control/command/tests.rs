use super::*;
use clearway_core::Field;

fn runtime() -> std::sync::Arc<Runtime> {
    let text = "\
defaults
    mode http
frontend fe
    bind 127.0.0.1:1
    default_backend be
backend be
    server s1 127.0.0.1:2 check
    server s2 127.0.0.1:3 weight 5
backend fixed
    balance static-rr
    server f1 127.0.0.1:4 weight 4
";
    let cfg = clearway_config::parse_str("t.cfg", text).expect("config").config;
    Runtime::build(&cfg, 1024).expect("runtime")
}

/// Runs one command line at `level`; the answers, joined.
fn run(rt: &Runtime, line: &str, level: Level) -> String {
    let mut cli = Cli::at(level);
    split(line)
        .iter()
        .map(|w| match parse(w) {
            Ok(c) => execute(rt, &c, &mut cli).answer,
            Err(e) => format!("{e}\n"),
        })
        .collect()
}

#[test]
fn a_line_splits_at_semicolons_and_spaces_with_backslash_escapes() {
    assert_eq!(
        split("show info ; get weight be/s1;quit"),
        vec![vec!["show", "info"], vec!["get", "weight", "be/s1"], vec!["quit"]]
    );
    assert_eq!(
        split(r"set server a\ b/c state\;x"),
        vec![vec!["set", "server", "a b/c", "state;x"]]
    );
    assert!(split("  ;; ").is_empty());
}

#[test]
fn weights_are_read_and_changed_as_haproxy_does() {
    let rt = runtime();
    assert_eq!(run(&rt, "get weight be/s2", Level::User), "5 (initial 5)\n");
    assert_eq!(run(&rt, "set weight be/s2 50%", Level::Admin), "");
    assert_eq!(run(&rt, "get weight be/s2", Level::User), "2 (initial 5)\n");
    assert_eq!(run(&rt, "set server be/s2 weight 7", Level::Admin), "");
    assert_eq!(rt.backends[0].rt.servers[1].weight(), 7);
    assert_eq!(
        run(&rt, "set weight be/s2 300", Level::Admin),
        "Absolute weight can only be between 0 and 256 inclusive.\n"
    );
    assert_eq!(
        run(&rt, "set weight be/s2", Level::Admin),
        "Require <weight> or <weight%>.\n"
    );
    assert_eq!(run(&rt, "set weight be", Level::Admin), "Require 'backend/server'.\n");
    assert_eq!(run(&rt, "get weight be/nope", Level::User), "No such server.\n");
    assert_eq!(run(&rt, "get weight nope/s1", Level::User), "No such backend.\n");
    // A static algorithm only takes "off" and "as configured".
    assert!(run(&rt, "set weight fixed/f1 2", Level::Admin).contains("static LB algorithm"));
    assert_eq!(run(&rt, "set weight fixed/f1 0", Level::Admin), "");
    assert_eq!(run(&rt, "set weight fixed/f1 100%", Level::Admin), "");
    assert_eq!(rt.backends[1].rt.servers[0].weight(), 4);
}

#[test]
fn states_change_only_at_the_admin_level() {
    let rt = runtime();
    let s2 = &rt.backends[0].rt.servers[1];
    assert_eq!(
        run(&rt, "set server be/s2 state drain", Level::Operator),
        "Permission denied\n"
    );
    assert_eq!(s2.admin(), Admin::Ready);
    assert_eq!(run(&rt, "set server be/s2 state drain", Level::Admin), "");
    assert_eq!(s2.admin(), Admin::Drain);
    assert!(!s2.usable());
    assert_eq!(run(&rt, "disable server be/s2", Level::Admin), "");
    assert_eq!(s2.admin(), Admin::Maint);
    assert_eq!(run(&rt, "enable server be/s2", Level::Admin), "");
    assert_eq!(s2.admin(), Admin::Ready);
    assert_eq!(
        run(&rt, "set server be/s2 state bogus", Level::Admin),
        "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
    );
    // Lowering the level holds for the rest of the line.
    assert_eq!(
        run(&rt, "user; disable server be/s2", Level::Admin),
        "Permission denied\n"
    );
    assert_eq!(run(&rt, "operator; show cli level", Level::Admin), "operator\n");
    assert_eq!(
        run(&rt, "admin", Level::User).lines().next(),
        Some("Unknown command: 'admin'. Use 'help' to list the commands.")
    );
}

#[test]
fn stopped_checks_make_a_down_server_count_as_up() {
    let rt = runtime();
    let s1 = &rt.backends[0].rt.servers[0];
    s1.set_up(false);
    assert!(!s1.usable());
    assert_eq!(run(&rt, "disable health be/s1", Level::Admin), "");
    assert!(s1.usable());
    assert_eq!(run(&rt, "enable health be/s1", Level::Admin), "");
    assert!(!s1.usable());
    assert_eq!(run(&rt, "set server be/s1 health up", Level::Admin), "");
    assert!(s1.usable());
}

#[test]
fn the_csv_has_haproxys_columns_and_a_row_per_proxy_and_server() {
    let rt = runtime();
    rt.frontends[0].counters.add(Field::BytesIn, 42);
    rt.backends[0].rt.servers[1].counters.inc(Field::Http5xx);
    run(&rt, "set server be/s2 state drain", Level::Admin);
    let csv = run(&rt, "show stat", Level::User);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,"));
    assert!(lines[0].ends_with(",need_conn_est,uweight,"));
    let names: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(
        names,
        [
            "fe/FRONTEND",
            "be/s1",
            "be/s2",
            "be/BACKEND",
            "fixed/f1",
            "fixed/BACKEND"
        ]
    );
    let columns = lines[0].trim_start_matches("# ").split(',').count();
    for l in &lines[1..] {
        assert_eq!(l.split(',').count(), columns, "{l}");
    }
    let rows = stats::rows(&rt, stats::Filter::default());
    assert_eq!(rows[0].get("bin"), "42");
    assert_eq!(rows[0].get("status"), "OPEN");
    assert_eq!(rows[1].get("status"), "UP");
    assert_eq!(rows[2].get("status"), "DRAIN");
    assert_eq!(rows[2].get("hrsp_5xx"), "1");
    assert_eq!(rows[2].get("weight"), "5", "a drained server keeps its weight");
    assert_eq!(rows[2].get("uweight"), "5");
    assert_eq!(rows[3].get("weight"), "1", "the backend's weight: its usable servers'");
    assert_eq!(rows[3].get("algo"), "roundrobin");
    // `show stat IID TYPE SID`: servers only (4) of proxy 2.
    let only = run(&rt, "show stat 2 4 -1", Level::User);
    assert_eq!(only.lines().count(), 3, "{only}");
}

#[test]
fn servers_state_follows_haproxys_format_1() {
    let rt = runtime();
    run(&rt, "set server be/s2 state maint", Level::Admin);
    let out = run(&rt, "show servers state be", Level::User);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1");
    assert!(lines[1].starts_with("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state"));
    let s2: Vec<&str> = lines[3].split(' ').collect();
    // In maintenance: stopped (op state 0), as HAProxy shows it.
    assert_eq!(&s2[..9], ["2", "be", "2", "s2", "127.0.0.1", "0", "1", "5", "5"]);
    assert_eq!(lines[1].split(' ').count() - 1, s2.len(), "one value per column");
    assert_eq!(
        run(&rt, "show servers state nope", Level::User),
        "Can't find backend 'nope'.\n"
    );
}

#[test]
fn unknown_commands_get_an_answer_never_silence() {
    let rt = runtime();
    assert!(run(&rt, "frobnicate", Level::Admin).starts_with("Unknown command: 'frobnicate'"));
    assert!(run(&rt, "show nothing", Level::Admin).starts_with("Unknown command, but maybe"));
    assert!(run(&rt, "help", Level::User).contains("set server <bk>/<srv> state (ready|drain|maint)"));
}

#[test]
fn clearing_counters_keeps_totals_unless_all() {
    let rt = runtime();
    let fe = &rt.frontends[0];
    fe.counters.inc(Field::Sessions);
    assert_eq!(run(&rt, "clear counters", Level::User), "Permission denied\n");
    assert_eq!(run(&rt, "clear counters", Level::Operator), "");
    assert_eq!(fe.counters.get(Field::Sessions), 1);
    assert_eq!(run(&rt, "clear counters all", Level::Operator), "Permission denied\n");
    assert_eq!(run(&rt, "clear counters all", Level::Admin), "");
    assert_eq!(fe.counters.get(Field::Sessions), 0);
}

#[test]
fn show_info_counts_dropped_log_lines() {
    let rt = runtime();
    let dropped = |rt: &Runtime| -> u64 {
        run(rt, "show info", Level::User)
            .lines()
            .find_map(|l| l.strip_prefix("DroppedLogs: "))
            .expect("a DroppedLogs line")
            .parse()
            .expect("a number")
    };
    let before = dropped(&rt);
    crate::log::sink::DROPPED.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    assert!(dropped(&rt) >= before + 2);
}

#[test]
fn a_server_without_run_time_resolution_keeps_its_name() {
    let rt = runtime();
    assert_eq!(
        run(&rt, "set server be/s2 fqdn foo.example", Level::Admin),
        "set server <b>/<s> fqdn failed because no resolution is configured.\n"
    );
    assert_eq!(
        run(&rt, "set server be/s2 fqdn", Level::Admin),
        "set server <b>/<s> fqdn requires a FQDN.\n"
    );
    assert!(run(&rt, "set server be/s2 fqdn foo.example", Level::Operator).contains("Permission denied"));
}

#[test]
fn show_sess_takes_an_id_as_strtoul_reads_it_or_all() {
    let p = |l: &str| parse(&split(l)[0]);
    assert_eq!(p("show sess 0x1f"), Ok(Command::ShowSessDetail(Some(31))));
    assert_eq!(p("show sess 017"), Ok(Command::ShowSessDetail(Some(15))));
    assert_eq!(p("show sess 31"), Ok(Command::ShowSessDetail(Some(31))));
    assert_eq!(p("show sess 12ab"), Ok(Command::ShowSessDetail(Some(12))));
    assert_eq!(p("show sess zz"), Ok(Command::ShowSessDetail(Some(0))));
    assert_eq!(p("show sess all"), Ok(Command::ShowSessDetail(None)));
    assert_eq!(p("show sess"), Ok(Command::ShowSess));
}
