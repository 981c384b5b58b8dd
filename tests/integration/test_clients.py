#!/usr/bin/env python3
"""Real programs submit through mx installed as /usr/sbin/sendmail (issue
14): bsd-mailx's `mail`, the real cron daemon running jobs with and
without MAILTO, PHP's mail(), Python's smtplib through `sendmail -bs`; a
refused recipient gets an RFC 3464 bounce at the sender's domain.  Each
message is picked up and delivered by `mx queue run` to the sandbox's
accept1 and checked there; no client's output carries anything of ours.

The script re-executes itself under `unshare -m`.  Inside that private
mount namespace: /etc and /usr are overlays whose upper dirs are in a
temp dir (the machine's own files are never touched), /var/spool and /run
are tmpfs; alice is a real user; `build/src/mx` is bind-mounted on
/usr/sbin/sendmail (its libmx beside it in the /usr overlay, where its
$ORIGIN/../lib run path finds it), mx-drop is at its compiled-in path
/usr/local/libexec/mx/mx-drop, and `mx setup` makes the mx user, the
mxdrop group and the spool.  /etc/mx.conf sets `origin ok.send.test` and
/etc/aliases maps root to admin@ok.send.test.
"""
import email
import email.policy
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import sandboxed

MX = os.path.abspath(os.environ.get("MX_BIN", "build/src/mx"))
DROP = os.path.abspath(os.environ.get("MX_DROP_BIN", "build/src/mx-drop"))
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
MAIL = os.environ.get("MX_SANDBOX_MAIL")
SPOOL = "/var/spool/mx"
HELPER = "/usr/local/libexec/mx/mx-drop"
ORIGIN = "ok.send.test"
TAG = "clients-%d" % os.getpid()
# What a user's session would have; LeakSanitizer cannot trace a
# set-group-ID process (test_submit.py says more).
USER_ENV = {"PATH": "/usr/bin:/bin:/usr/sbin", "HOME": "/tmp", "LANG": "C.UTF-8",
            "ASAN_OPTIONS": "detect_leaks=0"}
T = None
CRON = None


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, **kw)


def overlay(path, name):
    for d in (name + "-upper", name + "-work"):
        os.mkdir(os.path.join(T, d))
    sh("mount", "-t", "overlay", "overlay", "-o", "lowerdir=%s,upperdir=%s/%s-upper,"
       "workdir=%s/%s-work" % (path, T, name, T, name), path)


def install_mx():
    """libmx where /usr/sbin/sendmail's run path looks, mx-drop at its
    compiled-in path, mx bind-mounted as sendmail."""
    lib = os.path.join(os.path.dirname(MX), "..", "lib", "libmx.so.0")
    shutil.copy(os.path.realpath(lib), "/usr/lib/libmx.so.0")
    os.makedirs(os.path.dirname(HELPER), exist_ok=True)
    shutil.copy(DROP, HELPER)
    sh("mount", "--bind", MX, "/usr/sbin/sendmail")
    sh(MX, "setup", "--spool", SPOOL, "--helper", HELPER)


def setup_namespace():
    global T
    T = tempfile.mkdtemp(prefix="mx-clients.")
    os.chmod(T, 0o755)
    sh("mount", "--make-rprivate", "/")
    overlay("/etc", "etc")
    overlay("/usr", "usr")
    for d in ("/var/spool", "/run"):
        sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", d)
    sh("useradd", "--no-create-home", "--comment", "Alice Example", "alice")
    install_mx()
    with open("/etc/mx.conf", "w") as f:
        f.write("origin %s\n" % ORIGIN)
    os.chmod("/etc/mx.conf", 0o644)
    with open("/etc/aliases", "w") as f:
        f.write("# test_clients.py\nroot: admin@%s\npostmaster: root\n" % ORIGIN)
    shutil.copy(ANCHOR, T + "/anchor")
    os.chmod(T + "/anchor", 0o644)
    os.mkdir(T + "/alice")
    sh("chown", "alice:alice", T + "/alice")
    USER_ENV["HOME"] = T + "/alice"


def start_cron():
    """The real cron daemon in the foreground, with an @reboot job in
    alice's crontab (no MAILTO: mail to alice) and one in /etc/cron.d
    (MAILTO=cron-admin@ok.send.test).  /run is ours, so @reboot runs once now."""
    global CRON
    tabs = "/var/spool/cron/crontabs"
    os.makedirs(tabs)
    sh("chgrp", "crontab", tabs)
    os.chmod(tabs, 0o1730)
    with open(tabs + "/alice", "w") as f:
        f.write("@reboot echo cron-nomailto-%s; id -un\n" % TAG)
    sh("chown", "alice:crontab", tabs + "/alice")
    os.chmod(tabs + "/alice", 0o600)
    os.makedirs("/etc/cron.d", exist_ok=True)
    with open("/etc/cron.d/mxkit-test", "w") as f:
        f.write("MAILTO=cron-admin@%s\n@reboot alice echo cron-mailto-%s\n" % (ORIGIN, TAG))
    os.chmod("/etc/cron.d/mxkit-test", 0o644)
    CRON = subprocess.Popen(["cron", "-f", "-L", "15"], stdin=subprocess.DEVNULL,
                            stdout=open(T + "/cron.log", "wb"), stderr=subprocess.STDOUT,
                            env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


def as_alice(*cmd, input=None, timeout=30):
    return subprocess.run(["setpriv", "--reuid", "alice", "--regid", "alice", "--init-groups",
                           "--"] + list(cmd), input=input, capture_output=True,
                          env=USER_ENV, timeout=timeout)


def run_queue():
    p = subprocess.run([MX, "queue", "run", "--resolver", RESOLVER, "--trust-anchor",
                        T + "/anchor", "--spool", SPOOL, "--connect-timeout", "2",
                        "--log", "stderr"], capture_output=True, timeout=120)
    return p.returncode, p.stderr.decode()


def dumps(peer="accept1"):
    out = []
    for name in glob.glob(os.path.join(MAIL, peer, "msg.*")):
        with open(name, "rb") as f:
            out.append(f.read())
    return out


def delivered(needle, peer="accept1"):
    """The messages a peer got that contain needle, as email objects."""
    return [email.message_from_bytes(d, policy=email.policy.default)
            for d in dumps(peer) if needle.encode() in d]


def rcpts(msg):
    return [v.strip("<> ") for v in msg.get_all("X-Rcpt-Args", [])]


class Clients(unittest.TestCase):
    def assertQuiet(self, p, stdout=b""):
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, stdout, b""))

    def deliver(self, needle, peer="accept1"):
        rc, log = run_queue()
        self.assertEqual(rc, 0, log)
        got = delivered(needle, peer)
        self.assertEqual(len(got), 1, log)
        return got[0], log

    def check_from_alice(self, msg, log):
        uid = int(sh("id", "-u", "alice").stdout)
        self.assertIn("(mx, from userid %d)" % uid, str(msg.get_all("Received")), log)
        self.assertTrue(msg["Message-ID"] and msg["Date"])

    def test_mailx(self):
        tag = TAG + "-mailx"
        p = as_alice("mail", "-s", "mailx " + tag, "y@ok.send.test",
                     input=("Hello from mailx %s.\n.dot line\n" % tag).encode())
        self.assertQuiet(p)
        self.assertEqual(os.listdir(T + "/alice"), [])  # no dead.letter
        msg, log = self.deliver(tag)
        self.assertEqual(rcpts(msg), ["y@ok.send.test"])
        self.assertIn("<alice@%s>" % ORIGIN, msg["X-Mail-Args"])
        self.assertIn(".dot line", msg.get_body().get_content())
        self.check_from_alice(msg, log)

    # Every Debian tool that mails the administrator sends to bare "root":
    # pickup expands it through /etc/aliases (the overlay's) to admin@.
    def test_mailx_root_goes_through_aliases(self):
        tag = TAG + "-mailx-root"
        self.assertQuiet(as_alice("mail", "-s", "to root " + tag, "root",
                                  input=b"for the administrator\n"))
        msg, log = self.deliver(tag)
        self.assertEqual(rcpts(msg), ["admin@%s" % ORIGIN], log)

    def test_php_mail(self):
        tag = TAG + "-php"
        code = ('var_dump(mail("y@ok.send.test", "php %s", "Hello from PHP %s.",'
                ' "From: Alice <alice@%s>"));' % (tag, tag, ORIGIN))
        p = as_alice("php", "-n", "-r", code)
        self.assertQuiet(p, stdout=b"bool(true)\n")
        msg, log = self.deliver(tag)
        self.assertEqual(rcpts(msg), ["y@ok.send.test"])
        self.assertEqual(msg["Subject"], "php " + tag)
        self.check_from_alice(msg, log)

    def test_python_smtplib_bs(self):
        tag = TAG + "-smtplib"
        code = r'''
import smtplib, socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen(["/usr/sbin/sendmail", "-bs"], stdin=b, stdout=b)
b.close()
s = smtplib.SMTP()
s.sock = a
code, msg = s.getreply()
assert code == 220, (code, msg)
s.ehlo("client.example")
refused = s.sendmail("alice@ok.send.test", ["y@ok.send.test", "z@ok.send.test"],
    "Subject: smtplib %s\r\n\r\nHello from smtplib.\r\n.leading dot\r\n")
assert refused == {}, refused
s.quit()
sys.exit(p.wait(10))
''' % tag
        self.assertQuiet(as_alice("python3", "-c", code))
        msg, log = self.deliver(tag)
        self.assertEqual(sorted(rcpts(msg)), ["y@ok.send.test", "z@ok.send.test"])
        self.assertIn(".leading dot", msg.get_body().get_content())
        self.check_from_alice(msg, log)

    def test_cron_with_and_without_mailto(self):
        # Both @reboot jobs ran when cron started; their mail is in drop/
        # once cron's sendmail exited 0 (maybe already delivered by an
        # earlier test's queue run).
        deadline, log = time.monotonic() + 30, ""
        while True:
            rc, out = run_queue()
            log += out
            no = delivered("cron-nomailto-" + TAG)
            yes = delivered("cron-mailto-" + TAG)
            if (no and yes) or time.monotonic() > deadline or CRON.poll() is not None:
                break
            time.sleep(0.5)
        with open(T + "/cron.log", "rb") as f:
            cron_log = f.read().decode("utf-8", "replace")
        self.assertEqual((len(no), len(yes)), (1, 1), "%s\n%s" % (log, cron_log))
        self.assertEqual(rcpts(no[0]), ["alice@%s" % ORIGIN])
        self.assertEqual(rcpts(yes[0]), ["cron-admin@%s" % ORIGIN])
        self.assertIn("alice\n", no[0].get_body().get_content())
        for m in (no, yes):
            self.assertIn("Cron", m[0]["Subject"])
            self.check_from_alice(m[0], log)
        self.assertNotIn("sendmail", cron_log)

    def test_bounce_is_a_multipart_report(self):
        tag = TAG + "-bounce"
        p = as_alice("mail", "-s", "to nobody " + tag, "x@rcpt5xx.send.test",
                     input=("This cannot be delivered %s.\n" % tag).encode())
        self.assertQuiet(p)
        rc, log = run_queue()      # 550: the bounce is queued
        self.assertEqual(rc, 0, log)
        rc, log2 = run_queue()     # and delivered, if the first pass did not
        got = [m for m in delivered(tag) if m.get_content_type() == "multipart/report"]
        self.assertEqual(len(got), 1, log + log2)
        dsn = got[0]
        self.assertEqual(rcpts(dsn), ["alice@%s" % ORIGIN])
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        parts = list(dsn.iter_parts())
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
        fields = parts[1].get_payload()  # [per-message, per-recipient]
        self.assertIn("dns;", fields[0]["Reporting-MTA"])
        per_rcpt = fields[1]
        self.assertEqual(per_rcpt["Final-Recipient"].lower(), "rfc822; x@rcpt5xx.send.test")
        self.assertEqual(per_rcpt["Action"], "failed")
        self.assertTrue(per_rcpt["Status"].startswith("5."), per_rcpt["Status"])
        self.assertIn("550", per_rcpt["Diagnostic-Code"])
        self.assertIn(tag, parts[2].as_string())
        self.assertIn("<>", dsn["X-Mail-Args"])


if __name__ == "__main__":
    if os.environ.get("MX_CLIENTS_NS") != "1":
        if not all(os.environ.get(n) for n in ("MX_SANDBOX_RESOLVER", "MX_SANDBOX_MAIL")):
            sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_MAIL"))
        missing = [t for t in ("mail", "cron", "php") if shutil.which(t, path="/usr/bin:"
                                                                       "/usr/sbin") is None]
        if missing:
            print("missing %s (scripts/deps installs them)" % " ".join(missing))
            sys.exit(77)
        os.environ["MX_CLIENTS_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--", sys.executable] + sys.argv)
    setup_namespace()
    try:
        if os.environ.get("MX_CLIENTS_NOCRON") != "1":
            start_cron()
        sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_MAIL"))
    finally:
        if CRON is not None:
            CRON.kill()
            CRON.wait()
        subprocess.run(["umount", "/usr/sbin/sendmail"])
        for d in ("/run", "/var/spool", "/usr", "/etc"):
            subprocess.run(["umount", "-l", d])
        shutil.rmtree(T, ignore_errors=True)
