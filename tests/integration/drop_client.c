/*
 * drop_client.c - a tiny submitter for tests/integration/test_submit.py:
 * reads a message in wire form (CRLF, dot-stuffed) on stdin, builds a
 * drop request and hands it to the helper through drop_submit, the way
 * `mx sendmail` does.  Usage: drop_client HELPER SENDER|- ERRMODE|- RCPT...
 * (SENDER "-": no -f).  Exits with the helper's status; why on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drop.h"

int
main(int argc, char **argv)
{
	struct drop_request r = { 0 };
	struct payload data;
	char buf[65536], why[256] = "";
	size_t total = 0;
	ssize_t n;
	int fd = payload_tmpfile(), rc;

	if (argc < 5 || fd < 0)
		return 64;
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		if (write(fd, buf, (size_t)n) != n)
			return 75;
		total += (size_t)n;
	}
	if (strcmp(argv[2], "-") != 0) {
		r.sender = argv[2];
		r.sender_set = true;
	}
	if (strcmp(argv[3], "-") != 0)
		r.error_mode = argv[3][0];
	r.rcpt = argv + 4;
	r.rcpt_n = (size_t)(argc - 4);
	if (payload_init(&data, NULL, 0, fd, 0, total) != MX_OK)
		return 75;
	rc = drop_submit(&r, &data, argv[1], why, sizeof(why));
	if (rc != 0)
		fprintf(stderr, "drop_client: %d: %s\n", rc, why);
	payload_clear(&data);
	close(fd);
	return rc;
}
