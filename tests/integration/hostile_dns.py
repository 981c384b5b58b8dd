#!/usr/bin/env python3
"""A hostile DNS responder for mxkit's integration tests.

An authoritative-looking server for `hostile.test.` on UDP and TCP whose
replies are wrong on purpose: broken compression pointers, lying length
fields, spoofed IDs, questions and source ports, truncation games, odd
but valid record sets.  The behaviour is chosen by the query name, so one
server covers every case:

    <behaviour>.hostile.test        MX   the MX reply itself is hostile
    <behaviour>.addr.hostile.test   MX   a good MX: mx.<behaviour>.addr.hostile.test
    mx.<behaviour>.addr.hostile.test  A  the address reply is hostile (AAAA: NODATA)
    <x>.noedns.hostile.test     MX   a server that does not speak EDNS: FORMERR
                                     without OPT to any query with an OPT record,
                                     else MX 10 mx.<x>.noedns.hostile.test (A good)
    <x>.edns.hostile.test       MX   the same answers, whatever the query holds
                                     (<x> may have several labels here)

Every other A query below hostile.test gets A 127.0.0.81 (AAAA: NODATA),
except two traps that only a wrong plan ever asks for: `spoof.*` names
(the data of spoofed or unused replies) and the MX domains themselves
(asked only by a router that fell back to an implicit MX), which get
A 127.0.0.66.  Names outside hostile.test are REFUSED.  Every query is
logged (see HostileServer.log) so a test can check what was asked.

Standard library only.  Listens on one loopback address (127.0.0.77 by
default; anything outside 127.0.0.0/8 is refused) and nowhere else: it is
meant to run inside tests/sandbox's private network namespace.

    python3 hostile_dns.py [--address 127.0.0.77] [--port 53]
"""
import ipaddress
import os
import random
import socket
import struct
import sys
import threading
import time

ZONE = ("hostile", "test")
GOOD_ADDR = "127.0.0.81"
TRAP_ADDR = "127.0.0.66"

T_A, T_CNAME, T_SOA, T_MX, T_OPT = 1, 5, 6, 15, 41
C_IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, REFUSED = 0, 1, 2, 3, 5

# Behaviours of the MX reply (<behaviour>.hostile.test) ...
MX_BEHAVIOURS = [
    "good",
    # compression pointers and labels
    "selfptr", "ptrloop", "fwdptr", "ptrpastend", "endc0", "badlabel", "noterm",
    "qselfptr",
    # lengths and counts
    "rdlenlong", "rdlen8000", "mxshort", "ancount", "qd0", "qd2",
    # truncation
    "truncudp", "tconly", "tcpclose",
    # mismatched or spoofed replies
    "zerolen", "wrongid", "wrongq", "wrongtype", "caseq", "wrongport", "dupe",
    # valid but odd data
    "many", "nullmix", "ipliteral", "exchnul", "cnameloop", "servfailans", "nxans",
    "ttlbig", "glue",
    # not a reply to a query (libunbound refuses these)
    "qr0", "opcode", "optanswer",
    # noise
    "garbage", "garbagetail",
]
# ... and those that also make sense for an address reply
# (<behaviour>.addr.hostile.test, the A reply of its only exchange).
ADDR_BEHAVIOURS = [
    "good", "selfptr", "ptrloop", "ptrpastend", "endc0", "badlabel", "noterm",
    "rdlenlong", "ancount", "qd0", "qd2", "truncudp", "tconly", "tcpclose",
    "zerolen", "wrongid", "wrongq", "wrongtype", "wrongport", "dupe",
    "servfailans", "qr0", "opcode", "optanswer", "garbage", "garbagetail",
]
MANY = 1000


# ---- wire helpers ---------------------------------------------------------

def wire_labels(labels):
    """Labels (bytes) to an uncompressed wire name, root label included."""
    out = b""
    for label in labels:
        out += bytes([len(label)]) + label
    return out + b"\x00"


def wire(name):
    """A text name ("a.b.c", no escapes) to wire format."""
    name = name.rstrip(".")
    return wire_labels([l.encode() for l in name.split(".")] if name else [])


def ptr(offset):
    return struct.pack("!H", 0xC000 | offset)


PTR_Q = ptr(12)  # the question name, always at offset 12


def header(qid, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def rr(owner, rtype, rdata, ttl=300, rclass=C_IN, rdlen=None):
    if rdlen is None:
        rdlen = len(rdata)
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, rdlen) + rdata


def mx_rdata(pref, exchange):
    return struct.pack("!H", pref) + (wire(exchange) if isinstance(exchange, str) else exchange)


def a_rdata(addr):
    return socket.inet_aton(addr)


def soa_rr():
    rdata = wire("ns.hostile.test") + wire("hostmaster.hostile.test") + \
        struct.pack("!IIIII", 1, 3600, 600, 86400, 60)
    return rr(wire("hostile.test"), T_SOA, rdata, ttl=60)


class Query:
    """The parts of a query we answer from (parsed by hand, one question)."""

    def __init__(self, data):
        if len(data) < 12:
            raise ValueError("short header")
        self.id, self.flags, qd, _, _, self.arcount = struct.unpack("!HHHHHH", data[:12])
        self.length = len(data)
        if qd != 1 or self.flags & 0x8000:
            raise ValueError("not a one-question query")
        pos, labels = 12, []
        while True:
            if pos >= len(data):
                raise ValueError("name runs past the end")
            n = data[pos]
            if n == 0:
                pos += 1
                break
            if n > 63 or pos + 1 + n > len(data):
                raise ValueError("bad label")
            labels.append(data[pos + 1:pos + 1 + n])
            pos += 1 + n
        if pos + 4 > len(data):
            raise ValueError("short question")
        self.qname_wire = data[12:pos]
        self.labels = labels
        self.qtype, self.qclass = struct.unpack("!HH", data[pos:pos + 4])
        self.question = data[12:pos + 4]      # as sent: case preserved
        self.rd = self.flags & 0x0100
        self.opcode = (self.flags >> 11) & 0xF
        self.name = ".".join(l.decode("latin-1") for l in labels).lower()
        self.lower = [l.lower() for l in labels]

    def flags_out(self, rcode=NOERROR, tc=False, aa=True):
        return 0x8000 | (self.opcode << 11) | (0x0400 if aa else 0) | \
            (0x0200 if tc else 0) | self.rd | 0x0080 | rcode


# ---- replies --------------------------------------------------------------

def reply(q, answers=(), rcode=NOERROR, tc=False, authority=(), additional=(),
          question=None, qid=None, qd=1, an=None):
    """A whole reply; counts follow the sections unless given."""
    if question is None:
        question = q.question
    body = question + b"".join(answers) + b"".join(authority) + b"".join(additional)
    return header(q.id if qid is None else qid, q.flags_out(rcode, tc), qd,
                  len(answers) if an is None else an, len(authority),
                  len(additional)) + body


def nodata(q):
    return reply(q, authority=[soa_rr()])


class Send:
    """One UDP datagram or TCP message; `other` sends it from a second port."""

    def __init__(self, data, delay=0.0, other=False):
        self.data, self.delay, self.other = data, delay, other


CLOSE = "close"  # TCP: close the connection without a reply


class Case:
    """What a hostile reply is built from: the records a correct reply
    would hold, and the records of a spoofed one."""

    def __init__(self, q, domain, level):
        self.q, self.domain, self.level = q, domain, level
        self.rtype = T_MX if level == "mx" else T_A

    def good(self, n=1, ttl=300):
        if self.rtype == T_MX:
            hosts = ["mx." + self.domain, "mx2." + self.domain][:n]
            return [rr(PTR_Q, T_MX, mx_rdata(10 * (i + 1), h), ttl)
                    for i, h in enumerate(hosts)]
        addrs = [GOOD_ADDR, "127.0.0.82"][:n]
        return [rr(PTR_Q, T_A, a_rdata(a), ttl) for a in addrs]

    def spoof(self, owner=PTR_Q):
        if self.rtype == T_MX:
            return [rr(owner, T_MX, mx_rdata(10, "spoof." + self.domain))]
        return [rr(owner, T_A, a_rdata(TRAP_ADDR))]

    def prefix_len(self):
        return 12 + len(self.q.question)

    def good_rdata(self):
        if self.rtype == T_MX:
            return mx_rdata(10, "mx." + self.domain)
        return a_rdata(GOOD_ADDR)


def hostile(behaviour, c, tcp, rng):
    """The replies (list of Send or CLOSE) for behaviour b on query c.q."""
    q = c.q
    t = c.rtype
    base = c.prefix_len()  # where the answer section starts
    mx = t == T_MX

    if behaviour == "good":
        return [Send(reply(q, c.good()))]

    # -- compression pointers and labels --
    if behaviour == "selfptr":
        # The answer's owner name is a pointer to itself.
        return [Send(reply(q, [rr(ptr(base), t, c.good_rdata())]))]
    if behaviour == "ptrloop":
        if mx:
            # Two MX records whose exchanges point at each other.
            x1 = base + 2 + 10 + 2          # exchange of the first record
            x2 = base + (2 + 10 + 4) + 2 + 10 + 2
            a1 = rr(PTR_Q, T_MX, struct.pack("!H", 10) + ptr(x2))
            a2 = rr(PTR_Q, T_MX, struct.pack("!H", 20) + ptr(x1))
            return [Send(reply(q, [a1, a2]))]
        # The owner points at the additional record's owner, which points back.
        y = base + len(rr(PTR_Q, t, c.good_rdata()))
        a1 = rr(ptr(y), t, c.good_rdata())
        a2 = rr(ptr(base), t, c.good_rdata())
        return [Send(reply(q, [a1], additional=[a2]))]
    if behaviour == "fwdptr":
        # The exchange points forward, to the owner of an additional record
        # that spells "mx.<domain>" in full.
        first = rr(PTR_Q, T_MX, struct.pack("!H", 10) + ptr(0))
        target = base + len(first)
        first = rr(PTR_Q, T_MX, struct.pack("!H", 10) + ptr(target))
        extra = rr(wire("mx." + c.domain), T_A, a_rdata(GOOD_ADDR))
        return [Send(reply(q, [first], additional=[extra]))]
    if behaviour == "ptrpastend":
        if mx:
            return [Send(reply(q, [rr(PTR_Q, T_MX, struct.pack("!H", 10) + ptr(0x3FF0))]))]
        return [Send(reply(q, [rr(ptr(0x3FF0), t, c.good_rdata())]))]
    if behaviour == "endc0":
        # ANCOUNT 1, and the message ends on the first byte of the owner's pointer.
        return [Send(reply(q, [b"\xc0"]))]
    if behaviour == "badlabel":
        # A label length of 0x41 (the old binary-label type; 0x40-0xBF are
        # no lengths), with enough bytes behind it that a parser reading it
        # as a 65-byte label stays inside the packet.
        bad = b"\x02mx" + b"\x41" + b"x" * 65 + wire(c.domain)
        if mx:
            return [Send(reply(q, [rr(PTR_Q, T_MX, struct.pack("!H", 10) + bad)]))]
        return [Send(reply(q, [rr(bad, t, c.good_rdata())]))]
    if behaviour == "noterm":
        # A name without its terminating zero, at the very end of the message.
        name = wire("mx." + c.domain)[:-1]
        if mx:
            return [Send(reply(q, [rr(PTR_Q, T_MX, struct.pack("!H", 10) + name)]))]
        return [Send(reply(q, [name]))]  # the owner, and nothing after it
    if behaviour == "qselfptr":
        # The question name of the reply is a pointer to itself.
        question = ptr(12) + struct.pack("!HH", q.qtype, q.qclass)
        return [Send(reply(q, [rr(wire(c.domain), t, c.good_rdata())], question=question))]

    # -- lengths and counts --
    if behaviour == "rdlenlong":
        rdata = c.good_rdata()
        return [Send(reply(q, [rr(PTR_Q, t, rdata, rdlen=len(rdata) + 20)]))]
    if behaviour == "rdlen8000":
        return [Send(reply(q, [rr(PTR_Q, t, c.good_rdata(), rdlen=0x8000)]))]
    if behaviour == "mxshort":
        return [Send(reply(q, [rr(PTR_Q, T_MX, struct.pack("!H", 10))]))]
    if behaviour == "ancount":
        return [Send(reply(q, c.good(), an=5))]
    if behaviour == "qd0":
        ans = rr(q.qname_wire, t, c.good_rdata())
        return [Send(reply(q, [ans], question=b"", qd=0))]
    if behaviour == "qd2":
        other = wire("other.hostile.test") + struct.pack("!HH", q.qtype, C_IN)
        return [Send(reply(q, c.good(), question=q.question + other, qd=2))]

    # -- truncation --
    if behaviour == "truncudp":
        full = reply(q, c.good(2))
        if tcp:
            return [Send(full)]
        return [Send(full[:-3])]    # mid second record, TC clear
    if behaviour == "tconly":
        if tcp:
            return [Send(reply(q, c.good(2)))]
        return [Send(reply(q, c.good(1), tc=True))]
    if behaviour == "tcpclose":
        if tcp:
            return [CLOSE]
        return [Send(reply(q, c.good(1), tc=True))]

    # -- mismatched or spoofed --
    if behaviour == "zerolen":
        return [CLOSE] if tcp else [Send(b"")]
    if behaviour == "wrongid":
        return [Send(reply(q, c.spoof(), qid=q.id ^ 0x5A5A))]
    if behaviour == "wrongq":
        question = wire("spoof." + c.domain) + struct.pack("!HH", q.qtype, C_IN)
        return [Send(reply(q, c.spoof(), question=question))]
    if behaviour == "wrongtype":
        other = T_A if q.qtype == T_MX else T_MX
        question = q.qname_wire + struct.pack("!HH", other, C_IN)
        # Records of both types, so a router that ignores the question type
        # finds something to use.
        return [Send(reply(q, c.spoof() + [rr(PTR_Q, other,
                a_rdata(TRAP_ADDR) if other == T_A else mx_rdata(10, "spoof." + c.domain))],
                question=question))]
    if behaviour == "caseq":
        # Every letter of the question name in the other case (length
        # bytes are at most 63, below 'A').
        swapped = bytes(b ^ 0x20 if 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A else b
                        for b in q.qname_wire)
        question = swapped + struct.pack("!HH", q.qtype, q.qclass)
        return [Send(reply(q, c.good(), question=question))]
    if behaviour == "wrongport":
        return [Send(reply(q, c.spoof()), other=True)]
    if behaviour == "dupe":
        return [Send(reply(q, c.good())), Send(reply(q, c.spoof()), delay=0.03)]

    # -- valid but odd --
    if behaviour == "many":
        if not tcp:
            return [Send(reply(q, [], tc=True))]
        ans = [rr(PTR_Q, T_MX, mx_rdata(i, wire_labels([b"h%04d" % i]
               )[:-1] + ptr(12))) for i in range(1, MANY + 1)]
        return [Send(reply(q, ans))]
    if behaviour == "nullmix":
        return [Send(reply(q, [rr(PTR_Q, T_MX, mx_rdata(0, b"\x00")),
                              rr(PTR_Q, T_MX, mx_rdata(10, "mx." + c.domain))]))]
    if behaviour == "ipliteral":
        return [Send(reply(q, [rr(PTR_Q, T_MX, mx_rdata(10, "192.0.2.1")),
                              rr(PTR_Q, T_MX, mx_rdata(20, "mx." + c.domain))]))]
    if behaviour == "exchnul":
        evil = wire_labels([b"mx\x00evil", b"a.b"])[:-1] + ptr(12)
        return [Send(reply(q, [rr(PTR_Q, T_MX, mx_rdata(10, evil)),
                              rr(PTR_Q, T_MX, mx_rdata(20, "mx." + c.domain))]))]
    if behaviour == "cnameloop":
        a, b = "cnameloop.hostile.test", "b.cnameloop.hostile.test"
        return [Send(reply(q, [rr(wire(a), T_CNAME, wire(b)),
                              rr(wire(b), T_CNAME, wire(a))]))]
    if behaviour == "servfailans":
        return [Send(reply(q, c.spoof(), rcode=SERVFAIL))]
    if behaviour == "nxans":
        return [Send(reply(q, c.spoof(), rcode=NXDOMAIN, authority=[soa_rr()]))]
    if behaviour == "ttlbig":
        return [Send(reply(q, c.good(ttl=0x80000000)))]
    if behaviour == "glue":
        # Addresses in the additional section that differ from what asking
        # gives (127.0.0.81): 127.0.0.82 for the in-bailiwick exchange, the
        # trap for one outside the domain, which no router may take from
        # here.
        other = "mx.other.hostile.test"
        return [Send(reply(q, [rr(PTR_Q, T_MX, mx_rdata(10, "mx." + c.domain)),
                               rr(PTR_Q, T_MX, mx_rdata(20, other))],
                           additional=[rr(wire("mx." + c.domain), T_A, a_rdata("127.0.0.82")),
                                       rr(wire(other), T_A, a_rdata(TRAP_ADDR))]))]

    # -- not a reply to a query: the right records, in a message that
    # is a query (QR clear), of another opcode (STATUS), or with an OPT
    # record in the answer section (RFC 6891 6.1.1: additional only) --
    if behaviour == "qr0":
        data = bytearray(reply(q, c.good()))
        data[2] &= 0x7F
        return [Send(bytes(data))]
    if behaviour == "opcode":
        data = bytearray(reply(q, c.good()))
        data[2] = (data[2] & 0x87) | (2 << 3)
        return [Send(bytes(data))]
    if behaviour == "optanswer":
        opt = b"\x00" + struct.pack("!HHIH", T_OPT, 1232, 0, 0)
        return [Send(reply(q, c.good() + [opt]))]

    # -- noise --
    if behaviour == "garbage":
        # Random bytes of random length; only the ID is right, so that the
        # bytes get past ID matching to the parser.
        n = rng.randrange(0, 600)
        data = bytes(rng.getrandbits(8) for _ in range(n))
        if n >= 2:
            data = struct.pack("!H", q.id) + data[2:]
        return [Send(data)]
    if behaviour == "garbagetail":
        # A valid header and question claiming 1-10 answers, then noise.
        n = rng.randrange(1, 600)
        noise = bytes(rng.getrandbits(8) for _ in range(n))
        return [Send(reply(q, [noise], an=rng.randrange(1, 11)))]
    return [Send(reply(q, rcode=SERVFAIL))]


def answer(q, tcp, rng):
    """All replies to one query: a list of Send, or [CLOSE], or []."""
    if q.opcode != 0 or q.qclass != C_IN or len(q.lower) < 2 or \
            tuple(l.decode("latin-1") for l in q.lower[-2:]) != ZONE:
        return [Send(reply(q, rcode=REFUSED))]
    rest = [l.decode("latin-1") for l in q.lower[:-2]]
    if not rest:  # the zone apex
        if q.qtype == T_SOA:
            return [Send(reply(q, [soa_rr()]))]
        return [Send(nodata(q))]
    zone_tail = ".hostile.test"

    # An EDNS-intolerant server (noedns) and a plain one (edns), for the
    # stub's padded queries and its fallback without EDNS.
    if len(rest) >= 2 and rest[-1] in ("noedns", "edns"):
        if rest[-1] == "noedns" and q.arcount > 0:
            return [Send(header(q.id, q.flags_out(FORMERR)) + q.question)]
        if q.qtype == T_MX and rest[0] != "mx":
            return [Send(reply(q, [rr(PTR_Q, T_MX, mx_rdata(10, "mx." + q.name))]))]
        if q.qtype == T_A and len(rest) >= 3 and rest[0] == "mx":
            return [Send(reply(q, [rr(PTR_Q, T_A, a_rdata(GOOD_ADDR))]))]
        return [Send(nodata(q))]

    # The CNAME loop: every type of both names answers with the loop.
    if rest[-1] == "cnameloop" and len(rest) <= 2:
        return hostile("cnameloop", Case(q, "cnameloop" + zone_tail, "mx"), tcp, rng)

    if q.qtype == T_MX:
        if len(rest) == 1 and rest[0] in MX_BEHAVIOURS:
            return hostile(rest[0], Case(q, q.name, "mx"), tcp, rng)
        if len(rest) == 2 and rest[1] == "addr" and rest[0] in ADDR_BEHAVIOURS:
            return [Send(reply(q, [rr(PTR_Q, T_MX, mx_rdata(10, "mx." + q.name))]))]
        return [Send(nodata(q))]

    if q.qtype == T_A:
        if len(rest) == 3 and rest[0] == "mx" and rest[2] == "addr" and \
                rest[1] in ADDR_BEHAVIOURS:
            return hostile(rest[1], Case(q, q.name, "addr"), tcp, rng)
        if rest[0] == "spoof" or len(rest) == 1 or (len(rest) == 2 and rest[1] == "addr"):
            # Asked only by a router that used spoofed data or fell back
            # to an implicit MX for a domain whose MX reply was bad.
            return [Send(reply(q, [rr(PTR_Q, T_A, a_rdata(TRAP_ADDR))]))]
        ttl = 0x80000000 if rest[-1] == "ttlbig" else 300
        return [Send(reply(q, [rr(PTR_Q, T_A, a_rdata(GOOD_ADDR), ttl)]))]
    return [Send(nodata(q))]


# ---- the server -----------------------------------------------------------

class HostileServer:
    """UDP and TCP on one loopback address; a thread per TCP connection."""

    def __init__(self, address="127.0.0.77", port=53, seed=None):
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError("the hostile responder listens on loopback only, not " + address)
        self.address, self.port = address, port
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()
        self.log = []       # (transport, name, qtype), in arrival order
        self.sent = []      # (transport, name, qtype, bytes) of the noise cases
        self.sizes = []     # (name, qtype, query length, ARCOUNT), in arrival order
        self.stopping = False
        self.threads = []
        self.conns = set()

    def start(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.udp.bind((self.address, self.port))
        self.udp.settimeout(0.2)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind((self.address, 0))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((self.address, self.port))
        self.tcp.listen(256)
        self.tcp.settimeout(0.2)
        for target in (self.serve_udp, self.serve_tcp):
            th = threading.Thread(target=target, daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def stop(self):
        self.stopping = True
        for th in self.threads:
            th.join(2)
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.close()
            except OSError:
                pass
        for s in (self.udp, self.other, self.tcp):
            s.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def queries(self, name=None):
        with self.lock:
            return [e for e in self.log if name is None or e[1] == name]

    def respond(self, data, transport):
        try:
            q = Query(data)
        except ValueError:
            return []
        with self.lock:
            self.log.append((transport, q.name, q.qtype))
            self.sizes.append((q.name, q.qtype, q.length, q.arcount))
            rng = random.Random(self.rng.getrandbits(64))
        actions = answer(q, transport == "tcp", rng)
        if any(l.startswith(b"garbage") for l in q.lower[:2]):
            with self.lock:
                for a in actions:
                    if isinstance(a, Send):
                        self.sent.append((transport, q.name, q.qtype, a.data))
        return actions

    def serve_udp(self):
        while not self.stopping:
            try:
                data, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            for a in self.respond(data, "udp"):
                if not isinstance(a, Send):
                    continue
                sock = self.other if a.other else self.udp
                if a.delay:
                    threading.Timer(a.delay, self.send_udp, (sock, a.data, peer)).start()
                else:
                    self.send_udp(sock, a.data, peer)

    @staticmethod
    def send_udp(sock, data, peer):
        try:
            sock.sendto(data, peer)
        except OSError:
            pass

    def serve_tcp(self):
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            th = threading.Thread(target=self.serve_conn, args=(conn,), daemon=True)
            th.start()

    @staticmethod
    def recv_exact(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def serve_conn(self, conn):
        with self.lock:
            self.conns.add(conn)
        conn.settimeout(10)
        try:
            while not self.stopping:
                head = self.recv_exact(conn, 2)
                if head is None:
                    return
                data = self.recv_exact(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                for a in self.respond(data, "tcp"):
                    if a is CLOSE:
                        return
                    if a.delay:
                        time.sleep(a.delay)
                    conn.sendall(struct.pack("!H", len(a.data)) + a.data)
        except OSError:
            return
        finally:
            with self.lock:
                self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--address", default="127.0.0.77")
    ap.add_argument("--port", type=int, default=53)
    args = ap.parse_args(argv)
    srv = HostileServer(args.address, args.port).start()
    print("hostile responder on %s port %d (UDP, TCP), seed %d"
          % (args.address, args.port, srv.seed), flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            log = srv.queries()
            for transport, name, qtype in log[seen:]:
                print("%s %s %d" % (transport, name, qtype), flush=True)
            seen = len(log)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
