#!/usr/bin/env python3
"""Integration tests of local submission (issue 14): a real non-root user
submits through a set-group-ID mx-drop, `mx queue run` picks the drop
file up and delivers it to the sandbox's accept1; each attack on the drop
area is its own test; 1,000 SIGKILLs of `mx sendmail` and mx-drop lose
nothing that was acknowledged.

The script re-executes itself under `unshare -m` (a private mount
namespace): /etc becomes an overlay with its upper dir in a temp dir
(useradd/groupadd write there; the machine's /etc is never touched),
/var/spool a tmpfs (the compiled-in spool /var/spool/mx lives there),
and `mx setup` makes the mx user, the mxdrop group, the spool and a copy
of mx-drop root:mxdrop 2755.  Users run commands through setpriv.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import sandboxed

MX = os.environ.get("MX_BIN", "build/src/mx")
DROP = os.environ.get("MX_DROP_BIN", "build/src/mx-drop")
CLIENT = os.environ.get("MX_DROP_CLIENT", "build/tests/integration/drop_client")
RESOLVER = os.environ.get("MX_SANDBOX_RESOLVER")
ANCHOR = os.environ.get("MX_SANDBOX_ANCHOR")
MAIL = os.environ.get("MX_SANDBOX_MAIL")
SPOOL = "/var/spool/mx"
DROPDIR = SPOOL + "/drop"
KILLS = int(os.environ.get("MX_SUBMIT_KILLS", "1000"))
# LeakSanitizer cannot trace a set-group-ID process; leaks are checked by
# the unit and fuzz runs of the same code.
SAN = {"ASAN_OPTIONS": "detect_leaks=0", "PATH": "/usr/bin:/bin"}
T = None


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, **kw)


def setup_namespace():
    """Root, inside the private mount namespace: overlay /etc, users, spool."""
    global T
    T = tempfile.mkdtemp(prefix="mx-submit.")
    os.chmod(T, 0o755)
    for d in ("upper", "work", "bin", "evil"):
        os.mkdir(os.path.join(T, d))
    sh("mount", "--make-rprivate", "/")
    sh("mount", "-t", "overlay", "overlay", "-o",
       "lowerdir=/etc,upperdir=%s/upper,workdir=%s/work" % (T, T), "/etc")
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/var/spool")
    for user in ("alice", "bob"):
        sh("useradd", "--no-create-home", "--comment", user.title() + " Example", user)
    for src in (DROP, CLIENT):
        shutil.copy(src, os.path.join(T, "bin"))
    os.chmod(os.path.join(T, "bin"), 0o755)
    sh(MX, "setup", "--spool", SPOOL, "--helper", T + "/bin/mx-drop")
    shutil.copy(ANCHOR, T + "/anchor")
    os.chmod(T + "/anchor", 0o644)


def as_user(user, *cmd, input=None, env=None, timeout=30):
    e = dict(SAN)
    e.update(env or {})
    return subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--init-groups",
                           "--"] + list(cmd), input=input, capture_output=True, env=e,
                          timeout=timeout)


def uid(user):
    return int(sh("id", "-u", user).stdout)


def wire(tag, header=""):
    return ("%sSubject: %s\r\nTo: r@ok.send.test\r\n\r\nHello %s.\r\n..dot\r\n"
            % (header, tag, tag)).encode()


def request(tag, rcpt="y@ok.send.test", extra=""):
    data = wire(tag)
    return ("mxdrop 1\nsender-set 0\n%srcpt %s\nsize %d\n\n" % (extra, rcpt, len(data))
            ).encode() + data


def accept1(having=""):
    """The texts of the files in accept1's dump that contain having."""
    out = []
    d = os.path.join(MAIL, "accept1")
    for name in os.listdir(d) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), "rb") as f:
            data = f.read().decode("utf-8", "replace")
        if having in data:
            out.append(data)
    return out


def received(tag, texts=None):
    """The files of accept1 that hold tag: read from the dump, or picked
    from texts read before (the SIGKILL test's hundreds of tags: the dump
    holds the whole suite's mail, 116 MB with test_queue's 60 MB message,
    and reading it once a tag took 5 minutes of a CI run)."""
    return [t for t in texts if tag in t] if texts is not None else accept1(tag)


def drop_files(tmp=True):
    return sorted(n for n in os.listdir(DROPDIR) if tmp or not n.startswith("tmp."))


class Submit(unittest.TestCase):
    counter = 0

    def tag(self):
        Submit.counter += 1
        return "%s-%d-%d" % (self.id().split(".")[-1], os.getpid(), Submit.counter)

    def run_queue(self, *extra):
        p = subprocess.run([MX, "queue", "run", "--resolver", RESOLVER, "--trust-anchor",
                            T + "/anchor", "--spool", SPOOL, "--connect-timeout", "2",
                            "--log", "stderr"] + list(extra),
                           capture_output=True, timeout=120)
        return p.returncode, p.stderr.decode()

    def submit(self, tag, user="alice", sender="-", mode="-", rcpts=("y@ok.send.test",),
               header=""):
        return as_user(user, T + "/bin/drop_client", T + "/bin/mx-drop", sender, mode,
                       *rcpts, input=wire(tag, header))

    def test_setup_modes(self):
        st = os.stat(DROPDIR)
        self.assertEqual(oct(st.st_mode & 0o7777), "0o1730")
        self.assertEqual(oct(os.stat(T + "/bin/mx-drop").st_mode & 0o7777), "0o2755")
        self.assertEqual(sh(MX, "setup", "--spool", SPOOL, "--helper",
                            T + "/bin/mx-drop").returncode, 0)  # idempotent
        self.assertEqual(oct(os.stat(DROPDIR).st_mode & 0o7777), "0o1730")

    def test_user_submits_and_it_is_delivered(self):
        tag = self.tag()
        p = self.submit(tag)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""))
        names = drop_files(tmp=False)
        self.assertEqual(len(names), 1)
        st = os.stat(os.path.join(DROPDIR, names[0]))
        self.assertEqual((st.st_uid, oct(st.st_mode & 0o777)), (uid("alice"), "0o640"))
        rc, log = self.run_queue()
        self.assertEqual(rc, 0, log)
        self.assertIn("uid=%d" % uid("alice"), log)
        self.assertRegex(log, r"from=<alice@[^>]+>, size=\d+, nrcpt=1")
        got = received(tag)
        self.assertEqual(len(got), 1, log)
        self.assertIn("(mx, from userid %d)" % uid("alice"), got[0])
        self.assertRegex(got[0], r'From: "Alice Example" <alice@')
        self.assertIn("Message-ID: <", got[0])
        self.assertIn("Date: ", got[0])
        self.assertNotIn("X-Authentication-Warning", got[0])
        self.assertEqual(drop_files(tmp=False), [])

    def test_sender_set_gets_a_warning(self):
        tag = self.tag()
        self.assertEqual(self.submit(tag, sender="ceo@bank.test").returncode, 0)
        rc, log = self.run_queue()
        got = received(tag)
        self.assertEqual(len(got), 1, log)
        self.assertRegex(got[0], r"X-Authentication-Warning: [^:]+: alice set sender to "
                         r"ceo@bank.test using -f")

    def test_bare_name_is_qualified(self):
        tag = self.tag()
        self.assertEqual(self.submit(tag, rcpts=("y@ok.send.test", "root")).returncode, 0)
        rc, log = self.run_queue()
        self.assertRegex(log, r"to=<root@[^>]+>")
        self.assertEqual(len(received(tag)), 1, log)

    def test_aliases_expanded_at_pickup(self):
        # The administrator's alias file applies to what users submit:
        # staff -> a mailbox, another alias and a pipe (refused, logged).
        tag = self.tag()
        aliases = T + "/aliases-" + tag
        with open(aliases, "w") as f:
            f.write("# test\nstaff: y@ok.send.test, ops,\n  |/bin/evil\nops: z@ok.send.test\n")
        self.assertEqual(self.submit(tag, rcpts=("staff",)).returncode, 0)
        rc, log = self.run_queue("--aliases", aliases)
        self.assertEqual(rc, 0, log)
        self.assertRegex(log, r"nrcpt=2")
        self.assertIn("to=<y@ok.send.test>", log)
        self.assertIn("to=<z@ok.send.test>", log)
        self.assertNotIn("to=<staff", log)
        self.assertRegex(log, r"recipient <staff>: .*pipe")
        self.assertEqual(len(received(tag)), 1, log)

    def test_unreadable_alias_file_leaves_drop_alone(self):
        tag = self.tag()
        self.assertEqual(self.submit(tag).returncode, 0)
        rc, log = self.run_queue("--aliases", T + "/no-such-aliases")
        self.assertIn("pickup", log)
        self.assertEqual(len(drop_files(tmp=False)), 1, log)
        rc, log = self.run_queue()
        self.assertEqual(len(received(tag)), 1, log)

    def test_other_user_cannot_list_read_or_delete(self):
        # Attack: bob lists drop/, reads and deletes alice's file.
        p = self.submit(self.tag())
        self.assertEqual(p.returncode, 0)
        name = os.path.join(DROPDIR, drop_files()[0])
        for code in ("import os; os.listdir(%r)" % DROPDIR,
                     "open(%r).read()" % name, "import os; os.unlink(%r)" % name):
            for user in ("bob", "alice"):
                q = as_user(user, "python3", "-c", code)
                self.assertNotEqual(q.returncode, 0, (user, code))
                self.assertIn(b"PermissionError", q.stderr)
        self.assertTrue(os.path.exists(name))
        self.run_queue()

    def test_user_cannot_write_drop_directly(self):
        # Attack: a file made without mx-drop (forged header).
        q = as_user("alice", "python3", "-c",
                    "open(%r, 'w').write('x')" % (DROPDIR + "/AAAAAAAAAAAAAAAAAAAA"))
        self.assertIn(b"PermissionError", q.stderr)
        self.assertFalse(os.path.exists(DROPDIR + "/AAAAAAAAAAAAAAAAAAAA"))

    def test_forged_uid_is_refused(self):
        # Attack: the request names uid 0 (only mx-drop writes uid lines).
        for extra in ("uid 0\n", "gid 0\n", "time 1\n"):
            p = as_user("alice", T + "/bin/mx-drop",
                        input=request(self.tag(), extra=extra))
            self.assertEqual(p.returncode, 65, p.stderr)
        p = as_user("alice", T + "/bin/mx-drop",
                    input=b"mxdrop-stored 1\nuid 0\ngid 0\ntime 1\n" + request("x")[9:])
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertEqual([n for n in drop_files() if not n.startswith("tmp.")], [])

    def test_env_drop_dir_ignored_when_setgid(self):
        # Attack: MX_DROP_DIR pointing at a directory alice owns.
        evil = T + "/evil"
        os.chown(evil, uid("alice"), -1)
        os.chmod(evil, 0o1730)
        tag = self.tag()
        p = as_user("alice", T + "/bin/mx-drop", input=request(tag),
                    env={"MX_DROP_DIR": evil})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.listdir(evil), [])
        self.assertEqual(len(drop_files(tmp=False)), 1)
        self.run_queue()
        self.assertEqual(len(received(tag)), 1)

    def test_drop_dir_symlink_is_refused(self):
        # Attack: drop/ replaced by a symlink to another 1730 directory.
        other = SPOOL + "/other"
        os.mkdir(other)
        st = os.stat(DROPDIR)
        os.chown(other, st.st_uid, st.st_gid)
        os.chmod(other, 0o1730)
        os.rename(DROPDIR, SPOOL + "/drop.real")
        os.symlink(other, DROPDIR)
        try:
            p = as_user("alice", T + "/bin/mx-drop", input=request(self.tag()))
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertEqual(os.listdir(other), [])
        finally:
            os.unlink(DROPDIR)
            os.rename(SPOOL + "/drop.real", DROPDIR)
            os.rmdir(other)

    def test_closed_stdout_stderr(self):
        # Attack: fds 1 and 2 closed, so that the drop file would become
        # them and an error message would be written into it.
        tag = self.tag()
        p = as_user("alice", "sh", "-c", 'exec "$0" >&- 2>&-', T + "/bin/mx-drop",
                    input=request(tag))
        self.assertEqual(p.returncode, 0)
        bad = as_user("alice", "sh", "-c", 'exec "$0" >&- 2>&-', T + "/bin/mx-drop",
                      input=b"mxdrop 1\nbogus 1\n\n")
        self.assertEqual(bad.returncode, 65)
        self.assertEqual(len(drop_files(tmp=False)), 1)
        rc, log = self.run_queue()
        self.assertNotIn("moved to corrupt", log)
        self.assertEqual(len(received(tag)), 1, log)

    def test_oversized_requests(self):
        # Attack: a header past the cap, a size past the cap, more data than size.
        big = b"mxdrop 1\n" + b"rcpt a@b.test\n" * 1001 + b"size 0\n\n"
        huge = b"mxdrop 1\n" + b"name " + b"x" * 200 + b"\n"
        cases = [big, huge * 6000, b"mxdrop 1\nrcpt a@b.test\nsize 1073741825\n\n",
                 request("x")[:-2] + b"extra\r\n" * 3]
        for data in cases:
            p = as_user("alice", T + "/bin/mx-drop", input=data)
            self.assertEqual(p.returncode, 65, p.stderr[:200])
        self.assertEqual(drop_files(tmp=False), [])

    def test_corrupt_drop_file_goes_to_corrupt(self):
        name = "BADBADBADBADBADBAD00"
        path = os.path.join(DROPDIR, name)
        with open(path, "wb") as f:
            f.write(b"mxdrop-stored 1\nuid 12345\n\ngarbage")
        rc, log = self.run_queue()
        self.assertFalse(os.path.exists(path))
        self.assertTrue(os.path.exists(SPOOL + "/corrupt/drop." + name))
        self.assertIn("%s: drop file moved to corrupt/drop.%s" % (name, name), log)

    def test_error_mode_q_no_bounce(self):
        tag = self.tag()
        self.assertEqual(self.submit(tag, sender="s@sender.queue.test", mode="q",
                                     rcpts=("x@rcpt5xx.send.test",)).returncode, 0)
        rc, log = self.run_queue()
        self.assertIn("error mode q", log)
        self.assertNotIn("non-delivery notification", log)

    def test_sigkill_submitters(self):
        # KILLS submissions, each SIGKILLed at a random instant: the even
        # ones kill `mx sendmail` (its mx-drop child lives on and finishes
        # or refuses a cut request), the odd ones mx-drop itself.  Every
        # submission whose process exited 0 must be delivered, once.
        rng = random.Random(14)
        ok, start = [], time.monotonic()
        user = ["setpriv", "--reuid", "alice", "--regid", "alice", "--init-groups", "--"]
        e = dict(SAN, MX_DROP_HELPER=T + "/bin/mx-drop")
        for i in range(KILLS):
            tag = "kill-%d-%d-end" % (os.getpid(), i)
            rcpt = "k%d@ok.send.test" % i
            if i % 2 == 0:
                cmd, data = [MX, "sendmail", "-i", rcpt], wire(tag).replace(b"\r\n", b"\n")
                data = data.replace(b"\n..dot", b"\n.dot")
            else:
                cmd, data = [T + "/bin/mx-drop"], request(tag, rcpt=rcpt)
            p = subprocess.Popen(user + cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=e)
            try:
                p.stdin.write(data)
                p.stdin.close()
            except BrokenPipeError:
                pass
            time.sleep(rng.random() * (0.06 if i % 2 == 0 else 0.03))
            p.send_signal(signal.SIGKILL)
            if p.wait() == 0:
                ok.append((tag, i % 2))
        survived = [sum(1 for _, k in ok if k == kind) for kind in (0, 1)]
        print("\n%d kills in %.1f s: exit 0 for %d of sendmail, %d of mx-drop"
              % (KILLS, time.monotonic() - start, survived[0], survived[1]), file=sys.stderr)
        for kind, n in enumerate(survived):
            self.assertTrue(0 < n < KILLS // 2, "kills must land on both sides: %s" % survived)
        rc, log = self.run_queue()
        texts = accept1("kill-%d-" % os.getpid())  # what any tag of this test is in
        for tag, _ in ok:
            self.assertEqual(len(received(tag, texts)), 1, tag)
        for name in drop_files():  # only tmp files of killed writers are left
            self.assertTrue(name.startswith("tmp."), name)
            os.utime(os.path.join(DROPDIR, name), (time.time() - 3600,) * 2)
        rc, log = self.run_queue()
        self.assertEqual(drop_files(), [], log)

if __name__ == "__main__":
    if os.environ.get("MX_SUBMIT_NS") != "1":
        if not all(os.environ.get(n) for n in ("MX_SANDBOX_RESOLVER", "MX_SANDBOX_MAIL")):
            sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_MAIL"))
        os.environ["MX_SUBMIT_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--", sys.executable] + sys.argv)
    setup_namespace()
    try:
        sys.exit(sandboxed.main("MX_SANDBOX_RESOLVER", "MX_SANDBOX_MAIL"))
    finally:
        subprocess.run(["umount", "/etc"])
        shutil.rmtree(T, ignore_errors=True)
