#!/usr/bin/env python3
"""The seeds' system end to end (issue 16): seeds.test has two MX hosts of
equal preference, mx1 and mx2, both `mx daemon --local-domain seeds.test`
delivering over LMTP to one real Dovecot, and a backup MX at preference
20, `mx daemon --backup-domain seeds.test`.  A real Postfix instance
(routing by the sandbox's DNS, no relayhost) and `mx send` send to it.

The steps run in order on one world (seeds_world.py), as the issue lists:
1. 1,000 messages, half by Postfix, half by `mx send`: mx1 and mx2 each
   take 40-60 %, the backup none, Dovecot holds all 1,000.
2. mx2 stopped: everything goes to mx1, none to the backup.
3. mx1 killed too (SIGKILL, just after a burst of 50 it has answered
   250 to, perhaps not yet delivered): the backup takes mail for the domain's users only
   (an unknown one gets 550 at RCPT: no backscatter) and holds it.
4. mx1 started again: within 60 s the backup has delivered all it held;
   Dovecot holds every message of every step exactly once (a duplicate
   is counted and reported, a loss fails).
5. Each daemon stopped with SIGTERM exited 0, no sanitizer report in a log.
Who took a message: the daemons' logs ("client=" lines) and, in Dovecot,
the oldest Received line an mxkit daemon added.

The script re-executes itself under `unshare -m`: inside, /etc/resolv.conf
is a bind mount naming the sandbox's Unbound (Postfix asks the system
resolver); everything else lives in a temporary directory.
"""
import os
import re
import shutil
import signal
import smtplib
import sys
import tempfile
import time
import unittest

import sandboxed
import seeds_world as sw

W = None
DIR = None
SENT = {}    # Message-ID -> step number, every message sent and accepted
# Counts are per step; the machine is loaded, so deadlines are generous.
STEP1 = int(os.environ.get("MX_SEEDS_MESSAGES", "1000"))
SMALL = int(os.environ.get("MX_SEEDS_SMALL", "100"))


def delta(before):
    now = W.shares()
    return {k: now[k] - before[k] for k in now}


def send_half_and_half(n, step):
    """n messages, the first half through Postfix, the rest by mx send;
    returns mx send's failures.  Postfix has them all once its queue is
    empty."""
    msgs = W.batch(n, "s%d" % step)
    half = n // 2
    W.postfix.send(msgs[:half])
    failed = W.send_mx(msgs[half:])
    sw.wait_for("Postfix's queue empty", W.postfix.queue_empty, 300, 0.5)
    for _, mid in msgs:
        SENT[mid] = step
    return failed


def held_once(mids, timeout):
    """Waits until Dovecot holds every Message-ID of mids; returns
    {Message-ID: [hops]} of everything it holds."""
    def all_there():
        return set(mids) <= set(W.dovecot.messages())
    try:
        sw.wait_for("Dovecot holding them", all_there, timeout, 1)
    except TimeoutError:
        pass
    return W.dovecot.messages()


class Seeds(unittest.TestCase):
    def report(self, text):
        print("  " + text, file=sys.stderr, flush=True)

    def test_1_split_between_equal_preference_hosts(self):
        before = W.shares()
        t0 = time.time()
        failed = send_half_and_half(STEP1, 1)
        self.report("step 1: %d messages sent in %.1f s" % (STEP1, time.time() - t0))
        self.assertEqual(failed, [])
        got = delta(before)
        self.report("step 1: %d messages: mx1 took %d, mx2 %d, backup %d"
                    % (STEP1, got["mx1"], got["mx2"], got["backup"]))
        # The logs begin with this step: Postfix is the client at its address.
        pf = {k: d.accepted(re.escape("[%s]" % sw.POSTFIX_ADDR)) for k, d in W.mx.items()}
        self.report("step 1: of Postfix's %d: mx1 %d, mx2 %d; of mx send's %d: mx1 %d, mx2 %d"
                    % (STEP1 // 2, pf["mx1"], pf["mx2"], STEP1 - STEP1 // 2,
                       got["mx1"] - pf["mx1"], got["mx2"] - pf["mx2"]))
        self.assertEqual(got["mx1"] + got["mx2"], STEP1, got)
        self.assertEqual(got["backup"], 0)
        for k in sw.PRIMARIES:
            self.assertGreaterEqual(got[k], STEP1 * 0.4, got)
            self.assertLessEqual(got[k], STEP1 * 0.6, got)
        mids = [m for m, s in SENT.items() if s == 1]
        held = held_once(mids, 300)
        missing = [m for m in mids if m not in held]
        self.assertEqual(missing, [], "%d of %d not in Dovecot" % (len(missing), len(mids)))
        by = {}
        for m in mids:
            first = held[m][0][-1] if held[m][0] else None
            by[first] = by.get(first, 0) + 1
        self.report("step 1: in Dovecot, first received by: %s" % by)
        self.assertEqual(by.get("mx1.seeds.test"), got["mx1"])
        self.assertEqual(by.get("mx2.seeds.test"), got["mx2"])

    def test_2_one_primary_stopped(self):
        W.mx["mx2"].stop()
        before = W.shares()
        self.assertEqual(send_half_and_half(SMALL, 2), [])
        got = delta(before)
        self.report("step 2: mx2 stopped, %d messages: mx1 took %d, backup %d"
                    % (SMALL, got["mx1"], got["backup"]))
        self.assertEqual((got["mx1"], got["mx2"], got["backup"]), (SMALL, 0, 0))
        mids = [m for m, s in SENT.items() if s == 2]
        held = held_once(mids, 120)
        self.assertEqual([m for m in mids if m not in held], [])
        self.assertEqual({held[m][0] for m in mids}, {("mx1.seeds.test",)})

    def test_3_both_stopped_backup_holds_valid_only(self):
        # mx1 crashes (SIGKILL) rather than stops, with a burst it has
        # answered 250 to still going to Dovecot: what it had not finished
        # is delivered after it starts again in step 4, perhaps twice.
        burst = W.batch(SMALL // 2, "s3k")
        c = smtplib.SMTP(sw.HOSTS["mx1"][1], 25, timeout=60)
        c.ehlo("client.seeds-out.test")
        for rcpt, mid in burst:
            c.sendmail(sw.SENDER, [rcpt], sw.message(rcpt, mid, "smtplib"))
            SENT[mid] = "3k"
        c.quit()
        W.mx["mx1"].stop(signal.SIGKILL)
        W.mx["mx2"].stop()
        in_dovecot = W.dovecot.messages()
        self.report("step 3: mx1 killed holding %d of a burst of %d not yet in Dovecot"
                    % (sum(1 for _, m in burst if m not in in_dovecot), len(burst)))
        before = W.shares()
        self.assertEqual(send_half_and_half(SMALL, 3), [])
        got = delta(before)
        self.report("step 3: both primaries stopped, %d messages: the backup took %d"
                    % (SMALL, got["backup"]))
        self.assertEqual(got["backup"], SMALL)
        # An unknown user: refused at RCPT, before any DATA (no bounce later).
        c = smtplib.SMTP(sw.HOSTS["backup"][1], 25, timeout=60)
        c.ehlo("client.seeds-out.test")
        c.mail(sw.SENDER)
        code, text = c.rcpt("%s@%s" % (sw.UNKNOWN, sw.DOMAIN))
        c.quit()
        self.assertEqual(code, 550, text)
        rcpt = "%s@%s" % (sw.UNKNOWN, sw.DOMAIN)
        failed = W.send_mx([(rcpt, "<seeds-unknown@seeds-out.test>")])
        self.assertEqual(len(failed), 1)
        self.assertIn("550", failed[0][2])
        self.assertEqual(W.shares()["backup"], before["backup"] + SMALL)
        held = len(W.mx["backup"].queued())
        self.report("step 3: the backup holds %d messages in its spool" % held)
        self.assertGreaterEqual(held, SMALL)
        in_dovecot = W.dovecot.messages()
        self.assertEqual([m for m, s in SENT.items() if s == 3 and m in in_dovecot], [])

    def test_4_primary_back_backup_delivers_everything_once(self):
        backup = W.mx["backup"]
        if not backup.queued():
            self.fail("the backup holds nothing (step 3 failed?)")
        t0 = time.time()
        W.mx["mx1"].start()
        try:
            took = sw.wait_for("the backup's spool empty", lambda: not backup.queued(), 60, 0.2)
        except TimeoutError:
            self.fail("after 60 s the backup still holds %d messages: %s"
                      % (len(backup.queued()), backup.log_text()[-2000:]))
        self.report("step 4: mx1 back; the backup delivered all it held in %.1f s" % took)
        held = held_once(list(SENT), 120)
        self.report("step 4: %.1f s after mx1 came back, Dovecot holds %d distinct messages"
                    % (time.time() - t0, len(held)))
        lost = sorted(m for m in SENT if m not in held)
        dups = {m: h for m, h in held.items() if len(h) > 1}
        if dups:
            self.report("step 4: %d duplicates (mx1 killed after Dovecot's 250, before its spool let go): %s"
                        % (len(dups), sorted(dups)[:10]))
        self.assertEqual(lost, [], "%d of %d lost" % (len(lost), len(SENT)))
        step3 = [m for m, s in SENT.items() if s == 3]
        self.assertEqual({held[m][0] for m in step3}, {("mx1.seeds.test", "backup.seeds.test")})

    def test_5_daemons_stop_cleanly(self):
        # Every daemon stopped with SIGTERM exits 0 and its log holds no
        # sanitizer report (the build under test may have ASan and UBSan).
        for d in W.mx.values():
            d.stop()
        for k, d in W.mx.items():
            for sig, rc in d.exits:
                if sig == signal.SIGTERM:
                    self.assertEqual(rc, 0, "%s: %s" % (k, d.log_text()[-3000:]))
            self.assertNotIn("Sanitizer", d.log_text(), k)
            self.assertNotIn("runtime error:", d.log_text(), k)


def run():
    global W, DIR
    DIR = tempfile.mkdtemp(prefix="mx-seeds.")
    os.chmod(DIR, 0o755)
    sw.enter_namespace(DIR)
    W = sw.World(DIR)
    try:
        W.start()
        return sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR")
    finally:
        W.stop()
        if os.environ.get("MX_SEEDS_KEEP") == "1":
            print("kept: " + DIR, file=sys.stderr)
        else:
            shutil.rmtree(DIR, ignore_errors=True)


if __name__ == "__main__":
    if os.environ.get("MX_SEEDS_NS") != "1":
        if not all(os.environ.get(n) for n in ("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR")):
            sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_ANCHOR"))
        missing = [t for t in ("dovecot", "doveadm", "postfix") if shutil.which(
            t, path="/usr/bin:/usr/sbin:/bin:/sbin") is None]
        if missing:
            print("missing %s (scripts/deps installs them)" % " ".join(missing))
            sys.exit(77)
        os.environ["MX_SEEDS_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--", sys.executable] + sys.argv)
    sys.exit(run())
