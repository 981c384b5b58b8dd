/*
 * control.c - the daemon's control socket and its client (control.h).
 * Each accepted connection gets one read of its command line (clients
 * send it at once; 2 s at most) and one blocking write of the reply with
 * a send timeout, so a client that stops reading cannot hold the daemon
 * for more than that.  It never decides what a command does.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define CONTROL_IO_MS 2000

struct control {
	struct event_base *base;
	int fd;
	struct event *ev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	control_handler fn;
	void *arg;
};

static int
socket_path(const char *dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, CONTROL_NAME) >=
	    sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* One connected client: its line, the handler's reply, closed. */
static void
serve(struct control *c, int fd)
{
	struct timeval tv = { CONTROL_IO_MS / 1000, 0 };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char line[CONTROL_LINE_MAX + 1];
	char *reply = NULL;
	ssize_t n = 0;
	size_t off = 0, len;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (poll(&p, 1, CONTROL_IO_MS) == 1)
		n = read(fd, line, CONTROL_LINE_MAX);
	if (n <= 0)
		goto out;
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	reply = c->fn(line, c->arg);
	len = reply ? strlen(reply) : 0;
	while (off < len && (n = write(fd, reply + off, len - off)) > 0)
		off += (size_t)n;
out:
	free(reply);
	close(fd);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct control *c = arg;
	int fd;

	(void)what;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		serve(c, fd); /* blocking descriptor: accept4 gives one without O_NONBLOCK */
}

/* Whether a daemon answers on the socket already. */
static bool
live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up;

	if (fd < 0)
		return false;
	up = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return up;
}

/* dir/private, made 0700 when missing (mx setup makes it, owned by mx). */
static int
make_private(const char *dir)
{
	char path[4096];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, CONTROL_DIR) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

mx_err
control_listen(struct event_base *base, const char *dir, control_handler fn, void *arg,
    struct control **out, char *why, size_t why_size)
{
	struct sockaddr_un sa;
	struct control *c;

	*out = NULL;
	if (socket_path(dir, &sa) != 0) {
		snprintf(why, why_size, "%s/%s: %s", dir, CONTROL_NAME, strerror(errno));
		return MX_ERR_CONFIG;
	}
	if (make_private(dir) != 0) {
		snprintf(why, why_size, "%s/%s: %s (mx setup makes it)", dir, CONTROL_DIR,
		    strerror(errno));
		return MX_ERR_SYSTEM;
	}
	if (live(&sa)) {
		snprintf(why, why_size, "%s: another mx daemon runs on this spool", sa.sun_path);
		return MX_ERR_BUSY;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MX_ERR_NOMEM;
	*c = (struct control){ .base = base, .fn = fn, .arg = arg };
	snprintf(c->path, sizeof(c->path), "%s", sa.sun_path);
	unlink(sa.sun_path); /* a dead daemon's */
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sa.sun_path, 0600) != 0 || listen(c->fd, 16) != 0 ||
	    (c->ev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_accept, c)) == NULL ||
	    event_add(c->ev, NULL) != 0) {
		snprintf(why, why_size, "%s: %s", sa.sun_path, strerror(errno));
		control_close(c);
		return MX_ERR_SYSTEM;
	}
	*out = c;
	return MX_OK;
}

void
control_close(struct control *c)
{
	if (c == NULL)
		return;
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	free(c);
}

static mx_err
read_reply(int fd, char **reply)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *p;
	ssize_t n;

	if (buf == NULL)
		return MX_ERR_NOMEM;
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 < cap)
			continue;
		if (cap >= CONTROL_REPLY_MAX || (p = realloc(buf, cap * 2)) == NULL)
			break;
		buf = p;
		cap *= 2;
	}
	buf[len] = '\0';
	*reply = buf;
	return MX_OK;
}

mx_err
control_request(const char *dir, const char *command, char **reply)
{
	struct timeval tv = { 10, 0 };
	struct sockaddr_un sa;
	char line[CONTROL_LINE_MAX + 2];
	mx_err err = MX_ERR_SYSTEM;
	int fd;

	*reply = NULL;
	if (socket_path(dir, &sa) != 0 || strlen(command) > CONTROL_LINE_MAX)
		return MX_ERR_INVALID;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return MX_ERR_SYSTEM;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(line, sizeof(line), "%s\n", command);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    write(fd, line, strlen(line)) == (ssize_t)strlen(line))
		err = read_reply(fd, reply);
	close(fd);
	return err;
}
