"""The seeds' system (issue 16), built for a test or the demo: a domain,
seeds.test, whose MX records name two mxkit daemons of equal preference
(mx1, mx2: --local-domain, delivering over LMTP to one Dovecot) and a
third mxkit daemon as its backup MX (--backup-domain, preference 20); a
real Postfix instance and `mx send` send to it by the sandbox's DNS.

What this module owns: starting and stopping those parts in a runtime
directory of the caller's (every file of theirs lives there), sending,
and counting what arrived where.  It never touches the machine's own
/etc, users or spools: the caller runs inside the sandbox and inside a
private mount namespace (enter_namespace), where /etc/resolv.conf names
the sandbox's resolver, because Postfix asks the system resolver.  The
mail store is dovecot.py's real Dovecot.

Addresses (tests/sandbox/zones/test.zone, "seeds.test"): mx1 127.0.4.11,
mx2 127.0.4.12, backup 127.0.4.20, the Postfix instance's smtpd
127.0.4.30; every daemon listens on port 25, where MX records lead.
"""
import email.parser
import email.policy
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import time

import dovecot

DOMAIN = "seeds.test"
HOSTS = {"mx1": ("mx1.seeds.test", "127.0.4.11"),
         "mx2": ("mx2.seeds.test", "127.0.4.12"),
         "backup": ("backup.seeds.test", "127.0.4.20")}
PRIMARIES = ("mx1", "mx2")
POSTFIX_ADDR = "127.0.4.30"
POSTFIX_NAME = "postfix.seeds-out.test"
SENDER = "sender@seeds-out.test"
USERS = ("alice", "bob", "carol", "dave")
UNKNOWN = "nobody-here"
# No client of the scenario is a relay client of the daemons: they judge
# mail as an MX judges mail from the Internet.
RELAY_NET = "127.0.4.250/32"


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, **kw)


def enter_namespace(rundir):
    """Inside `unshare -m`: / private, /etc/resolv.conf the sandbox's
    resolver (Unbound, 127.0.0.1 port 53: MX_SANDBOX_RESOLVER)."""
    host, _, port = os.environ["MX_SANDBOX_RESOLVER"].partition("@")
    if port not in ("", "53"):
        raise RuntimeError("the system resolver needs port 53, not " + port)
    path = os.path.join(rundir, "resolv.conf")
    with open(path, "w") as f:
        f.write("nameserver %s\noptions attempts:2 timeout:2\n" % host)
    os.chmod(path, 0o644)
    sh("mount", "--make-rprivate", "/")
    sh("mount", "--bind", path, "/etc/resolv.conf")


def wait_for(what, check, timeout, interval=0.1):
    """Polls check() until it is true; returns how long it took."""
    t0 = time.time()
    while True:
        if check():
            return time.time() - t0
        if time.time() - t0 > timeout:
            raise TimeoutError("%s: not within %d s" % (what, timeout))
        time.sleep(interval)


def listening(addr, port):
    try:
        socket.create_connection((addr, port), timeout=1).close()
        return True
    except OSError:
        return False


class Dovecot:
    """seeds.test's mail store: the tests' real Dovecot (dovecot.py) with
    the domain's users; read back with one `doveadm fetch` of every
    header per user (dovecot.py's messages() runs doveadm once a message:
    minutes for 1,200 on this machine)."""

    def __init__(self, rundir):
        self.store = dovecot.Dovecot(os.path.join(rundir, "dovecot"), domain=DOMAIN,
                                     users=USERS, hostname="store.seeds.test")
        self.socket = self.store.lmtp_socket

    def start(self):
        self.store.start()

    def stop(self):
        self.store.stop()

    def log_text(self):
        return self.store.log()

    def headers(self, user):
        """Every message in user's INBOX as its parsed header."""
        out = self.store.doveadm("fetch", "-u", "%s@%s" % (user, DOMAIN), "hdr",
                                 "mailbox", "INBOX").stdout
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        # Each message's header opens with a line "hdr:" and ends with its
        # blank line (doveadm 2.3, one field: no form feed between them).
        # No header line of a message here is "hdr:" alone.
        return [parser.parsebytes(part.lstrip(b"\f"))
                for part in re.split(rb"(?:^|\n)\f?hdr:\n", out)[1:]]

    def messages(self):
        """{Message-ID: [its mxkit hops, one tuple per copy held]} over
        every user; a tuple lists the hosts newest first (hops)."""
        held = {}
        for u in USERS:
            for h in self.headers(u):
                mid = (h.get("Message-ID") or "").strip()
                held.setdefault(mid, []).append(tuple(hops(h)))
        return held


def hops(header):
    """The mxkit daemons a message passed, from the Received lines they
    added (\"by NAME (mx)\"), newest first: the last is the host the
    sender handed it to (a backup's line stays below the primary's)."""
    return [m.group(1) for r in header.get_all("Received") or []
            for m in [re.search(r"\bby (\S+) \(mx\)", r)] if m]


class Postfix:
    """A real Postfix instance with its own configuration and queue: its
    smtpd on POSTFIX_ADDR:25 takes the messages, its smtp client routes
    them by the sandbox's DNS (no relayhost) to seeds.test's MX hosts."""

    def __init__(self, rundir):
        self.dir = os.path.join(rundir, "postfix")
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.log = os.path.join(self.dir, "maillog")

    def write_config(self):
        for d in (self.dir, self.conf, self.queue):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        sh("chown", "postfix:postfix", data)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN.format(queue=self.queue, data=data, log=self.log,
                                        name=POSTFIX_NAME, addr=POSTFIX_ADDR))
        # Debian's master.cf, every service outside a chroot (the chroot
        # would need its own copy of /etc/resolv.conf).
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        lines = []
        for line in master.splitlines():
            fields = line.split()
            if len(fields) >= 8 and not line[0].isspace() and not line.startswith("#"):
                fields[4] = "n"
                line = " ".join(fields)
            lines.append(line)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        self.write_config()
        # Postfix binds only addresses an interface has; Linux routes all of
        # 127/8 to lo but lists only 127.0.0.1.  The sandbox's network
        # namespace is private: the address goes with it.
        subprocess.run(["ip", "addr", "add", POSTFIX_ADDR + "/32", "dev", "lo"],
                       capture_output=True)
        p = subprocess.run(["postfix", "-c", self.conf, "start"], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("postfix start: " + p.stdout + p.stderr + self.log_text())
        wait_for("Postfix's smtpd", lambda: listening(POSTFIX_ADDR, 25), 30)

    def stop(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"], capture_output=True)

    def log_text(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    def queue_empty(self):
        p = subprocess.run(["postqueue", "-c", self.conf, "-j"], capture_output=True, text=True)
        return p.returncode == 0 and p.stdout.strip() == ""

    def flush(self):
        subprocess.run(["postqueue", "-c", self.conf, "-f"], capture_output=True)

    def send(self, messages, sessions=5):
        """messages: [(recipient, Message-ID)], handed to Postfix's smtpd
        over a few sessions (smtplib), each 250 before the next."""
        chunks = [messages[i::sessions] for i in range(sessions)]
        for chunk in chunks:
            if not chunk:
                continue
            c = smtplib.SMTP(POSTFIX_ADDR, 25, timeout=60)
            c.ehlo("client.seeds-out.test")
            for rcpt, mid in chunk:
                c.sendmail(SENDER, [rcpt], message(rcpt, mid, "postfix"))
            c.quit()


POSTFIX_MAIN = """# seeds_world.py: a Postfix instance of the test's own
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {log}
maillog_file_prefixes = {log}
mail_owner = postfix
setgid_group = postdrop
myhostname = {name}
mydomain = seeds-out.test
myorigin = $myhostname
mydestination =
relayhost =
inet_interfaces = {addr}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_tls_security_level = none
smtp_bind_address = {addr}
biff = no
alias_maps =
alias_database =
local_recipient_maps =
queue_run_delay = 2s
# Each message chooses among the equal MX hosts anew (smtp_randomize_addresses):
# with the connection cache, a burst rides the few sessions open at the
# time, and one run's 500 messages split 63/37 between mx1 and mx2.
smtp_connection_cache_on_demand = no
minimal_backoff_time = 2s
maximal_backoff_time = 10s
"""


def message(rcpt, mid, via):
    return ("From: %s\r\nTo: %s\r\nMessage-ID: %s\r\nSubject: seeds %s via %s\r\n\r\n"
            "Sown by %s.\r\n" % (SENDER, rcpt, mid, mid, via, via))


class Daemon:
    """One `mx daemon` of the domain, listening on its MX address's port
    25, running as nobody over a spool of its own."""

    def __init__(self, rundir, key, role_args):
        self.key = key
        self.name, self.addr = HOSTS[key]
        self.spool = os.path.join(rundir, "spool-" + key)
        self.logpath = os.path.join(rundir, key + ".log")
        self.role_args = role_args
        self.proc = None
        self.exits = []  # (signal sent, exit status), one per stop

    def make_spool(self):
        if os.path.isdir(self.spool):
            return
        subprocess.run([MX, "queue", "list", "--spool", self.spool], capture_output=True)
        for d in ("queue", "tmp", "corrupt"):
            os.makedirs(os.path.join(self.spool, d), exist_ok=True)
        sh("chown", "-R", "nobody:nogroup", self.spool)

    def start(self):
        self.make_spool()
        cmd = [MX, "daemon", "--resolver", os.environ["MX_SANDBOX_RESOLVER"],
               "--trust-anchor", os.environ["MX_SANDBOX_ANCHOR"], "--spool", self.spool,
               "--log", "stderr", "--hostname", self.name, "--listen", self.addr + ":25",
               "--relay-network", RELAY_NET, "--user", "nobody",
               "--greet-pause", "0"] + self.role_args
        log = open(self.logpath, "a")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        log.close()

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.name, self.log_text()[-3000:]))
            return listening(self.addr, 25)
        wait_for(self.name + " listening", up, 30)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.exits.append((sig, self.proc.returncode))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def accepted(self, client=r"\S+"):
        """Messages this daemon answered 250 after DATA (from a client
        matching the pattern), from its log."""
        return len(re.findall(r": client=%s, from=<" % client, self.log_text()))

    def queued(self):
        q = os.path.join(self.spool, "queue")
        return sorted(os.listdir(q)) if os.path.isdir(q) else []


MX = os.path.abspath(os.environ.get("MX_BIN", "build/src/mx"))


class World:
    """The whole system: Dovecot, mx1 and mx2 (primaries), backup, Postfix."""

    def __init__(self, rundir):
        self.dir = rundir
        self.dovecot = Dovecot(rundir)
        self.postfix = Postfix(rundir)
        self.rcpts = os.path.join(rundir, "backup-recipients")
        primary = ["--local-domain", DOMAIN, "--lmtp", "unix:" + self.dovecot.socket]
        backup = ["--backup-domain", DOMAIN, "--backup-recipients", self.rcpts]
        self.mx = {k: Daemon(rundir, k, primary) for k in PRIMARIES}
        self.mx["backup"] = Daemon(rundir, "backup", backup)
        self.sent = 0

    def start(self):
        with open(self.rcpts, "w") as f:
            f.write("".join("%s@%s\n" % (u, DOMAIN) for u in USERS))
        os.chmod(self.rcpts, 0o644)
        self.dovecot.start()
        for d in self.mx.values():
            d.start()
        self.postfix.start()

    def stop(self):
        self.postfix.stop()
        for d in self.mx.values():
            d.stop()
        self.dovecot.stop()

    def batch(self, n, tag):
        """n (recipient, Message-ID) pairs, recipients round the users."""
        out = []
        for i in range(n):
            self.sent += 1
            out.append(("%s@%s" % (USERS[self.sent % len(USERS)], DOMAIN),
                        "<seeds-%s-%d@seeds-out.test>" % (tag, self.sent)))
        return out

    def send_mx(self, messages, workers=4):
        """Each message by its own `mx send` (direct: routed by the
        sandbox's DNS, delivered, no queue), `workers` at a time."""
        procs, failed = [], []
        pending = list(messages)
        while pending or procs:
            while pending and len(procs) < workers:
                rcpt, mid = pending.pop(0)
                p = subprocess.Popen(
                    [MX, "send", "--resolver", os.environ["MX_SANDBOX_RESOLVER"],
                     "--trust-anchor", os.environ["MX_SANDBOX_ANCHOR"], "--no-queue",
                     "-f", SENDER, rcpt], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT)
                p.stdin.write(message(rcpt, mid, "mx send").encode())
                p.stdin.close()
                procs.append((p, mid))
            p, mid = procs.pop(0)
            out = p.stdout.read().decode(errors="replace")
            p.stdout.close()
            if p.wait() != 0:
                failed.append((mid, p.returncode, out))
        return failed

    def shares(self):
        """{host key: messages it accepted} from the daemons' logs."""
        return {k: d.accepted() for k, d in self.mx.items()}


def pct(part, whole):
    return "%d %%" % round(100.0 * part / whole) if whole else "-"


def demo_send(world, n, tag):
    before = world.shares()
    msgs = world.batch(n, tag)
    world.postfix.send(msgs[:n // 2])
    failed = world.send_mx(msgs[n // 2:])
    try:
        wait_for("Postfix's queue", world.postfix.queue_empty, 120, 0.5)
    except TimeoutError:
        print("   (Postfix still has mail queued after 120 s)")
    now = world.shares()
    return msgs, {k: now[k] - before[k] for k in now}, failed


def demo_held(world, mids, timeout):
    try:
        wait_for("Dovecot", lambda: set(mids) <= set(world.dovecot.messages()), timeout, 1)
    except TimeoutError:
        pass
    held = world.dovecot.messages()
    return sum(1 for m in mids if m in held), held


def demo(world, n):
    """The scenario told in words, n messages in the first step."""
    sent = []
    print("== seeds.test: MX 10 mx1.seeds.test, MX 10 mx2.seeds.test, MX 20 backup.seeds.test;")
    print("   mx1 and mx2 deliver to one Dovecot over LMTP, the backup only holds and hands on")
    msgs, got, failed = demo_send(world, n, "d1")
    sent += [m for _, m in msgs]
    print("-- %d messages, %d by Postfix and %d by mx send:" % (n, n // 2, n - n // 2))
    print("   mx1 took %d (%s), mx2 took %d (%s), the backup took %d"
          % (got["mx1"], pct(got["mx1"], n), got["mx2"], pct(got["mx2"], n), got["backup"]))
    count, _ = demo_held(world, [m for _, m in msgs], 60)
    print("   Dovecot holds %d of the %d" % (count, n))
    world.mx["mx2"].stop()
    k = max(n // 5, 2)
    msgs, got, failed = demo_send(world, k, "d2")
    sent += [m for _, m in msgs]
    print("-- mx2 stopped; %d more messages: mx1 took %d, the backup %d%s"
          % (k, got["mx1"], got["backup"], ", %d not sent" % len(failed) if failed else ""))
    world.mx["mx1"].stop()
    msgs, got, failed = demo_send(world, k, "d3")
    sent += [m for _, m in msgs]
    print("-- mx1 stopped too; %d more messages: the backup took %d and holds %d in its spool"
          % (k, got["backup"], len(world.mx["backup"].queued())))
    c = smtplib.SMTP(HOSTS["backup"][1], 25, timeout=60)
    c.ehlo("client.seeds-out.test")
    c.mail(SENDER)
    code, text = c.rcpt("%s@%s" % (UNKNOWN, DOMAIN))
    c.quit()
    print("   to %s@%s the backup answered at RCPT: %d %s (refused now: nothing to bounce later)"
          % (UNKNOWN, DOMAIN, code, text.decode(errors="replace")))
    t0 = time.time()
    world.mx["mx1"].start()
    try:
        took = wait_for("backup", lambda: not world.mx["backup"].queued(), 60, 0.2)
        print("-- mx1 started again: the backup handed over everything it held in %.1f s" % took)
    except TimeoutError:
        print("-- mx1 started again: after 60 s the backup still holds %d"
              % len(world.mx["backup"].queued()))
    count, held = demo_held(world, sent, 30)
    dups = sum(1 for m in sent if len(held.get(m, [])) > 1)
    print("   %.1f s later Dovecot holds %d of the %d messages sent, %d of them more than once"
          % (time.time() - t0, count, len(sent), dups))


def demo_main(n):
    rundir = __import__("tempfile").mkdtemp(prefix="mx-seeds-demo.")
    os.chmod(rundir, 0o755)
    enter_namespace(rundir)
    world = World(rundir)
    try:
        world.start()
        demo(world, n)
    finally:
        world.stop()
        shutil.rmtree(rundir, ignore_errors=True)


if __name__ == "__main__":
    # The demo (scripts/demo): inside the sandbox, in a mount namespace.
    import sys
    if os.environ.get("MX_SEEDS_NS") != "1":
        os.environ["MX_SEEDS_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--", sys.executable] + sys.argv)
    demo_main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
