/*
 * logsink.c - the log of `mx daemon` and `mx queue run --log`: RFC 3164
 * datagrams to the syslog socket (facility mail), tagged mx/qmgr[PID],
 * mx/smtp[PID] as Postfix's are tagged postfix/qmgr, postfix/smtp, so
 * that pflogsumm --syslog-name=mx reads them; or plain lines on stderr.
 * A socket of our own rather than syslog(3): syslog(3) tags every line
 * with one ident, the path can be a test's, and SIGHUP reopens it.  It
 * never decides what is logged.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "logsink.h"

#define SYSLOG_SOCKET "/dev/log"

void
log_sink_open(struct log_sink *s, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	log_sink_close(s);
	if (s->to_stderr)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->socket ? s->socket : SYSLOG_SOCKET);
	if ((s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		cli_warn(
		    cmd, "syslog socket %s: %s; logging to stderr", sa.sun_path, strerror(errno));
		close(s->fd);
		s->fd = -1;
	}
}

void
log_sink_line(struct log_sink *s, const char *program, const char *line)
{
	char buf[2048], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (s->fd < 0) {
		fprintf(stderr, "mx/%s[%ld]: %s\n", program, (long)getpid(), line);
		return;
	}
	/* RFC 3164: <PRI> (mail.info = 2 * 8 + 6) TIMESTAMP TAG[PID]: MSG */
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", localtime_r(&now, &tm));
	n = snprintf(
	    buf, sizeof(buf), "<22>%s mx/%s[%ld]: %s", stamp, program, (long)getpid(), line);
	if (n > 0 &&
	    send(s->fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, MSG_NOSIGNAL) <
		0)
		fprintf(stderr, "mx/%s[%ld]: %s\n", program, (long)getpid(), line);
}

void
log_sink_close(struct log_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
