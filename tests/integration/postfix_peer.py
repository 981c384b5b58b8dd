"""A real Postfix (Debian's postfix package) as an SMTP receiver for
tests: a private instance (its own config_directory, queue_directory and
data_directory in a temporary directory, its own master), whose smtpd
listens on one address, offers STARTTLS with the certificate given, logs
to a file of its own (postlogd, maillog_file) and discards every message
it accepts (check_recipient_access static:DISCARD: cleanup drops it).

Nothing of the machine's own Postfix is read or written: no /etc/postfix,
no /var/spool/postfix, no syslog.  Run as root inside the sandbox (the
instance's daemons drop to the postfix user as Debian installs it).
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

MASTER_CF = """\
%(addr)s:smtp inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = %(work)s/queue
data_directory = %(work)s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = %(host)s
mydomain = dtests.test
myorigin = $myhostname
inet_protocols = ipv4
inet_interfaces = all
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_peername_lookup = no
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = check_recipient_access static:DISCARD
smtpd_tls_security_level = may
smtpd_tls_cert_file = %(cert)s
smtpd_tls_key_file = %(key)s
smtpd_tls_loglevel = 1
maillog_file = %(work)s/maillog
maillog_file_prefixes = %(work)s
default_process_limit = 100
smtpd_client_connection_count_limit = 0
"""


class Postfix:
    """A private Postfix instance receiving on addr:25 (start() to run it)."""

    def __init__(self, addr, host, cert, key):
        self.addr, self.host = addr, host
        self.work = tempfile.mkdtemp(prefix="mx-postfix.")
        os.chmod(self.work, 0o755)
        self.conf = os.path.join(self.work, "conf")
        self.log = os.path.join(self.work, "maillog")
        for d in ("conf", "queue", "data"):
            os.mkdir(os.path.join(self.work, d))
        shutil.chown(os.path.join(self.work, "data"), "postfix", "postfix")
        # smtpd runs as postfix and reads the key after dropping root.
        for src, name in ((cert, "cert.pem"), (key, "key.pem")):
            shutil.copy(src, os.path.join(self.conf, name))
        v = {"work": self.work, "addr": addr, "host": host,
             "cert": os.path.join(self.conf, "cert.pem"),
             "key": os.path.join(self.conf, "key.pem")}
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF % v)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF % v)

    def postfix(self, *args):
        return subprocess.run(["postfix", "-c", self.conf] + list(args),
                              capture_output=True, text=True, timeout=60)

    def start(self):
        # postfix(1) writes its complaints to a terminal only: script(1) is one.
        p = subprocess.run(["script", "-qec", "postfix -c %s start" % self.conf, "/dev/null"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("postfix start: %s%s%s" % (p.stdout, p.stderr, self.read_log()))
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if subprocess.run(["ss", "-Hltn", "src", self.addr + ":25"], capture_output=True,
                              text=True).stdout.strip():
                return
            time.sleep(0.05)
        raise RuntimeError("postfix does not listen on %s:25: %s" % (self.addr, self.read_log()))

    def stop(self):
        self.postfix("abort")
        shutil.rmtree(self.work, ignore_errors=True)

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def sessions(self):
        """smtpd's finished sessions: one dict per "disconnect from" line
        with its command counts (ehlo, starttls, mail, data, ...)."""
        out = []
        for line in self.read_log().splitlines():
            m = re.search(r"postfix/smtpd\[\d+\]: disconnect from \S+ (.*)$", line)
            if not m:
                continue
            counts = {}
            for item in m.group(1).split():
                k, _, v = item.partition("=")
                counts[k] = int(v.split("/")[0]) if v.split("/")[0].isdigit() else 0
            out.append(counts)
        return out

    def count(self, pattern):
        return len(re.findall(pattern, self.read_log(), re.M))
