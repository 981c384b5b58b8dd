#!/usr/bin/env python3
"""A small SMTP server for the mxkit sandbox: the peers smtp-sink cannot be.

smtp-sink (Postfix) plays the plain accepting and rejecting peers; this
server adds STARTTLS and hostile behaviour.  One mode per process:

  --starttls CERT KEY             offers STARTTLS (RFC 3207), handshakes with
                                  CERT/KEY, then accepts mail
  --no-starttls                   accepts mail, never offers STARTTLS
  --broken-tls CERT KEY           offers STARTTLS, answers it with 220 and then
                                  garbage instead of a handshake, and hangs up;
                                  a new connection without STARTTLS is served
  --inject-after-starttls CERT KEY
                                  like --starttls, but answers STARTTLS with
                                  "220 Ready to start TLS\\r\\n250 injected\\r\\n"
                                  in one segment: a client must discard the
                                  plaintext bytes after the 220 (CVE-2011-0411
                                  class) instead of reading them as the reply
                                  to its first command inside TLS
  --bad-replies KIND              a malformed reply to EHLO/HELO (KIND below);
                                  an EHLO/HELO argument "badreply-KIND" or
                                  "badreply-KIND.anything" picks another KIND
                                  for that session
  --early-replies KIND            accepts mail (no STARTTLS), but one reply
                                  comes with an extra reply in the same write,
                                  before the client sent the command it would
                                  answer (KIND below); a client must take the
                                  attempt as a temporary failure
  --slow-greeting SECONDS         waits before the 220 greeting; combines with
                                  any mode (alone: --no-starttls)

Bad-reply KINDs (README.md says what a client should conclude):
  mismatch   250-host / 550-... / 250 8BITMIME: codes differ inside one reply
  longline   "250-" and 1 MiB of "x" without CRLF, then silence
  barecode   legal minimal replies: "250" / "354" with no text at all
  barelf     every reply (greeting included) ends in LF, not CRLF
  shortcode  "25" (two digits) as the EHLO reply

Early-reply KINDs (RFC 5321 4.2, RFC 2920 3.1: a reply answers a command
already sent; only MAIL/RCPT/DATA may be pipelined):
  greeting   "220 ...\r\n250 2.0.0 unsolicited\r\n" as the greeting
  ehlo       the EHLO reply, then "250 2.0.0 unsolicited" (no PIPELINING)
  rcpt       two 250 replies to one RCPT (no PIPELINING)
  data       PIPELINING offered; DATA gets "354 ...\r\n250 2.0.0 Ok\r\n" and
             the body is read and thrown away, never stored

Accepting modes honour recipient prefixes: RCPT TO:<reject-...@...> gets
550 5.1.1, <defer-...@...> gets 450 4.2.1, everything else 250.

What the peer received goes to --dump DIR:
  msg.XXXXXXXX          one file per completed transaction (after the final
                        "."), in smtp-sink's -d format plus X-TLS, X-Peer and
                        X-Rcpt-Rejected headers; written under a temporary
                        name and renamed before the 250 reply is sent
  session.NNNN.log      one transcript per connection ("S: " / "C: " lines,
                        "-- " events); the last line starts with "-- end"

Standard library only.  Listens on one loopback address and nowhere else
(anything outside 127.0.0.0/8 and ::1 is refused).
"""

import argparse
import datetime
import email.utils
import ipaddress
import itertools
import os
import secrets
import socket
import socketserver
import ssl
import sys
import threading
import time

BAD_KINDS = ("mismatch", "longline", "barecode", "barelf", "shortcode")
EARLY_KINDS = ("greeting", "ehlo", "rcpt", "data")
UNSOLICITED = b"250 2.0.0 unsolicited: no command was sent for this reply\r\n"
IDLE_TIMEOUT = 60           # seconds without a command: 421 and close
MAX_COMMAND_LINE = 64 * 1024
MAX_MESSAGE = 20 * 1024 * 1024
ADVERTISED_SIZE = 10 * 1024 * 1024
LONGLINE_HOLD = 30          # seconds the longline peer waits for the client to give up


class Closed(Exception):
    """The session is over (client gone, timeout, or we hung up)."""


def printable(data, limit=300):
    """One transcript line: control bytes escaped, long lines shortened."""
    text = data[:limit].decode("latin-1").encode("unicode_escape").decode("ascii")
    if len(data) > limit:
        text += "... [%d bytes]" % len(data)
    return text


class Session:
    def __init__(self, sock, client, cfg, seq):
        self.sock = sock
        self.client = client
        self.cfg = cfg
        self.buf = bytearray()
        self.tls = None
        self.helo = None
        self.proto = None
        self.kind = cfg.bad
        self.eol = b"\n" if self.kind == "barelf" else b"\r\n"
        self.reset()
        os.makedirs(cfg.dump, exist_ok=True)  # a test may have removed it
        self.log = open(os.path.join(cfg.dump, "session.%04d.log" % seq), "w", buffering=1)

    def reset(self):
        self.mail = None
        self.rcpts = []
        self.rejected = []

    # --- I/O -----------------------------------------------------------------
    def note(self, text):
        self.log.write(text + "\n")

    def send_raw(self, data, shown=None):
        for line in (shown if shown is not None else data).split(b"\n"):
            if line:
                self.note("S: " + printable(line))
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed("send failed: %s" % e)

    def reply(self, *lines):
        """A normal reply: "code-text" lines, the last one "code text"."""
        out = b""
        for i, line in enumerate(lines):
            code, _, text = line.partition(" ")
            sep = " " if i == len(lines) - 1 else "-"
            out += (code + (sep + text if text or sep == "-" else "")).encode() + self.eol
        self.send_raw(out)

    def simple(self, code, text):
        """A one-line reply; the barecode peer leaves the text out."""
        if self.kind == "barecode":
            self.send_raw(code.encode() + self.eol)
        else:
            self.reply("%s %s" % (code, text))

    def readline(self, limit):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if len(self.buf) > limit:
                raise OverflowError
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError
            except (OSError, ssl.SSLError) as e:
                raise Closed("receive failed: %s" % e)
            if not data:
                raise Closed("client closed the connection")
            self.buf += data

    # --- the session ---------------------------------------------------------
    def run(self):
        self.note("# peer %s (%s), client %s:%d, %s" % (
            self.cfg.hostname, self.cfg.mode, self.client[0], self.client[1],
            datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")))
        end = "-- end"
        try:
            self.sock.settimeout(IDLE_TIMEOUT)
            if self.cfg.slow:
                self.note("-- waiting %g s before the greeting" % self.cfg.slow)
                time.sleep(self.cfg.slow)
            greeting = "220 %s ESMTP mxkit sandbox peer (%s)" % (self.cfg.hostname, self.cfg.mode)
            if self.cfg.early == "greeting":
                self.send_raw(greeting.encode() + b"\r\n" + UNSOLICITED)
            else:
                self.reply(greeting)
            self.loop()
            end = "-- end: server closed"
        except Closed as e:
            end = "-- end: %s" % e
        except Exception as e:  # a bug here must not kill the peer
            end = "-- end: internal error %r" % e
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.note(end)
            self.log.close()

    def loop(self):
        while True:
            try:
                raw = self.readline(MAX_COMMAND_LINE)
            except TimeoutError:
                self.reply("421 4.4.2 %s Error: timeout exceeded" % self.cfg.hostname)
                raise Closed("idle timeout")
            except OverflowError:
                self.note("C: " + printable(bytes(self.buf)))
                self.reply("500 5.5.0 Error: line too long")
                raise Closed("command line too long")
            self.note("C: " + printable(raw.rstrip(b"\r\n")))
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            handler = getattr(self, "cmd_" + verb, None) if verb.isalpha() else None
            if handler is None:
                self.reply("502 5.5.2 Error: command not recognized")
                continue
            if handler(arg.strip()) is False:
                return

    def hello_kind(self, arg):
        if self.cfg.bad is None:
            return
        label = arg.split(".", 1)[0].lower()
        if label.startswith("badreply-") and label[len("badreply-"):] in BAD_KINDS:
            self.kind = label[len("badreply-"):]
            self.note("-- bad-reply kind %s (chosen by the client's hello argument)" % self.kind)
            self.eol = b"\n" if self.kind == "barelf" else b"\r\n"

    def bad_hello_reply(self, esmtp):
        """Send the malformed hello reply; False: the session ends here."""
        host = self.cfg.hostname.encode()
        eol = self.eol
        if self.kind == "mismatch":
            self.send_raw(b"250-" + host + b"\r\n550-5.5.0 this line has another reply code\r\n"
                          b"250 8BITMIME\r\n")
        elif self.kind == "longline":
            self.note("S: 250-xxx... [1 MiB of x, no CRLF]")
            self.send_raw(b"250-" + b"x" * (1 << 20), shown=b"")
            self.note("-- holding the connection until the client gives up (%d s)" % LONGLINE_HOLD)
            self.sock.settimeout(LONGLINE_HOLD)
            try:
                while self.sock.recv(65536):
                    pass
            except socket.timeout:
                raise Closed("longline: client did not hang up within %d s" % LONGLINE_HOLD)
            except OSError:
                pass
            raise Closed("client closed the connection")
        elif self.kind == "barecode":
            if esmtp:
                self.send_raw(b"250-" + host + b"\r\n250-8BITMIME\r\n250\r\n")
            else:
                self.send_raw(b"250\r\n")
        elif self.kind == "barelf":
            if esmtp:
                self.send_raw(b"250-" + host + eol + b"250-8BITMIME" + eol + b"250 ENHANCEDSTATUSCODES" + eol)
            else:
                self.send_raw(b"250 " + host + eol)
        elif self.kind == "shortcode":
            self.send_raw(b"25\r\n")
        return True

    def cmd_EHLO(self, arg):
        return self.hello(arg, True)

    def cmd_HELO(self, arg):
        return self.hello(arg, False)

    def hello(self, arg, esmtp):
        if not arg:
            self.reply("501 5.5.4 Syntax: %s hostname" % ("EHLO" if esmtp else "HELO"))
            return True
        self.reset()
        self.hello_kind(arg)
        self.helo = arg
        self.proto = "ESMTP" if esmtp else "SMTP"
        if self.kind is not None:
            return self.bad_hello_reply(esmtp)
        if not esmtp:
            self.reply("250 %s" % self.cfg.hostname)
            return True
        ext = [self.cfg.hostname, "PIPELINING", "SIZE %d" % ADVERTISED_SIZE, "8BITMIME",
               "ENHANCEDSTATUSCODES"]
        if self.cfg.early in ("greeting", "ehlo", "rcpt"):
            # One command at a time, so the extra reply always arrives
            # together with the one the client waits for.
            ext.remove("PIPELINING")
        if self.cfg.ctx is not None and self.tls is None:
            ext.append("STARTTLS")
        if self.cfg.early == "ehlo":
            self.send_raw(b"".join(("250%s%s\r\n" % ("-" if i + 1 < len(ext) else " ", e)).encode()
                                   for i, e in enumerate(ext)) + UNSOLICITED)
            return True
        self.reply(*["250 " + e for e in ext])
        return True

    def cmd_STARTTLS(self, arg):
        if self.cfg.ctx is None:
            self.reply("502 5.5.1 Error: STARTTLS not offered here")
            return True
        if self.tls is not None:
            self.reply("554 5.5.1 Error: TLS already active")
            return True
        if arg:
            self.reply("501 5.5.4 Syntax: STARTTLS")
            return True
        if self.buf:
            # RFC 3207 4.2: nothing sent before the handshake counts.
            self.note("-- discarded %d plaintext bytes pipelined after STARTTLS: %s"
                      % (len(self.buf), printable(bytes(self.buf), 100)))
            self.buf.clear()
        if self.cfg.inject:
            self.send_raw(b"220 Ready to start TLS\r\n250 injected\r\n")
        else:
            self.reply("220 2.0.0 Ready to start TLS")
        if self.cfg.broken_tls:
            # A server whose TLS is broken: what follows is not a handshake.
            self.send_raw(b"this is not a TLS ServerHello\r\n")
            raise Closed("broken TLS on purpose")
        try:
            self.sock.settimeout(10)
            self.sock = self.cfg.ctx.wrap_socket(self.sock, server_side=True)
            self.sock.settimeout(IDLE_TIMEOUT)
        except (OSError, ssl.SSLError) as e:
            raise Closed("TLS handshake failed: %s" % e)
        self.tls = "%s %s" % (self.sock.version(), self.sock.cipher()[0])
        self.note("-- TLS established: %s" % self.tls)
        # RFC 3207 4.2: forget everything learnt before TLS.
        self.helo = None
        self.proto = None
        self.reset()
        return True

    def cmd_MAIL(self, arg):
        if self.helo is None:
            self.reply("503 5.5.1 Error: send HELO/EHLO first")
        elif self.mail is not None:
            self.reply("503 5.5.1 Error: nested MAIL command")
        elif not arg.upper().startswith("FROM:"):
            self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        else:
            self.mail = arg[5:].strip()
            self.simple("250", "2.1.0 Ok")
        return True

    def cmd_RCPT(self, arg):
        if self.mail is None:
            self.reply("503 5.5.1 Error: need MAIL command")
            return True
        if not arg.upper().startswith("TO:"):
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
            return True
        rcpt = arg[3:].strip()
        local = rcpt.split(">", 1)[0].lstrip("<").split("@", 1)[0].lower()
        if local.startswith("reject-"):
            self.rejected.append(rcpt + " 550")
            self.reply("550 5.1.1 %s: Recipient address rejected (sandbox: reject-*)" % rcpt.split(" ")[0])
        elif local.startswith("defer-"):
            self.rejected.append(rcpt + " 450")
            self.reply("450 4.2.1 %s: Recipient temporarily unavailable (sandbox: defer-*)" % rcpt.split(" ")[0])
        elif self.cfg.early == "rcpt":
            self.rcpts.append(rcpt)
            self.send_raw(b"250 2.1.5 Ok\r\n" + UNSOLICITED)
        else:
            self.rcpts.append(rcpt)
            self.simple("250", "2.1.5 Ok")
        return True

    def cmd_DATA(self, arg):
        if self.mail is None:
            self.reply("503 5.5.1 Error: need MAIL command")
            return True
        if not self.rcpts:
            self.reply("554 5.5.1 Error: no valid recipients")
            return True
        if self.cfg.early == "data":
            return self.early_data()
        self.simple("354", "End data with <CR><LF>.<CR><LF>")
        lines, size = [], 0
        while True:
            try:
                raw = self.readline(MAX_MESSAGE)
            except TimeoutError:
                self.reply("421 4.4.2 %s Error: timeout exceeded" % self.cfg.hostname)
                raise Closed("timeout during DATA")
            except OverflowError:
                self.reply("552 5.3.4 Error: message too big")
                raise Closed("message too big")
            if raw.endswith(b"\r\n"):
                raw = raw[:-2]
            else:
                raw = raw[:-1]
            if raw == b".":
                break
            if raw.startswith(b"."):
                raw = raw[1:]
            size += len(raw) + 2
            if size > MAX_MESSAGE:
                self.reply("552 5.3.4 Error: message too big")
                raise Closed("message too big")
            lines.append(raw)
        self.note("C: [message: %d lines, %d bytes]" % (len(lines), size))
        qid = self.store(lines)
        self.simple("250", "2.0.0 Ok: queued as %s" % qid)
        self.reset()
        return True

    def early_data(self):
        """354 and a 250 in one write; the body is thrown away unread."""
        self.send_raw(b"354 End data with <CR><LF>.<CR><LF>\r\n"
                      b"250 2.0.0 Ok: accepted before the body was read\r\n")
        self.note("-- discarding everything the client sends from here on")
        self.buf.clear()
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        raise Closed("client closed the connection")

    def store(self, lines):
        qid = secrets.token_hex(4)
        head = ["X-Client-Addr: %s" % self.client[0],
                "X-Client-Proto: %s" % self.proto,
                "X-Helo-Args: %s" % self.helo,
                "X-Mail-Args: %s" % self.mail]
        head += ["X-Rcpt-Args: %s" % r for r in self.rcpts]
        head += ["X-Rcpt-Rejected: %s" % r for r in self.rejected]
        head += ["X-TLS: %s" % (self.tls or "none"),
                 "X-Peer: %s (%s)" % (self.cfg.hostname, self.cfg.mode),
                 "Received: from %s ([%s])" % (self.helo, self.client[0]),
                 "\tby %s (smtp_peer.py) with %s%s id %s;" % (
                     self.cfg.hostname, self.proto, "S" if self.tls else "", qid),
                 "\t%s" % email.utils.formatdate(localtime=False, usegmt=False)]
        data = "\n".join(head).encode("utf-8", "replace") + b"\n"
        data += b"".join(l + b"\n" for l in lines) + b"\n"
        os.makedirs(self.cfg.dump, exist_ok=True)
        tmp = os.path.join(self.cfg.dump, ".msg.%s.tmp" % qid)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.cfg.dump, "msg." + qid))
        self.note("-- stored msg.%s" % qid)
        return qid

    def cmd_RSET(self, arg):
        self.reset()
        self.simple("250", "2.0.0 Ok")
        return True

    def cmd_NOOP(self, arg):
        self.simple("250", "2.0.0 Ok")
        return True

    def cmd_VRFY(self, arg):
        self.reply("252 2.0.0 Cannot VRFY user")
        return True

    def cmd_QUIT(self, arg):
        self.simple("221", "2.0.0 Bye")
        return False


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, cfg):
        self.address_family = socket.AF_INET6 if ":" in cfg.listen else socket.AF_INET
        self.cfg = cfg
        self.seq = itertools.count(1)
        self.lock = threading.Lock()
        super().__init__((cfg.listen, cfg.port), Handler)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        with self.server.lock:
            seq = next(self.server.seq)
        Session(self.request, self.client_address, self.server.cfg, seq).run()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", required=True, help="loopback address to listen on")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--dump", required=True, help="directory for msg.* and session.*.log")
    ap.add_argument("--hostname", default="smtp-peer.test", help="name in greeting and EHLO reply")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    mode.add_argument("--no-starttls", action="store_true")
    mode.add_argument("--inject-after-starttls", nargs=2, metavar=("CERT", "KEY"))
    mode.add_argument("--broken-tls", nargs=2, metavar=("CERT", "KEY"),
                      help="offers STARTTLS, then answers the handshake with garbage")
    mode.add_argument("--bad-replies", choices=BAD_KINDS, metavar="KIND",
                      help="one of: " + ", ".join(BAD_KINDS))
    mode.add_argument("--early-replies", choices=EARLY_KINDS, metavar="KIND",
                      help="one of: " + ", ".join(EARLY_KINDS))
    ap.add_argument("--slow-greeting", type=float, default=0.0, metavar="SECONDS")
    cfg = ap.parse_args()

    try:
        if not ipaddress.ip_address(cfg.listen).is_loopback:
            ap.error("--listen must be a loopback address, not %s" % cfg.listen)
    except ValueError:
        ap.error("--listen needs an IP address, not %r" % cfg.listen)
    if cfg.slow_greeting < 0:
        ap.error("--slow-greeting must not be negative")

    cfg.slow = cfg.slow_greeting
    cfg.bad = cfg.bad_replies
    cfg.early = cfg.early_replies
    cfg.inject = cfg.inject_after_starttls is not None
    cfg.ctx = None
    pair = cfg.starttls or cfg.inject_after_starttls or cfg.broken_tls
    if pair:
        cfg.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cfg.ctx.load_cert_chain(pair[0], pair[1])
    if cfg.starttls:
        cfg.mode = "starttls"
    elif cfg.inject:
        cfg.mode = "inject-after-starttls"
    elif cfg.broken_tls:
        cfg.mode = "broken-tls"
    elif cfg.bad:
        cfg.mode = "bad-replies " + cfg.bad
    elif cfg.early:
        cfg.mode = "early-replies " + cfg.early
    else:
        cfg.mode = "no-starttls"
    if cfg.slow:
        cfg.mode += ", slow greeting %g s" % cfg.slow
    os.makedirs(cfg.dump, exist_ok=True)

    srv = Server(cfg)
    print("smtp_peer: %s listening on %s port %d (%s), dumps in %s"
          % (cfg.hostname, cfg.listen, cfg.port, cfg.mode, cfg.dump), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
