/*
 * logsink.h - where `mx daemon` and `mx queue run --log` write their
 * Postfix-style lines (logsink.c): a syslog socket of our own, or stderr.
 */
#ifndef MX_SRC_LOGSINK_H
#define MX_SRC_LOGSINK_H

#include <stdbool.h>

struct log_sink {
	bool to_stderr;
	const char *socket; /* syslog datagrams go here (NULL: /dev/log); borrowed */
	int fd;             /* -1: closed (lines go to stderr) */
};

/* (Re)opens the sink as its fields say; a socket that cannot be reached
 * is said on stderr once, and the lines go to stderr. */
void log_sink_open(struct log_sink *s, const char *cmd);
/* One line as PROGRAM mx/<program>[PID], facility mail, severity info. */
void log_sink_line(struct log_sink *s, const char *program, const char *line);
void log_sink_close(struct log_sink *s);

#endif
