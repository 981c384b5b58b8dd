#!/usr/bin/env python3
"""gen_corpus.py - writes the seed corpus of fuzz_answer into corpus/answer/.

Valid replies of every kind (MX with several records, equal preferences,
null MX, CNAME chains and loops, NXDOMAIN, NODATA with SOA, SERVFAIL,
REFUSED, TC, A, AAAA, big answers past the caps, odd exchange names), a
few with the ID bits fuzz_answer.c reads as controls (DNSSEC verdicts,
--prefer, local names), and the hostile packets of the unit tests, one
file each, named for what they are.  Standard library only; rerun it
after changing it:  python3 fuzz/gen_corpus.py
Files it did not write (crash reproducers added by hand) are left alone.
"""
import ipaddress
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "answer")

T_A, T_NS, T_CNAME, T_SOA, T_MX, T_TXT, T_AAAA = 1, 2, 5, 6, 15, 16, 28
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, REFUSED = 0, 1, 2, 3, 5
QR, AA, TC, RD, RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080


def labels(name):
    """Presentation form ("a\\032b.example.test.") to a list of bytes labels."""
    if name in (".", ""):
        return []
    out, cur, i = [], bytearray(), 0
    while i < len(name):
        c = name[i]
        if c == "\\":
            if name[i + 1:i + 4].isdigit() and len(name[i + 1:i + 4]) == 3:
                cur.append(int(name[i + 1:i + 4]))
                i += 4
            else:
                cur += name[i + 1].encode("latin-1")
                i += 2
            continue
        if c == ".":
            out.append(bytes(cur))
            cur = bytearray()
        else:
            cur += c.encode("latin-1")
        i += 1
    if cur:
        out.append(bytes(cur))
    return out


class Packet:
    """A DNS message writer with optional name compression."""

    def __init__(self, ident=0, flags=QR | RD | RA, rcode=NOERROR, compress=True):
        self.ident, self.flags, self.rcode = ident, flags, rcode
        self.compress = compress
        self.sections = [[], [], [], []]  # question, answer, authority, additional

    def question(self, name, qtype=T_MX, qclass=1):
        self.sections[0].append((name, qtype, qclass))
        return self

    def rr(self, section, owner, rtype, ttl, rdata, rclass=1):
        """rdata: a list of ("u16"|"u32"|"name"|"bytes", value)."""
        self.sections[section].append((owner, rtype, rclass, ttl, rdata))
        return self

    def an(self, *args, **kw):
        return self.rr(1, *args, **kw)

    def ns(self, *args, **kw):
        return self.rr(2, *args, **kw)

    def ar(self, *args, **kw):
        return self.rr(3, *args, **kw)

    def wire(self):
        buf = bytearray()
        seen = {}

        def put_name(name):
            labs = labels(name)
            for i in range(len(labs)):
                key = b".".join(labs[i:]).lower()
                if self.compress and key in seen:
                    buf.extend(struct.pack(">H", 0xC000 | seen[key]))
                    return
                if self.compress and len(buf) < 0x3FFF:
                    seen[key] = len(buf)
                buf.append(len(labs[i]))
                buf.extend(labs[i])
            buf.append(0)

        buf.extend(struct.pack(">HHHHHH", self.ident, self.flags | self.rcode,
                               *(len(s) for s in self.sections)))
        for name, qtype, qclass in self.sections[0]:
            put_name(name)
            buf.extend(struct.pack(">HH", qtype, qclass))
        for section in self.sections[1:]:
            for owner, rtype, rclass, ttl, rdata in section:
                put_name(owner)
                buf.extend(struct.pack(">HHI", rtype, rclass, ttl))
                at = len(buf)
                buf.extend(b"\0\0")
                for kind, value in rdata:
                    if kind == "u16":
                        buf.extend(struct.pack(">H", value))
                    elif kind == "u32":
                        buf.extend(struct.pack(">I", value))
                    elif kind == "name":
                        put_name(value)
                    else:
                        buf.extend(value)
                struct.pack_into(">H", buf, at, len(buf) - at - 2)
        return bytes(buf)


def mx(pref, name):
    return [("u16", pref), ("name", name)]


def cname(name):
    return [("name", name)]


def a(addr):
    return [("bytes", ipaddress.IPv4Address(addr).packed)]


def aaaa(addr):
    return [("bytes", ipaddress.IPv6Address(addr).packed)]


def soa(zone="test."):
    return [("name", "ns." + zone), ("name", "hostmaster." + zone),
            ("u32", 2024010101), ("u32", 3600), ("u32", 600), ("u32", 86400), ("u32", 300)]


D = "example.test."


def ctl(c0=0, c1=0):
    """The ID field fuzz_answer.c reads as its controls."""
    return (c0 << 8) | c1


SEC = {"unknown": 0, "insecure": 1, "secure": 2, "bogus": 3}


def sec(mx_sec, a_sec, aaaa_sec):
    return SEC[mx_sec] | SEC[a_sec] << 2 | SEC[aaaa_sec] << 4


def valid():
    v = {}

    def several(p):
        return (p.an(D, T_MX, 300, mx(10, "mx1.example.test."))
                 .an(D, T_MX, 600, mx(20, "mx2.example.test."))
                 .an(D, T_MX, 600, mx(20, "mx3.example.test."))
                 .an(D, T_MX, 3600, mx(30, "mx4.other.test."))
                 .ns("example.test.", T_NS, 3600, [("name", "ns1.example.test.")])
                 .ar("mx1.example.test.", T_A, 300, a("192.0.2.1"))
                 .ar("mx1.example.test.", T_AAAA, 300, aaaa("2001:db8::1")))

    v["valid-mx-several"] = several(Packet().question(D))
    # Additional-section addresses: one exchange's (kept as glue), one
    # outside the domain and one of no exchange (both ignored).
    v["valid-mx-glue-mixed"] = (several(Packet().question(D))
                                .ar("mx4.other.test.", T_A, 300, a("192.0.2.66"))
                                .ar("www.example.test.", T_A, 300, a("192.0.2.2"))
                                .ar("mx2.example.test.", T_A, 60, a("192.0.2.3")))
    v["valid-mx-several-uncompressed"] = several(Packet(compress=False).question(D))
    v["valid-mx-several-secure"] = several(
        Packet(ctl(sec("secure", "secure", "secure"))).question(D))
    v["valid-mx-several-insecure-v4"] = several(
        Packet(ctl(sec("insecure", "secure", "secure") | 0x40, 0x05)).question(D))
    v["valid-mx-several-bogus"] = several(
        Packet(ctl(sec("bogus", "secure", "secure"))).question(D))
    v["valid-mx-several-local-mx1"] = several(Packet(ctl(0x80)).question(D))
    v["valid-mx-upper-case"] = (Packet().question("EXAMPLE.Test.")
                                .an("Example.TEST.", T_MX, 300, mx(10, "MX1.Example.Test.")))
    p = Packet(ctl(0, 0x10)).question(D)
    for h in "abcd":
        p.an(D, T_MX, 300, mx(10, h + ".example.test."))
    p.an(D, T_MX, 300, mx(5, "best.example.test."))
    v["valid-mx-equal-preferences"] = p
    v["valid-mx-null"] = Packet().question(D).an(D, T_MX, 3600, mx(0, "."))
    v["valid-mx-null-pref10"] = Packet().question(D).an(D, T_MX, 3600, mx(10, "."))
    v["valid-mx-null-mixed"] = (Packet().question(D).an(D, T_MX, 3600, mx(0, "."))
                                .an(D, T_MX, 3600, mx(10, "mx1.example.test.")))
    v["valid-mx-cname-chain"] = (Packet().question(D)
                                 .an(D, T_CNAME, 300, cname("a.example.test."))
                                 .an("a.example.test.", T_CNAME, 300, cname("b.other.test."))
                                 .an("b.other.test.", T_MX, 300, mx(10, "mx.other.test.")))
    v["valid-mx-cname-chain-reversed"] = (Packet().question(D)
                                          .an("b.other.test.", T_MX, 300, mx(10, "mx.other.test."))
                                          .an("a.example.test.", T_CNAME, 300, cname("b.other.test."))
                                          .an(D, T_CNAME, 300, cname("a.example.test.")))
    for n in (16, 17):
        p = Packet().question(D).an(D, T_CNAME, 60, cname("c1.example.test."))
        for i in range(1, n):
            p.an("c%d.example.test." % i, T_CNAME, 60, cname("c%d.example.test." % (i + 1)))
        p.an("c%d.example.test." % n, T_MX, 60, mx(10, "mx1.example.test."))
        v["valid-mx-cname-chain-%d" % n] = p
    v["valid-mx-cname-loop"] = (Packet().question(D)
                                .an(D, T_CNAME, 300, cname("a.example.test."))
                                .an("a.example.test.", T_CNAME, 300, cname("example.test.")))
    v["valid-mx-cname-self"] = Packet().question(D).an(D, T_CNAME, 300, cname(D))
    v["valid-mx-nxdomain"] = (Packet(rcode=NXDOMAIN).question(D)
                              .ns("test.", T_SOA, 300, soa()))
    v["valid-mx-nxdomain-secure"] = (Packet(ctl(sec("secure", "secure", "secure")),
                                            rcode=NXDOMAIN).question(D)
                                     .ns("test.", T_SOA, 300, soa()))
    v["valid-mx-nxdomain-after-cname"] = (Packet(rcode=NXDOMAIN).question(D)
                                          .an(D, T_CNAME, 300, cname("gone.example.test."))
                                          .ns("example.test.", T_SOA, 300, soa("example.test.")))
    v["valid-mx-nodata-soa"] = Packet().question(D).ns("example.test.", T_SOA, 300,
                                                       soa("example.test."))
    v["valid-mx-nodata-local-domain"] = (Packet(ctl(0, 0x02)).question(D)
                                         .ns("example.test.", T_SOA, 300, soa("example.test.")))
    v["valid-mx-servfail"] = Packet(rcode=SERVFAIL).question(D)
    v["valid-mx-servfail-no-question"] = Packet(rcode=SERVFAIL)
    v["valid-mx-refused"] = Packet(rcode=REFUSED).question(D)
    v["valid-mx-formerr"] = Packet(rcode=FORMERR).question(D)
    v["valid-mx-truncated"] = (Packet(flags=QR | RD | RA | TC).question(D)
                               .an(D, T_MX, 300, mx(10, "mx1.example.test.")))
    v["valid-mx-other-name"] = (Packet().question("other.test.")
                                .an("other.test.", T_MX, 300, mx(10, "mx1.other.test.")))
    v["valid-mx-question-a"] = Packet().question(D, T_A).an(D, T_A, 300, a("192.0.2.1"))
    v["valid-mx-two-questions"] = (Packet().question(D).question(D)
                                   .an(D, T_MX, 300, mx(10, "mx1.example.test.")))
    v["valid-mx-foreign-records"] = (Packet().question(D)
                                     .an(D, T_A, 300, a("192.0.2.1"))
                                     .an("other.test.", T_MX, 300, mx(5, "mx.other.test."))
                                     .an(D, T_TXT, 300, [("bytes", b"\x0bv=spf1 -all")])
                                     .an(D, T_MX, 300, mx(10, "mx1.example.test."), rclass=3)
                                     .an(D, T_MX, 300, mx(20, "mx2.example.test.")))
    v["valid-mx-ip-literals"] = (Packet().question(D)
                                 .an(D, T_MX, 300, mx(10, "192.0.2.1."))
                                 .an(D, T_MX, 300, mx(20, "2001:db8::1."))
                                 .an(D, T_MX, 300, mx(30, "mx1.example.test.")))
    v["valid-mx-bad-names"] = (Packet().question(D)
                               .an(D, T_MX, 300, mx(10, "mx\\032a.example.test."))
                               .an(D, T_MX, 300, mx(20, "a\\000b.example.test."))
                               .an(D, T_MX, 300, mx(30, "mx_1.example.test."))
                               .an(D, T_MX, 300, mx(40, "-mx.example.test."))
                               .an(D, T_MX, 300, mx(50, "a\\.b\\\"c\\\\d.example.test."))
                               .an(D, T_MX, 300, mx(60, "\\255\\128.example.test.")))
    v["valid-mx-duplicates"] = (Packet().question(D)
                                .an(D, T_MX, 300, mx(20, "mx1.example.test."))
                                .an(D, T_MX, 300, mx(10, "MX1.example.test."))
                                .an(D, T_MX, 300, mx(30, "mx2.example.test.")))
    v["valid-mx-ttl-top-bit"] = (Packet().question(D)
                                 .an(D, T_MX, 0x80000000, mx(10, "mx1.example.test."))
                                 .an(D, T_MX, 0xFFFFFFFF, mx(20, "mx2.example.test."))
                                 .an(D, T_MX, 0x7FFFFFFF, mx(30, "mx3.example.test.")))
    l63 = "a" * 63
    v["valid-mx-longest-name"] = (Packet().question(D)
                                  .an(D, T_MX, 300, mx(10, ".".join([l63] * 3 + ["b" * 61]) + ".")))
    p = Packet().question(D)
    for i in range(1100):
        p.an(D, T_MX, 300 + i, mx(i % 7, "h%d.example.test." % i))
    v["valid-mx-big-1100"] = p

    # Address replies, for example.test itself.
    v["valid-a-two"] = (Packet().question(D, T_A).an(D, T_A, 300, a("192.0.2.1"))
                        .an(D, T_A, 60, a("198.51.100.20")))
    v["valid-a-two-prefer-v4-aaaa-first"] = (Packet(ctl(0x40, 0x01)).question(D, T_A)
                                             .an(D, T_A, 300, a("192.0.2.1"))
                                             .an(D, T_A, 60, a("198.51.100.20")))
    v["valid-a-ttl-zero"] = Packet().question(D, T_A).an(D, T_A, 0, a("192.0.2.1"))
    v["valid-a-cname"] = (Packet().question(D, T_A)
                          .an(D, T_CNAME, 300, cname("host.other.test."))
                          .an("host.other.test.", T_A, 60, a("192.0.2.7")))
    v["valid-a-bogus"] = (Packet(ctl(sec("secure", "bogus", "secure"))).question(D, T_A)
                          .an(D, T_A, 300, a("192.0.2.66")))
    v["valid-a-nodata-soa"] = Packet().question(D, T_A).ns("example.test.", T_SOA, 300,
                                                           soa("example.test."))
    v["valid-a-nxdomain"] = (Packet(rcode=NXDOMAIN).question(D, T_A)
                             .ns("test.", T_SOA, 300, soa()))
    v["valid-a-local-domain"] = (Packet(ctl(0, 0x02)).question(D, T_A)
                                 .an(D, T_A, 300, a("192.0.2.1")))
    p = Packet().question(D, T_A)
    for i in range(200):
        p.an(D, T_A, 300, a("10.0.%d.%d" % (i // 256, i % 256)))
    v["valid-a-big-200"] = p
    v["valid-aaaa-two"] = (Packet().question(D, T_AAAA).an(D, T_AAAA, 120, aaaa("2001:db8::1"))
                           .an(D, T_AAAA, 120, aaaa("2001:db8::2")))
    v["valid-aaaa-secure"] = (Packet(ctl(sec("secure", "secure", "secure"))).question(D, T_AAAA)
                              .an(D, T_AAAA, 120, aaaa("2001:db8::25")))
    p = Packet().question(D, T_AAAA)
    for i in range(100):
        p.an(D, T_AAAA, 300, aaaa("2001:db8::%x" % (i + 1)))
    v["valid-aaaa-big-100"] = p
    return {k: p.wire() for k, p in v.items()}


# The hostile packets of tests/unit/test_answer.c, byte for byte.
def hdr(an=1, qd=1):
    return bytes([0x12, 0x34, 0x81, 0x80, 0, qd, an >> 8, an & 0xFF, 0, 0, 0, 0])


QMX = b"\x07example\x04test\x00\x00\x0f\x00\x01"  # at 12; the answer starts at 30
MXHDR = b"\x00\x0f\x00\x01\x00\x00\x01\x00"       # type MX, class IN, TTL 256


def hostile():
    h = {
        "ptr-self": hdr() + QMX + b"\xc0\x1e" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c",
        "ptr-self-rdata": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x04\x00\x0a\xc0\x2c",
        "ptr-loop": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x06\x00\x0a\xc0\x2e\xc0\x2c",
        "ptr-loop-label": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x06\x00\x0a\x01a\xc0\x2c",
        "ptr-forward": hdr() + QMX + b"\xc0\x2c" + MXHDR + b"\x00\x10\x00\x0a"
        + b"\x07example\x04test\x00",
        "ptr-forward-rdata": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x04\x00\x0a\xc0\x2e"
        + b"\x02mx\x00",
        "ptr-past-end": hdr() + QMX + b"\xc0\xff" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c",
        "ptr-far": hdr() + QMX + b"\xff\xff" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c",
        "ends-after-c0": hdr() + QMX + b"\xc0",
        "ends-after-c0-rdata": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x03\x00\x0a\xc0",
        "label-0x40": hdr() + QMX + b"\x40a\x00" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c",
        "label-0x80": hdr() + QMX + b"\x80a\x00" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c",
        "label-0xbf": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x05\x00\x0a\xbfa\x00",
        "name-no-zero": hdr() + b"\x07example\x04test",
        "name-no-zero-rdata": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x05\x00\x0a\x02mx",
        "rdlength-past-end": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x01\x00\x00\x0a\xc0\x0c",
        "mx-rdata-2": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x02\x00\x0a",
        "mx-rdata-1": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x01\x00",
        "mx-rdata-0": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x00",
        "mx-rdata-trailing": hdr() + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x06\x00\x00\x00\x01a\x00",
        "ancount-too-big": hdr(5) + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c",
        "ancount-65535": hdr(0xFFFF) + QMX + b"\xc0\x0c" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c",
        "qdcount-too-big": hdr(0, 2) + QMX,
        "rr-header-cut": hdr() + QMX + b"\xc0\x0c\x00\x0f",
        "eleven-bytes": hdr(0)[:11],
        "header-only": hdr(0),
        "zero-length": b"",
    }
    # Not replies to a query (QR clear, opcode STATUS or NOTIFY, an OPT
    # record outside the additional section): refused as libunbound does.
    good_mx = QMX + b"\xc0\x0c" + MXHDR + b"\x00\x04\x00\x0a\xc0\x0c"
    opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    head = hdr()
    h["qr-clear"] = head[:2] + b"\x01" + head[3:] + good_mx
    h["opcode-status"] = head[:2] + bytes([0x81 | 2 << 3]) + head[3:] + good_mx
    h["opcode-notify"] = head[:2] + bytes([0x81 | 4 << 3]) + head[3:] + good_mx
    h["opt-in-answer"] = hdr(2) + good_mx + opt
    h["opt-in-authority"] = head[:9] + b"\x01" + head[10:] + good_mx + opt
    qa = b"\x07example\x04test\x00\x00\x01\x00\x01"
    rr_a = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x00"
    for n in (0, 3, 5, 16):
        h["a-rdata-%d-then-good" % n] = (hdr(2) + qa + rr_a + bytes([0, n]) + b"\x0a" * n
                                         + rr_a + b"\x00\x04\xc0\x00\x02\x01")
        h["a-rdata-%d-last" % n] = (hdr(2) + qa + rr_a + b"\x00\x04\xc0\x00\x02\x01"
                                    + rr_a + bytes([0, n]) + b"\x0a" * n)
    return {"hostile-" + k: v for k, v in h.items()}


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {**valid(), **hostile()}
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
