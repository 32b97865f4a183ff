//! Clearway's own nftables table, written over netlink (NETLINK_NETFILTER): one `inet` table
//! with a prerouting chain that marks packets of transparent sockets and, for catch-all binds,
//! redirects new connections with TPROXY. Owns the nf_tables message encoding for exactly that
//! table; must not read or change any other table. (No maintained crate encodes the socket and
//! tproxy expressions, so the few messages are built here.)

use std::io;

// From linux/netfilter/nfnetlink.h and nf_tables.h (stable kernel ABI).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const NFNL_MSG_BATCH_END: u16 = 17;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFPROTO_INET: u8 = 1;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
const NLA_F_NESTED: u16 = 0x8000;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLMSG_ERROR: u16 = 2;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;

const NF_INET_PRE_ROUTING: u32 = 0;
const NF_IP_PRI_MANGLE: i32 = -150;
const NF_ACCEPT: u32 = 1;
const NFT_REG_VERDICT: u32 = 0;
const NFT_REG_1: u32 = 1;
const NFT_REG_2: u32 = 2;
const NFT_META_MARK: u32 = 3;
const NFT_META_NFPROTO: u32 = 15;
const NFT_META_L4PROTO: u32 = 16;
const NFT_SOCKET_TRANSPARENT: u32 = 0;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;
const NFT_CMP_EQ: u32 = 0;

/// Netlink attributes being built (type, payload), with nesting.
#[derive(Default)]
struct Attrs(Vec<u8>);

impl Attrs {
    fn raw(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(4), 0);
        self
    }
    fn str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.raw(kind, &b)
    }
    fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.raw(kind, &v.to_be_bytes())
    }
    fn nest(&mut self, kind: u16, inner: &Attrs) -> &mut Self {
        self.raw(kind | NLA_F_NESTED, &inner.0)
    }
}

/// One expression of a rule: its name and its attributes.
fn expr(name: &str, data: Attrs) -> Attrs {
    let mut e = Attrs::default();
    e.str(NFTA_EXPR_NAME, name).nest(NFTA_EXPR_DATA, &data);
    e
}

fn meta_load(key: u32, reg: u32) -> Attrs {
    let mut a = Attrs::default();
    a.u32(1, reg).u32(2, key); // NFTA_META_DREG, NFTA_META_KEY
    expr("meta", a)
}

fn meta_set_mark(reg: u32) -> Attrs {
    let mut a = Attrs::default();
    a.u32(2, NFT_META_MARK).u32(3, reg); // NFTA_META_KEY, NFTA_META_SREG
    expr("meta", a)
}

fn cmp_eq(reg: u32, value: &[u8]) -> Attrs {
    let mut data = Attrs::default();
    data.raw(NFTA_DATA_VALUE, value);
    let mut a = Attrs::default();
    a.u32(1, reg).u32(2, NFT_CMP_EQ).nest(3, &data); // SREG, OP, DATA
    expr("cmp", a)
}

fn immediate(reg: u32, value: &[u8]) -> Attrs {
    let mut data = Attrs::default();
    data.raw(NFTA_DATA_VALUE, value);
    let mut a = Attrs::default();
    a.u32(1, reg).nest(2, &data); // DREG, DATA
    expr("immediate", a)
}

fn accept() -> Attrs {
    let mut verdict = Attrs::default();
    verdict.u32(NFTA_VERDICT_CODE, NF_ACCEPT);
    let mut data = Attrs::default();
    data.nest(NFTA_DATA_VERDICT, &verdict);
    let mut a = Attrs::default();
    a.u32(1, NFT_REG_VERDICT).nest(2, &data);
    expr("immediate", a)
}

fn socket_transparent(reg: u32) -> Attrs {
    let mut a = Attrs::default();
    a.u32(1, NFT_SOCKET_TRANSPARENT).u32(2, reg); // NFTA_SOCKET_KEY, NFTA_SOCKET_DREG
    expr("socket", a)
}

fn tcp_dport(reg: u32) -> Attrs {
    let mut a = Attrs::default();
    a.u32(1, reg).u32(2, NFT_PAYLOAD_TRANSPORT_HEADER).u32(3, 2).u32(4, 2); // DREG, BASE, OFFSET, LEN
    expr("payload", a)
}

fn tproxy(family: u8, port_reg: u32) -> Attrs {
    let mut a = Attrs::default();
    a.u32(1, u32::from(family)).u32(3, port_reg); // NFTA_TPROXY_FAMILY, NFTA_TPROXY_REG_PORT
    expr("tproxy", a)
}

fn rule(table: &str, chain: &str, exprs: Vec<Attrs>) -> Attrs {
    let mut list = Attrs::default();
    for e in &exprs {
        list.nest(NFTA_LIST_ELEM, e);
    }
    let mut a = Attrs::default();
    a.str(NFTA_RULE_TABLE, table)
        .str(NFTA_RULE_CHAIN, chain)
        .nest(NFTA_RULE_EXPRESSIONS, &list);
    a
}

/// A batch of nf_tables messages, each acknowledged.
struct Batch {
    buf: Vec<u8>,
    seq: u32,
    acked: Vec<u32>,
}

impl Batch {
    fn new() -> Batch {
        let mut b = Batch {
            buf: Vec::new(),
            seq: 1,
            acked: Vec::new(),
        };
        b.message(
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            0,
            &Attrs::default(),
            NFNL_SUBSYS_NFTABLES,
        );
        b
    }
    fn message(&mut self, kind: u16, flags: u16, family: u8, attrs: &Attrs, res_id: u16) {
        let len = 16 + 4 + attrs.0.len();
        self.buf.extend_from_slice(&(len as u32).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&self.seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&[family, 0]);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        self.buf.extend_from_slice(&attrs.0);
        if flags & NLM_F_ACK != 0 {
            self.acked.push(self.seq);
        }
        self.seq += 1;
    }
    fn nft(&mut self, msg: u16, flags: u16, attrs: &Attrs) {
        self.message(
            (NFNL_SUBSYS_NFTABLES << 8) | msg,
            NLM_F_REQUEST | NLM_F_ACK | flags,
            NFPROTO_INET,
            attrs,
            0,
        );
    }
    /// Sends the batch; returns the first error the kernel reported.
    fn send(mut self) -> io::Result<()> {
        self.message(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            0,
            &Attrs::default(),
            NFNL_SUBSYS_NFTABLES,
        );
        // SAFETY: a netlink socket we own, addressed to the kernel (pid 0), with buffers we own.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let result = (|| {
                let mut addr: libc::sockaddr_nl = std::mem::zeroed();
                addr.nl_family = libc::AF_NETLINK as u16;
                let alen = std::mem::size_of::<libc::sockaddr_nl>() as u32;
                if libc::bind(fd, (&addr as *const libc::sockaddr_nl).cast(), alen) != 0 {
                    return Err(io::Error::last_os_error());
                }
                let sent = libc::sendto(
                    fd,
                    self.buf.as_ptr().cast(),
                    self.buf.len(),
                    0,
                    (&addr as *const libc::sockaddr_nl).cast(),
                    alen,
                );
                if sent < 0 {
                    return Err(io::Error::last_os_error());
                }
                let mut first_error = None;
                let mut pending = self.acked.len();
                let mut buf = vec![0u8; 16384];
                while pending > 0 {
                    let n = libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0);
                    if n < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    let mut off = 0usize;
                    while off + 16 <= n as usize {
                        let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or_default()) as usize;
                        let kind = u16::from_ne_bytes(buf[off + 4..off + 6].try_into().unwrap_or_default());
                        if kind == NLMSG_ERROR && off + 20 <= n as usize {
                            let code = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or_default());
                            pending -= 1;
                            if code != 0 && first_error.is_none() {
                                first_error = Some(io::Error::from_raw_os_error(-code));
                            }
                        }
                        if len == 0 {
                            break;
                        }
                        off += len.next_multiple_of(4);
                    }
                }
                first_error.map_or(Ok(()), Err)
            })();
            libc::close(fd);
            result
        }
    }
}

fn table_attrs(table: &str) -> Attrs {
    let mut a = Attrs::default();
    a.str(NFTA_TABLE_NAME, table);
    a
}

/// Deletes the `inet` table `table`; Ok when it did not exist.
pub fn delete_table(table: &str) -> io::Result<()> {
    let mut b = Batch::new();
    b.nft(NFT_MSG_DELTABLE, 0, &table_attrs(table));
    match b.send() {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// Creates the `inet` table `table` with a prerouting chain (mangle priority) that marks
/// packets of transparent sockets with `mark`, and sends new TCP connections to each
/// `(is_ipv6, port)` of `intercept` to a local listener on that port (TPROXY), marked too.
pub fn create_table(table: &str, mark: u32, intercept: &[(bool, u16)]) -> io::Result<()> {
    let chain = "divert";
    let mut b = Batch::new();
    b.nft(NFT_MSG_NEWTABLE, NLM_F_CREATE, &table_attrs(table));
    let mut hook = Attrs::default();
    hook.u32(NFTA_HOOK_HOOKNUM, NF_INET_PRE_ROUTING)
        .raw(NFTA_HOOK_PRIORITY, &NF_IP_PRI_MANGLE.to_be_bytes());
    let mut c = Attrs::default();
    c.str(NFTA_CHAIN_TABLE, table)
        .str(NFTA_CHAIN_NAME, chain)
        .nest(NFTA_CHAIN_HOOK, &hook)
        .u32(NFTA_CHAIN_POLICY, NF_ACCEPT)
        .str(NFTA_CHAIN_TYPE, "filter");
    b.nft(NFT_MSG_NEWCHAIN, NLM_F_CREATE, &c);
    let tcp = [libc::IPPROTO_TCP as u8];
    let mark_bytes = mark.to_ne_bytes();
    // meta l4proto tcp socket transparent 1 meta mark set MARK accept
    let divert = vec![
        meta_load(NFT_META_L4PROTO, NFT_REG_1),
        cmp_eq(NFT_REG_1, &tcp),
        socket_transparent(NFT_REG_1),
        cmp_eq(NFT_REG_1, &[1]),
        immediate(NFT_REG_1, &mark_bytes),
        meta_set_mark(NFT_REG_1),
        accept(),
    ];
    // Rules are appended, in order: without NLM_F_APPEND the kernel would prepend them.
    b.nft(
        NFT_MSG_NEWRULE,
        NLM_F_CREATE | NLM_F_APPEND,
        &rule(table, chain, divert),
    );
    for &(v6, port) in intercept {
        let family = if v6 { NFPROTO_IPV6 } else { NFPROTO_IPV4 };
        // meta nfproto FAMILY meta l4proto tcp tcp dport PORT tproxy to :PORT meta mark set MARK accept
        let exprs = vec![
            meta_load(NFT_META_NFPROTO, NFT_REG_1),
            cmp_eq(NFT_REG_1, &[family]),
            meta_load(NFT_META_L4PROTO, NFT_REG_1),
            cmp_eq(NFT_REG_1, &tcp),
            tcp_dport(NFT_REG_1),
            cmp_eq(NFT_REG_1, &port.to_be_bytes()),
            immediate(NFT_REG_2, &port.to_be_bytes()),
            tproxy(family, NFT_REG_2),
            immediate(NFT_REG_1, &mark_bytes),
            meta_set_mark(NFT_REG_1),
            accept(),
        ];
        b.nft(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, &rule(table, chain, exprs));
    }
    b.send()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested() {
        let mut a = Attrs::default();
        a.str(1, "ab");
        // 4 bytes of header + "ab\0", padded to 8.
        assert_eq!(a.0, [7, 0, 1, 0, b'a', b'b', 0, 0]);
        let mut outer = Attrs::default();
        outer.nest(2, &a);
        assert_eq!(outer.0.len(), 12);
        assert_eq!(u16::from_ne_bytes([outer.0[2], outer.0[3]]), 2 | NLA_F_NESTED);
        let mut n = Attrs::default();
        n.u32(3, 0x0102_0304);
        assert_eq!(&n.0[4..], &[1, 2, 3, 4], "nf_tables numbers are big-endian");
    }

    #[test]
    fn batch_is_framed_by_begin_and_end() {
        let mut b = Batch::new();
        b.nft(NFT_MSG_DELTABLE, 0, &table_attrs("t"));
        assert_eq!(b.acked, vec![2], "only the table message asks for an acknowledgement");
        let first_type = u16::from_ne_bytes([b.buf[4], b.buf[5]]);
        assert_eq!(first_type, NFNL_MSG_BATCH_BEGIN);
        let second_type = u16::from_ne_bytes([b.buf[24], b.buf[25]]);
        assert_eq!(second_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE);
    }
}
