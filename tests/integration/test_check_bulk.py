#!/usr/bin/env python3
"""`mx check --bulk` and the bulk commands' --csv and --shard, in the sandbox.

Every bulk line is what `mx check --json` says of that domain; bad lines
are reported in the same schema; --smtp probes each (host, address) once;
--csv has the documented columns; the N shards of --shard K/N, run by GNU
parallel as N processes, together print exactly the lines of one run, for
`mx check --bulk` and `mx route --bulk` alike.  Skips outside the sandbox
unless MX_REQUIRE_SANDBOX=1.
"""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import sandboxed

MX = os.path.abspath(os.environ.get("MX_BIN", "build/src/mx"))
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
CA = os.environ.get("MX_SANDBOX_CA")

DOMAINS = ["good.check.test", "noaddr.check.test", "dup.check.test", "spftwo.check.test",
           "nullmixed.check.test", "implicit.check.test", "nomail.check.test",
           "private.check.test", "tls.send.test", "expiring.check.test",
           "cname.check.test", "dmarcbad.check.test"]
CHECK_CSV = "domain,state,errors,warnings,notices,error_ids,warning_ids,notice_ids,reason"
ROUTE_CSV = "domain,status,reason,dnssec,implicit_mx,hosts,addresses"


def common():
    return ["--resolver", RESOLVER, "--trust-anchor", ANCHOR, "-t", "12"] + \
        (["--ca-file", CA] if CA else [])


def settled(line):
    """A line without what a loaded machine may change: the resolver cache's
    TTLs in the evidence (used when an authoritative server's answer misses
    its 1 s budget) and that server listed as untested."""
    obj = json.loads(line) if isinstance(line, str) else line
    obj["untested"] = [u for u in obj.get("untested", []) if u["test"] != "mx-inconsistent"]
    text = re.sub(r'\. \d+ IN MX', '. TTL IN MX', json.dumps(obj, sort_keys=True))
    return json.loads(re.sub(r'TTL of \d+ s', 'TTL of N s', text))


def write_input(lines):
    f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    f.write("\n".join(lines) + "\n")
    f.close()
    return f.name


def bulk(args, lines, cmd="check"):
    path = write_input(lines)
    p = subprocess.run([MX, cmd, "--bulk"] + args + [path], capture_output=True,
                       text=True, timeout=120)
    os.unlink(path)
    return p


class CheckBulk(unittest.TestCase):
    def test_lines_are_mx_check_json(self):
        p = bulk(common(), DOMAINS)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = {}
        for line in p.stdout.splitlines():
            obj = json.loads(line)
            got[obj["domain"]] = obj
        self.assertEqual(sorted(got), sorted(DOMAINS))
        for d in ("noaddr.check.test", "dup.check.test", "expiring.check.test"):
            one = subprocess.run([MX, "check", "--json", "--no-smtp"] + common() + [d],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(settled(got[d]), settled(one.stdout), d)

    def test_summary_and_invalid_lines(self):
        p = bulk(common(), ["good.check.test", "# a comment", "", "bad..name",
                            "x" * 5000, "noaddr.check.test"])
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(len(lines), 4)
        bad = [l for l in lines if l.get("invalid")]
        self.assertEqual(len(bad), 2)
        for b in bad:
            self.assertEqual(b["findings"], [])
            self.assertTrue(b["summary"]["tempfail"])
            self.assertRegex(b["summary"]["reason"], r"^line [45] ")
        self.assertRegex(p.stderr, r"mx check --bulk: 4 lines in [\d.]+ s \(\d+/s\): ok 1, "
                                   r"notice 0, warning 0, error 1, unknown 0, invalid 2; "
                                   r"queries \d+, retries \d+, timeouts \d+; "
                                   r"SMTP probes 0, reused 0")

    def test_smtp_off_by_default(self):
        p = bulk(common(), ["tls.send.test"])
        obj = json.loads(p.stdout)
        self.assertIn("smtp", [u["test"] for u in obj["untested"]])
        self.assertNotIn("tls-cert-expiring", str(obj))

    def test_smtp_probes_each_address_once(self):
        lines = ["expiring.check.test"] * 4 + ["tls.send.test", "expiring.check.test"]
        p = bulk(common() + ["--smtp"], lines)
        objs = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(len(objs), 6)
        exp = [o for o in objs if o["domain"] == "expiring.check.test"]
        self.assertTrue(all(o == exp[0] for o in exp))
        self.assertIn("tls-cert-expiring", [f["id"] for f in exp[0]["findings"]])
        m = re.search(r"SMTP probes (\d+), reused (\d+)", p.stderr)
        self.assertEqual((int(m.group(1)), int(m.group(2))), (2, 4), p.stderr)

    def test_csv(self):
        p = bulk(common() + ["--csv"], ["noaddr.check.test", "good.check.test", "bad..x"])
        rows = list(csv.reader(io.StringIO(p.stdout)))
        self.assertEqual(",".join(rows[0]), CHECK_CSV)
        by = {r[0]: r for r in rows[1:]}
        self.assertEqual(by["noaddr.check.test"][1:8],
                         ["error", "2", "2", "0", "mx-no-address", "dmarc-missing spf-missing", ""])
        self.assertEqual(by["good.check.test"][1:5], ["ok", "0", "0", "0"])
        self.assertEqual(by["bad..x"][1], "invalid")
        self.assertTrue(by["bad..x"][8].startswith("line 3 "))

    def test_concurrency_one(self):
        a = bulk(common() + ["--concurrency", "1"], DOMAINS[:5]).stdout.splitlines()
        b = bulk(common(), DOMAINS[:5]).stdout.splitlines()
        self.assertEqual(sorted(a), sorted(b))

    def test_bad_bulk_options(self):
        for args in (["--shard", "0/3"], ["--shard", "4/3"], ["--shard", "1"],
                     ["--concurrency", "0"]):
            self.assertEqual(bulk(args, ["x.test"]).returncode, 64, args)
        self.assertEqual(bulk(["--plugin"], ["x.test"]).returncode, 3)  # plugin: UNKNOWN
        self.assertEqual(subprocess.run([MX, "check", "--csv", "x.test"]).returncode, 64)
        self.assertEqual(subprocess.run([MX, "route", "--shard", "1/2", "x.test"]).returncode, 64)


@unittest.skipUnless(shutil.which("parallel"), "GNU parallel (Debian parallel) is not installed")
class Shards(unittest.TestCase):
    N = 3

    def shards(self, cmd, args, path):
        """GNU parallel runs the N shards as N processes; their outputs, concatenated."""
        argv = ["parallel", "--will-cite", "-j", str(self.N), "-k",
                MX, cmd, "--bulk"] + args + ["--shard", "{}/%d" % self.N, path,
                                             ":::"] + [str(k) for k in range(1, self.N + 1)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.splitlines()

    def compare(self, cmd, args, lines):
        path = write_input(lines)
        try:
            whole = subprocess.run([MX, cmd, "--bulk"] + args + [path], capture_output=True,
                                   text=True, timeout=120).stdout.splitlines()
            parts = self.shards(cmd, args, path)
            per = [subprocess.run([MX, cmd, "--bulk"] + args + ["--shard", "%d/%d" % (k, self.N),
                                                                path],
                                  capture_output=True, text=True, timeout=120).stdout.splitlines()
                   for k in range(1, self.N + 1)]
        finally:
            os.unlink(path)
        key = (lambda l: json.dumps(settled(l), sort_keys=True)) if cmd == "check" and \
            "--csv" not in args else (lambda l: re.sub(r'"ttl": \d+', "", l))
        self.assertEqual(sorted(map(key, parts)), sorted(map(key, whole)))
        self.assertEqual(len(parts), len(whole))
        self.assertTrue(all(len(p) < len(whole) for p in per), [len(p) for p in per])
        return whole

    def test_check_shards_make_one_run(self):
        lines = DOMAINS + ["bad..name", "Good.Check.Test."]
        self.compare("check", common(), lines)

    def test_check_csv_shards_one_header(self):
        whole = self.compare("check", common() + ["--csv"], DOMAINS)
        self.assertEqual(whole[0], CHECK_CSV)

    def test_route_shards_make_one_run(self):
        names = ["%s.test" % n for n in ("basic", "nullmx", "implicit", "nxdomain", "cname",
                                         "multi", "samepref")] + DOMAINS + ["bad..name"]
        args = ["--resolver", RESOLVER, "--trust-anchor", "none"]
        self.compare("route", args, names)
        whole = self.compare("route", args + ["--csv"], names)
        self.assertEqual(whole[0], ROUTE_CSV)
        rows = {r[0]: r for r in csv.reader(io.StringIO("\n".join(whole[1:])))}
        self.assertEqual(rows["tls.send.test"][1], "ok")
        self.assertEqual(rows["tls.send.test"][5], "10:mx-tls.send.test")
        self.assertEqual(rows["tls.send.test"][6], "127.0.0.211")
        self.assertEqual(rows["bad..name"][1], "invalid")


if __name__ == "__main__":
    sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR"))
