//! `transparent-setup auto`: installs, over netlink, the divert marking (an nftables table of
//! our own) and the policy routing (an `ip rule` for our mark and a local route in a table
//! nobody uses) that transparent binds and `usesrc` need, and removes exactly that. Must never
//! touch rules it did not create.

use crate::system::Family;
use futures_util::TryStreamExt;
use rtnetlink::packet_route::route::{RouteAttribute, RouteMessage, RouteScope, RouteType};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{Handle, IpVersion, RouteMessageBuilder};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Our packet mark ("CW") and the first routing table number we try.
pub const MARK: u32 = 0x4357;
const FIRST_TABLE: u32 = 0x4357;
const NFT_TABLE: &str = "clearway";

/// One thing to remove.
#[derive(Debug, Clone)]
enum Undo {
    NftTable,
    Rule(RuleMessage),
    Route(RouteMessage),
}

/// What was installed, and how to remove it.
#[derive(Debug, Clone)]
pub struct Installed {
    pub table: u32,
    pub families: Vec<Family>,
    undo: Vec<Undo>,
}

/// Runs `f` with a netlink handle on a runtime of its own (start-up and the clean-up guard
/// run before or outside the data plane's runtime).
fn with_netlink<T>(f: impl AsyncFnOnce(Handle) -> Result<T, String>) -> Result<T, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("netlink runtime: {e}"))?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| format!("netlink: {e}"))?;
        tokio::spawn(conn);
        f(handle).await
    })
}

fn version(f: Family) -> IpVersion {
    match f {
        Family::V4 => IpVersion::V4,
        Family::V6 => IpVersion::V6,
    }
}

fn rule_table(r: &RuleMessage) -> u32 {
    r.attributes
        .iter()
        .find_map(|a| {
            if let RuleAttribute::Table(t) = a {
                Some(*t)
            } else {
                None
            }
        })
        .unwrap_or(u32::from(r.header.table))
}

fn route_table(r: &RouteMessage) -> u32 {
    r.attributes
        .iter()
        .find_map(|a| {
            if let RouteAttribute::Table(t) = a {
                Some(*t)
            } else {
                None
            }
        })
        .unwrap_or(u32::from(r.header.table))
}

async fn rules(h: &Handle, f: Family) -> Result<Vec<RuleMessage>, String> {
    h.rule()
        .get(version(f))
        .execute()
        .try_collect()
        .await
        .map_err(|e| format!("netlink rule dump: {e}"))
}

async fn routes(h: &Handle, f: Family) -> Result<Vec<RouteMessage>, String> {
    let query = match f {
        Family::V4 => RouteMessageBuilder::<Ipv4Addr>::new().build(),
        Family::V6 => RouteMessageBuilder::<Ipv6Addr>::new().build(),
    };
    h.route()
        .get(query)
        .execute()
        .try_collect()
        .await
        .map_err(|e| format!("netlink route dump: {e}"))
}

/// The local default route on `lo` in `table`.
fn local_default(f: Family, table: u32) -> RouteMessage {
    let lo = crate::system::interface_index("lo").unwrap_or(1);
    match f {
        Family::V4 => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(Ipv4Addr::UNSPECIFIED, 0)
            .kind(RouteType::Local)
            .scope(RouteScope::Host)
            .output_interface(lo)
            .table_id(table)
            .build(),
        Family::V6 => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(Ipv6Addr::UNSPECIFIED, 0)
            .kind(RouteType::Local)
            .scope(RouteScope::Host)
            .output_interface(lo)
            .table_id(table)
            .build(),
    }
}

/// Removes what a previous run left (one killed with its guard): our nftables table, and the
/// rules carrying our mark with the local routes of their tables.
async fn remove_stale(h: &Handle) -> Result<(), String> {
    crate::nftables::delete_table(NFT_TABLE).map_err(|e| format!("removing a stale nftables table: {e}"))?;
    for f in [Family::V4, Family::V6] {
        for rule in rules(h, f).await? {
            if rule.attributes.contains(&RuleAttribute::FwMark(MARK)) {
                let table = rule_table(&rule);
                let _ = h.rule().del(rule).execute().await;
                for route in routes(h, f).await? {
                    if route_table(&route) == table && route.header.kind == RouteType::Local {
                        let _ = h.route().del(route).execute().await;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Installs the divert rule and policy routing for `families`, plus a TPROXY interception
/// rule for each catch-all transparent bind `(family, port)`: new connections to any address on
/// that port go to our listener, which sees the original destination as its local address.
pub fn install(families: &[Family], catch_all: &[(Family, u16)]) -> Result<Installed, String> {
    let families = families.to_vec();
    let catch_all = catch_all.to_vec();
    with_netlink(async move |h: Handle| {
        remove_stale(&h).await?;
        let mut used = Vec::new();
        for f in [Family::V4, Family::V6] {
            used.extend(rules(&h, f).await?.iter().map(rule_table));
            used.extend(routes(&h, f).await?.iter().map(route_table));
        }
        let table = (FIRST_TABLE..FIRST_TABLE + 1000)
            .find(|t| !used.contains(t))
            .ok_or("no free routing table number")?;
        let mut done = Installed {
            table,
            families: families.clone(),
            undo: Vec::new(),
        };
        let intercept: Vec<(bool, u16)> = catch_all.iter().map(|(f, p)| (*f == Family::V6, *p)).collect();
        crate::nftables::create_table(NFT_TABLE, MARK, &intercept)
            .map_err(|e| format!("creating the nftables table inet {NFT_TABLE}: {e}"))?;
        done.undo.push(Undo::NftTable);
        for f in families {
            let route = local_default(f, table);
            let step = async {
                h.route()
                    .add(route.clone())
                    .execute()
                    .await
                    .map_err(|e| format!("adding the local route: {e}"))?;
                done.undo.insert(0, Undo::Route(route));
                let rule = match f {
                    Family::V4 => {
                        let mut r = h
                            .rule()
                            .add()
                            .v4()
                            .fw_mark(MARK)
                            .table_id(table)
                            .action(RuleAction::ToTable);
                        r.message_mut().clone()
                    }
                    Family::V6 => {
                        let mut r = h
                            .rule()
                            .add()
                            .v6()
                            .fw_mark(MARK)
                            .table_id(table)
                            .action(RuleAction::ToTable);
                        r.message_mut().clone()
                    }
                };
                let mut add = h.rule().add();
                *add.message_mut() = rule.clone();
                add.execute().await.map_err(|e| format!("adding the ip rule: {e}"))?;
                done.undo.insert(0, Undo::Rule(rule));
                Ok::<(), String>(())
            };
            if let Err(e) = step.await {
                let _ = remove(&h, &done.undo).await;
                return Err(e);
            }
        }
        Ok(done)
    })
}

async fn remove(h: &Handle, undo: &[Undo]) -> Result<(), String> {
    let mut errors = Vec::new();
    for u in undo {
        let r = match u {
            Undo::NftTable => {
                crate::nftables::delete_table(NFT_TABLE).map_err(|e| format!("deleting the nftables table: {e}"))
            }
            Undo::Rule(m) => h
                .rule()
                .del(m.clone())
                .execute()
                .await
                .map_err(|e| format!("deleting the ip rule: {e}")),
            Undo::Route(m) => h
                .route()
                .del(m.clone())
                .execute()
                .await
                .map_err(|e| format!("deleting the local route: {e}")),
        };
        errors.extend(r.err());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Removes what `install` added; carries on past errors (the goal is to leave nothing behind)
/// and reports them.
pub fn uninstall(done: &Installed) -> Result<(), String> {
    let undo = done.undo.clone();
    with_netlink(async move |h: Handle| remove(&h, &undo).await)
}
