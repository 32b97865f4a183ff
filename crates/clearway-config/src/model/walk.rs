//! What a configuration's rules name, found by walking them: the process variables HAProxy
//! creates at start-up, the stick tables that must exist.

use super::{Config, Span};

/// A rule's action, for `Config::visit_rules`.
#[derive(Clone, Copy)]
enum Action<'a> {
    Http(&'a crate::rules::HttpAction),
    Tcp(&'a crate::rules::TcpAction),
}

impl Config {
    /// Calls `expr` with every sample expression of the rules (HTTP and TCP rules, their
    /// conditions, `use_backend` conditions) and `action` with every rule's action, each with
    /// the rule's line.
    fn visit_rules(
        &self,
        expr: &dyn Fn(&crate::rules::Fetch, &crate::rules::Chain, &Span),
        action: &dyn Fn(Action<'_>, &Span),
    ) {
        use crate::rules::{TcpAction, VarValue};
        let https = self
            .frontends
            .iter()
            .map(|f| &f.http)
            .chain(self.backends.iter().map(|b| &b.http));
        for h in https {
            for r in h
                .request_rules
                .iter()
                .chain(&h.response_rules)
                .chain(&h.after_response_rules)
            {
                r.any_expr(&|f, c| {
                    expr(f, c, &r.span);
                    false
                });
                action(Action::Http(&r.action), &r.span);
            }
        }
        let tcps = (self.frontends.iter().map(|f| &f.tcp_rules)).chain(self.backends.iter().map(|b| &b.tcp_rules));
        for t in tcps {
            for r in t
                .connection
                .iter()
                .chain(&t.session)
                .chain(&t.content)
                .chain(&t.response)
            {
                let each = |f: &crate::rules::Fetch, c: &crate::rules::Chain| {
                    expr(f, c, &r.span);
                    false
                };
                if let Some(c) = &r.condition {
                    c.any_expr(&each);
                }
                match &r.action {
                    TcpAction::SetVar {
                        value: VarValue::Expr(e),
                        ..
                    }
                    | TcpAction::TrackSc { key: e, .. } => {
                        each(&e.fetch, &e.convs);
                    }
                    TcpAction::SetVar {
                        value: VarValue::Format(t),
                        ..
                    } => {
                        t.any_expr(&each);
                    }
                    _ => {}
                }
                action(Action::Tcp(&r.action), &r.span);
            }
        }
        for b in &self.backends {
            for r in &b.stick_rules {
                expr(&r.expr.fetch, &r.expr.convs, &r.span);
                if let Some(c) = &r.condition {
                    c.any_expr(&|f, c| {
                        expr(f, c, &r.span);
                        false
                    });
                }
            }
        }
        for f in &self.frontends {
            for u in &f.use_backends {
                if let Some(c) = &u.condition {
                    c.any_expr(&|f, c| {
                        expr(f, c, &u.span);
                        false
                    });
                }
            }
        }
    }

    /// The process variables (`proc.*`) the configuration names anywhere: HAProxy creates
    /// them all at start-up, so `set-var(proc.x,ifexists)` finds them.
    pub fn proc_var_names(&self) -> Vec<clearway_sample::VarName> {
        use crate::rules::{Fetch, HttpAction, TcpAction};
        let found = std::cell::RefCell::new(Vec::new());
        let note = |v: &clearway_sample::VarName| {
            if v.scope == clearway_sample::Scope::Proc {
                found.borrow_mut().push(v.clone());
            }
        };
        self.visit_rules(
            &|f, c, _| {
                if let Fetch::Var { name, .. } = f {
                    note(name);
                }
                c.var_names().for_each(note);
            },
            &|a, _| match a {
                Action::Http(HttpAction::SetVar { name, .. } | HttpAction::UnsetVar(name))
                | Action::Tcp(TcpAction::SetVar { name, .. } | TcpAction::UnsetVar(name)) => note(name),
                _ => {}
            },
        );
        for (name, _) in &self.global.set_vars {
            note(name);
        }
        let mut v = found.into_inner();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v.dedup();
        v
    }

    /// The stick tables rules name (`track-scN ... table T`, `sc_*`/`src_*` fetches), with
    /// where: each must be a proxy's table.
    pub fn stick_refs(&self) -> Vec<(String, Span)> {
        use crate::rules::{Fetch, HttpAction, TcpAction};
        let found = std::cell::RefCell::new(Vec::new());
        self.visit_rules(
            &|f, c, span| {
                if let Fetch::Stick { table: Some(t), .. } = f {
                    found.borrow_mut().push((t.clone(), span.clone()));
                }
                for t in c.table_names() {
                    found.borrow_mut().push((t.to_string(), span.clone()));
                }
            },
            &|a, span| {
                if let Action::Http(HttpAction::TrackSc { table: Some(t), .. })
                | Action::Tcp(TcpAction::TrackSc { table: Some(t), .. }) = a
                {
                    found.borrow_mut().push((t.clone(), span.clone()));
                }
            },
        );
        let mut found = found.into_inner();
        for b in &self.backends {
            found.extend(b.stick_rules.iter().map(|r| (r.table.clone(), r.span.clone())));
        }
        found
    }

    /// The backends (and servers) state fetches name (`nbsrv(B)`, `srv_is_up(B/S)`), with
    /// where.
    pub fn state_refs(&self) -> Vec<(String, Option<String>, Span)> {
        use crate::rules::Fetch;
        let found = std::cell::RefCell::new(Vec::new());
        let note = |f: &Fetch, span: &Span| match f {
            Fetch::Proxy { backend, .. } => found.borrow_mut().push((backend.clone(), None, span.clone())),
            Fetch::Server { backend, server, .. } => {
                found
                    .borrow_mut()
                    .push((backend.clone(), Some(server.clone()), span.clone()))
            }
            _ => {}
        };
        self.visit_rules(&|f, _, span| note(f, span), &|_, _| {});
        let mut found = found.into_inner();
        found.extend(self.acl_line_refs.iter().cloned());
        found
    }

    /// What `pick` takes from each fetch the rules name, with the rule's place.
    fn picked<T>(&self, pick: impl Fn(&crate::rules::Fetch) -> Option<T>) -> Vec<(T, Span)> {
        let found = std::cell::RefCell::new(Vec::new());
        self.visit_rules(
            &|f, _, span| {
                if let Some(t) = pick(f) {
                    found.borrow_mut().push((t, span.clone()));
                }
            },
            &|_, _| {},
        );
        found.into_inner()
    }

    /// The backends whose session rate a rule reads (`be_sess_rate`).
    pub fn rate_read_backends(&self) -> Vec<String> {
        use crate::rules::{Fetch, ProxyState};
        let picked = self.picked(|f| match f {
            Fetch::Proxy {
                what: ProxyState::SessRate,
                backend,
            } => Some(backend.clone()),
            _ => None,
        });
        picked.into_iter().map(|(b, _)| b).collect()
    }

    /// The servers whose session rate a rule reads (`srv_sess_rate`), as `backend/server`.
    pub fn rate_read_servers(&self) -> Vec<String> {
        use crate::rules::{Fetch, ServerState};
        let picked = self.picked(|f| match f {
            Fetch::Server {
                what: ServerState::SessRate,
                backend,
                server,
            } => Some(format!("{backend}/{server}")),
            _ => None,
        });
        picked.into_iter().map(|(s, _)| s).collect()
    }

    /// Where a rule reads `last_rule_file` or `last_rule_line` (log formats may; rules may
    /// not, see `resolve::checks::check_last_rule_refs`).
    pub fn last_rule_refs(&self) -> Vec<Span> {
        use crate::rules::Fetch;
        let picked = self.picked(|f| matches!(f, Fetch::LastRuleFile | Fetch::LastRuleLine).then_some(()));
        picked.into_iter().map(|(_, span)| span).collect()
    }

    /// The tables `stick` rules use: their entries keep a server.
    pub fn server_tables(&self) -> Vec<&str> {
        let mut v: Vec<&str> = (self.backends.iter())
            .flat_map(|b| b.stick_rules.iter().map(|r| r.table.as_str()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}
