/*
 * fuzz_verify_store.c - libFuzzer target for the reader of the backup
 * MX's verification answers (lib/verify/verify_store.c), which a damaged
 * or tampered SPOOL/private/verify.cache gives it: the input read as the
 * file's text through a memory stream, into a small cache.  Beyond
 * crashes it aborts when an invariant breaks: a refused input's reason
 * names its line and the cache it leaves is thrown away by the loader;
 * an accepted one keeps at most the cache's size, every answer accepted
 * or refused, ending after now and no later than now plus its kind's
 * TTL, of an address keep() takes; what it kept writes out as a text
 * that reads back to as many answers and writes out again to the same
 * octets (the format has one spelling, and the writer writes only what
 * the reader takes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_store.h"

#define NOW      1800000000
#define POSITIVE 86400
#define NEGATIVE 3600
#define MAX      8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_verify_store: invariant broken: %s\n", what);
	abort();
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			broken(#cond);                                                             \
	} while (0)

/* A domain no longer backed up: its answers are dropped. */
static bool
keep(const char *addr, void *arg)
{
	const char *at = strrchr(addr, '@');

	(void)arg;
	return at != NULL && strcmp(at, "@gone.test") != 0;
}

static const struct verify_store_limits LIMITS = {
	.now = NOW, .positive_ttl = POSITIVE, .negative_ttl = NEGATIVE, .keep = keep
};

static bool
check_one(const char *addr, enum verify_answer answer, int64_t expires, void *arg)
{
	(void)arg;
	CHECK(answer == VERIFY_ACCEPTED || answer == VERIFY_REFUSED);
	CHECK(expires > NOW);
	CHECK(expires <= NOW + (answer == VERIFY_ACCEPTED ? POSITIVE : NEGATIVE));
	CHECK(strlen(addr) <= 320 && keep(addr, NULL));
	return true;
}

/* The text of cache, as verify_store_save writes it. */
static char *
text_of(const struct verify_cache *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	CHECK(f != NULL);
	CHECK(verify_store_write(f, c, NOW, NULL) == MX_OK);
	CHECK(fclose(f) == 0);
	return text;
}

static struct verify_cache *
read_text(const char *in, size_t size, mx_err *err, mx_why *why)
{
	struct verify_cache *c = NULL;
	struct verify_store_counts n;
	FILE *f = fmemopen((void *)in, size, "r");

	CHECK(verify_cache_new(MAX, &c) == MX_OK);
	CHECK(f != NULL);
	*err = verify_store_read(f, &LIMITS, c, &n, why);
	fclose(f);
	CHECK(*err != MX_OK || n.kept == verify_cache_count(c));
	return c;
}

static void
check_round_trip(const struct verify_cache *c)
{
	size_t len1 = 0, len2 = 0;
	char *text1 = text_of(c, &len1), *text2;
	struct verify_cache *back;
	mx_why why;
	mx_err err;

	back = read_text(text1, len1, &err, &why);
	CHECK(err == MX_OK);
	CHECK(verify_cache_count(back) == verify_cache_count(c));
	text2 = text_of(back, &len2);
	CHECK(len1 == len2 && memcmp(text1, text2, len1) == 0);
	free(text2);
	free(text1);
	verify_cache_free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);
	struct verify_cache *c;
	mx_why why;
	mx_err err;

	if (in == NULL)
		return 0;
	memcpy(in, data, size);
	c = read_text(in, size, &err, &why);
	if (err == MX_ERR_CORRUPT)
		CHECK(strncmp(why.text, "line ", 5) == 0);
	else
		CHECK(err == MX_OK);
	if (err == MX_OK) {
		CHECK(verify_cache_count(c) <= MAX);
		verify_cache_each(c, check_one, NULL);
		check_round_trip(c);
	}
	verify_cache_free(c);
	free(in);
	return 0;
}
