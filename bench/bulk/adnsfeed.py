#!/usr/bin/env python3
"""bench/bulk/adnsfeed.py - runs adnshost with at most K names in flight.

    adnsfeed.py --window K --input FILE --output FILE -- COMMAND...

COMMAND is adnshost in pipe mode (`adnshost --asynch ... -f`, possibly
wrapped in /usr/bin/time): this feeder writes the first K names of FILE to
its standard input, then one more name each time an answer's header line
comes back, and copies everything adnshost prints to the output file.
Standard library only.

Why: adnshost has no limit of its own.  Fed 100,000 names at once it sends
every query before reading a reply, the socket's receive buffer overflows,
and the lost replies cost adns retransmissions after its 2 s timer (3 % of
the names at 10,000, far more at 100,000).  A window is how anyone would
run it for a bulk job; run measures a few window sizes and reports the best.
"""
import argparse
import os
import re
import selectors
import subprocess
import sys

HEADER = re.compile(rb"^\d+ \d+ \S+ \d+ ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    names = open(args.input, "rb").read().splitlines()
    out = open(args.output, "wb")
    p = subprocess.Popen(args.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    os.set_blocking(p.stdin.fileno(), False)
    next_name = 0
    pending = b""      # bytes to write to adnshost
    answered = 0
    partial = b""
    stdin_open = True

    def queue(k):
        nonlocal next_name, pending
        k = min(k, len(names) - next_name)
        if k > 0:
            pending += b"".join(n + b"\n" for n in names[next_name:next_name + k])
            next_name += k

    queue(args.window)
    writing = False
    while True:
        if stdin_open:
            if pending and not writing:
                sel.register(p.stdin, selectors.EVENT_WRITE)
                writing = True
            elif not pending and next_name >= len(names):
                if writing:
                    sel.unregister(p.stdin)
                    writing = False
                p.stdin.close()   # all names sent: adnshost ends after the last answer
                stdin_open = False
        events = sel.select()
        for key, _ in events:
            if key.fileobj is p.stdout:
                data = os.read(p.stdout.fileno(), 1 << 16)
                if not data:
                    sel.unregister(p.stdout)
                    out.close()
                    rc = p.wait()
                    if answered != len(names):
                        print(f"adnsfeed: {answered} answers for {len(names)} names",
                              file=sys.stderr)
                    return rc
                out.write(data)
                lines = (partial + data).split(b"\n")
                partial = lines.pop()
                done = sum(1 for l in lines if HEADER.match(l))
                answered += done
                queue(done)
            elif pending:
                try:
                    n = os.write(p.stdin.fileno(), pending)
                except BlockingIOError:
                    n = 0
                pending = pending[n:]
                if not pending and writing:
                    sel.unregister(p.stdin)
                    writing = False


if __name__ == "__main__":
    sys.exit(main())
