"""A real Dovecot as a test's mail store: LMTP in, doveadm out.

Used by test_lmtp.py and by any test that needs final delivery (three mx
daemons delivering to one store, say).  Everything lives under one
directory the test owns: configuration, base_dir (sockets, pid), state_dir,
the log, the passwd-file of users and their maildirs.  Nothing is written
elsewhere on the machine and no user is created: Dovecot's master runs as
root (inside the sandbox's network namespace), its own processes as the
`dovecot` and `dovenull` users that the Debian package made, and mail is
stored as `nobody:nogroup` (65534), which the daemon under test also runs
as in the tests.

Interface:

    store = Dovecot(directory, domain="local.test", users=("alice", "bob"),
                    tcp=None,      # or ("127.0.7.1", 24): an LMTP TCP listener too
                    quota=None,    # or {"bob": "1K"}: bob's mailbox is full past 1 KiB,
                                   #   and LMTP refuses after the message (552 5.2.2)
                    quota_tempfail=False)  # True: 452 4.2.2 instead (try later)
    store.set_quota("bob", "10M")  # takes effect at the next start()
    store.start()                  # waits until the LMTP socket answers
    store.lmtp_socket              # the unix socket (mode 0666): --lmtp unix:<it>
    store.lmtp_target              # "unix:<socket>", what `mx daemon --lmtp` takes
    store.addresses                # ["alice@local.test", "bob@local.test"]
    store.messages("alice")        # every message in alice's INBOX, bytes as stored
                                   #   (Dovecot's Return-Path, Delivered-To and
                                   #   Received first, then the message, LF line ends)
    store.count("alice")           # len(messages), through doveadm search
    store.wait_for("alice", n, timeout=30)   # polls count() until >= n
    store.stop()                   # doveadm stop; start() again keeps the mail
    store.log()                    # Dovecot's log so far (for failure messages)

Several instances may run at once (each test its own directory): every
instance has its own base_dir, state_dir and instance_name.  TCP listeners
need distinct addresses; issue 16 gives 127.0.7.0/24 to them.
"""
import os
import socket
import subprocess
import time

MAIL_UID = 65534  # nobody: the mail's owner, never a user made for the test

CONFIG = """\
base_dir = {run}
state_dir = {state}
instance_name = mx-dovecot-{tag}
hostname = {hostname}
protocols = lmtp
ssl = no
log_path = {dir}/dovecot.log
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
mail_location = maildir:{mail}/%d/%n/Maildir
first_valid_uid = {uid}
last_valid_uid = {uid}
lmtp_rcpt_check_quota = no
# Any octet in a user name: a quoted local part ("john doe") may hold a
# blank, which the default list of characters refuses.
auth_username_chars =
quota_full_tempfail = {tempfail}
mail_plugins = $mail_plugins quota
plugin {{
  quota = maildir:User quota
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {users}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
{inet}}}
"""

INET = """\
  inet_listener lmtp {{
    address = {address}
    port = {port}
  }}
"""


class Dovecot:
    def __init__(self, directory, domain="local.test", users=("alice", "bob"), tcp=None,
                 hostname="store.local.test", quota=None, quota_tempfail=False):
        self.dir = os.path.abspath(directory)
        self.domain = domain
        self.users = list(users)
        self.tcp = tcp
        self.hostname = hostname
        self.quota = dict(quota or {})
        self.quota_tempfail = quota_tempfail
        self.config = os.path.join(self.dir, "dovecot.conf")
        self.run_dir = os.path.join(self.dir, "run")
        self.mail_dir = os.path.join(self.dir, "mail")
        self.lmtp_socket = os.path.join(self.run_dir, "lmtp")
        self.lmtp_target = "unix:" + self.lmtp_socket
        self.addresses = ["%s@%s" % (u, domain) for u in self.users]
        self._write()

    def _write(self):
        for d in (self.dir, self.run_dir, os.path.join(self.dir, "state"), self.mail_dir):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chown(self.mail_dir, MAIL_UID, MAIL_UID)
        users = os.path.join(self.dir, "users")
        with open(users, "w") as f:
            for a, u in zip(self.addresses, self.users):
                extra = ""
                if u in self.quota:
                    extra = "userdb_quota_rule=*:storage=%s" % self.quota[u]
                f.write("%s:{PLAIN}secret:%d:%d::%s/%s/%s::%s\n"
                        % (a, MAIL_UID, MAIL_UID, self.mail_dir, self.domain, u, extra))
        inet = ""
        if self.tcp is not None:
            inet = INET.format(address=self.tcp[0], port=self.tcp[1])
        with open(self.config, "w") as f:
            f.write(CONFIG.format(run=self.run_dir, state=os.path.join(self.dir, "state"),
                                  tag="%d-%d" % (os.getpid(), id(self) % 100000),
                                  hostname=self.hostname, dir=self.dir, mail=self.mail_dir,
                                  uid=MAIL_UID, users=users, inet=inet,
                                  tempfail="yes" if self.quota_tempfail else "no"))

    def set_quota(self, user, size):
        self.quota[user] = size
        self._write()

    def doveadm(self, *args, check=True):
        return subprocess.run(["doveadm", "-c", self.config] + list(args),
                              capture_output=True, check=check, timeout=60)

    def start(self, timeout=30):
        # The master forks away holding its standard streams: a pipe would
        # never close, so they go to a file.
        with open(os.path.join(self.dir, "start.log"), "ab") as out:
            subprocess.run(["dovecot", "-c", self.config], check=True, stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out, timeout=60)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.answers():
                return
            time.sleep(0.05)
        raise RuntimeError("dovecot did not answer on %s: %s" % (self.lmtp_socket, self.log()))

    def answers(self):
        """Whether the LMTP socket gives a 220 greeting."""
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(self.lmtp_socket)
            ok = s.recv(512).startswith(b"220")
            s.sendall(b"QUIT\r\n")
            s.close()
            return ok
        except OSError:
            return False

    def running(self):
        pid = os.path.join(self.run_dir, "master.pid")
        try:
            with open(pid) as f:
                os.kill(int(f.read().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def stop(self, timeout=30):
        """Stops the master and waits until it is gone (mail is kept)."""
        if not self.running():
            return
        self.doveadm("stop", check=False)
        deadline = time.time() + timeout
        while self.running() and time.time() < deadline:
            time.sleep(0.05)

    def _user(self, user):
        return user if "@" in user else "%s@%s" % (user, self.domain)

    def uids(self, user, mailbox="INBOX"):
        out = self.doveadm("search", "-u", self._user(user), "mailbox", mailbox, "all")
        return [int(l.split()[1]) for l in out.stdout.decode().splitlines() if l.strip()]

    def count(self, user, mailbox="INBOX"):
        return len(self.uids(user, mailbox))

    def messages(self, user, mailbox="INBOX"):
        """The stored messages in UID order: bytes as Dovecot keeps them."""
        got = []
        # One fetch per UID: doveadm's output has no separator a message
        # could not contain.
        for uid in self.uids(user, mailbox):
            out = self.doveadm("fetch", "-u", self._user(user), "text", "mailbox", mailbox,
                               "uid", str(uid)).stdout
            if not out.startswith(b"text:\n"):
                raise RuntimeError("doveadm fetch said %r" % out[:200])
            got.append(out[len(b"text:\n"):])
        return got

    def wait_for(self, user, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.count(user) >= n:
                return True
            time.sleep(0.1)
        return self.count(user) >= n

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""
