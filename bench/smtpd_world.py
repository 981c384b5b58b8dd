"""bench/smtpd_world.py - the private world the bench/smtpd-* benchmarks
(issue 16: `mx daemon --listen`, the SMTP server) run in, and nothing else.

Inside the sandbox's network namespace (its NSD and Unbound answer
sink.smtpd-bench.test MX -> 127.0.6.2) and a private mount namespace
(unshare -m: /etc is an overlay, so the machine's files are untouched):

Every server runs in a session of its own, as a daemon does (Postfix's
master calls setsid(); systemd gives mx daemon a cgroup of its own): with
the kernel's autogroup scheduling (on here) a session is what shares the
CPU fairly, so on this loaded machine a server left in the bench's
session would compete with smtp-source for its share while Postfix had
one to itself (seen: mx daemon on the run queue 2.5 s of a 3 s run).

- an smtp-sink on 127.0.6.2:25 with running counters (-c), which both
  servers relay to; its "mesg=N" is the end of the end-to-end clock;
- `mx daemon --listen 127.0.6.1:25`, spool on the work directory's disk
  (real fsync: ext4 on this machine, as Postfix's queue), as nobody;
- a Postfix instance with its own config directory (listed in the
  overlay's /etc/postfix/main.cf as alternate_config_directories, as
  postfix -c requires), its own queue directory on the same disk, smtpd
  on 127.0.6.3:25, qmgr and smtp relaying to [127.0.6.2]:25 (relayhost:
  no DNS; mx asks the sandbox's Unbound, warm after the first message).
  Nothing of Postfix's durability is turned off (cleanup fsyncs each queue
  file before smtpd's 250), nor of mx's (a group commit before its 250).

Only 127.0.6.0/24 is used for new addresses.  Not a test.
"""
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MX = os.path.abspath(os.environ.get("MX_BIN", os.path.join(TOP, "build/src/mx")))
MX_ADDR, SINK_ADDR, PF_ADDR = "127.0.6.1", "127.0.6.2", "127.0.6.3"
RCPT = "bench@sink.smtpd-bench.test"
SENDER = "source@bench.test"


def enter(script):
    """Re-executes script inside the sandbox, then in a mount namespace."""
    if not os.environ.get("MX_SANDBOX"):
        os.execv(os.path.join(TOP, "tests/sandbox/sandbox"),
                 ["sandbox", "run", "--", sys.executable, script] + sys.argv[1:])
    if os.environ.get("MX_BENCH_NS") != "1":
        os.environ["MX_BENCH_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--", sys.executable, script] + sys.argv[1:])
    if os.environ.get("MX_SANDBOX_SMTP", "0") != "1" or not shutil.which("smtp-source"):
        sys.exit("needs the sandbox's SMTP tools and smtp-source (Debian postfix)")


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def wait_port(addr, port, proc=None, what="server", timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise SystemExit("%s exited %d" % (what, proc.returncode))
            time.sleep(0.05)
    raise SystemExit("%s did not listen on %s:%d" % (what, addr, port))


def proc_cpu(pid, children):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    ticks = int(v[11]) + int(v[12]) + (int(v[13]) + int(v[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def sh(*cmd):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True)


class Sink:
    """smtp-sink -c: its stdout's last "mesg=N" is what it has received."""

    def __init__(self, work):
        self.count = 0
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ["smtp-sink", "-c", "-u", "nobody", "%s:25" % SINK_ADDR, "1024"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "sink.err"), "w"),
            start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        wait_port(SINK_ADDR, 25, self.proc, "smtp-sink")

    def _read(self):
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            buf = (buf + chunk)[-256:]
            m = re.findall(rb"mesg=(\d+)", buf)
            if m:
                with self.cond:
                    self.count = int(m[-1])
                    self.cond.notify_all()

    def wait_for(self, n, timeout):
        """Blocks until the sink has n messages in all; its time or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.count < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
        return time.monotonic()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class World:
    def __init__(self, mx_args=(), postfix=True, nofile=None):
        self.work = tempfile.mkdtemp(prefix="mx-bench-smtpd.", dir="/var/tmp")
        os.chmod(self.work, 0o755)
        self.mx = self.pf = self.sink = None
        self.etc = False
        self.nofile = nofile
        try:
            self.sink = Sink(self.work)
            self.start_mx(mx_args)
            if postfix:
                self.start_postfix()
        except BaseException:
            self.stop()
            raise

    def start_mx(self, extra):
        spool = os.path.join(self.work, "spool")
        subprocess.run([MX, "queue", "list", "--spool", spool], capture_output=True)
        for d in ("queue", "tmp", "corrupt"):
            os.makedirs(os.path.join(spool, d), exist_ok=True)
        sh("chown", "-R", "nobody:nogroup", spool)
        self.mx_log = open(os.path.join(self.work, "mx.log"), "w")
        cmd = [MX, "daemon", "--resolver", os.environ["MX_SANDBOX_RESOLVER"],
               "--trust-anchor", os.environ["MX_SANDBOX_ANCHOR"], "--spool", spool,
               "--log", "stderr", "--hostname", "mx.smtpd-bench.test",
               "--listen", "%s:25" % MX_ADDR, "--user", "nobody"] + list(extra)
        nofile = self.nofile

        def limits():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.mx = subprocess.Popen(cmd, stdout=self.mx_log, stderr=self.mx_log,
                                   preexec_fn=limits, start_new_session=True)
        wait_port(MX_ADDR, 25, self.mx, "mx daemon")

    def start_postfix(self):
        w = self.work
        conf, q, data = w + "/pf", w + "/pfq", w + "/pfdata"
        for d in (conf, q, data, w + "/etc-up", w + "/etc-work"):
            os.mkdir(d)
        sh("chown", "postfix", data)
        sh("mount", "--make-rprivate", "/")
        sh("mount", "-t", "overlay", "overlay", "-o",
           "lowerdir=/etc,upperdir=%s/etc-up,workdir=%s/etc-work" % (w, w), "/etc")
        self.etc = True
        with open("/etc/postfix/main.cf", "w") as f:
            f.write("compatibility_level = 3.6\nalternate_config_directories = %s\n" % conf)
        with open(conf + "/main.cf", "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = %s
data_directory = %s
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.smtpd-bench.test
mydestination =
# master.cf binds smtpd to %s; "all" because Postfix checks that the
# addresses here are an interface's (lo has only 127.0.0.1)
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [%s]:25
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file = %s/postfix.log
""" % (q, data, PF_ADDR, SINK_ADDR, w))
        # Debian's master.cf, chroot off (the queue directory holds no /etc
        # copies), smtpd on the bench's address.
        out = []
        for line in open("/etc/postfix/master.cf"):
            f = line.split()
            if re.match(r"[a-z0-9]", line) and len(f) >= 8:
                if f[0] == "smtp" and f[1] == "inet":
                    f[0] = "%s:25" % PF_ADDR
                f[4] = "n"
                line = " ".join(f) + "\n"
            out.append(line)
        if not any(l.startswith("postlog") for l in out):
            out.append("postlog unix-dgram n - n - 1 postlogd\n")
        with open(conf + "/master.cf", "w") as f:
            f.writelines(out)
        self.pf = conf
        p = subprocess.run(["postfix", "-c", conf, "start"], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit("postfix start failed: " + p.stdout + p.stderr +
                             self.tail(w + "/postfix.log"))
        wait_port(PF_ADDR, 25, None, "Postfix smtpd")

    @staticmethod
    def tail(path):
        try:
            with open(path) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def rss_kb(self, field="VmRSS"):
        with open("/proc/%d/status" % self.mx.pid) as f:
            return int(re.search(r"^%s:\s+(\d+) kB" % field, f.read(), re.M).group(1))

    def pf_master(self):
        with open(self.work + "/pfq/pid/master.pid") as f:
            return int(f.read().split()[0])

    def cpu_s(self, server):
        """CPU seconds (user + system) used so far by a server's processes:
        mx daemon's one; Postfix's master, what it reaped (cutime) and the
        children alive now.  Nothing else runs in their sessions."""
        if server == "mx":
            return proc_cpu(self.mx.pid, False)
        master = self.pf_master()
        total = proc_cpu(master, True)
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != master:
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    if ppid == master:
                        total += proc_cpu(int(pid), False)
                except (OSError, ValueError):
                    pass
        return total

    def mx_sched(self):
        """mx daemon's (on-CPU, waiting-for-a-CPU) seconds so far."""
        with open("/proc/%d/schedstat" % self.mx.pid) as f:
            run, wait = f.read().split()[:2]
        return int(run) / 1e9, int(wait) / 1e9

    def mx_log_text(self):
        self.mx_log.flush()
        return self.tail(self.mx_log.name)

    def stop(self):
        if self.pf is not None:
            subprocess.run(["postfix", "-c", self.pf, "stop"], capture_output=True)
            self.pf = None
        if self.mx is not None and self.mx.poll() is None:
            self.mx.terminate()
            try:
                self.mx.wait(15)
            except subprocess.TimeoutExpired:
                self.mx.kill()
                self.mx.wait()
        if self.sink is not None:
            self.sink.stop()
        if self.etc:
            subprocess.run(["umount", "-l", "/etc"])
        if os.environ.get("MX_BENCH_KEEP"):
            print("kept", self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)
