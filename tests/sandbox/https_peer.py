#!/usr/bin/env python3
"""The sandbox's MTA-STS policy server (RFC 8461 3.3): HTTPS on one loopback
address, answering GET /.well-known/mta-sts.txt by the Host header from the
files in --dir, named after the host:

  HOSTNAME.txt        200, Content-Type text/plain, the file as it is
  HOSTNAME.html       200, Content-Type text/html, the file (a wrong type)
  HOSTNAME.redirect   301 to the URL the file holds (clients must not follow)
  HOSTNAME.size       200, text/plain, a policy padded with comment-free
                      "mx:" lines to the number of octets the file holds
                      (for the 64 KiB cap)
  HOSTNAME.once       200, text/plain, the file, to the first request only;
                      every later one is answered by hanging up (a policy
                      server that went away after the first fetch)

POST /v1/tlsrpt (TLS-RPT reports to an https: rua, RFC 8460 5.4) is kept
in --posts, when given, and answered 201.
Anything else (another path, an unknown host, another method) gets 404.
--dir may be given more than once: the first directory that has a host's
file serves it (the sandbox puts $MX_SANDBOX_DIR/mta-sts, which tests may
write, before the source tree's).  --listen may be an IPv6 address (::1).
The certificate (--cert/--key) is made by the sandbox with every HOSTNAME
of the source tree's mta-sts/ as a subjectAltName.  Every request is logged to stderr.

Standard library only; listens on one loopback address and nowhere else.
"""

import argparse
import http.server
import ipaddress
import os
import socket
import ssl
import sys
import threading

POLICY_PATH = "/.well-known/mta-sts.txt"


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "mxkit-sandbox-https"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("https_peer: %s %s\n" % (self.address_string(), fmt % args))

    def send(self, code, ctype, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def file_for(self, host, suffix):
        for d in self.server.policy_dirs:  # the first that has it
            path = os.path.join(d, host + suffix)
            if os.path.isfile(path):
                return path
        return None

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].strip().lower().rstrip(".")
        if self.path != POLICY_PATH or not host or "/" in host:
            return self.send(404, "text/plain", b"not found\n")
        f = self.file_for(host, ".txt")
        if f:
            return self.send(200, "text/plain", open(f, "rb").read())
        f = self.file_for(host, ".once")
        if f:
            with self.server.lock:
                first = host not in self.server.served
                self.server.served.add(host)
            if first:
                return self.send(200, "text/plain", open(f, "rb").read())
            self.close_connection = True
            return None
        f = self.file_for(host, ".html")
        if f:
            return self.send(200, "text/html", open(f, "rb").read())
        f = self.file_for(host, ".redirect")
        if f:
            target = open(f).read().strip()
            return self.send(301, "text/plain", b"moved\n", [("Location", target)])
        f = self.file_for(host, ".size")
        if f:
            size = int(open(f).read().strip())
            head = b"version: STSv1\nmode: testing\nmax_age: 86400\n"
            line = b"mx: padding.example\n"
            body = head + line * ((size - len(head)) // len(line) + 1)
            return self.send(200, "text/plain", body[:size])
        return self.send(404, "text/plain", b"no policy for this host\n")

    def do_POST(self):
        """TLS-RPT's https: rua (RFC 8460 5.4): POST /v1/tlsrpt with a body of
        at most 1 MiB is kept in --posts as HOST.N.body (its Content-Type in
        HOST.N.type), answered 201; anything else 404."""
        host = (self.headers.get("Host") or "").split(":")[0].strip().lower().rstrip(".")
        length = int(self.headers.get("Content-Length") or "0")
        if (self.path != "/v1/tlsrpt" or not host or "/" in host or not self.server.posts
                or not 0 < length <= 1 << 20):
            return self.send(404, "text/plain", b"not found\n")
        body = self.rfile.read(length)
        with self.server.lock:
            self.server.n_posts += 1
            base = os.path.join(self.server.posts, "%s.%d.%d" % (host, os.getpid(),
                                                                   self.server.n_posts))
        with open(base + ".type", "w") as f:
            f.write(self.headers.get("Content-Type") or "")
        with open(base + ".tmp", "wb") as f:
            f.write(body)
        os.rename(base + ".tmp", base + ".body")  # whole when it appears
        return self.send(201, "text/plain", b"report taken\n")

    def do_HEAD(self):
        self.send(404, "text/plain", b"")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--dir", required=True, action="append",
                    help="directory of HOSTNAME.{txt,html,redirect,size}; repeated: the "
                    "first that has a host's file serves it")
    ap.add_argument("--posts", help="directory that keeps POSTed TLS-RPT reports")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    if not ipaddress.ip_address(args.listen).is_loopback:
        sys.exit("https_peer: refusing to listen outside loopback: %s" % args.listen)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    Server.address_family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    srv = Server((args.listen, args.port), Handler)
    srv.policy_dirs = args.dir
    srv.posts = args.posts
    srv.n_posts = 0
    srv.served = set()
    srv.lock = threading.Lock()
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.serve_forever()


if __name__ == "__main__":
    main()
