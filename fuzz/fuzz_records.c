/*
 * fuzz_records.c - libFuzzer target for lib/records.c: the whole input,
 * as one TXT record or policy body (an exact-size heap copy, so ASan sees
 * any read past the end), goes through every parser of records.h, and
 * its first line split at the first space goes to mta_sts_mx_match.
 * Beyond crashes it aborts when an invariant breaks: the verdict follows
 * the fatal problems (kept or dropped), problem texts are NUL-terminated
 * printable ASCII, counts stay within their arrays, every string field is
 * NUL-terminated inside its array, values are in range (SPF qualifier,
 * DMARC p/pct/alignment, MTA-STS id and max_age, policy mode), a valid
 * record is recognised by its *_is_record, a valid SPF record has at most
 * ten DNS-querying terms, every stored MX pattern matches itself (or one
 * host under it), and a second parse gives the same result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "tlsrpt_post.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_records: invariant broken: %s\n", what);
	abort();
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			broken(#cond);                                                             \
	} while (0)

static bool
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void
check_problems(int rc, const struct record_problems *pr)
{
	size_t fatal = 0;

	CHECK(rc == 0 || rc == -1);
	CHECK(pr->n <= RECORD_PROBLEMS_MAX);
	CHECK(pr->n_fatal <= pr->n + pr->n_dropped);
	for (size_t i = 0; i < pr->n; i++) {
		const char *t = pr->p[i].text;
		CHECK(terminated(t, sizeof(pr->p[i].text)));
		CHECK(t[0] != '\0');
		for (; *t; t++)
			CHECK(*t >= 0x20 && *t <= 0x7e);
		fatal += pr->p[i].fatal;
	}
	CHECK(fatal <= pr->n_fatal);
	CHECK((rc == -1) == (pr->n_fatal > 0));
}

static void
check_list(char (*list)[256], size_t n, size_t max)
{
	CHECK(n <= max);
	for (size_t i = 0; i < n; i++) {
		CHECK(terminated(list[i], 256));
		CHECK(list[i][0] != '\0');
	}
}

static void
fuzz_spf(const char *in, size_t len)
{
	static struct spf_record r, again;
	struct record_problems pr, pr2;
	int rc = spf_parse(in, len, &r, &pr);

	check_problems(rc, &pr);
	CHECK(r.all == 0 || strchr("+-~?", r.all));
	check_list(r.includes, r.n_includes, SPF_TARGETS_MAX);
	for (size_t i = 0; i < r.n_includes; i++)
		CHECK(strchr(r.includes[i], ' ') == NULL && strchr(r.includes[i], '%') == NULL);
	CHECK(terminated(r.redirect, sizeof(r.redirect)) && strchr(r.redirect, '%') == NULL);
	CHECK(terminated(r.exp, sizeof(r.exp)));
	CHECK(r.n_includes <= r.lookup_terms);
	if (rc == 0) {
		CHECK(spf_is_record(in, len));
		CHECK(r.lookup_terms <= 10);
	}
	CHECK(spf_parse(in, len, &again, &pr2) == rc);
	CHECK(memcmp(&r, &again, sizeof(r)) == 0 && memcmp(&pr, &pr2, sizeof(pr)) == 0);
}

static void
fuzz_dmarc(const char *in, size_t len)
{
	static struct dmarc_record r;
	struct record_problems pr;
	int rc = dmarc_parse(in, len, &r, &pr);

	check_problems(rc, &pr);
	CHECK(terminated(r.p, sizeof(r.p)) && terminated(r.sp, sizeof(r.sp)));
	CHECK(terminated(r.fo, sizeof(r.fo)));
	CHECK(r.pct >= 0 && r.pct <= 100);
	CHECK(r.adkim == 'r' || r.adkim == 's');
	CHECK(r.aspf == 'r' || r.aspf == 's');
	check_list(r.rua, r.n_rua, 8);
	check_list(r.ruf, r.n_ruf, 8);
	if (rc == 0) {
		CHECK(dmarc_is_record(in, len));
		CHECK(!strcmp(r.p, "none") || !strcmp(r.p, "quarantine") || !strcmp(r.p, "reject"));
		CHECK(!r.sp[0] || !strcmp(r.sp, "none") || !strcmp(r.sp, "quarantine") ||
		    !strcmp(r.sp, "reject"));
	}
}

static void
fuzz_sts(const char *in, size_t len)
{
	struct mta_sts_txt t;
	static struct mta_sts_policy p;
	struct record_problems pr;
	int rc = mta_sts_txt_parse(in, len, &t, &pr);

	check_problems(rc, &pr);
	CHECK(terminated(t.id, sizeof(t.id)));
	if (rc == 0) {
		CHECK(mta_sts_is_record(in, len));
		CHECK(t.id[0] != '\0');
	}
	rc = mta_sts_policy_parse(in, len, &p, &pr);
	check_problems(rc, &pr);
	check_list(p.mx, p.n_mx, MTA_STS_MX_MAX);
	CHECK(terminated(p.mode, sizeof(p.mode)));
	for (size_t i = 0; i < p.n_mx; i++) {
		char host[300];
		const char *m = p.mx[i];
		/* "*.x" matches "a.x"; a plain name matches itself */
		snprintf(
		    host, sizeof(host), "%s%s", m[0] == '*' ? "a" : "", m[0] == '*' ? m + 1 : m);
		CHECK(mta_sts_mx_match(m, host));
		if (m[0] == '*')
			CHECK(!mta_sts_mx_match(m, m + 2));
	}
	if (rc == 0) {
		CHECK(p.max_age >= 0 && p.max_age <= MTA_STS_MAX_AGE_MAX);
		CHECK(!strcmp(p.mode, "none") ||
		    (p.n_mx > 0 && (!strcmp(p.mode, "enforce") || !strcmp(p.mode, "testing"))));
	}
}

static void
fuzz_tlsrpt(const char *in, size_t len)
{
	static struct tlsrpt_record r;
	struct record_problems pr;
	int rc = tlsrpt_parse(in, len, &r, &pr);

	check_problems(rc, &pr);
	check_list(r.rua, r.n_rua, 8);
	if (rc == 0)
		CHECK(tlsrpt_is_record(in, len));
	/* Every rua as an https: address (queue/tlsrpt_post.c): a host name,
	 * a port, a path of visible octets starting with "/". */
	for (size_t i = 0; i < r.n_rua && rc == 0; i++) {
		char host[MX_DOMAIN_MAX + 1], path[TLSRPT_URI_PATH_MAX];
		uint16_t port = 0;
		if (!tlsrpt_https_uri(r.rua[i], host, &port, path))
			continue;
		CHECK(port > 0 && host[0] != '\0' && path[0] == '/');
		CHECK(strlen(host) <= MX_DOMAIN_MAX && strlen(path) < TLSRPT_URI_PATH_MAX);
	}
}

/* The first line, split at its first space: pattern and host. */
static void
fuzz_match(const char *in, size_t len)
{
	char pattern[300], host[300];
	const char *nl = memchr(in, '\n', len), *sp;
	size_t line = nl ? (size_t)(nl - in) : len, plen, hlen;

	sp = memchr(in, ' ', line);
	if (sp == NULL)
		return;
	plen = (size_t)(sp - in);
	hlen = line - plen - 1;
	if (plen >= sizeof(pattern) || hlen >= sizeof(host))
		return;
	memcpy(pattern, in, plen);
	pattern[plen] = '\0';
	memcpy(host, sp + 1, hlen);
	host[hlen] = '\0';
	/* letter case never matters, and nothing matches an empty host */
	bool m = mta_sts_mx_match(pattern, host);
	for (char *h = host; *h; h++)
		if (*h >= 'a' && *h <= 'z')
			*h = (char)(*h - 'a' + 'A');
	CHECK(mta_sts_mx_match(pattern, host) == m);
	if (m)
		CHECK(host[0] != '\0' && pattern[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);

	if (in == NULL)
		return 0;
	if (size)
		memcpy(in, data, size);
	fuzz_spf(in, size);
	fuzz_dmarc(in, size);
	fuzz_sts(in, size);
	fuzz_tlsrpt(in, size);
	fuzz_match(in, size);
	free(in);
	return 0;
}
