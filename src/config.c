/*
 * config.c - reading /etc/mx.conf (or --config FILE) for a command:
 * finding the path, the file's checks (a regular file of at most 64 KiB),
 * and which commands share it.  The syntax is config_syntax.c's; this file never
 * interprets a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

#define CONFIG_SIZE_MAX (64 * 1024)

/* The commands that read the file; each passes over the others' settings. */
const struct option *const config_every_command[] = {
	daemon_longopts,
	queue_longopts,
	send_longopts,
	sendmail_longopts,
	tlsrpt_longopts,
	NULL,
};

const char *
config_path_from_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

int
config_load(const char *path, const char *cmd, const struct option *longopts, int argc, char **argv,
    config_apply_fn apply, void *ctx, char **text_out)
{
	bool required = path != NULL;
	char *text = NULL;
	struct stat st;
	ssize_t got = 0;
	int fd, rc = EX_CONFIG;

	if (path == NULL)
		path = MX_CONFIG_DEFAULT;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (!required && errno == ENOENT)
			return EX_OK;
		cli_warn(cmd, "cannot open %s: %s", path, strerror(errno));
		return required ? EX_NOINPUT : EX_CONFIG;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_SIZE_MAX) {
		cli_warn(cmd, "%s: not a regular file of at most %d octets", path, CONFIG_SIZE_MAX);
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = EX_OSERR;
		goto out;
	}
	while (got < st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)(st.st_size - got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	if (got != st.st_size) {
		cli_warn(cmd, "cannot read %s", path);
		goto out;
	}
	text[got] = '\0';
	rc = config_parse(
	    text, (size_t)got, path, cmd, longopts, config_every_command, argc, argv, apply, ctx);
	*text_out = text; /* the values point into it */
	text = NULL;
out:
	free(text);
	close(fd);
	return rc;
}
