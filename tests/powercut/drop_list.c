/*
 * drop_list.c - the power-cut verifier's reader of a drop directory
 * (tests/powercut/verify-drop): for each finished file (not tmp.*) in DIR,
 * parses the stored header with lib/submit/drop.c's stored-form parser,
 * checks that exactly `size` octets of data in wire form follow, and
 * prints "NAME ok RCPT..." or "NAME bad WHY".  It only reads: the copy of
 * the disk is evidence.  Usage: drop_list DIR; exit 0, or 2 when DIR
 * cannot be read.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drop.h"

/* The whole file in memory (drop files in the test are small). */
static char *
slurp(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

static void
check_one(int dirfd, const char *name)
{
	struct drop_request r;
	struct drop_data_check c = { 0 };
	char why[256] = "", *buf;
	size_t len = 0, hlen;

	if ((buf = slurp(dirfd, name, &len)) == NULL) {
		printf("%s bad unreadable or not a regular file\n", name);
		return;
	}
	if (drop_header_parse(buf, len, true, &r, &hlen, why, sizeof(why)) != MX_OK) {
		printf("%s bad %s\n", name, why);
	} else if (len - hlen != r.size) {
		printf("%s bad %zu octets of data, the header says %zu\n", name, len - hlen, r.size);
	} else if (drop_data_feed(&c, (const uint8_t *)buf + hlen, r.size, why, sizeof(why)) !=
	    MX_OK || drop_data_end(&c, why, sizeof(why)) != MX_OK) {
		printf("%s bad %s\n", name, why);
	} else {
		printf("%s ok", name);
		for (size_t i = 0; i < r.rcpt_n; i++)
			printf(" %s", r.rcpt[i]);
		printf("\n");
	}
	drop_request_clear(&r);
	free(buf);
}

int
main(int argc, char **argv)
{
	DIR *d;
	struct dirent *e;

	if (argc != 2 || (d = opendir(argv[1])) == NULL) {
		fprintf(stderr, "usage: drop_list DIR (a readable drop directory)\n");
		return 2;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, "tmp.", 4) == 0)
			continue;
		check_one(dirfd(d), e->d_name);
	}
	closedir(d);
	return 0;
}
