#!/usr/bin/env python3
"""SMTP half of the sandbox self-test: talks to every SMTP peer the sandbox
runs and checks that it behaves as README.md ("SMTP peers") says.

Run by tests/sandbox/selftest inside the sandbox; prints "ok - " / "not ok - "
lines (details on "#   " lines) that the selftest counts.  Standard library
only: smtplib where a well-behaved client is wanted, raw sockets where the
exact bytes matter.
"""

import concurrent.futures
import glob
import http.client
import os
import re
import smtplib
import socket
import ssl
import sys
import time
import uuid

MAIL = os.environ["MX_SANDBOX_MAIL"]
CA = os.environ["MX_SANDBOX_CA"]
SLOW = float(os.environ.get("SLOW_GREETING", "5"))

P = {  # peer name -> address (zones/test.zone, zones/signed.test.zone)
    "accept1": "127.0.0.201", "accept2": "127.0.0.202", "rcpt4xx": "127.0.0.203",
    "mail5xx": "127.0.0.204", "greet554": "127.0.0.205", "dropdata": "127.0.0.206",
    "mail421": "127.0.0.207", "refused": "127.0.0.208", "rcpt5xx": "127.0.0.209",
    "data5xx": "127.0.0.210", "tls": "127.0.0.211", "notls": "127.0.0.212",
    "wrongcert": "127.0.0.213", "inject": "127.0.0.214", "slowgreet": "127.0.0.215",
    "badreply-mismatch": "127.0.0.216", "badreply-longline": "127.0.0.217",
    "badreply-barecode": "127.0.0.218", "badreply-barelf": "127.0.0.219",
    "badreply-shortcode": "127.0.0.220", "dane-ok": "127.0.0.221",
    "dane-bad": "127.0.0.222", "dane-notls": "127.0.0.223", "blackhole": "127.0.0.98",
    "expired": "127.0.0.225", "noesmtp": "127.0.0.226",
    "expiring": "127.0.0.200",
    "early-greeting": "127.0.0.227", "early-ehlo": "127.0.0.228", "early-rcpt": "127.0.0.229",
    "early-data": "127.0.0.230",
}
UNSOLICITED = b"250 2.0.0 unsolicited: no command was sent for this reply\r\n"
HTTPS = "127.0.0.231"  # https_peer.py, MTA-STS policies of mta-sts/
HELO = "selftest.client.test"


class Fail(Exception):
    pass


def expect(cond, *detail):
    if not cond:
        raise Fail(*detail)


def dumps(peer):
    return sorted(glob.glob(os.path.join(MAIL, peer, "msg.*")))


def no_dumps(peer, wait=1.0):
    """True once PEER's dump dir holds no msg.* file. smtp-sink opens a dump
    at the first RCPT (even a rejected one) and deletes it a few ms after an
    unfinished transaction ends, possibly after the client saw the reply."""
    deadline = time.monotonic() + wait
    while dumps(peer):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def find_dump(peer, token, wait=2.0):
    """The dump file of PEER that contains TOKEN (polls: a peer may still be
    writing when the client has its reply)."""
    deadline = time.monotonic() + wait
    while True:
        for f in dumps(peer):
            with open(f, "rb") as fh:
                data = fh.read()
            if token.encode() in data:
                return f, data.decode("utf-8", "replace")
        if time.monotonic() > deadline:
            return None, None
        time.sleep(0.02)


def message(token):
    return ("From: <selftest@client.test>\r\nTo: <someone@send.test>\r\n"
            "Subject: selftest %s\r\n\r\nbody of %s\r\n.a line that starts with a dot\r\n"
            % (token, token)).encode()


def stuffed(token):
    """The message, dot-stuffed and ended with ".", for Raw.cmd()."""
    return message(token).decode().replace("\r\n.", "\r\n..") + "."


class Raw:
    """A byte-exact SMTP client."""

    def __init__(self, addr, timeout=5):
        self.s = socket.create_connection((addr, 25), timeout=timeout)
        self.buf = b""

    def recv_some(self):
        data = self.s.recv(1 << 20)
        if not data:
            raise EOFError
        return data

    def reply(self):
        """Bytes of one complete reply (up to a line 'NNN ' or 'NNN\\r\\n')."""
        while True:
            m = re.search(rb"(^|\n)\d{3}( [^\n]*)?\r?\n", self.buf)
            if m:
                end = m.end()
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            self.buf += self.recv_some()

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.s.close()


def smtp(addr, **kw):
    return smtplib.SMTP(addr, 25, local_hostname=HELO, timeout=5, **kw)


# --- checks: each returns its description or raises Fail ---------------------

def check_accept(peer):
    def run():
        token = uuid.uuid4().hex
        with smtp(P[peer]) as s:
            s.sendmail("<selftest@client.test>", ["first@ok.send.test", "second@ok.send.test"],
                       message(token))
        f, data = find_dump(peer, token)
        expect(f, "no dump with the token in %s/%s" % (MAIL, peer))
        expect(re.fullmatch(r"msg\.[0-9a-f]{8}", os.path.basename(f)), "dump name %s" % f)
        for want in ["X-Mail-Args: <selftest@client.test>", "X-Rcpt-Args: <first@ok.send.test>",
                     "X-Rcpt-Args: <second@ok.send.test>", "X-Helo-Args: " + HELO,
                     "Subject: selftest " + token, "\n.a line that starts with a dot\n"]:
            expect(want in data, "dump %s lacks %r" % (f, want), data[:600])
        return "%s (%s): accepts mail, dumps it to mail/%s/msg.XXXXXXXX" % (peer, P[peer], peer)
    run.__name__ = "accept " + peer
    return run


def greeting_code(peer, code):
    def run():
        r = Raw(P[peer])
        try:
            g = r.reply()
        finally:
            r.close()
        expect(g.startswith(code.encode()), "greeting %r" % g)
        return "%s (%s): greeting %s" % (peer, P[peer], g.decode().strip())
    run.__name__ = "greeting of " + peer
    return run


def check_rcpt(peer, want):
    def run():
        with smtp(P[peer]) as s:
            s.ehlo()
            code, _ = s.mail("<selftest@client.test>")
            expect(code == 250, "MAIL got %d" % code)
            code, text = s.rcpt("<someone@%s.send.test>" % peer)
            expect(code == want, "RCPT got %d %s" % (code, text))
            code, _ = s.docmd("DATA")
            expect(code >= 500, "DATA without recipients got %d" % code)
        expect(no_dumps(peer), "a dump stayed", *dumps(peer))
        return "%s (%s): RCPT gets %d %s, nothing dumped" % (peer, P[peer], want, text.decode())
    run.__name__ = "RCPT at " + peer
    return run


def check_mail5xx():
    with smtp(P["mail5xx"]) as s:
        s.ehlo()
        code, text = s.mail("<selftest@client.test>")
        expect(code == 550, "MAIL got %d %s" % (code, text))
    return "mail5xx (%s): MAIL gets 550 %s" % (P["mail5xx"], text.decode())


def check_dropdata():
    s = smtp(P["dropdata"])
    s.ehlo()
    expect(s.mail("<selftest@client.test>")[0] == 250, "MAIL refused")
    expect(s.rcpt("<someone@dropdata.send.test>")[0] == 250, "RCPT refused")
    try:
        code, text = s.docmd("DATA")
        raise Fail("DATA got a reply: %d %s" % (code, text))
    except smtplib.SMTPServerDisconnected:
        pass
    finally:
        s.close()
    expect(no_dumps("dropdata"), "an unfinished dump stayed", *dumps("dropdata"))
    return "dropdata (%s): hangs up on DATA without a reply, nothing dumped" % P["dropdata"]


def check_mail421():
    r = Raw(P["mail421"])
    try:
        r.reply()
        r.cmd("EHLO " + HELO)
        rep = r.cmd("MAIL FROM:<selftest@client.test>")
        expect(rep.startswith(b"421 "), "MAIL got %r" % rep)
        try:
            extra = r.recv_some()
            raise Fail("connection still open after 421, got %r" % extra)
        except (EOFError, ConnectionResetError):
            pass
    finally:
        r.close()
    return "mail421 (%s): MAIL gets %s and the connection closes" % (P["mail421"], rep.decode().strip())


def check_data5xx():
    token = uuid.uuid4().hex
    with smtp(P["data5xx"]) as s:
        try:
            s.sendmail("<selftest@client.test>", ["someone@data5xx.send.test"], message(token))
            raise Fail("message accepted")
        except smtplib.SMTPDataError as e:
            expect(e.smtp_code == 554, "got %d %s" % (e.smtp_code, e.smtp_error))
            text = e.smtp_error.decode()
    f, _ = find_dump("data5xx", token)
    expect(f, "no dump of the rejected message (smtp-sink keeps what it received)")
    return "data5xx (%s): 554 %s after the final \".\"; received message dumped" % (P["data5xx"], text)


def check_refused():
    t = time.monotonic()
    try:
        socket.create_connection((P["refused"], 25), timeout=3).close()
        raise Fail("connected")
    except ConnectionRefusedError:
        pass
    took = time.monotonic() - t
    expect(took < 0.5, "took %.2f s" % took)
    return "refused (%s): connection refused at once (%.0f ms)" % (P["refused"], took * 1000)


def check_blackhole():
    t = time.monotonic()
    try:
        socket.create_connection((P["blackhole"], 25), timeout=2).close()
        raise Fail("connected")
    except socket.timeout:
        pass
    except OSError as e:
        raise Fail("failed after %.2f s instead of hanging: %s" % (time.monotonic() - t, e))
    return "blackhole (%s): TCP connect to port 25 hangs for 2 s" % P["blackhole"]


def tls_context(verify=True):
    if verify:
        return ssl.create_default_context(cafile=CA)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_tls():
    token = uuid.uuid4().hex
    with smtp(P["tls"]) as s:
        s.ehlo()
        expect(s.has_extn("starttls"), "no STARTTLS in %r" % s.ehlo_resp)
        s._host = "mx-tls.send.test"  # smtplib verifies against the name it connected to
        code, _ = s.starttls(context=tls_context())
        expect(code == 220, "STARTTLS got %d" % code)
        s.ehlo()
        expect(not s.has_extn("starttls"), "STARTTLS still offered inside TLS")
        cert = s.sock.getpeercert()
        s.sendmail("<selftest@client.test>", ["someone@tls.send.test"], message(token))
    f, data = find_dump("tls", token)
    expect(f, "no dump")
    expect(re.search(r"^X-TLS: TLSv1\.[23] ", data, re.M), "no X-TLS line", data[:600])
    expect(("DNS", "mx-tls.send.test") in cert.get("subjectAltName", ()), "SAN %r" % cert)
    return ("tls (%s): STARTTLS; certificate verifies against $MX_SANDBOX_CA for "
            "mx-tls.send.test; mail dumped with X-TLS" % P["tls"])


def check_tls_wrong_name():
    s = smtp(P["tls"])
    try:
        s.ehlo()
        s._host = "mx-notls.send.test"
        try:
            s.starttls(context=tls_context())
            raise Fail("verified for a name not in the certificate")
        except ssl.SSLCertVerificationError as e:
            expect("mismatch" in str(e) or "match" in str(e), str(e))
    finally:
        s.close()
    return "tls: the same certificate does not verify for another host name"


def check_wrongcert():
    s = smtp(P["wrongcert"])
    try:
        s.ehlo()
        expect(s.has_extn("starttls"), "no STARTTLS")
        s._host = "mx-wrongcert.send.test"
        try:
            s.starttls(context=tls_context())
            raise Fail("the wrong certificate verified")
        except ssl.SSLCertVerificationError as e:
            reason = e.verify_message
    finally:
        s.close()
    with smtp(P["wrongcert"]) as s:
        s.ehlo()
        s.starttls(context=tls_context(verify=False))
        der = s.sock.getpeercert(binary_form=True)
        s.ehlo()
        token = uuid.uuid4().hex
        s.sendmail("<selftest@client.test>", ["someone@wrongcert.send.test"], message(token))
    pem = ssl.DER_cert_to_PEM_cert(der)
    with open(os.path.join(os.path.dirname(CA), "wrong.pem")) as f:
        want = ssl.PEM_cert_to_DER_cert(f.read())
    expect(der == want, "served certificate is not tls/wrong.pem", pem)
    expect(find_dump("wrongcert", token)[0], "no dump of the unverified delivery")
    return ("wrongcert (%s): serves tls/wrong.pem, which fails verification (%s); "
            "unverified TLS delivers" % (P["wrongcert"], reason))


def check_notls():
    token = uuid.uuid4().hex
    with smtp(P["notls"]) as s:
        s.ehlo()
        expect(not s.has_extn("starttls"), "STARTTLS offered")
        code, _ = s.docmd("STARTTLS")
        expect(code == 502, "STARTTLS got %d" % code)
        s.mail("<selftest@client.test>")
        codes = [s.rcpt(r)[0] for r in ["<ok@notls.send.test>", "<reject-me@notls.send.test>",
                                        "<defer-me@notls.send.test>"]]
        expect(codes == [250, 550, 450], "RCPT codes %r" % codes)
        code, _ = s.data(message(token))
        expect(code == 250, "DATA got %d" % code)
    f, data = find_dump("notls", token)
    expect(f, "no dump")
    for want in ["X-TLS: none", "X-Rcpt-Args: <ok@notls.send.test>",
                 "X-Rcpt-Rejected: <reject-me@notls.send.test> 550",
                 "X-Rcpt-Rejected: <defer-me@notls.send.test> 450"]:
        expect(want in data, "dump lacks %r" % want, data[:600])
    logs = sorted(glob.glob(os.path.join(MAIL, "notls", "session.*.log")))
    expect(logs, "no session log")
    deadline = time.monotonic() + 2
    while True:
        with open(logs[-1]) as fh:
            last = fh.read().splitlines()[-1]
        if last.startswith("-- end") or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    expect(last.startswith("-- end"), "session log %s ends with %r" % (logs[-1], last))
    return ("notls (%s): no STARTTLS (502); reject-* 550, defer-* 450, others 250; "
            "dump and session log written" % P["notls"])


def check_inject():
    r = Raw(P["inject"])
    try:
        r.reply()
        ehlo = r.cmd("EHLO " + HELO)
        expect(b"STARTTLS" in ehlo, "no STARTTLS in %r" % ehlo)
        r.s.sendall(b"STARTTLS\r\n")
        first = r.recv_some()
        expect(first == b"220 Ready to start TLS\r\n250 injected\r\n",
               "first segment after STARTTLS: %r" % first)
        ctx = tls_context()
        r.s = ctx.wrap_socket(r.s, server_hostname="mx-tls.send.test")
        r.buf = b""  # what a correct client does: forget the plaintext extra
        ehlo2 = r.cmd("EHLO " + HELO)
        expect(ehlo2.startswith(b"250-mx-inject.send.test\r\n"), "EHLO inside TLS: %r" % ehlo2)
        token = uuid.uuid4().hex
        expect(r.cmd("MAIL FROM:<selftest@client.test>").startswith(b"250 "), "MAIL")
        expect(r.cmd("RCPT TO:<someone@inject.send.test>").startswith(b"250 "), "RCPT")
        expect(r.cmd("DATA").startswith(b"354 "), "DATA")
        end = r.cmd(stuffed(token))
        expect(end.startswith(b"250 "), "end of data: %r" % end)
        r.cmd("QUIT")
    finally:
        r.close()
    expect(find_dump("inject", token)[0], "no dump")
    return ("inject (%s): STARTTLS answered with \"220 ...\\r\\n250 injected\\r\\n\" in one "
            "segment; TLS then works and mail is dumped" % P["inject"])


def check_slowgreet():
    t = time.monotonic()
    s = socket.create_connection((P["slowgreet"], 25), timeout=1)
    try:
        try:
            data = s.recv(100)
            raise Fail("greeting after %.2f s: %r" % (time.monotonic() - t, data))
        except socket.timeout:
            pass
        s.settimeout(SLOW + 2)
        data = s.recv(100)
        took = time.monotonic() - t
    finally:
        s.close()
    expect(data.startswith(b"220 "), "greeting %r" % data)
    expect(SLOW - 0.5 <= took <= SLOW + 1.5, "greeting after %.2f s" % took)
    return "slowgreet (%s): 220 greeting after %.1f s" % (P["slowgreet"], took)


def ehlo_bytes(peer, helo=HELO, greeting_eol=b"\r\n"):
    r = Raw(P[peer])
    try:
        g = r.reply()
        expect(g.endswith(greeting_eol) and g.startswith(b"220 "), "greeting %r" % g)
        return r, r.cmd("EHLO " + helo)
    except Exception:
        r.close()
        raise


def check_mismatch():
    r, rep = ehlo_bytes("badreply-mismatch")
    r.close()
    want = (b"250-mx-badreply-mismatch.send.test\r\n550-5.5.0 this line has another reply code\r\n"
            b"250 8BITMIME\r\n")
    expect(rep == want, "EHLO reply %r" % rep)
    return "badreply-mismatch (%s): EHLO reply 250-/550-/250" % P["badreply-mismatch"]


def check_longline():
    r = Raw(P["badreply-longline"])
    try:
        r.reply()
        r.s.sendall(("EHLO %s\r\n" % HELO).encode())
        got = b""
        while len(got) < 4 + (1 << 20):
            got += r.recv_some()
        expect(got == b"250-" + b"x" * (1 << 20), "%d bytes, starting %r" % (len(got), got[:20]))
        r.s.settimeout(0.3)
        try:
            more = r.s.recv(10)
            raise Fail("peer sent more: %r" % more)
        except socket.timeout:
            pass
    finally:
        r.close()
    return "badreply-longline (%s): EHLO reply is 250- and 1 MiB without CRLF, then silence" % P["badreply-longline"]


def check_barecode():
    r, rep = ehlo_bytes("badreply-barecode")
    try:
        expect(rep == b"250-mx-badreply-barecode.send.test\r\n250-8BITMIME\r\n250\r\n", "EHLO %r" % rep)
        token = uuid.uuid4().hex
        got = [r.cmd("MAIL FROM:<selftest@client.test>"), r.cmd("RCPT TO:<x@badreply-barecode.send.test>"),
               r.cmd("DATA"), r.cmd(stuffed(token)), r.cmd("QUIT")]
        expect(got == [b"250\r\n", b"250\r\n", b"354\r\n", b"250\r\n", b"221\r\n"], "replies %r" % got)
    finally:
        r.close()
    expect(find_dump("badreply-barecode", token)[0], "no dump")
    return "badreply-barecode (%s): legal text-less replies (250, 354); mail dumped" % P["badreply-barecode"]


def check_barelf():
    r, rep = ehlo_bytes("badreply-barelf", greeting_eol=b"\n")
    try:
        expect(b"\r" not in rep and rep.endswith(b"\n") and rep.startswith(b"250-"), "EHLO %r" % rep)
        mail = r.cmd("MAIL FROM:<selftest@client.test>")
        expect(mail == b"250 2.1.0 Ok\n", "MAIL %r" % mail)
    finally:
        r.close()
    return "badreply-barelf (%s): greeting and replies end in bare LF" % P["badreply-barelf"]


def check_shortcode():
    r = Raw(P["badreply-shortcode"])
    try:
        r.reply()
        r.s.sendall(("EHLO %s\r\n" % HELO).encode())
        r.s.settimeout(2)
        got = b""
        while not got.endswith(b"\n"):
            got += r.recv_some()
    finally:
        r.close()
    expect(got == b"25\r\n", "EHLO reply %r" % got)
    return "badreply-shortcode (%s): EHLO reply \"25\"" % P["badreply-shortcode"]


def check_kind_by_helo():
    r = Raw(P["badreply-mismatch"])
    try:
        r.reply()
        r.s.sendall(b"EHLO badreply-shortcode.client.test\r\n")
        r.s.settimeout(2)
        got = b""
        while not got.endswith(b"\n"):
            got += r.recv_some()
    finally:
        r.close()
    expect(got == b"25\r\n", "EHLO reply %r" % got)
    return "bad-reply kind chosen by the EHLO argument (badreply-shortcode.*)"


def take(r, want):
    """Reads until as many bytes as want have come (or 2 s passed)."""
    r.s.settimeout(2)
    got = r.buf
    try:
        while len(got) < len(want):
            got += r.recv_some()
    except (socket.timeout, EOFError):
        pass
    r.buf = b""
    return got


def check_early(kind):
    def run():
        peer = "early-" + kind
        host = ("mx-%s.send.test" % peer).encode()
        r = Raw(P[peer])
        try:
            greeting = b"220 " + host + b" ESMTP mxkit sandbox peer (early-replies " + kind.encode() + b")\r\n"
            if kind == "greeting":
                got = take(r, greeting + UNSOLICITED)
                expect(got == greeting + UNSOLICITED, "greeting %r" % got)
                return "%s (%s): greeting and an unsolicited 250 in one write" % (peer, P[peer])
            expect(r.reply() == greeting, "greeting")
            r.s.sendall(("EHLO %s\r\n" % HELO).encode())
            ehlo = (b"250-" + host + b"\r\n" + (b"250-PIPELINING\r\n" if kind == "data" else b"") +
                    b"250-SIZE 10485760\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
            if kind == "ehlo":
                got = take(r, ehlo + UNSOLICITED)
                expect(got == ehlo + UNSOLICITED, "EHLO %r" % got)
                return "%s (%s): EHLO reply and an unsolicited 250 in one write" % (peer, P[peer])
            got = take(r, ehlo)
            expect(got == ehlo, "EHLO %r" % got)
            mail = r.cmd("MAIL FROM:<selftest@client.test>")
            expect(mail == b"250 2.1.0 Ok\r\n", "MAIL %r" % mail)
            r.s.sendall(b"RCPT TO:<x@%s.send.test>\r\n" % peer.encode())
            if kind == "rcpt":
                got = take(r, b"250 2.1.5 Ok\r\n" + UNSOLICITED)
                expect(got == b"250 2.1.5 Ok\r\n" + UNSOLICITED, "RCPT %r" % got)
                return "%s (%s): two replies to one RCPT in one write" % (peer, P[peer])
            expect(r.reply() == b"250 2.1.5 Ok\r\n", "RCPT")
            r.s.sendall(b"DATA\r\n")
            want = (b"354 End data with <CR><LF>.<CR><LF>\r\n"
                    b"250 2.0.0 Ok: accepted before the body was read\r\n")
            got = take(r, want)
            expect(got == want, "DATA %r" % got)
            token = uuid.uuid4().hex
            r.s.sendall(stuffed(token).encode() + b"\r\n")
        finally:
            r.close()
        expect(find_dump(peer, token, wait=0.5)[0] is None, "a message was stored")
        return "%s (%s): 354 and 250 in one write to DATA, nothing stored" % (peer, P[peer])
    run.__name__ = "early-" + kind
    return run


def check_expired():
    s = smtp(P["expired"])
    try:
        s.ehlo()
        expect(s.has_extn("starttls"), "no STARTTLS")
        s._host = "mx-expired.send.test"
        try:
            s.starttls(context=tls_context())
            raise Fail("the expired certificate verified")
        except ssl.SSLCertVerificationError as e:
            expect(e.verify_code == 10, "not 'expired' (10): %d %s" % (e.verify_code, e.verify_message))
    finally:
        s.close()
    with smtp(P["expired"]) as s:
        s.ehlo()
        s.starttls(context=tls_context(verify=False))
        der = s.sock.getpeercert(binary_form=True)
    with open(os.path.join(os.path.dirname(CA), "expired.pem")) as f:
        want = ssl.PEM_cert_to_DER_cert(f.read())
    expect(der == want, "served certificate is not tls/expired.pem")
    return ("expired (%s): serves tls/expired.pem (test CA, right name), which fails "
            "verification only as expired" % P["expired"])


def check_expiring():
    s = smtp(P["expiring"])
    try:
        s.ehlo()
        s._host = "mx-expiring.check.test"
        s.starttls(context=tls_context())  # verifies: its one trait is the date
        cert = s.sock.getpeercert()
    finally:
        s.close()
    left = (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400
    expect(4 < left < 6, "expires in %.1f days, not about 5" % left)
    return "expiring (%s): verifies with the test CA, expires in %.1f days" % (P["expiring"], left)


def check_noesmtp():
    with smtp(P["noesmtp"]) as s:
        code, _ = s.ehlo()
        expect(code == 500, "EHLO got %d, not 500" % code)
        code, _ = s.helo()
        expect(code == 250, "HELO got %d" % code)
    return "noesmtp (%s): 500 to EHLO (no ESMTP), 250 to HELO" % P["noesmtp"]


def https_get(host, path="/.well-known/mta-sts.txt", verify=True):
    ctx = tls_context(verify)
    conn = http.client.HTTPSConnection(HTTPS, 443, timeout=5, context=ctx)
    try:
        # TLS name checks follow the Host, not the address connected to
        conn._tunnel_host = None
        sock = socket.create_connection((HTTPS, 443), timeout=5)
        conn.sock = ctx.wrap_socket(sock, server_hostname=host)
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.getheader("Location"), r.read()
    finally:
        conn.close()


def check_https():
    status, ctype, _, body = https_get("mta-sts.probe-ok.test")
    expect(status == 200 and ctype == "text/plain", "probe-ok: %s %s" % (status, ctype))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mta-sts",
                           "mta-sts.probe-ok.test.txt"), "rb") as f:
        expect(body == f.read(), "probe-ok: body is not the file")
    status, _, _, _ = https_get("mta-sts.probe-ok.test", "/other")
    expect(status == 404, "another path: %s" % status)
    status, _, loc, _ = https_get("mta-sts.probe-redirect.test")
    expect(status == 301 and loc.startswith("https://"), "redirect: %s %s" % (status, loc))
    status, ctype, _, _ = https_get("mta-sts.probe-html.test")
    expect(status == 200 and ctype == "text/html", "html: %s %s" % (status, ctype))
    status, _, _, body = https_get("mta-sts.probe-big.test")
    expect(status == 200 and len(body) == 70000, "big: %s %d octets" % (status, len(body)))
    try:
        https_get("mta-sts.not-in-cert.test")
        raise Fail("a name outside the certificate verified")
    except ssl.SSLCertVerificationError:
        pass
    return ("https (%s:443): MTA-STS policies by Host from mta-sts/ (.txt, .html, .redirect, "
            ".size), 404 elsewhere; certificate from the test CA for those names only" % HTTPS)


def check_dane_peer(peer, starttls):
    def run():
        with smtp(P[peer]) as s:
            s.ehlo()
            expect(s.has_extn("starttls") == starttls, "STARTTLS offered: %s" % s.has_extn("starttls"))
        return "%s (%s): %s" % (peer, P[peer], "offers STARTTLS" if starttls else "no STARTTLS")
    run.__name__ = "EHLO at " + peer
    return run


def main():
    slow = [check_slowgreet, check_blackhole]
    fast = [check_accept("accept1"), check_accept("accept2"),
            greeting_code("greet554", "554 5.3.2"), greeting_code("accept1", "220 mx-accept1.send.test"),
            check_rcpt("rcpt4xx", 450), check_mail5xx, check_dropdata, check_mail421,
            check_rcpt("rcpt5xx", 550), check_data5xx, check_refused,
            check_tls, check_tls_wrong_name, check_wrongcert, check_notls, check_inject,
            check_mismatch, check_longline, check_barecode, check_barelf, check_shortcode,
            check_kind_by_helo, check_early("greeting"), check_early("ehlo"), check_early("rcpt"),
            check_early("data"), check_dane_peer("dane-ok", True), check_dane_peer("dane-bad", True),
            check_dane_peer("dane-notls", False), check_expired, check_expiring, check_noesmtp, check_https]
    with concurrent.futures.ThreadPoolExecutor(len(slow)) as pool:
        futures = [(f, pool.submit(f)) for f in slow]
        results = [(f, None) for f in fast] + futures
        for f, fut in results:
            name = getattr(f, "__name__", "?")
            try:
                desc = fut.result() if fut else f()
                print("ok - smtp: " + desc, flush=True)
            except Fail as e:
                print("not ok - smtp: %s" % name)
                for line in e.args:
                    for l in str(line).splitlines()[:12]:
                        print("#   " + l)
            except Exception as e:
                print("not ok - smtp: %s\n#   %r" % (name, e), flush=True)
    # Failures are reported as "not ok" lines; a non-zero status means this
    # script itself broke.
    return 0


if __name__ == "__main__":
    sys.exit(main())
