/*
 * fuzz_smtp_cmd.c - libFuzzer target for lib/serve/smtp_cmd.c: the input
 * is what an SMTP client sends, fed in pieces whose sizes come from its
 * first octet; a DATA command switches the reader to DATA as a server
 * would after 354.  Checks the reader's promises: no line holds CR or
 * LF, no DATA line starts with the dot it was stuffed with beyond what
 * was sent, nothing is read after a bare CR or LF, and the same input
 * fed whole gives the same events.  Build and run: see meson.build.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the reader over data in pieces of step octets; a digest of events. */
static unsigned long
run(const char *p, size_t n, size_t step)
{
	struct smtp_cmd r;
	unsigned long digest = 5381;
	size_t off = 0;
	const char *line_start = p;

	smtp_cmd_init(&r);
	while (off < n) {
		size_t len = n - off < step ? n - off : step, used;
		smtp_cmd_event ev;
		used = smtp_cmd_feed(&r, p + off, len, &ev);
		if (used > len)
			abort();
		off += used;
		if (ev != SMTP_CMD_MORE) /* how often "more" comes depends on the pieces */
			digest = digest * 33 + (unsigned long)ev;
		if (ev == SMTP_CMD_BARE)
			break;
		if (ev == SMTP_CMD_LINE || ev == SMTP_CMD_DATA_LINE) {
			if (memchr(r.line, '\r', r.len) || memchr(r.line, '\n', r.len) ||
			    r.line[r.len] != '\0' || r.len > (size_t)(p + off - line_start))
				abort(); /* a line is made of what was fed since the last one */
			line_start = p + off;
			for (size_t i = 0; i < r.len; i++)
				digest = digest * 33 + (unsigned char)r.line[i];
		}
		if (ev != SMTP_CMD_MORE)
			line_start = p + off;
		if (ev == SMTP_CMD_LINE) {
			const char *arg;
			char path[SMTP_CMD_PATH_MAX + 1];
			const char *params;
			smtp_verb v = smtp_cmd_verb(r.line, &arg);
			if (v == SMTP_VERB_MAIL && smtp_cmd_path(arg, "FROM:", path, &params) &&
			    strlen(path) > SMTP_CMD_PATH_MAX)
				abort();
			if (v == SMTP_VERB_DATA)
				smtp_cmd_start_data(&r, 4096);
		}
		if (used == 0 && ev == SMTP_CMD_MORE)
			abort(); /* no progress */
	}
	return digest;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	if (run((const char *)data + 1, size - 1, step) !=
	    run((const char *)data + 1, size - 1, size))
		abort();
	return 0;
}
