//! What `help` lists on the runtime API: each command's words and what it does, in HAProxy's
//! layout (the near matches of an unknown command come from the same list).

/// The commands `help` lists: the words, and what they do.
pub const HELP: &[(&str, &str)] = &[
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
    ("operator", "lower the level of the current CLI session to operator"),
    ("user", "lower the level of the current CLI session to user"),
    ("show cli level", "display the level of the current CLI session"),
    ("show info", "report information about the running process"),
    (
        "show stat [<iid> <type> <sid>] [typed|json]",
        "report counters for each proxy and server",
    ),
    (
        "show servers state [<backend>]",
        "dump volatile server information (all or for a single backend)",
    ),
    ("show backend", "list the backends"),
    ("show version", "show the version of the current process"),
    (
        "show transparent",
        "transparent listeners and each server's return path",
    ),
    ("get weight <bk>/<srv>", "report a server's current weight"),
    ("set weight <bk>/<srv> (<w>|<w>%)", "change a server's weight"),
    (
        "set server <bk>/<srv> state (ready|drain|maint)",
        "change a server's administrative state",
    ),
    ("set server <bk>/<srv> weight (<w>|<w>%)", "change a server's weight"),
    (
        "set server <bk>/<srv> addr <ip> [port <port>]",
        "move a server to another address",
    ),
    (
        "set server <bk>/<srv> health (up|down)",
        "force a server's operational state",
    ),
    ("disable server <bk>/<srv>", "put a server in maintenance"),
    ("enable server <bk>/<srv>", "take a server out of maintenance"),
    (
        "disable health <bk>/<srv>",
        "stop a server's health checks (it counts as up)",
    ),
    ("enable health <bk>/<srv>", "restart a server's health checks"),
    ("disable agent <bk>/<srv>", "stop asking a server's agent"),
    ("enable agent <bk>/<srv>", "ask a server's agent again"),
    (
        "add server <bk>/<srv> <addr> [<params>]",
        "create a new server (in maintenance)",
    ),
    ("del server <bk>/<srv>", "remove a server in maintenance"),
    (
        "clear counters [all]",
        "clear max statistics counters (or all counters)",
    ),
    (
        "set maxconn frontend <frontend> <value>",
        "change a frontend's maxconn setting",
    ),
    ("set maxconn global <value>", "change the per-process maxconn setting"),
    ("shutdown sessions server <bk>/<srv>", "kill sessions on a server"),
    (
        "show sess [<id>|all]",
        "report the list of current sessions or dump this exact session",
    ),
    ("get var <name>", "retrieve contents of a process-wide variable"),
    (
        "show table [<table>]",
        "report table usage stats or dump this table's contents",
    ),
    ("clear table <table> [key <key>]", "remove an entry from a table"),
    (
        "set maxconn server <bk>/<srv> <value>",
        "change a server's maxconn setting",
    ),
    (
        "show errors [<px>] [request|response]",
        "report last request and/or response errors for each proxy",
    ),
];

/// `help`: the commands, one per line.
pub fn help() -> String {
    let mut s = String::from("The following commands are valid at this level:\n");
    for (c, d) in HELP {
        s.push_str(&format!("  {c:<40}: {d}\n"));
    }
    s
}
