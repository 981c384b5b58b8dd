/*
 * fuzz_sts_cache.c - libFuzzer target for the readers of files mxkit keeps
 * under SPOOL/mta-sts, which anything with write access to the spool may
 * have damaged: the MTA-STS policy cache file (sts_cache_parse) and a
 * TLS-RPT day file (tlsrpt_day_parse), each given the whole input as an
 * exact-size heap copy.  Beyond crashes it aborts when an invariant
 * breaks: an accepted cache file has a NUL-terminated domain and id that
 * sts_file_name_ok accepts, expires after fetched within max_age's cap, a
 * body of body_len octets that parses, and it formats back to exactly the
 * input (the format has one spelling); a parsed day keeps its counts
 * within their arrays, each failure count at least 1, the failure total
 * equal to the details plus those dropped past the cap.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_cache.h"
#include "tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_sts_cache: invariant broken: %s\n", what);
	abort();
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			broken(#cond);                                                             \
	} while (0)

static void
check_cache(const char *in, size_t size, struct sts_cached *c)
{
	char *text = NULL;
	size_t len = 0;

	if (sts_cache_parse(in, size, c) != 0)
		return;
	CHECK(memchr(c->domain, '\0', sizeof(c->domain)) != NULL);
	CHECK(memchr(c->id, '\0', sizeof(c->id)) != NULL);
	CHECK(sts_file_name_ok(c->domain));
	CHECK(c->expires > c->fetched && c->expires - c->fetched <= MTA_STS_MAX_AGE_MAX);
	CHECK(c->body_len > 0 && c->body_len <= HTTPS_GET_BODY_MAX);
	CHECK(c->body[c->body_len] == '\0');
	CHECK(c->policy.n_mx <= MTA_STS_MX_MAX);
	CHECK(sts_cache_format(c, &text, &len) == MX_OK);
	CHECK(len == size && memcmp(text, in, size) == 0);
	free(text);
}

static void
check_day(const char *in, size_t size, struct tlsrpt_day *d)
{
	tlsrpt_day_parse(in, size, d);
	CHECK(d->n_pol <= TLSRPT_POLICIES_MAX);
	for (size_t i = 0; i < d->n_pol; i++) {
		const struct tlsrpt_policy *p = &d->pol[i];
		unsigned long sum = p->fail_dropped;
		CHECK(p->n_fail <= TLSRPT_FAILURES_MAX);
		for (size_t j = 0; j < p->n_fail; j++) {
			CHECK(p->fail[j].count >= 1);
			CHECK(memchr(p->fail[j].info, '\0', sizeof(p->fail[j].info)) != NULL);
			CHECK(memchr(p->fail[j].sending, '\0', sizeof(p->fail[j].sending)) != NULL);
			sum += p->fail[j].count;
		}
		CHECK(sum == p->failed);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);
	struct sts_cached *c = malloc(sizeof(*c));
	struct tlsrpt_day *d = malloc(sizeof(*d));

	if (in != NULL && c != NULL && d != NULL) {
		memcpy(in, data, size);
		check_cache(in, size, c);
		check_day(in, size, d);
	}
	free(d);
	free(c);
	free(in);
	return 0;
}
