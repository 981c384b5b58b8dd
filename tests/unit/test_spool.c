/*
 * test_spool.c - lib/spool.c: entries round-trip byte for byte (binary,
 * empty and 10 MiB data, recipient states through spool_update); hostile
 * files in queue/ are quarantined, never trusted; scan skips what is not
 * an entry without following it; failing write, fsync and rename calls
 * (injected, and a real full tmpfs) leave nothing behind; a writer
 * SIGKILLed at random never leaves a partial entry nor loses an accepted
 * one; locks exclude a second runner and die with their holder.  A stale
 * errno or an entry that vanishes mid-scan never hides the others; grouped
 * removals keep at most 256 files for new messages, which take them; quoted
 * local parts with spaces round-trip; spool_open_existing creates nothing;
 * spool_load_schedule reads the header and no more.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "payload.h"
#include "spool.h"
#include "strbuf.h"

#define BIG_LEN     ((size_t)10 << 20)
#define CRASH_KILLS 200
#define CRASH_SEED  20261122u
#define MAX_IDS     100000

struct fixture {
	char dir[128];
	struct spool *sp;
	char why[256];
};

static void
path_of(const struct fixture *f, const char *sub, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s/%s", f->dir, sub, name);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_spool.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spool_open(f->dir, &f->sp, f->why, sizeof(f->why)), MX_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[512];

	spool_close(f->sp);
	/* test_disk_full's tmpfs, should it have failed with it mounted. */
	snprintf(cmd, sizeof(cmd), "%s/full", f->dir);
	umount2(cmd, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static size_t
count_dir(const struct fixture *f, const char *sub)
{
	char path[512];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", f->dir, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool
exists(const struct fixture *f, const char *sub, const char *name)
{
	char path[512];
	struct stat st;

	path_of(f, sub, name, path, sizeof(path));
	return lstat(path, &st) == 0;
}

/* ---- scan collection ---------------------------------------------------- */

struct ids {
	char (*id)[SPOOL_ID_MAX + 1];
	size_t n, skipped;
};

static void
collect(const char *id, void *arg)
{
	struct ids *ids = arg;

	assert_true(ids->n < MAX_IDS);
	strcpy(ids->id[ids->n++], id);
}

static void
count_skipped(const char *name, const char *why, void *arg)
{
	struct ids *ids = arg;

	assert_non_null(name);
	assert_non_null(why);
	ids->skipped++;
}

static struct ids *
scan_all(struct spool *sp)
{
	struct ids *ids = calloc(1, sizeof(*ids));

	assert_non_null(ids);
	assert_non_null(ids->id = calloc(MAX_IDS, sizeof(*ids->id)));
	assert_int_equal(spool_scan(sp, collect, count_skipped, ids), MX_OK);
	return ids;
}

static void
ids_free(struct ids *ids)
{
	free(ids->id);
	free(ids);
}

static bool
ids_has(const struct ids *ids, const char *id)
{
	for (size_t i = 0; i < ids->n; i++)
		if (strcmp(ids->id[i], id) == 0)
			return true;
	return false;
}

/* ---- round trip ------------------------------------------------------- */

static void
check_entry(struct spool *sp, const char *id, const char *sender, const char *const *rcpts,
    size_t n, const uint8_t *data, size_t len)
{
	struct spool_entry *e = NULL;
	const char *why = NULL;

	assert_int_equal(spool_load(sp, id, &e, &why), MX_OK);
	assert_string_equal(e->id, id);
	assert_string_equal(e->sender, sender);
	assert_int_equal(e->n_rcpts, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(e->rcpts[i].address, rcpts[i]);
		assert_int_equal(e->rcpts[i].state, SPOOL_PENDING);
		assert_int_equal(e->rcpts[i].attempts, 0);
		assert_string_equal(e->rcpts[i].reason, "");
	}
	assert_int_equal(e->len, len);
	if (len > 0)
		assert_memory_equal(e->data, data, len);
	spool_entry_free(e);
}

static void
test_round_trip(void **state)
{
	struct fixture *f = *state;
	static const uint8_t binary[] = "a\0b\r\nc\n.\r\n\0\xff\x80 end\r\n";
	const char *rcpts[] = { "one@example.com", "two@example.org", "\"x\"@example.net" };
	char id1[SPOOL_ID_MAX + 1], id2[SPOOL_ID_MAX + 1], id3[SPOOL_ID_MAX + 1];
	uint8_t *big = malloc(BIG_LEN);
	const char *why = NULL;
	struct ids *ids;

	assert_non_null(big);
	for (size_t i = 0; i < BIG_LEN; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 13));
	assert_int_equal(spool_enqueue(f->sp, "me@example.com", rcpts, 3, binary, sizeof(binary),
			     id1, sizeof(id1), &why),
	    MX_OK);
	assert_null(why);
	assert_int_equal(
	    spool_enqueue(f->sp, "", rcpts, 1, NULL, 0, id2, sizeof(id2), &why), MX_OK);
	assert_int_equal(spool_enqueue(f->sp, "big@example.com", rcpts + 1, 2, big, BIG_LEN, id3,
			     sizeof(id3), &why),
	    MX_OK);
	assert_true(spool_id_valid(id1) && spool_id_valid(id2) && spool_id_valid(id3));
	assert_string_not_equal(id1, id2);
	assert_string_not_equal(id2, id3);
	assert_int_equal(count_dir(f, "tmp"), 0);

	ids = scan_all(f->sp);
	assert_int_equal(ids->n, 3);
	assert_int_equal(ids->skipped, 0);
	assert_true(ids_has(ids, id1) && ids_has(ids, id2) && ids_has(ids, id3));
	ids_free(ids);

	check_entry(f->sp, id1, "me@example.com", rcpts, 3, binary, sizeof(binary));
	check_entry(f->sp, id2, "", rcpts, 1, NULL, 0);
	check_entry(f->sp, id3, "big@example.com", rcpts + 1, 2, big, BIG_LEN);
	free(big);

	/* Bad input is refused before anything is written. */
	const char *bad[] = { "a@b\r\nRSET" };
	assert_int_equal(
	    spool_enqueue(f->sp, "me@example.com", bad, 1, NULL, 0, id2, sizeof(id2), &why),
	    MX_ERR_BAD_ADDRESS);
	assert_non_null(why);
	assert_int_equal(spool_enqueue(f->sp, "me@x\n", rcpts, 1, NULL, 0, id2, sizeof(id2), &why),
	    MX_ERR_BAD_ADDRESS);
	assert_int_equal(spool_enqueue(f->sp, "me@x", rcpts, 0, NULL, 0, id2, sizeof(id2), &why),
	    MX_ERR_INVALID);
	assert_int_equal(count_dir(f, "queue"), 3);
	assert_int_equal(count_dir(f, "tmp"), 0);
}

/* An entry whose data is a payload (a head in memory, the rest in a file),
 * as mx send queues a streamed message: it loads back octet for octet. */
static void
test_payload_round_trip(void **state)
{
	struct fixture *f = *state;
	static const uint8_t head[] = "Date: x\r\n";
	static const uint8_t body[] = "Subject: s\r\n\r\nline\r\n..dot\r\n";
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1];
	const char *why = NULL;
	struct spool_entry *e = NULL;
	struct payload p;
	int fd = payload_tmpfile();

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "junk", 4), 4); /* the file part starts after it */
	assert_int_equal(write(fd, body, sizeof(body) - 1), (ssize_t)(sizeof(body) - 1));
	assert_int_equal(payload_init(&p, head, sizeof(head) - 1, fd, 4, sizeof(body) - 1), MX_OK);
	close(fd);
	assert_int_equal(
	    spool_enqueue_payload(f->sp, "me@example.com", rcpts, 1, &p, id, sizeof(id), &why),
	    MX_OK);
	payload_clear(&p);
	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_OK);
	assert_int_equal(e->len, sizeof(head) - 1 + sizeof(body) - 1);
	assert_memory_equal(e->data, head, sizeof(head) - 1);
	assert_memory_equal(e->data + sizeof(head) - 1, body, sizeof(body) - 1);
	spool_entry_free(e);
}

static void
test_update_remove(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com", "two@example.org", "three@example.net" };
	static const char reason[] = "451 4.7.1 try\r\nlater \\ \x01 caf\xc3\xa9";
	char id[SPOOL_ID_MAX + 1];
	struct spool_entry *e = NULL, *again = NULL;
	const char *why = NULL;

	assert_int_equal(spool_enqueue(f->sp, "me@example.com", rcpts, 3, (const uint8_t *)"hi\r\n",
			     4, id, sizeof(id), &why),
	    MX_OK);
	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_OK);
	e->rcpts[0].state = SPOOL_SENT;
	e->rcpts[0].attempts = 1;
	e->rcpts[1].state = SPOOL_BOUNCED;
	e->rcpts[1].attempts = 2;
	strcpy(e->rcpts[1].reason, "550 5.1.1 no such user");
	e->rcpts[2].attempts = 3;
	e->rcpts[2].next_attempt = INT64_C(1800000000);
	strcpy(e->rcpts[2].reason, reason);
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_OK);
	assert_int_equal(count_dir(f, "tmp"), 0);

	assert_int_equal(spool_load(f->sp, id, &again, &why), MX_OK);
	assert_int_equal(again->created, e->created);
	assert_int_equal(again->rcpts[0].state, SPOOL_SENT);
	assert_int_equal(again->rcpts[0].attempts, 1);
	assert_int_equal(again->rcpts[1].state, SPOOL_BOUNCED);
	assert_string_equal(again->rcpts[1].reason, "550 5.1.1 no such user");
	assert_int_equal(again->rcpts[2].state, SPOOL_PENDING);
	assert_int_equal(again->rcpts[2].attempts, 3);
	assert_true(again->rcpts[2].next_attempt == INT64_C(1800000000));
	assert_string_equal(again->rcpts[2].reason, reason);
	assert_int_equal(again->len, 4);
	assert_memory_equal(again->data, "hi\r\n", 4);
	spool_entry_free(again);

	/* A reason over the limit or an address with a line break is refused. */
	memset(e->rcpts[0].reason, 'x', SPOOL_REASON_MAX + 1);
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_ERR_INVALID);
	e->rcpts[0].reason[0] = '\0';
	strcpy(e->rcpts[0].address, "a@b\nc");
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_ERR_BAD_ADDRESS);
	assert_int_equal(count_dir(f, "tmp"), 0);

	assert_int_equal(spool_remove(f->sp, id, &why), MX_OK);
	assert_false(exists(f, "queue", id));
	assert_int_equal(spool_load(f->sp, id, &again, &why), MX_ERR_NOT_FOUND);
	assert_null(again);
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_ERR_NOT_FOUND);
	assert_int_equal(spool_remove(f->sp, id, &why), MX_ERR_NOT_FOUND);
	spool_entry_free(e);
}

/*
 * A quoted local part may hold spaces (RFC 5321 4.1.2 qtextSMTP): such a
 * sender and recipients go in, come out the same through a load, an
 * update and a reload, and a tab (a control octet) is still refused.
 */
static void
test_quoted_space_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "\"john doe\"@example.com", "\" lead and trail \"@example.org",
		"plain@example.net" };
	const char *tab[] = { "\"john\tdoe\"@example.com" };
	char id[SPOOL_ID_MAX + 1];
	struct spool_entry *e = NULL, *again = NULL;
	const char *why = NULL;

	assert_int_equal(spool_enqueue(f->sp, "\"jane q\"@example.com", rcpts, 3,
			     (const uint8_t *)"hi\r\n", 4, id, sizeof(id), &why),
	    MX_OK);
	check_entry(f->sp, id, "\"jane q\"@example.com", rcpts, 3, (const uint8_t *)"hi\r\n", 4);
	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_OK);
	e->rcpts[0].attempts = 1;
	e->rcpts[0].next_attempt = INT64_C(1800000000);
	strcpy(e->rcpts[0].reason, "451 4.2.0 later");
	e->rcpts[2].state = SPOOL_SENT;
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_OK);
	assert_int_equal(spool_load(f->sp, id, &again, &why), MX_OK);
	assert_string_equal(again->sender, "\"jane q\"@example.com");
	assert_string_equal(again->rcpts[0].address, "\"john doe\"@example.com");
	assert_string_equal(again->rcpts[1].address, "\" lead and trail \"@example.org");
	assert_int_equal(again->rcpts[0].attempts, 1);
	assert_string_equal(again->rcpts[0].reason, "451 4.2.0 later");
	assert_int_equal(again->rcpts[2].state, SPOOL_SENT);
	spool_entry_free(again);
	spool_entry_free(e);
	assert_int_equal(count_dir(f, "corrupt"), 0);

	assert_int_equal(
	    spool_enqueue(f->sp, "", tab, 1, NULL, 0, id, sizeof(id), &why), MX_ERR_BAD_ADDRESS);
	assert_int_equal(count_dir(f, "queue"), 1);
	assert_int_equal(count_dir(f, "tmp"), 0);
}

/* ---- hostile files ----------------------------------------------------- */

/* A plain bitwise CRC-32, to forge files that pass the check. */
static uint32_t
ref_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void
write_raw(const struct fixture *f, const char *sub, const char *name, const void *buf, size_t len)
{
	char path[512];
	FILE *fp;

	path_of(f, sub, name, path, sizeof(path));
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* The file of an entry, read whole; the caller frees it. */
static char *
read_raw(const struct fixture *f, const char *id, size_t *len)
{
	char path[512];
	FILE *fp;
	char *buf = malloc(1 << 16);

	path_of(f, "queue", id, path, sizeof(path));
	assert_non_null(fp = fopen(path, "rb"));
	*len = fread(buf, 1, 1 << 16, fp);
	fclose(fp);
	return buf;
}

/* body (up to the end line) with a correct end line, as ID. */
static void
write_forged(const struct fixture *f, const char *id, const char *body)
{
	char buf[4096];
	struct strbuf sb;

	strbuf_init(&sb, buf, sizeof(buf));
	strbuf_add(&sb, body);
	strbuf_printf(&sb, "end %08x\n", (unsigned)ref_crc32((const uint8_t *)body, strlen(body)));
	assert_false(sb.truncated);
	write_raw(f, "queue", id, buf, sb.len);
}

static void
expect_quarantine(const struct fixture *f, const char *id)
{
	struct spool_entry *e = NULL;
	const char *why = NULL;

	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_ERR_CORRUPT);
	assert_null(e);
	assert_non_null(why);
	assert_false(exists(f, "queue", id));
	assert_true(exists(f, "corrupt", id));
}

/* A new entry like the one test_hostile starts with, to be damaged. */
static void
fresh_entry(const struct fixture *f, char id[SPOOL_ID_MAX + 1])
{
	const char *rcpts[] = { "one@example.com" };
	const char *why = NULL;

	assert_int_equal(spool_enqueue(f->sp, "me@example.com", rcpts, 1,
			     (const uint8_t *)"data 5\nhello", 12, id, SPOOL_ID_MAX + 1, &why),
	    MX_OK);
}

/*
 * Every quoted spelling the server takes is stored as the rest of its
 * line, byte for byte, and read back the same (the format needs no
 * escape: an address never holds a control octet); an entry written
 * by hand in the version 1 format, as any earlier mx wrote it, loads.
 */
static void
test_quoted_forms_stored_as_sent(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "\"a\\\"b\"@example.com", "\"x@y\"@example.com",
		"\"a\\\\\"@example.com", "\"a\\ b\"@example.com", "\" \"@example.com",
		"\"abc\"@example.com" };
	char id[SPOOL_ID_MAX + 1], line[128], *raw;
	struct spool_entry *e = NULL;
	const char *why = NULL;
	size_t len, n = sizeof(rcpts) / sizeof(rcpts[0]);

	assert_int_equal(spool_enqueue(f->sp, "\"jane \\\"q\\\"\"@example.com", rcpts, n,
			     (const uint8_t *)"hi\r\n", 4, id, sizeof(id), &why),
	    MX_OK);
	raw = read_raw(f, id, &len);
	raw[len] = '\0';
	assert_non_null(strstr(raw, "\nsender \"jane \\\"q\\\"\"@example.com\n"));
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "\nrcpt pending 0 0 %s\n", rcpts[i]);
		assert_non_null(strstr(raw, line));
	}
	free(raw);
	check_entry(
	    f->sp, id, "\"jane \\\"q\\\"\"@example.com", rcpts, n, (const uint8_t *)"hi\r\n", 4);

	write_forged(f, "OldQuoted",
	    "mxkit-spool 1\nid OldQuoted\ncreated 1\nsender \"jane q\"@b.test\n"
	    "rcpt pending 2 1800000000 \"john doe\"@example.com\nreason 451 4.2.0 later\n"
	    "rcpt pending 0 0 \"a\\\"b\"@example.com\nreason \ndata 0\n\n");
	assert_int_equal(spool_load(f->sp, "OldQuoted", &e, &why), MX_OK);
	assert_string_equal(e->sender, "\"jane q\"@b.test");
	assert_string_equal(e->rcpts[0].address, "\"john doe\"@example.com");
	assert_string_equal(e->rcpts[1].address, "\"a\\\"b\"@example.com");
	assert_int_equal(e->rcpts[0].attempts, 2);
	spool_entry_free(e);
	assert_int_equal(count_dir(f, "corrupt"), 0);
}

static void
test_hostile(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1], victim[SPOOL_ID_MAX + 1], *good, *bad;
	const char *why = NULL;
	size_t len;

	assert_int_equal(ref_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	assert_int_equal(spool_enqueue(f->sp, "me@example.com", rcpts, 1,
			     (const uint8_t *)"data 5\nhello", 12, id, sizeof(id), &why),
	    MX_OK);
	good = read_raw(f, id, &len);
	bad = NULL;
	/* The library's CRC is zlib's: the end line matches the reference. */
	char want[16];
	snprintf(want, sizeof(want), "end %08x\n", (unsigned)ref_crc32((uint8_t *)good, len - 13));
	assert_memory_equal(good + len - 13, want, 13);

	/* Each damaged copy replaces an entry of its own, so the id matches. */
	fresh_entry(f, victim);
	write_raw(f, "queue", victim, good, len - 13);
	expect_quarantine(f, victim);
	fresh_entry(f, victim);
	write_raw(f, "queue", victim, good, len / 2);
	expect_quarantine(f, victim);

	fresh_entry(f, victim);
	size_t vlen;
	free(bad);
	bad = read_raw(f, victim, &vlen);
	char *dl = strstr(bad, "\ndata 12\n");
	assert_non_null(dl);
	dl[7] = '3'; /* "data 13" */
	write_raw(f, "queue", victim, bad, vlen);
	expect_quarantine(f, victim);

	fresh_entry(f, victim);
	free(bad);
	bad = read_raw(f, victim, &vlen);
	bad[vlen - 15] ^= 0x01; /* the last data byte */
	write_raw(f, "queue", victim, bad, vlen);
	expect_quarantine(f, victim);

	write_raw(f, "queue", "Empty", "", 0);
	expect_quarantine(f, "Empty");

	write_forged(f, "Newline",
	    "mxkit-spool 1\nid Newline\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nz\nreason \ndata 0\n\n");
	expect_quarantine(f, "Newline");
	write_forged(f, "CrInAddr",
	    "mxkit-spool 1\nid CrInAddr\ncreated 1\nsender a@b\r\n"
	    "rcpt pending 0 0 x@y\nreason \ndata 0\n\n");
	expect_quarantine(f, "CrInAddr");
	write_forged(f, "Version2",
	    "mxkit-spool 2\nid Version2\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nreason \ndata 0\n\n");
	expect_quarantine(f, "Version2");
	write_forged(f, "WrongId",
	    "mxkit-spool 1\nid OtherId\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nreason \ndata 0\n\n");
	expect_quarantine(f, "WrongId");
	write_forged(f, "BadState",
	    "mxkit-spool 1\nid BadState\ncreated 1\nsender a@b\n"
	    "rcpt done 0 0 x@y\nreason \ndata 0\n\n");
	expect_quarantine(f, "BadState");
	write_forged(f, "BadEscape",
	    "mxkit-spool 1\nid BadEscape\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nreason \\x0\ndata 0\n\n");
	expect_quarantine(f, "BadEscape");
	write_forged(f, "HugeLength",
	    "mxkit-spool 1\nid HugeLength\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nreason \ndata 99999999999999999999999\n\n");
	expect_quarantine(f, "HugeLength");
	write_forged(f, "LengthLie",
	    "mxkit-spool 1\nid LengthLie\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nreason \ndata 2\nZ\n");
	expect_quarantine(f, "LengthLie");
	write_forged(f, "LengthShort",
	    "mxkit-spool 1\nid LengthShort\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nreason \ndata 0\nZ\n");
	expect_quarantine(f, "LengthShort");
	write_forged(f, "LengthExtra",
	    "mxkit-spool 1\nid LengthExtra\ncreated 1\nsender a@b\n"
	    "rcpt pending 0 0 x@y\nreason \ndata 1\nZ\n\n");
	expect_quarantine(f, "LengthExtra");
	write_forged(f, "NoRcpt",
	    "mxkit-spool 1\nid NoRcpt\ncreated 1\nsender a@b\n"
	    "data 0\n\n");
	expect_quarantine(f, "NoRcpt");
	/* The forger itself is right: a correct file loads. */
	write_forged(f, "Forged",
	    "mxkit-spool 1\nid Forged\ncreated 1\nsender a@b\n"
	    "rcpt sent 1 0 x@y\nreason ok \\x5c\ndata 1\nZ\n");
	struct spool_entry *e = NULL;
	assert_int_equal(spool_load(f->sp, "Forged", &e, &why), MX_OK);
	assert_string_equal(e->rcpts[0].reason, "ok \\");
	spool_entry_free(e);

	/* The good entry was never touched. */
	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_OK);
	spool_entry_free(e);
	assert_int_equal(spool_load(f->sp, "../x", &e, &why), MX_ERR_INVALID);
	free(good);
	free(bad);
}

/* ---- scan ------------------------------------------------------------- */

static void
test_scan_skips(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1], path[512], target[512];
	struct spool_entry *e = NULL;
	const char *why = NULL;
	struct ids *ids;
	int fd = -1;

	assert_int_equal(spool_enqueue(f->sp, "", rcpts, 1, NULL, 0, id, sizeof(id), &why), MX_OK);
	path_of(f, "queue", id, target, sizeof(target));
	path_of(f, "queue", "SymLink", path, sizeof(path));
	assert_int_equal(symlink(target, path), 0);
	path_of(f, "queue", "DanglingLink", path, sizeof(path));
	assert_int_equal(symlink("/etc/passwd", path), 0);
	path_of(f, "queue", "SubDir", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	path_of(f, "queue", "Fifo", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	write_raw(f, "queue", "stray.tmp", "x", 1);
	write_raw(f, "queue", "with space", "x", 1);

	ids = scan_all(f->sp);
	assert_int_equal(ids->n, 1);
	assert_string_equal(ids->id[0], id);
	assert_int_equal(ids->skipped, 6);
	ids_free(ids);

	/* Loading or locking them neither follows nor blocks nor moves them. */
	assert_int_equal(spool_load(f->sp, "SymLink", &e, &why), MX_ERR_NOT_FOUND);
	assert_int_equal(spool_load(f->sp, "DanglingLink", &e, &why), MX_ERR_NOT_FOUND);
	assert_int_equal(spool_load(f->sp, "SubDir", &e, &why), MX_ERR_NOT_FOUND);
	assert_int_equal(spool_load(f->sp, "Fifo", &e, &why), MX_ERR_NOT_FOUND);
	assert_true(exists(f, "queue", "SymLink") && exists(f, "queue", "Fifo"));
	assert_int_equal(spool_lock(f->sp, "SymLink", &fd), MX_ERR_NOT_FOUND);
	assert_int_equal(spool_lock(f->sp, "Fifo", &fd), MX_ERR_NOT_FOUND);
	assert_int_equal(fd, -1);
	assert_int_equal(count_dir(f, "corrupt"), 0);
}

/*
 * A scan decides on fstatat's result, not on a stale errno: with errno
 * left at ENOENT by someone else before the scan, every entry is still
 * handed out.  (The bug: a successful fstatat leaves errno alone, so one
 * ENOENT made the scan skip every entry after it, pass after pass.)
 */
static void
test_scan_stale_errno(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1];
	const char *why = NULL;
	struct ids *ids;

	for (int i = 0; i < 5; i++)
		assert_int_equal(
		    spool_enqueue(f->sp, "", rcpts, 1, NULL, 0, id, sizeof(id), &why), MX_OK);
	write_raw(f, "queue", "not-an-id", "x", 1); /* st is never read for it */
	errno = ENOENT;
	ids = scan_all(f->sp);
	assert_int_equal(ids->n, 5);
	assert_int_equal(ids->skipped, 1);
	ids_free(ids);
}

/* The scan's callback removes the entry readdir gives next. */
struct vanish {
	struct ids *ids;
	struct spool *sp;
	const char *victim;
	bool done;
};

static void
collect_and_remove(const char *id, void *arg)
{
	struct vanish *v = arg;
	const char *why = NULL;

	collect(id, v->ids);
	if (!v->done) {
		v->done = true;
		assert_int_equal(spool_remove(v->sp, v->victim, &why), MX_OK);
	}
}

static void
skipped_in_vanish(const char *name, const char *why, void *arg)
{
	struct vanish *v = arg;

	count_skipped(name, why, v->ids);
}

/* An entry removed by another runner mid-scan is passed over in silence,
 * and every entry after it is still seen. */
static void
test_scan_entry_vanishes(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1], victim[SPOOL_ID_MAX + 1];
	const char *why = NULL;
	struct ids *order, *ids;

	for (int i = 0; i < 6; i++)
		assert_int_equal(
		    spool_enqueue(f->sp, "", rcpts, 1, NULL, 0, id, sizeof(id), &why), MX_OK);
	order = scan_all(f->sp); /* readdir's order, the same on the next scan */
	assert_int_equal(order->n, 6);
	strcpy(victim, order->id[1]);
	ids_free(order);
	assert_non_null(ids = calloc(1, sizeof(*ids)));
	assert_non_null(ids->id = calloc(MAX_IDS, sizeof(*ids->id)));
	struct vanish v = { ids, f->sp, victim, false };
	assert_int_equal(spool_scan(f->sp, collect_and_remove, skipped_in_vanish, &v), MX_OK);
	assert_int_equal(ids->n, 5);
	assert_int_equal(ids->skipped, 0);
	assert_false(ids_has(ids, victim));
	ids_free(ids);
}

/* spool_open_existing reads a missing spool as empty and creates nothing;
 * on a real one it lists, loads and locks as spool_open does. */
static void
test_open_existing(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1], missing[256], why[256];
	struct spool *sp = NULL;
	struct spool_entry *e = NULL;
	struct stat st;
	const char *w = NULL;
	struct ids *ids;
	int fd = -1;

	snprintf(missing, sizeof(missing), "%s/missing", f->dir);
	assert_int_equal(spool_open_existing(missing, &sp, why, sizeof(why)), MX_OK);
	ids = scan_all(sp);
	assert_int_equal(ids->n + ids->skipped, 0);
	ids_free(ids);
	assert_int_equal(spool_load(sp, "NoSuchId", &e, &w), MX_ERR_NOT_FOUND);
	assert_int_equal(spool_lock(sp, "NoSuchId", &fd), MX_ERR_NOT_FOUND);
	assert_int_equal(
	    spool_enqueue(sp, "", rcpts, 1, NULL, 0, id, sizeof(id), &w), MX_ERR_SYSTEM);
	spool_close(sp);
	assert_int_not_equal(lstat(missing, &st), 0);

	assert_int_equal(spool_enqueue(f->sp, "", rcpts, 1, NULL, 0, id, sizeof(id), &w), MX_OK);
	assert_int_equal(spool_open_existing(f->dir, &sp, why, sizeof(why)), MX_OK);
	ids = scan_all(sp);
	assert_int_equal(ids->n, 1);
	assert_string_equal(ids->id[0], id);
	ids_free(ids);
	assert_int_equal(spool_load(sp, id, &e, &w), MX_OK);
	spool_entry_free(e);
	assert_int_equal(spool_lock(sp, id, &fd), MX_OK);
	spool_unlock(fd);
	spool_close(sp);
	/* A file where the spool should be is an error, not an empty queue. */
	assert_int_equal(spool_open_existing("/etc/passwd", &sp, why, sizeof(why)), MX_ERR_SYSTEM);
	assert_null(sp);
}

/* ---- fault injection --------------------------------------------------- */

/* The injected failure: the ops table takes no context, so a file static. */
enum fault { FAULT_NONE, FAULT_FSYNC_FILE, FAULT_FSYNC_DIR, FAULT_WRITE, FAULT_RENAME };
static enum fault fault_now;

static int
fake_open(int dirfd, const char *name, int flags, mode_t mode)
{
	return openat(dirfd, name, flags, mode);
}

static ssize_t
fake_write(int fd, const void *buf, size_t n)
{
	if (fault_now == FAULT_WRITE && n > 1) {
		/* Half goes out, then the disk is full. */
		ssize_t w = write(fd, buf, n / 2);
		fault_now = FAULT_NONE + 100;
		return w;
	}
	if (fault_now == FAULT_NONE + 100) {
		errno = ENOSPC;
		return -1;
	}
	return write(fd, buf, n);
}

static int
fake_fsync(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	if ((fault_now == FAULT_FSYNC_FILE && S_ISREG(st.st_mode)) ||
	    (fault_now == FAULT_FSYNC_DIR && S_ISDIR(st.st_mode))) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static int
fake_rename(int od, const char *on, int nd, const char *nn, unsigned flags)
{
	if (fault_now == FAULT_RENAME) {
		errno = EXDEV;
		return -1;
	}
	return renameat2(od, on, nd, nn, flags);
}

static int
fake_unlink(int dirfd, const char *name)
{
	return unlinkat(dirfd, name, 0);
}

static void
test_faults(void **state)
{
	struct fixture *f = *state;
	static const struct spool_ops fake = {
		fake_open,
		fake_write,
		fake_fsync,
		fake_rename,
		fake_unlink,
	};
	static const enum fault faults[] = {
		FAULT_FSYNC_FILE,
		FAULT_FSYNC_DIR,
		FAULT_WRITE,
		FAULT_RENAME,
	};
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1], kept[SPOOL_ID_MAX + 1];
	uint8_t data[8192];
	struct spool_entry *e = NULL;
	const char *why = NULL;

	memset(data, 'm', sizeof(data));
	spool_set_ops_for_testing(f->sp, &fake);
	fault_now = FAULT_NONE;
	assert_int_equal(
	    spool_enqueue(f->sp, "", rcpts, 1, data, sizeof(data), kept, sizeof(kept), &why),
	    MX_OK);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		fault_now = faults[i];
		id[0] = '\0';
		assert_int_equal(
		    spool_enqueue(f->sp, "", rcpts, 1, data, sizeof(data), id, sizeof(id), &why),
		    MX_ERR_SYSTEM);
		assert_non_null(why);
		assert_string_equal(id, "");
		assert_int_equal(count_dir(f, "queue"), 1);
		assert_int_equal(count_dir(f, "tmp"), 0);
	}
	/* An update that fails before the rename leaves the old file whole. */
	fault_now = FAULT_NONE;
	assert_int_equal(spool_load(f->sp, kept, &e, &why), MX_OK);
	e->rcpts[0].state = SPOOL_SENT;
	fault_now = FAULT_FSYNC_FILE;
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_ERR_SYSTEM);
	fault_now = FAULT_WRITE;
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_ERR_SYSTEM);
	assert_int_equal(count_dir(f, "tmp"), 0);
	spool_entry_free(e);
	fault_now = FAULT_NONE;
	spool_set_ops_for_testing(f->sp, NULL);
	assert_int_equal(spool_load(f->sp, kept, &e, &why), MX_OK);
	assert_int_equal(e->rcpts[0].state, SPOOL_PENDING);
	assert_int_equal(e->len, sizeof(data));
	spool_entry_free(e);
}

/* ---- a real full disk --------------------------------------------------- */

static void
test_disk_full(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com" };
	char mnt[256], ids[64][SPOOL_ID_MAX + 1], openwhy[256];
	struct spool *sp = NULL;
	uint8_t data[10000];
	const char *why = NULL;
	size_t n = 0;
	mx_err err = MX_OK;

	snprintf(mnt, sizeof(mnt), "%s/full", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) {
		printf("# SKIP disk full: cannot mount a tmpfs (%s)\n", strerror(errno));
		skip();
	}
	assert_int_equal(spool_open(mnt, &sp, openwhy, sizeof(openwhy)), MX_OK);
	memset(data, 'd', sizeof(data));
	while (n < 64 &&
	    (err = spool_enqueue(
		 sp, "", rcpts, 1, data, sizeof(data), ids[n], sizeof(ids[n]), &why)) == MX_OK)
		n++;
	assert_int_equal(err, MX_ERR_SYSTEM);
	assert_non_null(strstr(why, "No space left on device")); /* the OS's words, kept */
	assert_true(n > 5);
	struct fixture full = { .sp = sp };
	assert_true(strlen(mnt) < sizeof(full.dir));
	memcpy(full.dir, mnt, strlen(mnt) + 1);
	assert_int_equal(count_dir(&full, "tmp"), 0);
	assert_int_equal(count_dir(&full, "queue"), n);
	for (size_t i = 0; i < n; i++) {
		struct spool_entry *e = NULL;
		assert_int_equal(spool_load(sp, ids[i], &e, &why), MX_OK);
		assert_int_equal(e->len, sizeof(data));
		spool_entry_free(e);
	}
	spool_close(sp);
	assert_int_equal(umount(mnt), 0);
}

/* ---- crash safety ------------------------------------------------------- */

static void
crash_child(const char *dir, int out, unsigned seed)
{
	const char *rcpts[] = { "one@example.com", "two@example.org" };
	static uint8_t data[65536];
	struct spool *sp = NULL;
	const char *why = NULL;
	char id[SPOOL_ID_MAX + 2], openwhy[256];

	if (spool_open(dir, &sp, openwhy, sizeof(openwhy)) != MX_OK)
		_exit(2);
	for (;;) {
		seed = seed * 1103515245u + 12345u;
		size_t len = (seed >> 8) % sizeof(data);
		memset(data, (int)(seed & 0xff), len);
		if (spool_enqueue(sp, "", rcpts, 2, data, len, id, sizeof(id), &why) != MX_OK)
			_exit(3);
		size_t n = strlen(id);
		id[n] = '\n';
		if (write(out, id, n + 1) != (ssize_t)(n + 1))
			_exit(4);
	}
}

/* Reads what a dead child reported; every complete line is an ID. */
static void
read_accepted(int fd, struct ids *acc)
{
	char buf[65536];
	size_t have = 0;
	ssize_t r;

	while ((r = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		have += (size_t)r;
		char *nl, *p = buf;
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL) {
			*nl = '\0';
			assert_true(acc->n < MAX_IDS);
			strcpy(acc->id[acc->n++], p);
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
	}
}

static void
test_crash(void **state)
{
	struct fixture *f = *state;
	struct ids *acc = calloc(1, sizeof(*acc)), *found;
	unsigned seed = CRASH_SEED;
	const char *why = NULL;

	assert_non_null(acc->id = calloc(MAX_IDS, sizeof(*acc->id)));
	for (int k = 0; k < CRASH_KILLS; k++) {
		int pipefd[2], status;
		pid_t pid;

		assert_int_equal(pipe(pipefd), 0);
		seed = seed * 1103515245u + 12345u;
		assert_true((pid = fork()) >= 0);
		if (pid == 0) {
			close(pipefd[0]);
			crash_child(f->dir, pipefd[1], seed);
		}
		close(pipefd[1]);
		usleep((seed >> 8) % 20000);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		read_accepted(pipefd[0], acc);
		close(pipefd[0]);
	}
	found = scan_all(f->sp);
	assert_int_equal(found->skipped, 0);
	for (size_t i = 0; i < found->n; i++) {
		struct spool_entry *e = NULL;
		assert_int_equal(spool_load(f->sp, found->id[i], &e, &why), MX_OK);
		assert_int_equal(e->n_rcpts, 2);
		spool_entry_free(e);
	}
	for (size_t i = 0; i < acc->n; i++)
		assert_true(ids_has(found, acc->id[i]));
	assert_int_equal(count_dir(f, "corrupt"), 0);
	printf("# crash: %d kills, %zu accepted, %zu in queue/, %zu left in tmp/\n", CRASH_KILLS,
	    acc->n, found->n, count_dir(f, "tmp"));
	assert_true(acc->n > 0);
	ids_free(found);
	ids_free(acc);
}

/* ---- locks ------------------------------------------------------------- */

static void
test_locks(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1], c;
	struct spool_entry *e = NULL;
	const char *why = NULL;
	int fd = -1, fd2 = -1, pipefd[2], status;
	pid_t pid;

	assert_int_equal(spool_enqueue(f->sp, "", rcpts, 1, NULL, 0, id, sizeof(id), &why), MX_OK);
	assert_int_equal(spool_lock(f->sp, id, &fd), MX_OK);
	assert_int_equal(spool_lock(f->sp, id, &fd2), MX_ERR_LOCKED);
	assert_int_equal(fd2, -1);
	/* An update by the holder keeps the lock on the new file. */
	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_OK);
	e->rcpts[0].attempts = 1;
	assert_int_equal(spool_update(f->sp, e, &fd, &why), MX_OK);
	spool_entry_free(e);
	assert_int_equal(spool_lock(f->sp, id, &fd2), MX_ERR_LOCKED);
	spool_unlock(fd);
	assert_int_equal(spool_lock(f->sp, id, &fd2), MX_OK);
	spool_unlock(fd2);
	spool_unlock(-1);
	assert_int_equal(spool_lock(f->sp, "NoSuchEntry", &fd2), MX_ERR_NOT_FOUND);

	/* A holder that dies releases it. */
	assert_int_equal(pipe(pipefd), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		int cfd;
		if (spool_lock(f->sp, id, &cfd) != MX_OK || write(pipefd[1], "L", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(spool_lock(f->sp, id, &fd2), MX_ERR_LOCKED);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(spool_lock(f->sp, id, &fd2), MX_OK);
	spool_unlock(fd2);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* tmp/ files of dead writers go; a live writer's (locked) or a young one stays. */
static void
test_clean_tmp(void **state)
{
	struct fixture *f = *state;
	const char *names[] = { "dead.AAAA.tmp", "live.BBBB.tmp", "young.CCCC.tmp" };
	struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
	char path[512];
	int fds[3];

	for (int i = 0; i < 3; i++) {
		path_of(f, "tmp", names[i], path, sizeof(path));
		fds[i] = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fds[i] >= 0);
		if (i < 2)
			assert_int_equal(futimens(fds[i], old), 0);
	}
	assert_int_equal(flock(fds[1], LOCK_EX | LOCK_NB), 0);
	assert_int_equal(spool_clean_tmp(f->sp, 60), 1);
	assert_int_equal(count_dir(f, "tmp"), 2);
	path_of(f, "tmp", names[0], path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	close(fds[1]); /* the writer dies: its lock goes with it */
	assert_int_equal(spool_clean_tmp(f->sp, 60), 1);
	assert_int_equal(spool_clean_tmp(f->sp, 0), 1); /* no minimum age: the young one too */
	assert_int_equal(count_dir(f, "tmp"), 0);
	close(fds[0]);
	close(fds[2]);
}

/* A kernel or file system without renameat2 (EINVAL): link + unlink, never
 * over an existing entry; updates fall back to rename(2). */
static int
rename_without_flags(
    int olddirfd, const char *oldname, int newdirfd, const char *newname, unsigned flags)
{
	if (flags != 0) {
		errno = EINVAL;
		return -1;
	}
	return renameat(olddirfd, oldname, newdirfd, newname);
}

static int fsyncs_seen;

static int
counting_fsync(int fd)
{
	fsyncs_seen++;
	return fsync(fd);
}

/*
 * Group removals (the daemon's): spool_remove only renames the file into
 * tmp/'s pool (spool_pool.h), and one spool_sync_removals makes them all
 * durable with one fsync of queue/; the files stay for new messages.
 * Without it every removal is one unlink and one fsync, as before.  A
 * failed fsync changes nothing for them; spool_clean_tmp takes what
 * nobody took (unlocked).
 */
static void
test_group_removals(void **state)
{
	struct fixture *f = *state;
	struct spool_ops ops;
	char ids[5][SPOOL_ID_MAX + 1];
	const char *why = NULL;

	for (size_t i = 0; i < 5; i++)
		fresh_entry(f, ids[i]);
	spool_get_ops_for_testing(f->sp, &ops);
	ops.fsync = counting_fsync;
	spool_set_ops_for_testing(f->sp, &ops);
	fsyncs_seen = 0;
	assert_int_equal(spool_remove(f->sp, ids[0], &why), MX_OK);
	assert_int_equal(fsyncs_seen, 1);
	spool_group_removals(f->sp, true);
	for (size_t i = 1; i < 5; i++)
		assert_int_equal(spool_remove(f->sp, ids[i], &why), MX_OK);
	assert_int_equal(fsyncs_seen, 1);
	assert_int_equal(count_dir(f, "queue"), 0);
	assert_int_equal(count_dir(f, "tmp"), 4); /* tmp/free.N, kept */
	assert_int_equal(spool_sync_removals(f->sp, &why), MX_OK);
	assert_int_equal(fsyncs_seen, 2);
	assert_int_equal(count_dir(f, "tmp"), 4);
	assert_int_equal(spool_sync_removals(f->sp, &why), MX_OK); /* nothing new */
	assert_int_equal(fsyncs_seen, 2);
	spool_set_ops_for_testing(f->sp, NULL);
	assert_int_equal(spool_clean_tmp(f->sp, 0), 4); /* unlocked: nobody's */
}

/* The file of the entry id as it is in queue/ now: its inode. */
static ino_t
inode_of(const struct fixture *f, const char *sub, const char *name)
{
	char path[512];
	struct stat st;

	path_of(f, sub, name, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* A message staged after removals is written over a removed entry's file
 * (same inode, no new one), cut to its own length, and loads whole. */
static void
test_pool_reused_by_a_staged_message(void **state)
{
	struct fixture *f = *state;
	char ids[2][SPOOL_ID_MAX + 1];
	ino_t old[2];
	struct spool_rcpt rcpt = { .address = "two@example.com" };
	uint8_t data[] = "short\r\n";
	struct spool_entry e = { .sender = "s@example.org",
		.rcpts = &rcpt,
		.n_rcpts = 1,
		.data = data,
		.len = sizeof(data) - 1 };
	struct spool_staged st, *stp = &st;
	struct spool_entry *got = NULL;
	const char *why = NULL;

	spool_group_removals(f->sp, true);
	for (size_t i = 0; i < 2; i++) {
		fresh_entry(f, ids[i]);
		old[i] = inode_of(f, "queue", ids[i]);
		assert_int_equal(spool_remove(f->sp, ids[i], &why), MX_OK);
	}
	assert_int_equal(spool_sync_removals(f->sp, &why), MX_OK);
	assert_int_equal(count_dir(f, "tmp"), 2);
	assert_int_equal(spool_stage(f->sp, &e, &st, &why), MX_OK);
	assert_int_equal(spool_commit_staged(f->sp, &stp, 1, &why), MX_OK);
	assert_int_equal(count_dir(f, "tmp"), 1);
	assert_true(inode_of(f, "queue", e.id) == old[0] || inode_of(f, "queue", e.id) == old[1]);
	assert_int_equal(spool_load(f->sp, e.id, &got, &why), MX_OK);
	assert_int_equal(got->len, sizeof(data) - 1);
	assert_memory_equal(got->data, data, sizeof(data) - 1);
	assert_string_equal(got->rcpts[0].address, "two@example.com");
	spool_entry_free(got);
}

/* The pool keeps at most SPOOL_POOL_MAX (256) files; the oldest beyond
 * it are unlinked once queue/ is synced. */
static void
test_pool_bounded(void **state)
{
	struct fixture *f = *state;
	char id[SPOOL_ID_MAX + 1];
	const char *why = NULL;

	spool_group_removals(f->sp, true);
	for (size_t i = 0; i < 300; i++) {
		fresh_entry(f, id);
		assert_int_equal(spool_remove(f->sp, id, &why), MX_OK);
	}
	assert_int_equal(count_dir(f, "tmp"), 300);
	assert_int_equal(spool_sync_removals(f->sp, &why), MX_OK);
	assert_int_equal(count_dir(f, "tmp"), 256);
	assert_int_equal(count_dir(f, "queue"), 0);
}

static int
failing_dir_fsync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

static void
test_group_removals_failed_sync_left_for_clean_tmp(void **state)
{
	struct fixture *f = *state;
	struct spool_ops ops;
	char id[SPOOL_ID_MAX + 1];
	const char *why = NULL;

	fresh_entry(f, id);
	spool_group_removals(f->sp, true);
	assert_int_equal(spool_remove(f->sp, id, &why), MX_OK);
	spool_get_ops_for_testing(f->sp, &ops);
	ops.fsync = failing_dir_fsync;
	spool_set_ops_for_testing(f->sp, &ops);
	assert_int_equal(spool_sync_removals(f->sp, &why), MX_ERR_SYSTEM);
	assert_non_null(strstr(why, "removals may be undone"));
	spool_set_ops_for_testing(f->sp, NULL);
	assert_int_equal(count_dir(f, "queue"), 0);
	assert_int_equal(count_dir(f, "tmp"), 1);
	assert_int_equal(spool_clean_tmp(f->sp, 0), 1); /* unlocked: a dead one's */
	assert_int_equal(count_dir(f, "tmp"), 0);
}

static void
test_rename_fallback(void **state)
{
	struct fixture *f = *state;
	struct spool_ops ops;
	const char *rcpts[] = { "one@example.com" };
	char id[SPOOL_ID_MAX + 1];
	struct spool_entry *e = NULL;
	const char *why = NULL;
	int fd = -1;

	/* Start from the real table, then replace the rename only. */
	spool_set_ops_for_testing(f->sp, NULL);
	spool_get_ops_for_testing(f->sp, &ops);
	ops.rename = rename_without_flags;
	spool_set_ops_for_testing(f->sp, &ops);
	assert_int_equal(spool_enqueue(f->sp, "s@example.org", rcpts, 1,
			     (const uint8_t *)"hello\r\n", 7, id, sizeof(id), &why),
	    MX_OK);
	assert_int_equal(count_dir(f, "queue"), 1);
	assert_int_equal(count_dir(f, "tmp"), 0);
	assert_int_equal(spool_lock(f->sp, id, &fd), MX_OK);
	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_OK);
	e->rcpts[0].state = SPOOL_SENT;
	assert_int_equal(spool_update(f->sp, e, &fd, &why), MX_OK);
	spool_entry_free(e);
	spool_unlock(fd);
	assert_int_equal(spool_load(f->sp, id, &e, &why), MX_OK);
	assert_int_equal(e->rcpts[0].state, SPOOL_SENT);
	spool_entry_free(e);
	assert_int_equal(count_dir(f, "tmp"), 0);
	spool_set_ops_for_testing(f->sp, NULL);
}

/* ---- header-only loading (issue 12 item 7) ------------------------------ */

struct seen {
	size_t n, pieces, biggest;
	uint32_t sum;
};

static void
see_piece(const uint8_t *piece, size_t n, void *arg)
{
	struct seen *s = arg;

	for (size_t i = 0; i < n; i++)
		s->sum = s->sum * 31 + piece[i];
	s->n += n;
	s->pieces++;
	s->biggest = n > s->biggest ? n : s->biggest;
}

/*
 * spool_load_head checks the data a piece at a time without holding it;
 * the entry delivers from its file (spool_entry_payload) and spool_update
 * copies the data from there; data damaged on disk after the load is
 * never sealed under a new CRC: the update fails and the damaged file is
 * quarantined by the next load.
 */
static void
test_load_head_streams(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com", "two@example.org" };
	size_t len = 5 * PAYLOAD_CHUNK + 123;
	uint8_t *data = malloc(len), *back = malloc(len);
	char id[SPOOL_ID_MAX + 1], path[512];
	struct spool_entry *e = NULL, *again = NULL;
	struct seen seen = { 0 }, want = { 0 };
	struct payload pl;
	const char *why = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + (i >> 11));
	see_piece(data, len, &want);
	assert_int_equal(
	    spool_enqueue(f->sp, "me@example.com", rcpts, 2, data, len, id, sizeof(id), &why),
	    MX_OK);
	assert_int_equal(spool_load_head(f->sp, id, see_piece, &seen, &e, &why), MX_OK);
	assert_null(e->data);
	assert_non_null(e->src);
	assert_int_equal(e->len, len);
	assert_int_equal(seen.n, len);
	assert_int_equal(seen.sum, want.sum);
	assert_true(seen.biggest <= PAYLOAD_CHUNK && seen.pieces >= 6);
	spool_entry_payload(e, &pl);
	while ((r = payload_read(&pl, got, back + got, len - got)) > 0)
		got += (size_t)r;
	assert_int_equal(got, len);
	assert_memory_equal(back, data, len);

	/* An update copies the data from the old file. */
	e->rcpts[0].state = SPOOL_SENT;
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_OK);
	assert_int_equal(spool_load(f->sp, id, &again, &why), MX_OK);
	assert_int_equal(again->rcpts[0].state, SPOOL_SENT);
	assert_int_equal(again->len, len);
	assert_memory_equal(again->data, data, len);
	spool_entry_free(again);
	spool_entry_free(e);

	/* Damage after the load: the update refuses, the old file stays as it is. */
	assert_int_equal(spool_load_head(f->sp, id, NULL, NULL, &e, &why), MX_OK);
	path_of(f, "queue", id, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(pwrite(fd, "\xff", 1, e->src->off + (off_t)len / 2), 1);
	close(fd);
	e->rcpts[1].attempts = 7;
	assert_int_equal(spool_update(f->sp, e, NULL, &why), MX_ERR_SYSTEM);
	assert_non_null(strstr(why, "CRC-32"));
	assert_int_equal(count_dir(f, "tmp"), 0);
	assert_int_equal(spool_entry_read_data(e, &why), MX_ERR_CORRUPT);
	assert_null(e->data);
	spool_entry_free(e);
	assert_int_equal(spool_load_head(f->sp, id, NULL, NULL, &again, &why), MX_ERR_CORRUPT);
	assert_true(exists(f, "corrupt", id));
	free(data);
	free(back);
}

/*
 * spool_load_schedule reads the header only: recipients, states, next
 * attempts and the data's length, with no data and no file kept; damage
 * in the data is not its to find (spool_load_head finds it when the entry
 * is delivered).  Recipients take the room they need, not SPOOL_RCPTS_MAX
 * entries' worth.
 */
static void
test_load_schedule(void **state)
{
	struct fixture *f = *state;
	const char *rcpts[] = { "one@example.com", "two@example.org", "three@example.net" };
	size_t len = 3 * PAYLOAD_CHUNK;
	uint8_t *data = calloc(1, len);
	char id[SPOOL_ID_MAX + 1], path[512];
	struct spool_entry *e = NULL;
	const char *why = NULL;
	int fd;

	assert_non_null(data);
	assert_int_equal(
	    spool_enqueue(f->sp, "me@example.com", rcpts, 3, data, len, id, sizeof(id), &why),
	    MX_OK);
	path_of(f, "queue", id, path, sizeof(path));
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(pwrite(fd, "\xff", 1, 600 + (off_t)len / 2), 1); /* in the data */
	close(fd);
	assert_int_equal(spool_load_schedule(f->sp, id, &e, &why), MX_OK);
	assert_null(e->data);
	assert_null(e->src);
	assert_int_equal(e->len, len);
	assert_string_equal(e->sender, "me@example.com");
	assert_int_equal(e->n_rcpts, 3);
	assert_string_equal(e->rcpts[2].address, "three@example.net");
	assert_int_equal(e->rcpts[1].state, SPOOL_PENDING);
	assert_true(malloc_usable_size(e->rcpts) < 8 * sizeof(*e->rcpts));
	spool_entry_free(e);
	assert_int_equal(count_dir(f, "corrupt"), 0);
	assert_int_equal(spool_load_head(f->sp, id, NULL, NULL, &e, &why), MX_ERR_CORRUPT);
	assert_true(exists(f, "corrupt", id));
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_head_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_schedule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoted_space_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoted_forms_stored_as_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_stale_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_entry_vanishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_removals, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_group_removals_failed_sync_left_for_clean_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pool_reused_by_a_staged_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
