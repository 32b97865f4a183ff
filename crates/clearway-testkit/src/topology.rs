//! The client / lb / server topology of the end-to-end tests: three namespaces joined by veth
//! pairs, IPv4 and IPv6, with the VIPs on no interface. Owns addresses and routes; must not
//! start servers or proxies.

use crate::netns::Netns;

/// Client addresses (the client namespace has both).
pub const CLIENT_V4: [&str; 2] = ["192.0.2.2", "192.0.2.3"];
pub const CLIENT_V6: [&str; 2] = ["2001:db8:c::2", "2001:db8:c::3"];
/// The lb's addresses on the client side and on the server side.
pub const LB_CLIENT_V4: &str = "192.0.2.1";
pub const LB_CLIENT_V6: &str = "2001:db8:c::1";
pub const LB_SERVER_V4: &str = "198.51.100.1";
pub const LB_SERVER_V6: &str = "2001:db8:5::1";
/// Server addresses (the server namespace has all three).
pub const SERVER_V4: [&str; 3] = ["198.51.100.10", "198.51.100.11", "198.51.100.12"];
pub const SERVER_V6: [&str; 3] = ["2001:db8:5::10", "2001:db8:5::11", "2001:db8:5::12"];
/// Virtual IPs, configured on no interface: reachable only through transparent binds.
pub const VIP_V4: &str = "203.0.113.80";
pub const VIP_V6: &str = "2001:db8:f::80";

#[derive(Debug)]
pub struct Topology {
    pub client: Netns,
    pub lb: Netns,
    pub server: Netns,
}

impl Topology {
    pub fn new(tag: &str) -> Topology {
        let topo = Topology {
            client: Netns::new(&format!("{tag}c")),
            lb: Netns::new(&format!("{tag}l")),
            server: Netns::new(&format!("{tag}s")),
        };
        // Links are created inside the namespaces, so their names never clash between tests.
        topo.lb.sh(&format!(
            "ip link add ethc type veth peer name eth0 netns {c}\n\
             ip link add eths type veth peer name eth0 netns {s}",
            c = topo.client.name(),
            s = topo.server.name()
        ));
        let sysctl_off = "for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done";
        topo.lb.sh(&format!(
            "{sysctl_off}\n\
             sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1\n\
             ip addr add {LB_CLIENT_V4}/24 dev ethc\n ip addr add {LB_CLIENT_V6}/64 dev ethc nodad\n\
             ip addr add {LB_SERVER_V4}/24 dev eths\n ip addr add {LB_SERVER_V6}/64 dev eths nodad\n\
             ip link set ethc up\n ip link set eths up"
        ));
        topo.client.sh(&format!(
            "{sysctl_off}\n\
             ip addr add {c0}/24 dev eth0\n ip addr add {c1}/24 dev eth0\n\
             ip addr add {c6a}/64 dev eth0 nodad\n ip addr add {c6b}/64 dev eth0 nodad\n\
             ip link set eth0 up\n\
             ip route add default via {LB_CLIENT_V4}\n ip -6 route add default via {LB_CLIENT_V6}",
            c0 = CLIENT_V4[0],
            c1 = CLIENT_V4[1],
            c6a = CLIENT_V6[0],
            c6b = CLIENT_V6[1],
        ));
        let mut server = format!("{sysctl_off}\n");
        for a in SERVER_V4 {
            server.push_str(&format!("ip addr add {a}/24 dev eth0\n"));
        }
        for a in SERVER_V6 {
            server.push_str(&format!("ip addr add {a}/64 dev eth0 nodad\n"));
        }
        server.push_str(&format!(
            "ip link set eth0 up\nip route add default via {LB_SERVER_V4}\nip -6 route add default via {LB_SERVER_V6}\n"
        ));
        topo.server.sh(&server);
        topo
    }

    /// HAProxy's manual recipe for transparent proxying, in the lb namespace, IPv4 and IPv6:
    /// divert packets that belong to a local (transparent) socket to local delivery.
    pub fn apply_manual_tproxy(&self) {
        self.lb
            .sh("sysctl -qw net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1\n\
             for t in iptables ip6tables; do\n\
               $t -t mangle -N DIVERT\n\
               $t -t mangle -A PREROUTING -p tcp -m socket -j DIVERT\n\
               $t -t mangle -A DIVERT -j MARK --set-mark 1\n\
               $t -t mangle -A DIVERT -j ACCEPT\n\
             done\n\
             ip rule add fwmark 1 lookup 100\n ip route add local 0.0.0.0/0 dev lo table 100\n\
             ip -6 rule add fwmark 1 lookup 100\n ip -6 route add local ::/0 dev lo table 100");
    }
}

impl Topology {
    /// Makes a separate router namespace the server's default gateway (IPv4 and IPv6), so the
    /// server's replies to client addresses do not come back through the lb: the classic broken
    /// return path of transparent proxying. The router drops what it gets. Returns the router.
    pub fn route_server_via_router(&self) -> Netns {
        let router = Netns::new("rtr");
        self.server.sh(&format!(
            "ip link add eth1 type veth peer name eth0 netns {r}\n\
             ip addr add 198.18.0.2/24 dev eth1\n ip addr add 2001:db8:18::2/64 dev eth1 nodad\n ip link set eth1 up\n\
             ip route replace default via 198.18.0.1\n ip -6 route replace default via 2001:db8:18::1",
            r = router.name()
        ));
        router.sh(
            "ip addr add 198.18.0.1/24 dev eth0\n ip addr add 2001:db8:18::1/64 dev eth0 nodad\n ip link set eth0 up",
        );
        router
    }

    /// Repairs the return path for one server address: replies from `server_ip` go back via the
    /// lb again (source-based policy routing in the server namespace).
    pub fn fix_return_path(&self, server_ip: &str) {
        let (v6, gw) = if server_ip.contains(':') {
            ("-6", LB_SERVER_V6)
        } else {
            ("", LB_SERVER_V4)
        };
        self.server.sh(&format!(
            "ip {v6} route replace default via {gw} table 200\n ip {v6} rule add from {server_ip} lookup 200"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_reach_each_other_and_vips_are_nowhere() {
        if !crate::require_root_and_netns() {
            return;
        }
        let topo = Topology::new("topo");
        topo.client.sh(&format!(
            "ping -c1 -W5 {LB_CLIENT_V4} >/dev/null && ping -c1 -W5 {LB_CLIENT_V6} >/dev/null"
        ));
        topo.server.sh(&format!(
            "ping -c1 -W5 {LB_SERVER_V4} >/dev/null && ping -c1 -W5 {LB_SERVER_V6} >/dev/null"
        ));
        // Routed through the lb.
        topo.client.sh(&format!(
            "ping -c1 -W5 {} >/dev/null && ping -c1 -W5 {} >/dev/null",
            SERVER_V4[0], SERVER_V6[0]
        ));
        let all = format!(
            "{}{}{}",
            topo.client.sh("ip addr"),
            topo.lb.sh("ip addr"),
            topo.server.sh("ip addr")
        );
        assert!(!all.contains(VIP_V4) && !all.contains(VIP_V6));
        topo.apply_manual_tproxy();
        assert!(topo.lb.sh("ip rule").contains("fwmark 0x1 lookup 100"));
        let name = topo.lb.name().to_string();
        drop(topo);
        let list = String::from_utf8_lossy(&crate::netns::run("ip", &["netns", "list"]).stdout).into_owned();
        assert!(!list.contains(&name), "namespaces are removed on drop");
    }
}
