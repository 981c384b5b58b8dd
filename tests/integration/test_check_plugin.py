#!/usr/bin/env python3
"""`mx check` where monitoring systems run it, against the sandbox.

--plugin and `check_mx` (mx called by that name): the status line and its
performance data, exits 0/1/2/3 with usage errors UNKNOWN, -H -t -w -c -V
-h; tls-cert-expiring on the peer whose certificate ends in 5 days
(--cert-days); --allow-private; output that is the same on every run; and
the Nagios 4 command definition of docs/MONITORING.md run by the real
nagios4 when it is installed.  Skips outside the sandbox unless
MX_REQUIRE_SANDBOX=1.
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import sandboxed

MX = os.path.abspath(os.environ.get("MX_BIN", "build/src/mx"))
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
CA = os.environ.get("MX_SANDBOX_CA")
LINE = re.compile(r"^MX (OK|WARNING|CRITICAL|UNKNOWN) - (.*) \| errors=(\d+);;;0 "
                  r"warnings=(\d+);;;0 notices=(\d+);;;0 time=\d+\.\d\ds$")


def live(smtp=False):
    args = ["--resolver", RESOLVER, "--trust-anchor", ANCHOR, "-t", "12"]
    if CA:
        args += ["--ca-file", CA]
    return args + ([] if smtp else ["--no-smtp"])


def run(args, argv0=None):
    cmd = [MX, "check"] + args if argv0 is None else [argv0] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


_link_dir = tempfile.mkdtemp(prefix="check_mx.")
atexit.register(shutil.rmtree, _link_dir, True)
CHECK_MX = os.path.join(_link_dir, "check_mx")
os.symlink(MX, CHECK_MX)


def plugin(args):
    p = run(args, CHECK_MX)
    first = p.stdout.split("\n", 1)[0]
    return p.returncode, first, p


class Plugin(unittest.TestCase):
    def test_status_line_critical(self):
        rc, first, _ = plugin(live() + ["-H", "noaddr.check.test"])
        self.assertEqual(rc, 2)
        m = LINE.match(first)
        self.assertTrue(m, first)
        self.assertEqual(m.group(1), "CRITICAL")
        self.assertEqual(m.group(2), "2 errors (mx-no-address), 2 warnings")
        self.assertEqual(m.group(3, 4, 5), ("2", "2", "0"))

    def test_plugin_option_same_as_argv0(self):
        a = run(["--plugin"] + live() + ["noaddr.check.test"])
        b = run(live() + ["noaddr.check.test"], CHECK_MX)
        strip = lambda s: re.sub(r"time=\S+", "", s)
        self.assertEqual(strip(a.stdout), strip(b.stdout))
        self.assertEqual(a.returncode, b.returncode)

    def test_ok_and_details(self):
        rc, first, p = plugin(live() + ["--hostname", "good.check.test"])
        self.assertEqual(rc, 0, p.stdout)
        self.assertTrue(first.startswith("MX OK - 0 errors, 0 warnings | "), first)
        self.assertIn("good.check.test: 0 error(s)", p.stdout)

    def test_warning_state(self):
        # dmarc-missing, spf-missing as the worst: WARNING with their ids
        rc, first, _ = plugin(live() + ["--ignore", "mx-address-private", "-H",
                                        "expiring.check.test"])
        self.assertEqual(rc, 1)
        self.assertRegex(first, r"^MX WARNING - 0 errors, 3 warnings \(dmarc-missing, "
                                r"ptr-missing, spf-missing\), 1 notice \|")

    def test_severity_floors(self):
        args = live() + ["-H", "noaddr.check.test"]
        self.assertEqual(plugin(args + ["-c", "error"])[0], 2)
        # errors only make WARNING when critical needs more than an error...
        self.assertEqual(plugin(["-w", "warning", "-c", "error"] + live() +
                                ["-H", "good.check.test"])[0], 0)
        # ...and notices count once -w notice says so
        rc, first, _ = plugin(live() + ["-w", "notice", "-c", "error", "-H",
                                        "single.check.test"])
        self.assertIn(rc, (1, 2))
        rc2 = plugin(live() + ["-w", "error", "-c", "error", "--ignore", "mx-address-private",
                               "-H", "expiring.check.test"])[0]
        self.assertEqual(rc2, 0)
        rc3 = plugin(live() + ["-w", "notice", "-c", "warning", "--ignore",
                               "mx-address-private", "-H", "expiring.check.test"])[0]
        self.assertEqual(rc3, 2)

    def test_usage_errors_are_unknown(self):
        for args in (["--bogus"], [], ["-w", "loud", "-H", "x.test"], ["-t", "abc", "x.test"],
                     ["--ca-file", "/nonexistent", "x.test"], ["-w", "error", "-c", "notice", "x.test"]):
            rc, first, p = plugin(args)
            self.assertEqual(rc, 3, (args, p.stdout, p.stderr))
            self.assertTrue(first.startswith("MX UNKNOWN - "), (args, first))
        # without --plugin the same mistakes stay sysexits' 64 and 66
        self.assertEqual(run(["--bogus"]).returncode, 64)
        self.assertEqual(run(["--ca-file", "/nonexistent", "x.test"]).returncode, 66)

    def test_tempfail_is_unknown(self):
        rc, first, _ = plugin(live() + ["-t", "2", "-H", "hang.check.test"])
        self.assertEqual(rc, 3, first)
        self.assertTrue(first.startswith("MX UNKNOWN - could not test hang.check.test"), first)

    def test_version_and_help(self):
        rc, first, _ = plugin(["-V"])
        version = subprocess.run([MX, "--version"], capture_output=True, text=True).stdout.split()[-1]
        self.assertEqual((rc, first), (0, "check_mx (mxkit) " + version))
        p = run(["-h"], CHECK_MX)
        self.assertEqual(p.returncode, 0)
        for opt in ("-H, --hostname", "-t, --timeout", "-w, --warning", "-c, --critical",
                    "-V, --version", "-h, --help", "--plugin", "--cert-days",
                    "--allow-private", "--bulk", "--csv", "--shard", "--concurrency",
                    "--smtp", "--no-smtp", "--ignore", "--ca-file", "--resolver",
                    "--trust-anchor", "--resolv-conf", "--helo", "--zone", "--origin", "--json"):
            self.assertIn(opt, p.stdout)


class Certificates(unittest.TestCase):
    def ids(self, extra):
        p = run(["--json"] + live(True) + extra + ["expiring.check.test"])
        return {f["id"]: f for f in json.loads(p.stdout)["findings"]}

    def test_expiring_warning_by_default(self):
        f = self.ids([])["tls-cert-expiring"]
        self.assertEqual(f["severity"], "warning")
        self.assertRegex(f["message"], r"expires in [45] day\(s\)")
        self.assertTrue(any(e.startswith("not after: ") for e in f["evidence"]))

    def test_expiring_error_within_error_days(self):
        self.assertEqual(self.ids(["--cert-days", "30,7"])["tls-cert-expiring"]["severity"],
                         "error")

    def test_not_within_cert_days(self):
        self.assertNotIn("tls-cert-expiring", self.ids(["--cert-days", "4"]))
        self.assertNotIn("tls-cert-expiring", self.ids(["--cert-days", "0"]))

    def test_valid_certificate_not_expiring(self):
        p = run(["--json"] + live(True) + ["tls.send.test"])
        self.assertNotIn("tls-cert-expiring", [f["id"] for f in json.loads(p.stdout)["findings"]])

    def test_bad_cert_days(self):
        self.assertEqual(run(["--cert-days", "3,14", "x.test"]).returncode, 64)
        self.assertEqual(run(["--cert-days", "x", "x.test"]).returncode, 64)


class PrivateNetworks(unittest.TestCase):
    def ids(self, extra, domain="private.check.test"):
        p = run(["--json"] + live() + extra + [domain])
        return [f["id"] for f in json.loads(p.stdout)["findings"]]

    def test_private_flagged_by_default(self):
        self.assertIn("mx-address-private", self.ids([]))

    def test_allow_private_all(self):
        self.assertNotIn("mx-address-private", self.ids(["--allow-private"]))
        # loopback counts too (the sandbox's own peers)
        self.assertNotIn("mx-address-private", self.ids(["--allow-private"], "tls.send.test"))

    def test_allow_private_networks(self):
        self.assertNotIn("mx-address-private", self.ids(["--allow-private=10.1.0.0/16"]))
        self.assertNotIn("mx-address-private",
                         self.ids(["--allow-private=192.168.0.0/16,10.1.2.3"]))
        self.assertIn("mx-address-private", self.ids(["--allow-private=192.168.0.0/16"]))
        self.assertIn("mx-address-private", self.ids(["--allow-private=10.1.2.4/32"]))

    def test_bad_network(self):
        for bad in ("10.0.0.0/33", "nonsense", "10.0.0.0/"):
            self.assertEqual(run(["--allow-private=" + bad, "x.test"]).returncode, 64, bad)


class Stable(unittest.TestCase):
    maxDiff = None
    DOMAINS = ("noaddr.check.test", "spftwo.check.test", "dup.check.test",
               "oneaddr.check.test", "badptr.check.test", "expiring.check.test",
               "stale.check.test", "spfmany.check.test")

    def test_same_bytes_every_run(self):
        # A run where an authoritative server missed its 1 s budget (a loaded
        # machine) saw another state: it says so ("did not answer") and is
        # left out; at least two runs of the same state must remain.
        for d in self.DOMAINS:
            outs = []
            for _ in range(6):
                p = run(["--json"] + live(d == "expiring.check.test") + [d])
                if "did not answer" not in p.stdout:
                    outs.append(p.stdout)
            self.assertGreaterEqual(len(outs), 2, d)
            self.assertEqual(len(set(outs)), 1, (d, [json.loads(o) for o in set(outs)]))
            p1, p2 = (run(["--plugin"] + live() + [d]).stdout for _ in range(2))
            strip = lambda s: re.sub(r"time=\S+", "", s)
            self.assertEqual(strip(p1), strip(p2), d)


NAGIOS_CFG = """
log_file={d}/nagios.log
cfg_file={d}/objects.cfg
object_cache_file={d}/objects.cache
precached_object_file={d}/objects.precache
resource_file={d}/resource.cfg
status_file={d}/status.dat
status_update_interval=1
nagios_user=root
nagios_group=root
check_external_commands=0
command_file={d}/nagios.cmd
lock_file={d}/nagios.lock
temp_file={d}/nagios.tmp
temp_path={d}
check_result_path={d}/checkresults
state_retention_file={d}/retention.dat
retain_state_information=0
use_retained_scheduling_info=0
interval_length=1
max_service_check_spread=1
max_host_check_spread=1
service_inter_check_delay_method=n
host_inter_check_delay_method=n
execute_host_checks=0
enable_notifications=0
illegal_macro_output_chars=`~$&|'"<>
"""

# the command definition is docs/MONITORING.md's, word for word
NAGIOS_OBJECTS = """
define command {{
    command_name    check_mx
    command_line    $USER1$/check_mx -H $ARG1$ -t 20 $ARG2$
}}
define timeperiod {{
    timeperiod_name 24x7
    alias           always
    sunday 00:00-24:00
    monday 00:00-24:00
    tuesday 00:00-24:00
    wednesday 00:00-24:00
    thursday 00:00-24:00
    friday 00:00-24:00
    saturday 00:00-24:00
}}
define command {{
    command_name    no-op
    command_line    /bin/true
}}
define contact {{
    contact_name                    nobody
    host_notifications_enabled      0
    service_notifications_enabled   0
    host_notification_period        24x7
    service_notification_period     24x7
    host_notification_options       n
    service_notification_options    n
    host_notification_commands      no-op
    service_notification_commands   no-op
}}
define host {{
    host_name               mail-domains
    address                 127.0.0.1
    check_command           no-op
    max_check_attempts      1
    check_period            24x7
    contacts                nobody
    notification_period     24x7
    notification_interval   0
}}
define service {{
    host_name               mail-domains
    service_description     mx {domain}
    check_command           check_mx!{domain}!{extra}
    max_check_attempts      1
    check_interval          60
    retry_interval          60
    check_period            24x7
    contacts                nobody
    notification_period     24x7
    notification_interval   0
}}
"""


@unittest.skipUnless(shutil.which("nagios4") or os.path.exists("/usr/sbin/nagios4"),
                     "nagios4 (Debian nagios4-core) is not installed")
class Nagios(unittest.TestCase):
    def test_nagios_runs_the_command(self):
        d = tempfile.mkdtemp(prefix="nagios.")
        os.makedirs(os.path.join(d, "checkresults"))
        extra = " ".join(live() + ["-w", "warning"])
        with open(os.path.join(d, "resource.cfg"), "w") as f:
            f.write("$USER1$=%s\n" % _link_dir)
        with open(os.path.join(d, "nagios.cfg"), "w") as f:
            f.write(NAGIOS_CFG.format(d=d))
        with open(os.path.join(d, "objects.cfg"), "w") as f:
            f.write(NAGIOS_OBJECTS.format(domain="noaddr.check.test", extra=extra))
        nagios = shutil.which("nagios4") or "/usr/sbin/nagios4"
        v = subprocess.run([nagios, "-v", os.path.join(d, "nagios.cfg")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(v.returncode, 0, v.stdout[-2000:])
        proc = subprocess.Popen([nagios, os.path.join(d, "nagios.cfg")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            state = self.wait_for_result(os.path.join(d, "status.dat"))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        self.assertIsNotNone(state, "nagios ran no check in 40 s")
        self.assertEqual(state["current_state"], "2")
        self.assertTrue(state["plugin_output"].startswith("MX CRITICAL - 2 errors (mx-no-address)"),
                        state)
        self.assertIn("errors=2;;;0", state["performance_data"])
        shutil.rmtree(d, ignore_errors=True)

    @staticmethod
    def wait_for_result(path):
        deadline = time.time() + 40
        while time.time() < deadline:
            time.sleep(1)
            try:
                with open(path) as f:
                    text = f.read()
            except OSError:
                continue
            for block in text.split("servicestatus {")[1:]:
                fields = dict(line.strip().split("=", 1) for line in
                              block.split("}")[0].strip().splitlines() if "=" in line)
                if fields.get("has_been_checked") == "1":
                    return fields
        return None


if __name__ == "__main__":
    import sys
    sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR"))
