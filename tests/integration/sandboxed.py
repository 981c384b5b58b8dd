"""What every integration test script shares: run only inside the sandbox.

Outside it a script skips (exit 77, which meson counts as skipped), unless
MX_REQUIRE_SANDBOX=1 (scripts/test and CI set it), when a missing sandbox
is a failure: a suite that silently tests nothing must not pass.

Also what the tests of `mx daemon --listen` share (test_smtpd.py,
test_lmtp.py, test_backup.py): a spool for a daemon that runs as nobody,
and the wait until the daemon listens.
"""
import os
import socket
import subprocess
import sys
import time
import unittest


def main(*required):
    """Runs the calling module's unittest cases if the variables are set."""
    if not all(os.environ.get(name) for name in required):
        if os.environ.get("MX_REQUIRE_SANDBOX") == "1":
            print("not in the sandbox (missing %s): run via tests/sandbox/sandbox run"
                  % ", ".join(n for n in required if not os.environ.get(n)), file=sys.stderr)
            return 1
        print("SKIP: not in the sandbox (tests/sandbox/sandbox run ...)")
        return 77
    result = unittest.main(module="__main__", argv=[sys.argv[0], "-v"], exit=False).result
    return 0 if result.wasSuccessful() else 1


def nobody_spool(mx, spool):
    """A spool made by mx (the program), with queue/, tmp/ and corrupt/,
    all of it nobody's: what the daemon can use once it runs as nobody."""
    subprocess.run([mx, "queue", "list", "--spool", spool], capture_output=True)
    for d in ("queue", "tmp", "corrupt"):
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    subprocess.run(["chown", "-R", "nobody:nogroup", spool], check=True)


def wait_listening(case, proc, host, port, seconds, log_text):
    """Polls until host:port takes a connection; case (a TestCase) fails
    with log_text() if proc, the daemon, exits first or the time is over."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                case.fail("daemon exited: " + log_text())
            time.sleep(0.05)
    case.fail("server did not listen: " + log_text())


def read_log(log):
    """All that was written to log, a file open for writing."""
    log.flush()
    with open(log.name) as f:
        return f.read()
