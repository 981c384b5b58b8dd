#!/usr/bin/env python3
"""Integration tests of the sendmail front end (src/sendmail.c, issue 14).

mx is called through links named sendmail, mailq and newaliases.  The
default mode hands the message to the real mx-drop (MX_DROP_BIN), run as
root without elevation with MX_DROP_DIR naming a private drop directory
(mode 1730), and the tests read the stored files it writes.  -odi delivers
to the sandbox's SMTP peers as `mx send` does; -bs is driven by Python's
smtplib over a socket pair and by raw scripts for the smuggling variants.
Skips outside the sandbox unless MX_REQUIRE_SANDBOX=1.
"""
import glob
import os
import re
import smtplib
import socket
import subprocess
import sys
import tempfile
import unittest

import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
DROP = os.environ.get("MX_DROP_BIN", "build/src/mx-drop")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
MAIL = os.environ.get("MX_SANDBOX_MAIL")
ORIGIN = "origin.example.test"

# check_mailq -M postfix and the tools that read mailq: the total line,
# and one line per entry: ID[*!] SIZE DATE SENDER.
TOTAL = re.compile(r"^-- (\d+) Kbytes in (\d+) Requests?\.$")
ENTRY = re.compile(r"^([0-9A-Za-z]+)[*!]?\s+(\d+) (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d)\s+(\S+)$")


class Sendmail(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o755)  # mailq is also run as nobody
        self.drop = os.path.join(self.dir, "drop")
        os.mkdir(self.drop)
        os.chmod(self.drop, 0o1730)
        for name in ("sendmail", "mailq", "newaliases"):
            os.symlink(os.path.abspath(MX), os.path.join(self.dir, name))
        self.env = dict(os.environ, MX_DROP_DIR=self.drop, MX_DROP_HELPER=os.path.abspath(DROP))
        self.conf = os.path.join(self.dir, "mx.conf")
        open(self.conf, "w").close()
        self.aliases = os.path.join(self.dir, "aliases")
        with open(self.aliases, "w") as f:
            f.write("# test aliases\n"
                    "ops: User@ok.send.test,\n"
                    "  second\n"
                    "second: other@ok.send.test\n"
                    "root: root, ops\n"
                    "loopa: loopb\nloopb: loopa\n"
                    "piped: \"|/bin/cat\", other@ok.send.test\n"
                    "included: :include:/etc/passwd\n")

    def tearDown(self):
        self.tmp.cleanup()

    def run_as(self, name, *args, data=b"", timeout=30, env=None, pre=()):
        cmd = list(pre) + [os.path.join(self.dir, name), "--config", self.conf] + list(args)
        p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout,
                           env=env or self.env)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def dropped(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.drop, "*"))):
            with open(path, "rb") as f:
                raw = f.read()
            head, _, data = raw.partition(b"\n\n")
            out.append((head.decode().splitlines(), data.decode()))
        return out

    # ---- options -------------------------------------------------------

    def test_unknown_options_exit_64_and_queue_nothing(self):
        for args in (["-Z"], ["--bogus"], ["-bv"], ["-bd"], ["-oez"], ["-odz"], ["-R", "all"],
                     ["-B", "binary"], ["-N", "sometimes"], ["-qRsite"], ["-h", "many"],
                     ["-V", "has space"], ["--help"], ["-f"]):
            rc, out, err = self.run_as("sendmail", *(args + ["root"]), data=b"Subject: x\n\nx\n")
            self.assertEqual(rc, 64, args)
            self.assertEqual(out, "", args)
            self.assertRegex(err, r"^sendmail: .*nothing was (sent|read)", args)
        self.assertEqual(self.dropped(), [])

    def test_options_carried_in_the_request(self):
        rc, out, err = self.run_as(
            "sendmail", "-F", "Full Name", "-f", "<someone@example.test>", "-oem", "-R", "hdrs",
            "-V", "env-1", "-N", "success,delay", "-B", "8BITMIME", "-h", "5", "-L", "tag",
            "-oQ/x", "-O", "x=y", "-X", "/dev/null", "-G", "-U", "-m", "-n", "-odq", "-i", "--",
            "root", "bob@example.test", data=b"Subject: x\n\nhello\n")
        self.assertEqual((rc, out, err), (0, "", ""))
        [(head, data)] = self.dropped()
        for line in ("sender someone@example.test", "sender-set 1", "name Full Name",
                     "rcpt root", "rcpt bob@example.test", "error-mode m", "ret hdrs",
                     "envid env-1", "notify success,delay", "body 8bitmime"):
            self.assertIn(line, head)
        self.assertEqual(data, "Subject: x\r\n\r\nhello\r\n")

    def test_default_mode_is_silent_and_qualifies_headers(self):
        msg = (b"From: root\nTo: bob, \"Carol C\" <carol>, undisclosed-recipients:;\n"
               b"Cc: dave (Dave), x@y.test\nSubject: Re: root\n\nroot stays\n")
        rc, out, err = self.run_as("sendmail", "--origin", ORIGIN, "root", data=msg)
        self.assertEqual((rc, out, err), (0, "", ""))
        [(head, data)] = self.dropped()
        self.assertIn("sender-set 0", head)
        self.assertIn("From: root@%s\r\n" % ORIGIN, data)
        self.assertIn("To: bob@%s, \"Carol C\" <carol@%s>, undisclosed-recipients:;\r\n"
                      % (ORIGIN, ORIGIN), data)
        self.assertIn("Cc: dave@%s (Dave), x@y.test\r\n" % ORIGIN, data)
        self.assertIn("Subject: Re: root\r\n\r\nroot stays\r\n", data)

    def test_t_and_dots(self):
        msg = b"To: a@example.test\nBcc: b@example.test\n\nline\n.\nafter\n"
        rc, _, _ = self.run_as("sendmail", "-t", data=msg)
        self.assertEqual(rc, 0)
        [(head, data)] = self.dropped()
        self.assertIn("rcpt a@example.test", head)
        self.assertIn("rcpt b@example.test", head)
        self.assertNotIn("Bcc", data)
        self.assertNotIn("after", data)  # "." ended the message
        for f in glob.glob(os.path.join(self.drop, "*")):
            os.unlink(f)
        rc, _, _ = self.run_as("sendmail", "-oi", "a@example.test", data=msg)
        [(head, data)] = self.dropped()
        self.assertIn("\r\n..\r\nafter\r\n", data)  # kept, dot-stuffed

    def test_bad_message_exits_65_and_queues_nothing(self):
        for msg in (b"Subject: x\n\na\0b\n", b"Subject: x\n\nbare\rcr\n",
                    b"Subject: x\n\n" + b"x" * 999 + b"\n"):
            rc, out, err = self.run_as("sendmail", "root", data=msg)
            self.assertEqual(rc, 65, msg[:30])
            self.assertEqual(out, "")
            self.assertRegex(err, r"^sendmail: message refused: .*nothing was queued")
        for rcpt in ("a b@example.test", "a@@b", "bad\x01"):
            rc, _, err = self.run_as("sendmail", rcpt, data=b"Subject: x\n\nx\n")
            self.assertEqual(rc, 65, rcpt)
        rc, _, err = self.run_as("sendmail", data=b"Subject: x\n\nx\n")
        self.assertEqual(rc, 64)
        self.assertEqual(self.dropped(), [])

    def test_oeq_is_quiet(self):
        rc, out, err = self.run_as("sendmail", "-oeq", "root", data=b"Subject: x\n\na\0b\n")
        self.assertEqual((rc, out, err), (65, "", ""))

    def test_quoted_local_parts_kept_as_given(self):
        # RFC 5321 4.1.2: a quoted local part is an address, blank and all.
        sender, rcpts = '"jane q"@example.test', ['"john doe"@example.test', '"a\\"b"@x.test']
        rc, out, err = self.run_as("sendmail", "-f", sender, *rcpts,
                                   data=b"Subject: q\n\nx\n")
        self.assertEqual((rc, out, err), (0, "", ""))
        [(head, _)] = self.dropped()
        self.assertIn("sender " + sender, head)
        self.assertEqual([l for l in head if l.startswith("rcpt ")],
                         ["rcpt " + r for r in rcpts])
        rc, _, err = self.run_as("sendmail", "john doe@example.test", data=b"Subject: q\n\nx\n")
        self.assertEqual(rc, 65, err)  # a blank outside quotes is no address
        self.assertIn("recipient", err)

    def test_odi_to_a_quoted_local_part(self):
        tag = "odi-quoted-%d" % os.getpid()
        rc, out, err = self.deliver('"john doe"@ok.send.test', args=["-f", '"jane q"@x.test'],
                                    tag=tag)
        self.assertEqual(rc, 0, err)
        [got] = self.received(tag)
        self.assertIn('X-Mail-Args: <"jane q"@x.test>\nX-Rcpt-Args: <"john doe"@ok.send.test>\n',
                      got.replace("\r\n", "\n"))

    # ---- aliases, -odi -----------------------------------------------------

    def deliver(self, *rcpts, args=(), tag="odi"):
        msg = ("From: root\nSubject: %s\n\nbody %s\n" % (tag, tag)).encode()
        return self.run_as("sendmail", "-odi", "--origin", ORIGIN, "--aliases", self.aliases,
                           "--resolver", RESOLVER, "--trust-anchor", ANCHOR, "--attempt-delay", "250",
                           *args, *rcpts, data=msg)

    def received(self, tag):
        out = []
        for path in glob.glob(os.path.join(MAIL, "*", "msg.*")):
            # Another test's dump may go meanwhile: smtp-sink removes the
            # file of a transaction that ends without its message (rcpt4xx).
            try:
                with open(path, "rb") as f:
                    data = f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                continue
            if "body %s\r\n" % tag in data or "body %s\n" % tag in data:
                out.append(data)
        return out

    def test_odi_delivers_with_aliases(self):
        tag = "odi-%d" % os.getpid()
        rc, out, err = self.deliver("OPS", args=["-f", "root"], tag=tag)
        self.assertEqual(rc, 0, err)
        self.assertTrue(all(l.startswith("to=<") for l in out.splitlines()), out)  # mx send's log lines
        got = self.received(tag)
        self.assertEqual(len(got), 1, got)
        # ops -> User@ok.send.test and second -> other@, ops (already there): one each.
        self.assertIn("X-Mail-Args: <root@%s>\nX-Rcpt-Args: <User@ok.send.test>\n"
                      "X-Rcpt-Args: <other@ok.send.test>\n" % ORIGIN, got[0].replace("\r\n", "\n"))
        self.assertIn("From: root@%s" % ORIGIN, got[0])

    def test_odi_refuses_pipes_and_includes_with_a_line(self):
        rc, _, err = self.deliver("included", tag="inc-%d" % os.getpid())
        self.assertEqual(rc, 65)
        self.assertIn(":include: files are not read", err)
        tag = "pipe-%d" % os.getpid()
        rc, _, err = self.deliver("piped", tag=tag)
        self.assertEqual(rc, 0, err)
        self.assertIn('target "|/bin/cat" refused: pipes to commands are not run', err)
        self.assertEqual(len(self.received(tag)), 1)

    def test_odi_loop_is_not_endless(self):
        rc, out, err = self.deliver("loopa", tag="loop-%d" % os.getpid())
        # loopa -> loopb -> loopa: taken as loopa@ORIGIN, which has no MX here.
        self.assertIn("to=<loopa@%s>" % ORIGIN, out + err)

    # ---- newaliases ------------------------------------------------------

    def test_newaliases_reports_file_and_line(self):
        rc, out, err = self.run_as("newaliases", "--aliases", self.aliases)
        self.assertEqual(rc, 65)
        lines = err.splitlines()
        self.assertIn('%s:8: piped: target "|/bin/cat" refused: pipes to commands are not run '
                      "(only addresses are used)" % self.aliases, lines)
        self.assertIn("%s:9: included: target \":include:/etc/passwd\" refused: :include: files "
                      "are not read (only addresses are used)" % self.aliases, lines)
        self.assertTrue(any(re.match(r"^%s:7: loopb: a loop" % re.escape(self.aliases), l)
                            for l in lines), lines)
        clean = os.path.join(self.dir, "clean")
        with open(clean, "w") as f:
            f.write("postmaster: root\nroot: admin@example.test\n")
        self.assertEqual(self.run_as("sendmail", "-bi", "--aliases", clean)[0], 0)
        self.assertEqual(self.run_as("newaliases", "--aliases", "/nonexistent")[0], 78)

    # ---- mailq -----------------------------------------------------------

    def test_mailq(self):
        spool = os.path.join(self.dir, "spool")
        rc, out, _ = self.run_as("mailq", "--spool", spool)
        self.assertEqual((rc, out), (0, "Mail queue is empty\n"))
        for i in range(2):
            # later.queue.test defers (tests/sandbox zones): queued by mx send.
            p = subprocess.run([MX, "send", "--config", self.conf, "--spool", spool,
                                "--resolver", RESOLVER, "--trust-anchor", ANCHOR,
                                "--connect-timeout", "2", "-f", "s%d@example.test" % i,
                                "a@later.queue.test", "b@later.queue.test"],
                               input=b"Subject: q\n\n" + (b"x" * 300 + b"\n") * 10,
                               capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
        rc, out, err = self.run_as("sendmail", "-bp", "--spool", spool)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "-Queue ID-  --Size-- ----Arrival Time---- "
                                   "-Sender/Recipient-------")
        m = TOTAL.match(lines[-1])
        self.assertTrue(m, lines[-1])
        self.assertEqual(m.group(2), "2")
        entries = [ENTRY.match(l) for l in lines if ENTRY.match(l)]
        self.assertEqual(sorted(e.group(4) for e in entries),
                         ["s0@example.test", "s1@example.test"])
        self.assertEqual(lines.count(" " * 41 + "a@later.queue.test"), 2)
        rc, _, err = self.run_as("mailq", "--spool", spool,
                                 pre=["setpriv", "--reuid=65534", "--regid=65534",
                                      "--clear-groups"])
        self.assertEqual(rc, 77)
        self.assertIn("permission denied", err)

    # ---- -bs -------------------------------------------------------------

    def bs(self):
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen([os.path.join(self.dir, "sendmail"), "--config", self.conf,
                                 "--origin", ORIGIN, "-bs"], stdin=theirs, stdout=theirs,
                                env=self.env)
        theirs.close()
        return ours, proc

    def test_bs_with_smtplib(self):
        ours, proc = self.bs()

        class Pipe(smtplib.SMTP):
            def _get_socket(self, host, port, timeout):
                return ours

        client = Pipe()
        code, _ = client.connect("localhost", 25)
        self.assertEqual(code, 220)
        client.ehlo("client.test")
        self.assertTrue(client.has_extn("8bitmime"))
        refused = client.sendmail("sender@example.test", ["root", "x@example.test"],
                                  "Subject: smtplib\r\n\r\n.leading dot\r\nend\r\n")
        self.assertEqual(refused, {})
        client.quit()
        self.assertEqual(proc.wait(timeout=30), 0)
        [(head, data)] = self.dropped()
        self.assertIn("sender sender@example.test", head)
        self.assertIn("rcpt root", head)
        self.assertIn("rcpt x@example.test", head)
        self.assertIn("\r\n..leading dot\r\nend\r\n", data)  # unstuffed, stuffed again

    def test_bs_quoted_local_parts(self):
        script = (b'EHLO x\r\nMAIL FROM:<"jane q"@example.test>\r\n'
                  b'RCPT TO:<"john doe"@example.test>\r\nRCPT TO:<"a\\"b"@example.test>\r\n'
                  b'RCPT TO:<"x@y"@example.test>\r\nRCPT TO:<john doe@example.test>\r\n'
                  b"DATA\r\nSubject: q\r\n\r\nx\r\n.\r\nQUIT\r\n")
        rc, out, _ = self.run_as("sendmail", "-bs", data=script)
        codes = [l[:3] for l in out.split("\r\n") if l and l[3:4] == " "]
        self.assertEqual(codes, ["220", "250", "250", "250", "250", "250", "553", "354", "250",
                                 "221"], out)
        [(head, _)] = self.dropped()
        self.assertIn('sender "jane q"@example.test', head)
        self.assertEqual([l for l in head if l.startswith("rcpt ")],
                         ['rcpt "john doe"@example.test', 'rcpt "a\\"b"@example.test',
                          'rcpt "x@y"@example.test'])

    def test_bs_smuggling_is_refused(self):
        variants = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n", b"\r\n.\r",
                    b"\n.", b"\r\n\n.\r\n"]
        for v in variants:
            script = (b"EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
                      b"DATA\r\nSubject: one\r\n\r\nfirst" + v +
                      b"MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\n"
                      b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\nQUIT\r\n")
            rc, out, _ = self.run_as("sendmail", "-bs", data=script)
            self.assertIn("521 5.5.2", out, v)
            self.assertNotIn("250 2.0.0", out, v)
            self.assertEqual(self.dropped(), [], v)

    def test_bs_limits_and_order(self):
        script = (b"MAIL FROM:<a@example.test>\r\nDATA\r\nRCPT TO:<root>\r\n"
                  b"NOOP " + b"x" * 3000 + b"\r\nDATA\r\n" + b"y" * 1200 + b"\r\n.\r\n"
                  b"MAIL FROM:<a@example.test>\r\nRCPT TO:<root>\r\nDATA\r\nok\r\n.\r\nQUIT\r\n")
        rc, out, _ = self.run_as("sendmail", "-bs", data=script)
        codes = [l[:3] for l in out.split("\r\n") if l and l[3:4] == " "]
        # MAIL, DATA (no recipient yet), RCPT, the long NOOP, DATA, its long
        # line refused at the end, then a whole transaction, QUIT.
        self.assertEqual(codes, ["220", "250", "554", "250", "500", "354", "554", "250",
                                 "250", "354", "250", "221"], out)
        self.assertEqual(rc, 0)
        self.assertEqual(len(self.dropped()), 1)


if __name__ == "__main__":
    sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_MAIL"))
