/*
 * test_drop.c - lib/submit/drop.c: the drop request and its stored form.
 * Header format/parse round trips (request and stored, every field, UTF-8
 * values); every refused field and line as a table, through both entry
 * points; the limits at and one past each cap (value octets, rcpt lines,
 * size, uid); the writer refusing what would not parse back; a request
 * written to a file by drop_request_write read back octet for octet; the
 * wire-form check of data, each case fed whole, split in two at every
 * byte boundary and one octet at a time, with the same verdict and line.
 * No helper is run here (test_submit.py does that).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "drop.h"
#include "payload.h"

/* Parses text (a NUL-terminated header) at one entry point. */
static mx_err
parse(const char *text, bool stored, struct drop_request *r, size_t *hlen)
{
	char why[256] = "";

	return drop_header_parse(text, strlen(text), stored, r, hlen, why, sizeof(why));
}

static void
same_request(const struct drop_request *a, const struct drop_request *b)
{
	assert_int_equal(a->sender == NULL, b->sender == NULL);
	if (a->sender)
		assert_string_equal(a->sender, b->sender);
	assert_int_equal(a->sender_set, b->sender_set);
	assert_int_equal(a->name == NULL, b->name == NULL);
	if (a->name)
		assert_string_equal(a->name, b->name);
	assert_int_equal(a->rcpt_n, b->rcpt_n);
	for (size_t i = 0; i < a->rcpt_n; i++)
		assert_string_equal(a->rcpt[i], b->rcpt[i]);
	assert_int_equal(a->error_mode, b->error_mode);
	assert_int_equal(a->ret, b->ret);
	assert_int_equal(a->envid == NULL, b->envid == NULL);
	if (a->envid)
		assert_string_equal(a->envid, b->envid);
	assert_int_equal(a->notify == NULL, b->notify == NULL);
	if (a->notify)
		assert_string_equal(a->notify, b->notify);
	assert_int_equal(a->body, b->body);
}

/* Formats r, parses it back at r's entry point, compares; then formats
 * the parsed one and expects the same octets (a fixed point). */
static void
round_trip(const struct drop_request *r, size_t size)
{
	struct drop_request back;
	char why[256] = "", *text = NULL, *again = NULL;
	size_t len, hlen, len2;

	assert_int_equal(drop_header_format(r, size, &text, &len, why, sizeof(why)), MX_OK);
	assert_int_equal(
	    drop_header_parse(text, len, r->stored, &back, &hlen, why, sizeof(why)), MX_OK);
	assert_int_equal(hlen, len);
	assert_int_equal(back.size, size);
	assert_int_equal(back.stored, r->stored);
	if (r->stored) {
		assert_int_equal(back.uid, r->uid);
		assert_int_equal(back.gid, r->gid);
		assert_int_equal(back.time, r->time);
	}
	same_request(r, &back);
	assert_int_equal(drop_header_format(&back, size, &again, &len2, why, sizeof(why)), MX_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(again, text, len);
	/* The other entry point refuses it. */
	drop_request_clear(&back);
	assert_int_equal(drop_header_parse(text, len, !r->stored, &back, &hlen, why, sizeof(why)),
	    MX_ERR_BAD_DOMAIN);
	assert_int_equal(hlen, 0);
	free(again);
	free(text);
}

static void
test_round_trip_minimal(void **state)
{
	char *rcpt[] = { "root" };
	struct drop_request r = { .rcpt = rcpt, .rcpt_n = 1 };

	(void)state;
	round_trip(&r, 0);
	r.stored = true;
	round_trip(&r, 0);
}

static void
test_round_trip_every_field(void **state)
{
	char *rcpt[] = { "a@ok.send.test", "bob", "\"with space\"@example.test",
		"j\xc3\xbcrgen@b\xc3\xbc"
		"cher.test" };
	struct drop_request r = { .sender = "s@sender.test",
		.sender_set = true,
		.name = "J\xc3\xbcrgen \"the\" M\xc3\xbcller (x)",
		.rcpt = rcpt,
		.rcpt_n = 4,
		.error_mode = 'q',
		.ret = DROP_RET_HDRS,
		.envid = "QQ+2Bx.1",
		.notify = "success,delay",
		.body = DROP_BODY_8BITMIME };
	static const char modes[] = { 'e', 'm', 'p', 'q' };

	(void)state;
	round_trip(&r, 12345);
	r.stored = true;
	r.uid = 4294967294u;
	r.gid = 0;
	r.time = 1700000000;
	round_trip(&r, DROP_SIZE_MAX);
	r.sender = ""; /* <> */
	r.ret = DROP_RET_FULL;
	r.body = DROP_BODY_7BIT;
	r.notify = "never";
	for (size_t i = 0; i < sizeof(modes); i++) {
		r.error_mode = modes[i];
		round_trip(&r, 1);
	}
}

/* The exact text of a request and of a stored header, and where the data starts. */
static void
test_exact_text(void **state)
{
	static const char req[] = "mxdrop 1\nsender-set 0\nrcpt a@b.test\nsize 8\n\nSubj\r\n\r\n";
	static const char st[] = "mxdrop-stored 1\nuid 1001\ngid 1001\ntime 5\nsender x@y.test\n"
				 "sender-set 1\nrcpt a@b.test\nsize 0\n\n";
	struct drop_request r;
	size_t hlen;

	(void)state;
	assert_int_equal(parse(req, false, &r, &hlen), MX_OK);
	assert_int_equal(hlen, strlen(req) - 8);
	assert_int_equal(r.size, 8);
	assert_null(r.sender);
	assert_false(r.sender_set);
	assert_false(r.stored);
	drop_request_clear(&r);
	assert_null(r.rcpt);
	assert_int_equal(parse(st, true, &r, &hlen), MX_OK);
	assert_int_equal(hlen, strlen(st));
	assert_int_equal(r.uid, 1001);
	assert_int_equal(r.time, 5);
	assert_string_equal(r.sender, "x@y.test");
	assert_true(r.stored);
	drop_request_clear(&r);
	drop_request_clear(NULL);
	assert_int_equal(drop_header_end(req, strlen(req)), strlen(req) - 8);
	assert_int_equal(drop_header_end(req, 10), 0);
	assert_int_equal(drop_header_end("\n", 1), 1);
}

/* Lines put between "mxdrop 1\n" and a valid tail; each must be refused. */
static const char *const bad_lines[] = {
	"bogus 1\n",                          /* unknown key */
	"sender a@b.test\nsender c@d.test\n", /* twice */
	"sender-set 0\n",                     /* twice (the tail has one) */
	"sender-set 2\n",
	"sender-set \n",
	"sender-set 01\n",
	"error-mode x\n",
	"error-mode ee\n",
	"error-mode \n",
	"error-mode E\n",
	"ret body\n",
	"ret FULL\n",
	"ret \n",
	"body 8bit\n",
	"body binarymime\n",
	"body \n",
	"notify never,success\n",
	"notify \n",
	"notify success,\n",
	"notify ,delay\n",
	"notify NEVER\n",
	"notify success,bogus\n",
	"envid \n", /* envid may not be empty */
	"name a\tb\n",
	"name a\rb\n",
	"name a\x7f"
	"b\n",
	"name a\xc2\x85"
	"b\n", /* C0, DEL, C1 */
	"name \xff\n",
	"name \xc3\n",
	"name \xe2\x82\n",
	"name \xc0\xaf\n", /* bad UTF-8 */
	"name \xc3\x28\n",
	"name \xf5\x80\x80\x80\n",
	"rcpt \n", /* empty rcpt */
	"rcpt\n",
	"rcpt",
	" a\n",
	"sender\n",
	"x\n",      /* no "key value" */
	"size 9\n", /* twice */
	"uid 0\n",
	"gid 0\n",
	"time 1\n", /* only mx-drop writes these */
	"mxdrop 1\n",
	"mxdrop-stored 1\n",
	"Sender a@b.test\n",
	"RCPT a@b.test\n", /* keys are lower case */
	NULL,
};

static void
test_refused_lines(void **state)
{
	static const char tail[] = "sender-set 0\nrcpt a@b.test\nsize 0\n\n";
	char buf[512];
	struct drop_request r;
	size_t hlen;

	(void)state;
	snprintf(buf, sizeof(buf), "mxdrop 1\n%s", tail);
	assert_int_equal(parse(buf, false, &r, &hlen), MX_OK);
	drop_request_clear(&r);
	for (size_t i = 0; bad_lines[i] != NULL; i++) {
		char why[256] = "";
		snprintf(buf, sizeof(buf), "mxdrop 1\n%s%s", bad_lines[i], tail);
		mx_err err =
		    drop_header_parse(buf, strlen(buf), false, &r, &hlen, why, sizeof(why));
		if (err != MX_ERR_BAD_DOMAIN)
			fail_msg("accepted line %zu: %s", i, bad_lines[i]);
		assert_int_equal(hlen, 0);
		assert_null(r.rcpt);
		assert_true(why[0] != '\0');
		/* The same line after the stored head is refused too. */
		snprintf(buf, sizeof(buf), "mxdrop-stored 1\nuid 1\ngid 1\ntime 1\n%s%s",
		    bad_lines[i], tail);
		if (parse(buf, true, &r, &hlen) != MX_ERR_BAD_DOMAIN)
			fail_msg("stored form accepted line %zu: %s", i, bad_lines[i]);
	}
}

/* Whole headers that are refused: magic, structure, the stored head. */
static const char *const bad_headers[][2] = {
	{ "r", "" },
	{ "r", "mxdrop 1\n" },
	{ "r", "mxdrop 2\nrcpt a@b.test\nsize 0\n\n" },
	{ "r", "mxdrop 1 \nrcpt a@b.test\nsize 0\n\n" },
	{ "r", "MXDROP 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "r", "\nmxdrop 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "r", "mxdrop 1\nsize 0\n\n" },              /* no rcpt */
	{ "r", "mxdrop 1\nrcpt a@b.test\n\n" },       /* no size */
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize 0\n" }, /* no empty line */
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize 0" },
	{ "r", "mxdrop 1\r\nrcpt a@b.test\r\nsize 0\r\n\r\n" },
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize 0\r\n\n" },
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize -1\n\n" },
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize 00\n\n" },
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize 1e3\n\n" },
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize +1\n\n" },
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize 1073741825\n\n" },
	{ "r", "mxdrop 1\nrcpt a@b.test\nsize 99999999999999999999999\n\n" },
	{ "r", "mxdrop-stored 1\nuid 0\ngid 0\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\ngid 0\nuid 0\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid 0\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid 0\ngid 0\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid 4294967295\ngid 0\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid 0\ngid 4294967295\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid -1\ngid 0\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid 01\ngid 0\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid  1\ngid 0\ntime 1\nrcpt a@b.test\nsize 0\n\n" },
	{ "s",
	    "mxdrop-stored 1\nuid 0\ngid 0\ntime 9223372036854775808\nrcpt a@b.test\n"
	    "size 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid 0\ngid 0\ntime 1\nuid 0\nrcpt a@b.test\nsize 0\n\n" },
	{ "s", "mxdrop-stored 1\nuid 0\ngid 0\ntime 1\nrcpt a@b.test\nsize 0\n" },
	{ NULL, NULL },
};

static void
test_refused_headers(void **state)
{
	struct drop_request r;
	size_t hlen;

	(void)state;
	for (size_t i = 0; bad_headers[i][0] != NULL; i++) {
		bool stored = bad_headers[i][0][0] == 's';
		if (parse(bad_headers[i][1], stored, &r, &hlen) != MX_ERR_BAD_DOMAIN)
			fail_msg("accepted header %zu: %s", i, bad_headers[i][1]);
		assert_int_equal(hlen, 0);
	}
	/* The largest values that are allowed. */
	assert_int_equal(parse("mxdrop-stored 1\nuid 4294967294\ngid 4294967294\n"
			       "time 9223372036854775807\nrcpt a@b.test\nsize 1073741824\n\n",
			     true, &r, &hlen),
	    MX_OK);
	assert_int_equal(r.uid, 4294967294u);
	assert_int_equal(r.size, DROP_SIZE_MAX);
	drop_request_clear(&r);
}

/* A header with one value of n octets (key name) and rcpt lines. */
static char *
header_with(size_t value_len, size_t rcpts)
{
	size_t cap = 64 + value_len + rcpts * 24;
	char *buf = malloc(cap), *p = buf;

	assert_non_null(buf);
	p += sprintf(p, "mxdrop 1\nname ");
	memset(p, 'n', value_len);
	p += value_len;
	*p++ = '\n';
	for (size_t i = 0; i < rcpts; i++)
		p += sprintf(p, "rcpt r%zu@b.test\n", i);
	strcpy(p, "size 0\n\n");
	return buf;
}

static void
test_limits(void **state)
{
	struct drop_request r;
	size_t hlen;
	char *h;

	(void)state;
	h = header_with(DROP_VALUE_MAX, 1);
	assert_int_equal(parse(h, false, &r, &hlen), MX_OK);
	assert_int_equal(strlen(r.name), DROP_VALUE_MAX);
	drop_request_clear(&r);
	free(h);
	h = header_with(DROP_VALUE_MAX + 1, 1);
	assert_int_equal(parse(h, false, &r, &hlen), MX_ERR_BAD_DOMAIN);
	free(h);
	h = header_with(1, DROP_RCPT_MAX);
	assert_int_equal(parse(h, false, &r, &hlen), MX_OK);
	assert_int_equal(r.rcpt_n, DROP_RCPT_MAX);
	assert_string_equal(r.rcpt[DROP_RCPT_MAX - 1], "r999@b.test");
	drop_request_clear(&r);
	free(h);
	h = header_with(1, DROP_RCPT_MAX + 1);
	assert_int_equal(parse(h, false, &r, &hlen), MX_ERR_BAD_DOMAIN);
	free(h);
}

/* Every proper prefix of a valid header is refused, read from a buffer of
 * exactly that length (no NUL after it: ASan sees any read past it). */
static void
test_header_prefixes(void **state)
{
	static const char full[] =
	    "mxdrop-stored 1\nuid 7\ngid 8\ntime 9\nsender a@b.test\n"
	    "sender-set 1\nname N\nrcpt c@d.test\nerror-mode m\nret hdrs\nenvid E\n"
	    "notify success\nbody 8bitmime\nsize 3\n\n";
	size_t len = strlen(full), hlen;
	struct drop_request r;

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		char *buf = malloc(n ? n : 1);
		assert_non_null(buf);
		memcpy(buf, full, n);
		mx_err err = drop_header_parse(buf, n, true, &r, &hlen, NULL, 0);
		if (n < len && err != MX_ERR_BAD_DOMAIN)
			fail_msg("prefix of %zu octets accepted", n);
		if (n == len) {
			assert_int_equal(err, MX_OK);
			assert_int_equal(hlen, len);
			assert_int_equal(r.error_mode, 'm');
			drop_request_clear(&r);
		}
		free(buf);
	}
}

/* The writer never writes what would not parse back. */
static void
test_format_refuses(void **state)
{
	char *good[] = { "a@b.test" }, *nl[] = { "a@b.test\nrcpt c@d.test" }, *empty[] = { "" },
	     *ctl[] = { "a\x01@b.test" };
	struct drop_request cases[] = {
		{ .rcpt = good, .rcpt_n = 0 },
		{ .rcpt = nl, .rcpt_n = 1 },
		{ .rcpt = empty, .rcpt_n = 1 },
		{ .rcpt = ctl, .rcpt_n = 1 },
		{ .rcpt = good, .rcpt_n = 1, .name = "x\ny" },
		{ .rcpt = good, .rcpt_n = 1, .sender = "a\nuid 0" },
		{ .rcpt = good, .rcpt_n = 1, .envid = "" },
		{ .rcpt = good, .rcpt_n = 1, .notify = "sometimes" },
		{ .rcpt = good, .rcpt_n = 1, .error_mode = 'x' },
	};
	char why[256], *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		out = (char *)1;
		if (drop_header_format(&cases[i], 0, &out, &len, why, sizeof(why)) !=
		    MX_ERR_INVALID)
			fail_msg("case %zu formatted", i);
		assert_null(out);
	}
	out = NULL;
	assert_int_equal(
	    drop_header_format(&cases[0], DROP_SIZE_MAX + 1, &out, &len, why, sizeof(why)),
	    MX_ERR_INVALID);
	assert_null(out);
}

/* drop_request_write: the header, then the data octet for octet. */
static void
test_request_write(void **state)
{
	char *rcpt[] = { "a@b.test", "c" };
	struct drop_request r = { .sender = "s@x.test",
		.sender_set = true,
		.rcpt = rcpt,
		.rcpt_n = 2,
		.size = 999 /* ignored */ },
			    back;
	static const char body[] = "Subject: hi\r\n\r\n..dot\r\nbody\r\n";
	char buf[4096], why[256];
	struct payload data;
	size_t hlen;
	ssize_t got;
	int dfd = payload_tmpfile(), out = payload_tmpfile();

	(void)state;
	assert_true(dfd >= 0 && out >= 0);
	assert_int_equal(write(dfd, body, strlen(body)), (ssize_t)strlen(body));
	assert_int_equal(payload_init(&data, NULL, 0, dfd, 0, strlen(body)), MX_OK);
	assert_int_equal(drop_request_write(out, &r, &data, why, sizeof(why)), MX_OK);
	got = pread(out, buf, sizeof(buf), 0);
	assert_true(got > 0);
	assert_int_equal(
	    drop_header_parse(buf, (size_t)got, false, &back, &hlen, why, sizeof(why)), MX_OK);
	assert_int_equal(back.size, strlen(body));
	assert_int_equal((size_t)got, hlen + strlen(body));
	assert_memory_equal(buf + hlen, body, strlen(body));
	same_request(&r, &back);
	drop_request_clear(&back);
	/* A closed fd: MX_ERR_SYSTEM and a reason. */
	close(out);
	why[0] = '\0';
	assert_int_equal(drop_request_write(out, &r, &data, why, sizeof(why)), MX_ERR_SYSTEM);
	assert_true(why[0] != '\0');
	payload_clear(&data);
	close(dfd);
}

struct data_case {
	const char *data;
	size_t len;   /* 0: strlen */
	bool ok;      /* feed and end both accept */
	bool feed_ok; /* feed accepts (end may still refuse) */
	size_t line;  /* the line a feed fault names (0: no fault) */
};

static char line998[998 + 3], line999[999 + 3];

static const struct data_case data_cases[] = {
	{ "", 0, true, true, 0 }, { "\r\n", 0, true, true, 0 }, { "a\r\nb\r\n", 0, true, true, 0 },
	{ "..\r\n", 0, true, true, 0 }, { "..x\r\n...\r\n", 0, true, true, 0 },
	{ "a.b\r\n.. \r\n", 0, true, true, 0 },
	{ "\xc3\xa9t\xc3\xa9\r\n\x80\xff\r\n", 0, true, true, 0 }, /* 8-bit allowed */
	{ "x\r\n.\r\n", 0, false, false, 2 },                      /* a lone dot */
	{ ".x\r\n", 0, false, false, 1 },                          /* not stuffed */
	{ "ok\r\n.\r\nmore\r\n", 0, false, false, 2 },
	{ "a\nb\r\n", 0, false, false, 1 },                               /* bare LF */
	{ "\n", 0, false, false, 1 }, { "a\rb\r\n", 0, false, false, 1 }, /* bare CR */
	{ "a\r\r\n", 0, false, false, 1 }, { "a\r\nb\r\nc\rd", 0, false, false, 3 },
	{ "a\0b\r\n", 4 + 1, false, false, 1 },                              /* NUL */
	{ "a\r\n\0\r\n", 5, false, false, 2 }, { "abc", 0, false, true, 0 }, /* no final CRLF */
	{ "abc\r", 0, false, true, 0 }, { "abc\r\nx", 0, false, true, 0 },
	{ ".", 0, false, true, 0 },   /* ends mid-line, nothing refused yet */
	{ NULL, 0, false, false, 0 }, /* line998 and line999 go here */
};

/* Feeds data in the pieces cuts[] gives; returns feed's verdict, *line the
 * line it named, *end data_end's verdict after a clean feed. */
static mx_err
feed_pieces(
    const char *data, size_t len, const size_t *cuts, size_t ncuts, mx_err *end, size_t *line)
{
	struct drop_data_check c = { 0 };
	char why[256] = "";
	size_t pos = 0;
	mx_err err = MX_OK;

	for (size_t i = 0; i <= ncuts && err == MX_OK; i++) {
		size_t to = i < ncuts ? cuts[i] : len;
		err = drop_data_feed(&c, (const uint8_t *)data + pos, to - pos, why, sizeof(why));
		pos = to;
	}
	*line = 0;
	if (err != MX_OK) {
		assert_non_null(strstr(why, "on line"));
		*line = c.line;
		return err;
	}
	*end = drop_data_end(&c, why, sizeof(why));
	assert_int_equal(c.total, len);
	return err;
}

static void
check_case(const struct data_case *dc)
{
	size_t len = dc->len ? dc->len : strlen(dc->data), line,
	       *cuts = calloc(len + 1, sizeof(size_t));
	mx_err end = MX_OK, err;

	assert_non_null(cuts);
	/* Whole, then split in two at every boundary, then octet by octet. */
	for (size_t split = 0; split <= len + 1; split++) {
		size_t ncuts = 0;
		if (split <= len)
			cuts[ncuts++] = split;
		else
			for (size_t k = 0; k < len; k++)
				cuts[ncuts++] = k;
		err = feed_pieces(dc->data, len, cuts, ncuts, &end, &line);
		if ((err == MX_OK) != dc->feed_ok || (err == MX_OK && (end == MX_OK) != dc->ok))
			fail_msg("data case \"%.20s\" split %zu: feed %d end %d", dc->data, split,
			    err, end);
		if (err != MX_OK)
			assert_int_equal(line, dc->line);
	}
	free(cuts);
}

static void
test_data_wire_form(void **state)
{
	struct data_case extra[] = {
		{ line998, 0, true, true, 0 },
		{ line999, 0, false, false, 1 },
	};

	(void)state;
	memset(line998, 'x', 998);
	memcpy(line998 + 998, "\r\n", 3);
	memset(line999, 'x', 999);
	memcpy(line999 + 999, "\r\n", 3);
	for (size_t i = 0; data_cases[i].data != NULL; i++)
		check_case(&data_cases[i]);
	for (size_t i = 0; i < 2; i++)
		check_case(&extra[i]);
}

/* A line of 998 octets after many lines: the count is per line, and the
 * line number in the fault is right after thousands of lines. */
static void
test_data_line_numbers(void **state)
{
	size_t n = 5000 * 3 + 6, line;
	char *buf = malloc(n + 1), *p = buf;
	mx_err end;

	(void)state;
	assert_non_null(buf);
	for (int i = 0; i < 5000; i++)
		p += sprintf(p, "a\r\n");
	p += sprintf(p, ".bad\r\n");
	assert_int_equal(
	    feed_pieces(buf, (size_t)(p - buf), NULL, 0, &end, &line), MX_ERR_BAD_DOMAIN);
	assert_int_equal(line, 5001);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_minimal),
		cmocka_unit_test(test_round_trip_every_field),
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_refused_lines),
		cmocka_unit_test(test_refused_headers),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_header_prefixes),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_request_write),
		cmocka_unit_test(test_data_wire_form),
		cmocka_unit_test(test_data_line_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
