/*
 * stub_io.c - the stub transport's sockets, handed to c-ares through
 * ares_set_socket_functions: UDP queries are queued and sent together
 * once the loop has nothing else to run (as one segmented send when they
 * are of one size, else with sendmmsg), replies are read with recvmmsg
 * and handed to c-ares one at a time.  TCP goes straight through.
 *
 * Why by hand: c-ares 1.18 makes one system call per query and one per
 * reply (plus one that finds nothing), and on the bulk path those calls
 * are a third of all CPU.  c-ares has no batching of its own; its socket
 * functions are the documented way to bring one's own I/O.  sendmmsg
 * still costs the kernel a whole send path per query; with UDP_SEGMENT
 * (Linux 4.18, "UDP GSO") a batch of queries of one size (stub.c pads
 * them to 128 bytes) is one send, cut into datagrams on the way: on the
 * bulk benchmark a fifth less CPU in all.
 *
 * What c-ares sees stays what a socket would do: a queued query counts
 * as sent; a send that later fails with anything but "try again" is
 * reported by the socket's next read (as a connected UDP socket reports
 * an ICMP error), which c-ares handles as a failed server; a full send
 * buffer waits for the socket to become writable.
 *
 * Owns: one struct io_sock (with its batches) per socket c-ares opened,
 * and the event that flushes queued queries.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stub_io.h"

#define IO_BATCH    32   /* packets per sendmmsg / recvmmsg */
#define IO_GSO_MAX  64   /* the kernel's UDP_MAX_SEGMENTS: 64 since UDP_SEGMENT came */
#define IO_IN_SLOT  4097 /* c-ares reads UDP into MAXENDSSZ + 1 bytes */
#define IO_OUT_SLOT 512  /* our queries are at most 384 bytes (padded, stub.c) */

_Static_assert(IO_BATCH <= IO_GSO_MAX, "a batch fits in one segmented send");

struct io_sock {
	struct io_sock *next;
	struct stub_io *io;
	int fd;
	bool dgram;
	int error;              /* a failed send, for the next read */
	bool gso;               /* segmented sends work on this socket */
	struct event *writable; /* waiting for room to send; lazily made */
	/* Replies read and not yet handed to c-ares: [in_next, in_count). */
	unsigned in_next, in_count;
	struct mmsghdr in[IO_BATCH];
	struct iovec in_iov[IO_BATCH];
	struct sockaddr_storage in_from[IO_BATCH];
	uint8_t in_buf[IO_BATCH][IO_IN_SLOT];
	/* Queries queued and not yet sent: [out_next, out_count). */
	unsigned out_next, out_count;
	struct mmsghdr out[IO_BATCH];
	struct iovec out_iov[IO_BATCH];
	uint8_t out_buf[IO_BATCH][IO_OUT_SLOT];
};

struct stub_io {
	struct event_base *base;
	ares_channel channel;
	int rcvbuf;
	struct io_sock *socks;
	struct io_sock *spare; /* the last one closed, kept for the next */
	struct event *flush;   /* active while some socket has queued queries */
	bool flush_active;
	void (*processed)(void *); /* after c-ares was made to read a socket */
	void *processed_arg;
};

static struct io_sock *
find(struct stub_io *io, int fd)
{
	for (struct io_sock *s = io->socks; s != NULL; s = s->next)
		if (s->fd == fd)
			return s;
	return NULL;
}

static bool
try_again(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR;
}

/* ---- sending ------------------------------------------------------------ */

static void on_writable(evutil_socket_t fd, short what, void *arg);

/* Moves the queries still queued to the front of the batch. */
static void
compact(struct io_sock *s)
{
	unsigned n = s->out_count - s->out_next;

	for (unsigned i = 0; i < n; i++) {
		size_t len = s->out_iov[s->out_next + i].iov_len;
		memmove(s->out_buf[i], s->out_buf[s->out_next + i], len);
		s->out_iov[i] = (struct iovec){ s->out_buf[i], len };
		s->out[i] =
		    (struct mmsghdr){ .msg_hdr = { .msg_iov = &s->out_iov[i], .msg_iovlen = 1 } };
	}
	s->out_next = 0;
	s->out_count = n;
}

/* Whether the n queued queries can go as one segmented send: all of the
 * first one's size, the last one no longer. */
static bool
one_size(const struct io_sock *s, unsigned n, size_t *size)
{
	const struct iovec *v = &s->out_iov[s->out_next];

	*size = v[0].iov_len;
	for (unsigned i = 1; i + 1 < n; i++)
		if (v[i].iov_len != *size)
			return false;
	return n > 1 && v[n - 1].iov_len <= *size;
}

/*
 * The n queued queries as one datagram stream that the kernel cuts every
 * size bytes (UDP_SEGMENT).  All go or none: the count, or -1 and errno.
 * Errors that say the kernel or the route cannot segment (no checksum
 * offload: EIO; an old kernel: EINVAL, ENOPROTOOPT) also turn it off for
 * the socket, and the caller sends with sendmmsg; the others are the
 * socket's (a refused or forbidden destination) and count as sendmmsg's
 * would.
 */
static int
send_segmented(struct io_sock *s, unsigned n, size_t size)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl = { 0 };
	struct msghdr m = { .msg_iov = &s->out_iov[s->out_next],
		.msg_iovlen = n,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	uint16_t segment = (uint16_t)size;

	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(segment));
	memcpy(CMSG_DATA(c), &segment, sizeof(segment));
	if (sendmsg(s->fd, &m, MSG_DONTWAIT) >= 0)
		return (int)n;
	if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)
		s->gso = false;
	return -1;
}

/* Sends from out_next on: the count sent, or -1 and errno. */
static int
send_batch(struct io_sock *s)
{
	unsigned n = s->out_count - s->out_next;
	size_t size;

	if (s->gso && one_size(s, n, &size)) {
		int sent = send_segmented(s, n, size);
		if (sent >= 0 || s->gso)
			return sent;
	}
	return sendmmsg(s->fd, &s->out[s->out_next], n, MSG_DONTWAIT);
}

/*
 * Sends what is queued.  Returns false when the socket's buffer is full
 * and the rest waits for it to drain.
 */
static bool
flush_sock(struct io_sock *s)
{
	while (s->out_next < s->out_count) {
		int n = send_batch(s);
		if (n < 0 && try_again(errno)) {
			if (s->writable == NULL &&
			    (s->writable = event_new(
				 s->io->base, s->fd, EV_WRITE, on_writable, s)) == NULL) {
				s->error = ENOMEM;
				break;
			}
			event_add(s->writable, NULL);
			compact(s);
			return false;
		}
		if (n <= 0) {
			/* c-ares hears of it from the socket's next read. */
			if (s->error == 0)
				s->error = n < 0 ? errno : EIO;
			break;
		}
		s->out_next += (unsigned)n;
	}
	s->out_next = s->out_count = 0;
	return true;
}

/*
 * A failed send must reach c-ares, which only learns of socket errors by
 * reading: let it read the socket now (never from inside c-ares).
 */
static void
report_errors(struct stub_io *io)
{
	struct io_sock *s = io->socks;

	while (s != NULL) {
		int fd = s->fd;
		if (s->error == 0) {
			s = s->next;
			continue;
		}
		ares_process_fd(io->channel, fd, ARES_SOCKET_BAD);
		io->processed(io->processed_arg);
		/* c-ares may have closed sockets, this one among them; one it
		 * did not read (a server it gave up on) keeps no error. */
		if ((s = find(io, fd)) != NULL)
			s->error = 0;
		s = io->socks;
	}
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct stub_io *io = arg;

	(void)fd;
	(void)what;
	io->flush_active = false;
	for (struct io_sock *s = io->socks; s != NULL; s = s->next)
		if (s->out_count > 0 &&
		    (s->writable == NULL || !event_pending(s->writable, EV_WRITE, NULL)))
			flush_sock(s);
	report_errors(io);
}

static void
schedule_flush(struct stub_io *io)
{
	if (io->flush_active)
		return;
	io->flush_active = true;
	event_active(io->flush, EV_TIMEOUT, 0);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct io_sock *s = arg;

	(void)fd;
	(void)what;
	if (flush_sock(s) && s->error != 0)
		schedule_flush(s->io);
}

static ares_ssize_t
queue_packet(struct io_sock *s, const struct iovec *vec, int len)
{
	size_t total = 0;
	unsigned slot;
	uint8_t *p;

	for (int i = 0; i < len; i++)
		total += vec[i].iov_len;
	if (total > IO_OUT_SLOT) {
		errno = EMSGSIZE;
		return -1;
	}
	if (s->out_count == IO_BATCH)
		flush_sock(s);
	if (s->out_count == IO_BATCH) {
		errno = EAGAIN; /* c-ares fails this server over: as a full socket does */
		return -1;
	}
	slot = s->out_count++;
	p = s->out_buf[slot];
	for (int i = 0; i < len; i++) {
		memcpy(p, vec[i].iov_base, vec[i].iov_len);
		p += vec[i].iov_len;
	}
	s->out_iov[slot] = (struct iovec){ s->out_buf[slot], total };
	s->out[slot] =
	    (struct mmsghdr){ .msg_hdr = { .msg_iov = &s->out_iov[slot], .msg_iovlen = 1 } };
	schedule_flush(s->io);
	return (ares_ssize_t)total;
}

static ares_ssize_t
io_sendv(ares_socket_t fd, const struct iovec *vec, int len, void *arg)
{
	struct io_sock *s = find(arg, fd);
	struct msghdr m = { .msg_iov = (struct iovec *)vec, .msg_iovlen = (size_t)len };

	if (s != NULL && s->dgram)
		return queue_packet(s, vec, len);
	/* TCP: a peer that reset the connection must not raise SIGPIPE (c-ares
	 * itself sends with MSG_NOSIGNAL); c-ares sees EPIPE and moves on. */
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}

/* ---- receiving ---------------------------------------------------------- */

static bool
fill(struct io_sock *s)
{
	int n;

	for (unsigned i = 0; i < IO_BATCH; i++) {
		s->in_iov[i] = (struct iovec){ s->in_buf[i], IO_IN_SLOT };
		s->in[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &s->in_from[i],
						 .msg_namelen = sizeof(s->in_from[i]),
						 .msg_iov = &s->in_iov[i],
						 .msg_iovlen = 1 } };
	}
	n = recvmmsg(s->fd, s->in, IO_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return false;
	s->in_next = 0;
	s->in_count = (unsigned)n;
	return true;
}

static ares_ssize_t
io_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags, struct sockaddr *from,
    ares_socklen_t *from_len, void *arg)
{
	struct io_sock *s = find(arg, fd);
	const struct mmsghdr *m;
	size_t n;

	if (s == NULL || !s->dgram)
		return recvfrom(fd, buf, len, flags, from, from_len);
	if (s->in_next == s->in_count && s->error != 0) {
		errno = s->error;
		s->error = 0;
		return -1;
	}
	if (s->in_next == s->in_count && !fill(s))
		return -1; /* errno from recvmmsg: EAGAIN, or the socket's error */
	m = &s->in[s->in_next++];
	n = m->msg_len < len ? m->msg_len : len;
	memcpy(buf, s->in_buf[m - s->in], n);
	if (from != NULL && from_len != NULL) {
		socklen_t fl =
		    m->msg_hdr.msg_namelen < *from_len ? m->msg_hdr.msg_namelen : *from_len;
		memcpy(from, m->msg_hdr.msg_name, fl);
		*from_len = m->msg_hdr.msg_namelen;
	}
	return (ares_ssize_t)n;
}

/* ---- sockets ------------------------------------------------------------ */

/* What c-ares does to its own sockets (configure_socket), done here. */
static bool
configure(int fd, int type, int rcvbuf)
{
	int one = 1;

	if (type == SOCK_DGRAM && rcvbuf > 0)
		return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0;
	if (type == SOCK_STREAM)
		return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
	return true;
}

static ares_socket_t
io_socket(int domain, int type, int protocol, void *arg)
{
	struct stub_io *io = arg;
	struct io_sock *s = NULL;
	int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);

	if (fd < 0)
		return ARES_SOCKET_BAD;
	/* c-ares closes its UDP socket whenever no query is left and opens
	 * another for the next: the batches (150 KB) are kept for it. */
	if (type == SOCK_DGRAM && (s = io->spare) != NULL)
		io->spare = NULL;
	if (!configure(fd, type, io->rcvbuf) ||
	    (type == SOCK_DGRAM && s == NULL && (s = malloc(sizeof(*s))) == NULL)) {
		if (s != NULL)
			io->spare = s; /* taken above: still the spare */
		close(fd);
		return ARES_SOCKET_BAD;
	}
	if (s != NULL) {
		s->next = io->socks;
		s->io = io;
		s->fd = fd;
		s->dgram = true;
		s->error = 0;
		s->gso = true;
		s->writable = NULL;
		s->in_next = s->in_count = 0;
		s->out_next = s->out_count = 0;
		io->socks = s;
	}
	return fd;
}

static int
io_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len, void *arg)
{
	(void)arg;
	return connect(fd, sa, len);
}

static int
io_close(ares_socket_t fd, void *arg)
{
	struct stub_io *io = arg;

	for (struct io_sock **pp = &io->socks; *pp != NULL; pp = &(*pp)->next) {
		struct io_sock *s = *pp;
		if (s->fd != fd)
			continue;
		/* Queries still queued go with it: c-ares closes a socket only
		 * when nothing is in flight on it, or to fail them over. */
		*pp = s->next;
		if (s->writable != NULL)
			event_free(s->writable);
		free(io->spare);
		io->spare = s;
		break;
	}
	return close(fd);
}

static const struct ares_socket_functions io_functions = {
	.asocket = io_socket,
	.aclose = io_close,
	.aconnect = io_connect,
	.arecvfrom = io_recvfrom,
	.asendv = io_sendv,
};

mx_err
stub_io_new(struct stub_io **out, struct event_base *base, ares_channel channel, int rcvbuf,
    void (*processed)(void *), void *arg)
{
	struct stub_io *io = calloc(1, sizeof(*io));

	*out = NULL;
	if (io == NULL)
		return MX_ERR_NOMEM;
	io->base = base;
	io->channel = channel;
	io->rcvbuf = rcvbuf;
	io->processed = processed;
	io->processed_arg = arg;
	if ((io->flush = event_new(base, -1, 0, on_flush, io)) == NULL) {
		free(io);
		return MX_ERR_NOMEM;
	}
	ares_set_socket_functions(channel, &io_functions, io);
	*out = io;
	return MX_OK;
}

void
stub_io_free(struct stub_io *io)
{
	if (io == NULL)
		return;
	while (io->socks != NULL) {
		struct io_sock *s = io->socks;
		io->socks = s->next;
		if (s->writable != NULL)
			event_free(s->writable);
		close(s->fd);
		free(s);
	}
	free(io->spare);
	event_free(io->flush);
	free(io);
}
