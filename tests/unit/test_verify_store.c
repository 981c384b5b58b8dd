/*
 * test_verify_store.c - lib/verify/verify_store.c, the verification
 * answers' file: saved and loaded back (order, answers and ends kept),
 * ended answers dropped at load and at save, an end beyond today's TTL
 * cut down to it, domains no longer backed up dropped, a missing file
 * empty; every damaged file refused whole (the cache empty, the file
 * kept as verify.cache.bad), an untrusted one (another's, writable by
 * others, a symbolic link) not read; the save durable and atomic (no
 * temporary file left, 0600 in a 0700 private/).  Real files in a
 * temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "verify_store.h"

#define NOW 1800000000 /* 2027-01-15 */

static const struct verify_store_limits LIMITS = {
	.now = NOW, .positive_ttl = 86400, .negative_ttl = 3600
};

struct dir {
	char spool[64], file[128], bad[128], priv[96];
};

static void
make_dir(struct dir *d)
{
	snprintf(d->spool, sizeof(d->spool), "/tmp/mx-vstore-XXXXXX");
	assert_non_null(mkdtemp(d->spool));
	snprintf(d->priv, sizeof(d->priv), "%s/private", d->spool);
	snprintf(d->file, sizeof(d->file), "%s/verify.cache", d->priv);
	snprintf(d->bad, sizeof(d->bad), "%s/verify.cache.bad", d->priv);
}

static void
remove_dir(struct dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->spool);
	assert_int_equal(system(cmd), 0);
}

static void
write_file(const struct dir *d, const char *text, size_t len)
{
	FILE *f;

	mkdir(d->priv, 0700);
	assert_non_null(f = fopen(d->file, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(d->file, 0600), 0);
}

static mx_err
load(const struct dir *d, const struct verify_store_limits *l, struct verify_cache **c,
    struct verify_store_counts *n, mx_why *why)
{
	return verify_store_load(d->spool, 100, l, c, n, why);
}

static void
test_round_trip(void **state)
{
	struct verify_cache *c, *back;
	struct verify_store_counts n;
	struct dir d;
	struct stat st;
	size_t saved;
	mx_why why;
	char cmd[160];

	(void)state;
	make_dir(&d);
	assert_int_equal(verify_cache_new(100, &c), MX_OK);
	assert_true(verify_cache_put(c, "known@b.test", VERIFY_ACCEPTED, NOW + 500));
	assert_true(verify_cache_put(c, "\"a b\"@b.test", VERIFY_ACCEPTED, NOW + 600));
	assert_true(verify_cache_put(c, "gone@b.test", VERIFY_REFUSED, NOW + 100));
	assert_true(verify_cache_put(c, "old@b.test", VERIFY_ACCEPTED, NOW)); /* ended */
	assert_int_equal(verify_store_save(d.spool, c, NOW, &saved, &why), MX_OK);
	assert_int_equal(saved, 3);
	assert_int_equal(stat(d.file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(d.priv, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(load(&d, &LIMITS, &back, &n, &why), MX_OK);
	assert_int_equal(n.kept, 3);
	assert_int_equal(verify_cache_get(back, "known@b.test", NOW + 499), VERIFY_ACCEPTED);
	assert_int_equal(verify_cache_get(back, "known@b.test", NOW + 500), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_get(back, "\"a b\"@b.test", NOW), VERIFY_ACCEPTED);
	assert_int_equal(verify_cache_get(back, "gone@b.test", NOW + 99), VERIFY_REFUSED);
	assert_int_equal(verify_cache_get(back, "old@b.test", NOW - 1), VERIFY_UNKNOWN);
	verify_cache_free(back);
	/* Saved again over the first: replaced whole, no temporary left,
	 * not even one a kill during an earlier save left behind. */
	snprintf(cmd, sizeof(cmd), "echo junk > %s/.verify.cache.tmp", d.priv);
	assert_int_equal(system(cmd), 0);
	assert_true(verify_cache_put(c, "new@b.test", VERIFY_REFUSED, NOW + 300));
	assert_int_equal(verify_store_save(d.spool, c, NOW + 200, &saved, &why), MX_OK);
	assert_int_equal(saved, 3); /* gone@ ended at NOW + 100 */
	snprintf(cmd, sizeof(cmd), "test \"$(ls -A %s)\" = verify.cache", d.priv);
	assert_int_equal(system(cmd), 0);
	verify_cache_free(c);
	remove_dir(&d);
}

/* The order kept is the file's: a smaller cache keeps the newest. */
static void
test_order_and_size(void **state)
{
	const char text[] = VERIFY_STORE_MAGIC " 1\n"
					       "1800000100 accepted a@b.test\n"
					       "1800000100 accepted b@b.test\n"
					       "1800000100 refused c@b.test\n";
	struct verify_cache *c;
	struct verify_store_counts n;
	struct dir d;
	mx_why why;

	(void)state;
	make_dir(&d);
	write_file(&d, text, sizeof(text) - 1);
	assert_int_equal(verify_store_load(d.spool, 2, &LIMITS, &c, &n, &why), MX_OK);
	assert_int_equal(n.kept, 2);
	assert_int_equal(verify_cache_get(c, "a@b.test", NOW), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_get(c, "b@b.test", NOW), VERIFY_ACCEPTED);
	assert_int_equal(verify_cache_get(c, "c@b.test", NOW), VERIFY_REFUSED);
	verify_cache_free(c);
	remove_dir(&d);
}

static bool
only_b(const char *addr, void *arg)
{
	(void)arg;
	return strcmp(strrchr(addr, '@'), "@b.test") == 0;
}

/* Ends at load: passed ones dropped, far ones cut to today's TTL. */
static void
test_expiry_at_load(void **state)
{
	const char text[] = VERIFY_STORE_MAGIC " 1\n"
					       "1799999999 accepted ended@b.test\n"
					       "1800000000 accepted endsnow@b.test\n"
					       "9000000000 accepted far@b.test\n"
					       "9000000000 refused farno@b.test\n"
					       "1800000010 accepted other@c.test\n"
					       "1800000010 accepted soon@b.test\n";
	struct verify_store_limits l = LIMITS;
	struct verify_cache *c;
	struct verify_store_counts n;
	struct dir d;
	mx_why why;

	(void)state;
	l.keep = only_b;
	make_dir(&d);
	write_file(&d, text, sizeof(text) - 1);
	assert_int_equal(load(&d, &l, &c, &n, &why), MX_OK);
	assert_int_equal(n.kept, 3);
	assert_int_equal(n.expired, 2);
	assert_int_equal(n.dropped, 1);
	assert_int_equal(verify_cache_get(c, "soon@b.test", NOW + 9), VERIFY_ACCEPTED);
	assert_int_equal(verify_cache_get(c, "far@b.test", NOW + 86399), VERIFY_ACCEPTED);
	assert_int_equal(verify_cache_get(c, "farno@b.test", NOW + 3599), VERIFY_REFUSED);
	assert_int_equal(verify_cache_get(c, "farno@b.test", NOW + 3600), VERIFY_UNKNOWN);
	assert_int_equal(verify_cache_get(c, "far@b.test", NOW + 86400), VERIFY_UNKNOWN);
	verify_cache_free(c);
	/* A negative TTL of 0: no refusal outlives the restart. */
	l.negative_ttl = 0;
	assert_int_equal(load(&d, &l, &c, &n, &why), MX_OK);
	assert_int_equal(n.kept, 2);
	verify_cache_free(c);
	remove_dir(&d);
}

static void
test_missing_is_empty(void **state)
{
	struct verify_cache *c;
	struct verify_store_counts n;
	struct dir d;
	mx_why why;

	(void)state;
	make_dir(&d);
	assert_int_equal(load(&d, &LIMITS, &c, &n, &why), MX_OK);
	assert_non_null(c);
	assert_int_equal(verify_cache_count(c), 0);
	verify_cache_free(c);
	remove_dir(&d);
}

#define GOOD    VERIFY_STORE_MAGIC " 1\n1800000100 accepted good@b.test\n"
#define NULCASE GOOD "1800000100 accepted a@b.test\0x\n"

static const struct {
	const char *text;
	size_t len; /* 0: strlen */
	const char *says;
} damaged[] = {
	{ "", 0, "line 1: not an mx verification cache" },
	{ "mx-verify-cache 2\n", 0, "line 1: format version \"2\" is not one" },
	{ "mx-verify-cache 1", 0, "line 1: not an mx verification cache" },
	{ "mx-verify-cache 1 \n", 0, "line 1: format version" },
	{ "MX-VERIFY-CACHE 1\n", 0, "line 1: not" },
	{ GOOD "1800000100 accepted cut@b.test", 0, "line 3: the file ends inside it" },
	{ GOOD "1800000100 accepted a@b.test\n\n", 0, "line 4: is not EXPIRES" },
	{ GOOD "01800000100 accepted a@b.test\n", 0, "line 3: its expiry" },
	{ GOOD "-1 accepted a@b.test\n", 0, "line 3: its expiry" },
	{ GOOD "99999999999999999999 accepted a@b.test\n", 0, "line 3: its expiry" },
	{ GOOD "9223372036854775808 accepted a@b.test\n", 0, "line 3: its expiry" },
	{ GOOD "18000001x0 accepted a@b.test\n", 0, "line 3: its expiry" },
	{ GOOD "1800000100  accepted a@b.test\n", 0, "line 3: its answer" },
	{ GOOD "1800000100 ACCEPTED a@b.test\n", 0, "line 3: its answer" },
	{ GOOD "1800000100 unknown a@b.test\n", 0, "line 3: its answer" },
	{ GOOD "1800000100 accepted\n", 0, "line 3: is not EXPIRES" },
	{ GOOD "1800000100 accepted a@B.test\n", 0, "line 3: its address" },
	{ GOOD "1800000100 accepted <a@b.test>\n", 0, "line 3: its address" },
	{ GOOD "1800000100 accepted a@b.test \n", 0, "line 3: its address" },
	{ GOOD "1800000100 accepted a@b.test\r\n", 0, "line 3: its address" },
	{ GOOD "1800000100 accepted a\tb@b.test\n", 0, "line 3: its address" },
	{ GOOD "1800000100 accepted nodomain\n", 0, "line 3: its address" },
	{ GOOD "1800000100 accepted a@\n", 0, "line 3: its address" },
	{ NULCASE, sizeof(NULCASE) - 1, "line 3: its address" },
};

static void
test_damaged_refused_whole(void **state)
{
	struct verify_cache *c;
	struct verify_store_counts n;
	struct dir d;
	struct stat st;
	mx_why why;

	(void)state;
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		make_dir(&d);
		write_file(
		    &d, damaged[i].text, damaged[i].len ? damaged[i].len : strlen(damaged[i].text));
		assert_int_equal(load(&d, &LIMITS, &c, &n, &why), MX_ERR_CORRUPT);
		if (strstr(why.text, damaged[i].says) == NULL)
			fail_msg("case %zu: \"%s\" says nothing of \"%s\"", i, why.text,
			    damaged[i].says);
		assert_non_null(strstr(why.text, d.file));
		assert_int_equal(verify_cache_count(c), 0); /* good@ is not kept either */
		assert_int_equal(n.kept, 0);
		assert_int_equal(stat(d.bad, &st), 0);      /* set aside ... */
		assert_int_not_equal(stat(d.file, &st), 0); /* ... not read again */
		verify_cache_free(c);
		remove_dir(&d);
	}
}

static void
test_long_line_refused(void **state)
{
	char text[2048];
	struct verify_cache *c;
	struct verify_store_counts n;
	struct dir d;
	mx_why why;
	int len;

	(void)state;
	len = snprintf(text, sizeof(text), GOOD "1800000100 accepted %0400d@b.test\n", 7);
	make_dir(&d);
	write_file(&d, text, (size_t)len);
	assert_int_equal(load(&d, &LIMITS, &c, &n, &why), MX_ERR_CORRUPT);
	assert_non_null(strstr(why.text, "line 3: longer than"));
	verify_cache_free(c);
	remove_dir(&d);
}

static void
test_untrusted_not_read(void **state)
{
	struct verify_cache *c;
	struct verify_store_counts n;
	struct dir d;
	mx_why why;
	char link[160];

	(void)state;
	make_dir(&d);
	write_file(&d, GOOD, strlen(GOOD));
	assert_int_equal(chmod(d.file, 0620), 0); /* the group may write it */
	assert_int_equal(load(&d, &LIMITS, &c, &n, &why), MX_ERR_CONFIG);
	assert_non_null(strstr(why.text, "not trusted"));
	assert_int_equal(verify_cache_count(c), 0);
	verify_cache_free(c);
	assert_int_equal(chmod(d.file, 0600), 0);
	assert_int_equal(chown(d.file, 65534, 65534), 0); /* nobody's: not ours */
	assert_int_equal(load(&d, &LIMITS, &c, &n, &why), MX_ERR_CONFIG);
	assert_non_null(strstr(why.text, "owner uid 65534"));
	verify_cache_free(c);
	assert_int_equal(chown(d.file, geteuid(), getegid()), 0);
	snprintf(link, sizeof(link), "%s/elsewhere", d.spool);
	assert_int_equal(rename(d.file, link), 0);
	assert_int_equal(symlink(link, d.file), 0);
	assert_int_equal(load(&d, &LIMITS, &c, &n, &why), MX_ERR_CONFIG);
	assert_non_null(strstr(why.text, "a symbolic link"));
	verify_cache_free(c);
	remove_dir(&d);
}

/* A written file reads back to the same text: the format has one
 * spelling, and what the reader would refuse is never written. */
static void
test_writer_writes_only_what_reads(void **state)
{
	struct verify_cache *c;
	char *text = NULL;
	size_t len = 0, n = 0;
	FILE *f;

	(void)state;
	assert_int_equal(verify_cache_new(10, &c), MX_OK);
	assert_true(verify_cache_put(c, "a@b.test", VERIFY_ACCEPTED, NOW + 5));
	assert_true(verify_cache_put(c, "bad\nline@b.test", VERIFY_ACCEPTED, NOW + 5));
	assert_true(verify_cache_put(c, "Up@B.TEST", VERIFY_ACCEPTED, NOW + 5));
	assert_true(verify_cache_put(c, "u@b.test", VERIFY_UNKNOWN, NOW + 5));
	assert_true(verify_cache_put(c, "r@b.test", VERIFY_REFUSED, NOW + 7));
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(verify_store_write(f, c, NOW, &n), MX_OK);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(n, 2);
	assert_string_equal(text,
	    VERIFY_STORE_MAGIC " 1\n"
			       "1800000005 accepted a@b.test\n"
			       "1800000007 refused r@b.test\n");
	free(text);
	verify_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_order_and_size),
		cmocka_unit_test(test_expiry_at_load),
		cmocka_unit_test(test_missing_is_empty),
		cmocka_unit_test(test_damaged_refused_whole),
		cmocka_unit_test(test_long_line_refused),
		cmocka_unit_test(test_untrusted_not_read),
		cmocka_unit_test(test_writer_writes_only_what_reads),
	};

	return cmocka_run_group_tests_name("verify_store", tests, NULL, NULL);
}
