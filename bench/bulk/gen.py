#!/usr/bin/env python3
"""bench/bulk/gen.py - generates the bulk benchmark's world, deterministically.

    gen.py [--domains N] [--seed S] [--zone ORIGIN] OUTDIR

writes into OUTDIR:

  zone       the zone file NSD serves (ORIGIN, default bulk.test.)
  domains    the input list, one domain a line, shuffled (NXDOMAIN names
             included); what `mx route --bulk` and adnshost read
  dnsperf    the same names as dnsperf input ("NAME MX")
  truth      one JSON object a line, in input order:
             {"domain", "status", "hosts": [[pref, host, [addr, ...]], ...]}
             plus "implicit_mx": true where the domain has no MX
             status is what a correct router concludes with a non-validating
             stub: ok | null-mx | nxdomain | no-mail-host; hosts are in
             preference order (the order within one preference is free)
  stats      counts per kind, for the report

The shape (shares of N):

  66%  provider MX: one of P providers (P = 1000 for N = 100,000, scaling
       with N^0.6; a few thousand hosts in all), chosen with a Zipf-like
       law (weight 1/rank), each provider with 1-5 hosts, some at equal
       preference; 10% of these domains add a second provider as backup
  20%  their own MX host(s) (mx1, sometimes mx2, under the domain)
   6%  no MX at all: implicit MX, the domain's own A (some AAAA)
   1%  no MX and no address: no mail host
   1%  null MX (MX 0 .)
   1%  an MX host that has no address (NODATA for A and AAAA)
   5%  NXDOMAIN: in the list, not in the zone

IPv4 addresses are all in 127.0.0.0/8 (nothing ever connects to them);
IPv6 addresses are data only, in 2001:db8::/32 (documentation range).
Standard library only; the same seed and N give byte-identical files.
"""
import argparse
import bisect
import ipaddress
import itertools
import json
import os
import random
import sys


def v4(n):
    """The n-th distinct loopback address, skipping .0 and .255 octets."""
    c = n % 254 + 1
    n //= 254
    b = n % 254 + 1
    n //= 254
    a = n % 254 + 1
    if n >= 254:
        raise ValueError("out of 127/8 addresses")
    return f"127.{a}.{b}.{c}"


def v6(n):
    """The n-th address in 2001:db8::/32, in canonical (RFC 5952) text."""
    return str(ipaddress.IPv6Address((0x20010db8 << 96) | n))


class World:
    def __init__(self, n, seed, origin):
        self.rng = random.Random(seed)
        self.n = n
        self.origin = origin.rstrip(".") + "."
        self.suffix = "." + self.origin.rstrip(".")
        self.next_v4 = 0
        self.next_v6 = 0

    def addr4(self):
        self.next_v4 += 1
        return v4(self.next_v4)

    def addr6(self):
        self.next_v6 += 1
        return v6(self.next_v6)


PROVIDER_SHAPES = [
    # (weight, [preferences of its hosts]); equal preferences on purpose
    (30, [10]),
    (30, [10, 20]),
    (15, [10, 10]),
    (10, [5, 5, 10, 10]),
    (10, [1, 5, 5, 10, 10]),
    (5, [10, 20, 30]),
]

KINDS = [  # (share in percent, kind)
    (66, "provider"),
    (20, "own"),
    (6, "implicit"),
    (1, "implicit-noaddr"),
    (1, "null"),
    (1, "noaddr-host"),
    (5, "nxdomain"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domains", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--zone", default="bulk.test.")
    ap.add_argument("outdir")
    args = ap.parse_args()
    if args.domains < 100:
        ap.error("--domains must be at least 100")
    w = World(args.domains, args.seed, args.zone)
    rng = w.rng
    os.makedirs(args.outdir, exist_ok=True)
    zone = open(os.path.join(args.outdir, "zone"), "w")
    zone.write(f"$ORIGIN {w.origin}\n$TTL 3600\n"
               f"@ IN SOA ns hostmaster 1 3600 600 86400 300\n"
               f"@ IN NS ns\nns IN A 127.0.0.53\n")

    def host_records(name, n_v4, n_v6, ttl=300):
        """Writes the A/AAAA records of a host (relative name); returns addrs."""
        addrs = []
        for _ in range(n_v4):
            a = w.addr4()
            zone.write(f"{name} {ttl} IN A {a}\n")
            addrs.append(a)
        for _ in range(n_v6):
            a = w.addr6()
            zone.write(f"{name} {ttl} IN AAAA {a}\n")
            addrs.append(a)
        return sorted(addrs)

    # Providers: a few thousand hosts in all.
    n_prov = max(20, round(1000 * (args.domains / 100000) ** 0.6))
    shape_cum = list(itertools.accumulate(s[0] for s in PROVIDER_SHAPES))
    providers = []
    n_provider_hosts = 0
    for p in range(n_prov):
        prefs = PROVIDER_SHAPES[bisect.bisect_right(
            shape_cum, rng.randrange(shape_cum[-1]))][1]
        hosts = []
        for i, pref in enumerate(prefs):
            rel = f"mx{i + 1}.p{p + 1}"
            addrs = host_records(rel, rng.choice((1, 1, 1, 2)),
                                 1 if rng.random() < 0.4 else 0)
            hosts.append((pref, rel + w.suffix, addrs))
            n_provider_hosts += 1
        providers.append(hosts)
    # Zipf-like popularity: weight 1/rank.
    prov_cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(n_prov)))

    def pick_provider():
        return providers[bisect.bisect_right(prov_cum, rng.random() * prov_cum[-1])]

    kind_cum = list(itertools.accumulate(k[0] for k in KINDS))
    width = len(str(args.domains))
    entries = []  # (domain, truth) in generation order; shuffled below
    counts = {k: 0 for _, k in KINDS}
    for d in range(args.domains):
        kind = KINDS[bisect.bisect_right(kind_cum, rng.randrange(100))][1]
        counts[kind] += 1
        rel = f"d{d:0{width}d}"
        name = rel + w.suffix
        if kind == "nxdomain":
            # Not written to the zone at all.
            name = f"nx{d:0{width}d}" + w.suffix
            entries.append((name, {"status": "nxdomain", "hosts": []}))
            continue
        if kind == "provider":
            primary = pick_provider()
            hosts = list(primary)
            if rng.random() < 0.10:
                backup = pick_provider()
                if backup is not primary and backup[0][1] not in {h[1] for h in hosts}:
                    top = max(h[0] for h in hosts)
                    hosts += [(top + 10 + pref, h, a) for pref, h, a in backup[:2]]
            for pref, host, _ in hosts:
                zone.write(f"{rel} IN MX {pref} {host}.\n")
            truth = {"status": "ok", "hosts": [list(h) for h in hosts]}
        elif kind == "own":
            two = rng.random() < 0.2
            hosts = []
            for i in range(2 if two else 1):
                hrel = f"mx{i + 1}.{rel}"
                addrs = host_records(hrel, 1, 1 if rng.random() < 0.3 else 0)
                pref = 10 * (i + 1)
                zone.write(f"{rel} IN MX {pref} {hrel}{w.suffix}.\n")
                hosts.append([pref, hrel + w.suffix, addrs])
            truth = {"status": "ok", "hosts": hosts}
        elif kind == "implicit":
            zone.write(f"{rel} IN TXT \"v=spf1 -all\"\n")
            addrs = host_records(rel, 1, 1 if rng.random() < 0.3 else 0)
            truth = {"status": "ok", "implicit_mx": True, "hosts": [[0, name, addrs]]}
        elif kind == "implicit-noaddr":
            zone.write(f"{rel} IN TXT \"no mail here\"\n")
            truth = {"status": "no-mail-host", "implicit_mx": True,
                     "hosts": [[0, name, []]]}
        elif kind == "null":
            zone.write(f"{rel} IN MX 0 .\n")
            truth = {"status": "null-mx", "hosts": []}
        else:  # noaddr-host: the host exists (TXT) but has no A/AAAA
            hrel = f"mx.{rel}"
            zone.write(f"{rel} IN MX 10 {hrel}{w.suffix}.\n")
            zone.write(f"{hrel} IN TXT \"decommissioned\"\n")
            truth = {"status": "no-mail-host", "hosts": [[10, hrel + w.suffix, []]]}
        entries.append((name, truth))
    zone.close()

    rng.shuffle(entries)
    with open(os.path.join(args.outdir, "domains"), "w") as f_in, \
            open(os.path.join(args.outdir, "dnsperf"), "w") as f_perf, \
            open(os.path.join(args.outdir, "truth"), "w") as f_truth:
        for name, truth in entries:
            f_in.write(name + "\n")
            f_perf.write(name + " MX\n")
            f_truth.write(json.dumps({"domain": name, **truth},
                                     separators=(",", ":")) + "\n")
    stats = {
        "domains": args.domains,
        "seed": args.seed,
        "zone": w.origin,
        "providers": n_prov,
        "provider_hosts": n_provider_hosts,
        "ipv4_addresses": w.next_v4,
        "ipv6_addresses": w.next_v6,
        "kinds": counts,
    }
    with open(os.path.join(args.outdir, "stats"), "w") as f:
        json.dump(stats, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
