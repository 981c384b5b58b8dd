/*
 * check_zone.c - `mx check --zone`: the rules that a zone file alone can
 * judge, before it is published.  ldns reads the file: record by record
 * with ldns_rr_new_frm_fp_l, to learn where each record starts (and the
 * line of the first error), then whole with ldns_zone_new_frm_fp_l.  MX targets inside the zone are
 * resolved from the zone (CNAME chains included); targets outside it are
 * not looked up.  No network, no state beyond the call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
/* stdbool.h first: without it ldns/common.h defines bool as signed char,
 * and this file's structs would disagree with every other file's. */
#include <stdbool.h>
#include <ldns/ldns.h>
_Static_assert((bool)2 == 1, "bool must be _Bool here: include <stdbool.h> before ldns");
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_dns.h"
#include "check_findings.h"
#include "check_policy.h"
#include "check_rules.h"
#include "check_zone.h"
#include "name.h"

#define ZONE_RRS_MAX    200000 /* a bigger zone is refused, not truncated */
#define ZONE_CNAME_HOPS 8

struct zrr {
	ldns_rr *rr;
	unsigned line;
	size_t seq;  /* place in the file */
	char *owner; /* lower case, no trailing dot */
};

struct zone {
	struct zrr *rrs;
	size_t n, cap;
	char origin[NAME_TEXT_MAX]; /* lower case, no trailing dot */
	ldns_rdf *origin_rdf;
};

static void
zone_free(struct zone *z)
{
	for (size_t i = 0; i < z->n; i++) {
		ldns_rr_free(z->rrs[i].rr);
		free(z->rrs[i].owner);
	}
	free(z->rrs);
	ldns_rdf_deep_free(z->origin_rdf);
}

static mx_err
zone_push(struct zone *z, ldns_rr *rr, unsigned line)
{
	char owner[NAME_TEXT_MAX];

	if (z->n == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 256;
		struct zrr *p;
		if (z->n >= ZONE_RRS_MAX || (p = realloc(z->rrs, cap * sizeof(*p))) == NULL)
			return MX_ERR_NOMEM;
		z->rrs = p;
		z->cap = cap;
	}
	dns_rdf_name(ldns_rr_owner(rr), owner, sizeof(owner));
	if ((z->rrs[z->n].owner = strdup(owner)) == NULL)
		return MX_ERR_NOMEM;
	z->rrs[z->n].rr = rr;
	z->rrs[z->n].line = line;
	z->rrs[z->n].seq = z->n;
	z->n++;
	return MX_OK;
}

/* The whole file through ldns_zone_new_frm_fp_l: does it parse? */
static mx_err
zone_validate(FILE *fp, ldns_rdf *origin, char *why, size_t why_size)
{
	ldns_zone *lz = NULL;
	int line = 0;
	ldns_status st;

	st = ldns_zone_new_frm_fp_l(&lz, fp, origin, 3600, LDNS_RR_CLASS_IN, &line);
	if (st == LDNS_STATUS_OK)
		ldns_zone_deep_free(lz); /* not NULL-safe; on errors ldns freed it */
	if (st == LDNS_STATUS_OK)
		return MX_OK;
	snprintf(why, why_size, "line %d: %s", line, ldns_get_errorstr_by_id(st));
	return MX_ERR_BAD_ZONE;
}

/*
 * The line a record starts on.  ldns's own line counter is off by one
 * after some records (it counts a newline it peeked at), so the bytes the
 * call consumed, [from, to), are read again: blank and comment lines are
 * skipped and the first other line is the record's.  *line is the line
 * number at from and moves to the one at to.
 */
static unsigned
record_line(FILE *fp, long from, long to, unsigned *line)
{
	unsigned at = *line, start = 0;
	bool blank = true, comment = false;
	int ch;

	if (from < 0 || to < from || fseek(fp, from, SEEK_SET) != 0)
		return 0;
	for (long i = from; i < to && (ch = getc(fp)) != EOF; i++) {
		if (ch == '\n') {
			at++;
			blank = true;
			comment = false;
			continue;
		}
		if (ch == ';' && blank)
			comment = true;
		if (ch != ' ' && ch != '\t' && ch != '\r' && !comment && blank && start == 0)
			start = at + 1;
		if (ch != ' ' && ch != '\t' && ch != '\r')
			blank = false;
	}
	*line = at;
	if (to != LONG_MAX)
		fseek(fp, to, SEEK_SET);
	return start;
}

/* Record by record, keeping each one's first line. */
static mx_err
zone_read(struct zone *z, FILE *fp, char *why, size_t why_size)
{
	ldns_rdf *origin = z->origin_rdf ? ldns_rdf_clone(z->origin_rdf) : NULL;
	ldns_rdf *prev = origin ? ldns_rdf_clone(origin) : NULL;
	uint32_t ttl = 3600;
	int line = 0;
	unsigned at = 0, start;
	long from, to;
	bool eof = false;
	mx_err err = MX_OK;
	ldns_rr *rr;
	ldns_status st;

	while (err == MX_OK && !eof) {
		from = ftell(fp);
		st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);
		/* record_line seeks, which clears the end-of-file flag */
		eof = feof(fp) || (to = ftell(fp)) <= from;
		start = record_line(fp, from, eof ? LONG_MAX : to, &at);
		if (st == LDNS_STATUS_OK) {
			if ((err = zone_push(z, rr, start ? start : (unsigned)line)) != MX_OK)
				ldns_rr_free(rr);
		} else if (st != LDNS_STATUS_SYNTAX_EMPTY && st != LDNS_STATUS_SYNTAX_TTL &&
		    st != LDNS_STATUS_SYNTAX_ORIGIN) {
			snprintf(why, why_size, "line %d: %s", line, ldns_get_errorstr_by_id(st));
			err = MX_ERR_BAD_ZONE;
		}
	}
	if (err == MX_ERR_NOMEM && z->n >= ZONE_RRS_MAX)
		snprintf(why, why_size, "more than %d records", ZONE_RRS_MAX);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return err;
}

/* Records sorted by owner (file order within one): lookups are ranges. */
static int
zrr_cmp(const void *a, const void *b)
{
	const struct zrr *x = a, *y = b;
	int c = strcmp(x->owner, y->owner);

	return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void
zone_sort(struct zone *z)
{
	if (z->n > 1)
		qsort(z->rrs, z->n, sizeof(*z->rrs), zrr_cmp);
}

/* The records owned by name: z->rrs[*first .. *first + count). */
static size_t
zone_range(const struct zone *z, const char *name, size_t *first)
{
	size_t lo = 0, hi = z->n, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(z->rrs[mid].owner, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < z->n && strcmp(z->rrs[end].owner, name) == 0; end++)
		;
	*first = lo;
	return end - lo;
}

static bool
has_type(const struct zone *z, const char *name, ldns_rr_type type)
{
	size_t first, n = zone_range(z, name, &first);

	for (size_t i = first; i < first + n; i++)
		if (ldns_rr_get_type(z->rrs[i].rr) == type)
			return true;
	return false;
}

static bool
in_zone(const struct zone *z, const char *name)
{
	size_t n = strlen(name), o = strlen(z->origin);

	if (o == 0)
		return true;
	return strcmp(name, z->origin) == 0 ||
	    (n > o && name[n - o - 1] == '.' && strcmp(name + n - o, z->origin) == 0);
}

/* At or below a delegation inside the zone: the data is not ours to judge. */
static bool
delegated(const struct zone *z, const char *name)
{
	const char *p = name;
	size_t o = strlen(z->origin);

	while (p != NULL && strlen(p) > o) {
		if (has_type(z, p, LDNS_RR_TYPE_NS))
			return true;
		p = strchr(p, '.');
		p = p ? p + 1 : NULL;
	}
	return false;
}

static bool
name_exists(const struct zone *z, const char *name)
{
	size_t first;

	return zone_range(z, name, &first) > 0;
}

/* Adds the A/AAAA records of name to t; returns whether it has any. */
static void
zone_addresses(const struct zone *z, const char *name, struct check_target *t)
{
	size_t first, n = zone_range(z, name, &first);

	for (size_t i = first; i < first + n && t->n_addrs < CHECK_ADDRS_MAX; i++) {
		const ldns_rr *rr = z->rrs[i].rr;
		ldns_rr_type type = ldns_rr_get_type(rr);
		struct ip_addr *a = &t->addrs[t->n_addrs];
		const ldns_rdf *rd;
		if ((type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA) ||
		    (rd = ldns_rr_rdf(rr, 0)) == NULL)
			continue;
		memset(a, 0, sizeof(*a));
		a->family = type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6;
		if (ldns_rdf_size(rd) != (type == LDNS_RR_TYPE_A ? 4u : 16u))
			continue;
		memcpy(a->bytes, ldns_rdf_data(rd), ldns_rdf_size(rd));
		a->ttl = ldns_rr_ttl(rr);
		inet_ntop(a->family, a->bytes, a->text, sizeof(a->text));
		if (t->line == 0)
			t->line = z->rrs[i].line;
		t->n_addrs++;
	}
}

static const ldns_rr *
zone_cname(const struct zone *z, const char *name, unsigned *line)
{
	size_t first, n = zone_range(z, name, &first);

	for (size_t i = first; i < first + n; i++)
		if (ldns_rr_get_type(z->rrs[i].rr) == LDNS_RR_TYPE_CNAME &&
		    ldns_rr_rd_count(z->rrs[i].rr) > 0) {
			*line = z->rrs[i].line;
			return z->rrs[i].rr;
		}
	return NULL;
}

/* Resolves an MX target from the zone, as a resolver would. */
static void
zone_resolve(const struct zone *z, struct check_target *t)
{
	char name[NAME_TEXT_MAX];
	const ldns_rr *cn;
	unsigned line = 0;

	snprintf(name, sizeof(name), "%s", t->name);
	for (int hop = 0; hop <= ZONE_CNAME_HOPS; hop++) {
		if (!in_zone(z, name) || delegated(z, name)) {
			t->state = TARGET_UNKNOWN;
			return;
		}
		if ((cn = zone_cname(z, name, &line)) == NULL)
			break;
		t->is_cname = true;
		t->line = line;
		dns_rdf_name(ldns_rr_rdf(cn, 0), name, sizeof(name));
		snprintf(t->cname, sizeof(t->cname), "%s", name);
		if (hop == ZONE_CNAME_HOPS) {
			t->state = TARGET_UNKNOWN;
			return;
		}
	}
	zone_addresses(z, name, t);
	if (t->n_addrs > 0)
		t->state = TARGET_ADDRESSES;
	else
		t->state = name_exists(z, name) ? TARGET_NODATA : TARGET_NXDOMAIN;
}

static void
facts_add_mx(struct check_facts *f, const ldns_rr *rr, unsigned line)
{
	struct check_mx *m = &f->mx[f->n_mx];
	const ldns_rdf *pref = ldns_rr_rdf(rr, 0), *ex = ldns_rr_rdf(rr, 1);

	if (f->n_mx == CHECK_MX_MAX || pref == NULL || ex == NULL)
		return;
	memset(m, 0, sizeof(*m));
	m->pref = ldns_rdf2native_int16(pref);
	m->ttl = ldns_rr_ttl(rr);
	m->line = line;
	dns_rdf_name(ex, m->exchange, sizeof(m->exchange));
	if (m->exchange[0] == '\0') {
		m->is_null = true;
		snprintf(m->exchange, sizeof(m->exchange), ".");
	}
	m->bad_name = strchr(m->exchange, '\\') != NULL;
	f->n_mx++;
}

static void
facts_targets(const struct zone *z, struct check_facts *f)
{
	for (size_t i = 0; i < f->n_mx; i++) {
		struct check_target *t;
		if (f->mx[i].is_null || f->mx[i].bad_name ||
		    name_is_ip_literal(f->mx[i].exchange) ||
		    check_facts_target(f, f->mx[i].exchange) != NULL)
			continue;
		t = &f->targets[f->n_targets++];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", f->mx[i].exchange);
		zone_resolve(z, t);
	}
}

static mx_err
check_owner(mx_check *c, const struct zone *z, const char *owner)
{
	struct check_facts *f = calloc(1, sizeof(*f));
	struct check_target self = { 0 };
	size_t first, n = zone_range(z, owner, &first);

	if (f == NULL)
		return MX_ERR_NOMEM;
	snprintf(f->domain, sizeof(f->domain), "%s", owner);
	f->zone_mode = true;
	for (size_t i = first; i < first + n; i++)
		if (ldns_rr_get_type(z->rrs[i].rr) == LDNS_RR_TYPE_MX)
			facts_add_mx(f, z->rrs[i].rr, z->rrs[i].line);
	f->mx_state = f->n_mx > 0 ? TARGET_ADDRESSES : TARGET_NODATA;
	zone_addresses(z, owner, &self);
	f->self_state = self.n_addrs > 0 ? TARGET_ADDRESSES : TARGET_NODATA;
	f->n_self_addrs = self.n_addrs;
	facts_targets(z, f);
	check_rules_mx(c, f);
	free(f);
	return MX_OK;
}

static void
txt_join(const ldns_rr *rr, struct check_txt *t)
{
	t->len = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *rd = ldns_rr_rdf(rr, i);
		size_t n = ldns_rdf_size(rd);
		const uint8_t *d = ldns_rdf_data(rd);
		if (n == 0 || d[0] + 1u > n)
			continue;
		for (size_t j = 1; j <= d[0] && t->len < sizeof(t->text) - 1; j++)
			t->text[t->len++] = (char)d[j];
	}
	t->text[t->len] = '\0';
}

static void
zone_txts(const struct zone *z, const char *name, struct check_txts *out)
{
	size_t first, n = zone_range(z, name, &first);

	out->state = TARGET_NODATA;
	for (size_t i = first; i < first + n && out->n < CHECK_TXTS_MAX; i++) {
		if (ldns_rr_get_type(z->rrs[i].rr) != LDNS_RR_TYPE_TXT)
			continue;
		txt_join(z->rrs[i].rr, &out->t[out->n]);
		out->t[out->n++].line = z->rrs[i].line;
		out->state = TARGET_ADDRESSES;
	}
}

static mx_err
check_policy(mx_check *c, const struct zone *z)
{
	struct check_policy_txts *p = calloc(1, sizeof(*p));
	char name[NAME_TEXT_MAX + 16];

	if (p == NULL)
		return MX_ERR_NOMEM;
	zone_txts(z, z->origin, &p->spf);
	snprintf(name, sizeof(name), "_dmarc.%s", z->origin);
	zone_txts(z, name, &p->dmarc);
	snprintf(name, sizeof(name), "_mta-sts.%s", z->origin);
	zone_txts(z, name, &p->mta_sts);
	snprintf(name, sizeof(name), "_smtp._tls.%s", z->origin);
	zone_txts(z, name, &p->tlsrpt);
	check_rules_policy(c, p, -1, NULL);
	free(p);
	return MX_OK;
}

/* The apex first, then every other name that has MX records (by name). */
static mx_err
check_all(mx_check *c, const struct zone *z)
{
	mx_err err;

	if ((err = check_owner(c, z, z->origin)) != MX_OK)
		return err;
	for (size_t i = 0; i < z->n; i++) {
		const char *owner = z->rrs[i].owner;
		if (i > 0 && strcmp(owner, z->rrs[i - 1].owner) == 0)
			continue; /* one visit per owner */
		if (strcmp(owner, z->origin) == 0 || !has_type(z, owner, LDNS_RR_TYPE_MX))
			continue;
		if ((err = check_owner(c, z, owner)) != MX_OK)
			return err;
	}
	check_add_untested(
	    c, "smtp", "zone-file mode: no network tests (SMTP, TLS, reverse DNS, DNSSEC)");
	return check_policy(c, z);
}

/* The origin: --origin, else the SOA's owner. */
static mx_err
zone_origin(struct zone *z, const char *origin, char *why, size_t why_size)
{
	char text[NAME_TEXT_MAX + 2];

	if (origin != NULL) {
		snprintf(text, sizeof(text), "%s%s", origin,
		    origin[0] && origin[strlen(origin) - 1] == '.' ? "" : ".");
		if (ldns_str2rdf_dname(&z->origin_rdf, text) != LDNS_STATUS_OK) {
			snprintf(why, why_size, "--origin %s is not a domain name", origin);
			return MX_ERR_INVALID;
		}
		dns_rdf_name(z->origin_rdf, z->origin, sizeof(z->origin));
		return MX_OK;
	}
	for (size_t i = 0; i < z->n; i++)
		if (ldns_rr_get_type(z->rrs[i].rr) == LDNS_RR_TYPE_SOA) {
			snprintf(z->origin, sizeof(z->origin), "%s", z->rrs[i].owner);
			return MX_OK;
		}
	snprintf(why, why_size, "no SOA record and no --origin: cannot tell the zone's name");
	return MX_ERR_BAD_ZONE;
}

mx_err
check_zone_fp(mx_check *c, FILE *fp, const char *origin, char *why, size_t why_size)
{
	struct zone z = { 0 };
	mx_err err;

	if (origin != NULL && (err = zone_origin(&z, origin, why, why_size)) != MX_OK)
		goto out;
	/*
	 * Record by record first: ldns 1.8.3's ldns_zone_new_frm_fp_l frees
	 * only the list, not the records read so far, when it fails, so it
	 * runs once the same parser has accepted every record.
	 */
	if ((err = zone_read(&z, fp, why, why_size)) != MX_OK)
		goto out;
	rewind(fp);
	if ((err = zone_validate(fp, z.origin_rdf, why, why_size)) != MX_OK)
		goto out;
	if (origin == NULL && (err = zone_origin(&z, NULL, why, why_size)) != MX_OK)
		goto out;
	zone_sort(&z);
	snprintf(c->domain, sizeof(c->domain), "%s", z.origin);
	err = check_all(c, &z);
	check_sort(c); /* the report's order, not the file's (check_findings.c) */
out:
	zone_free(&z);
	return err;
}

mx_err
check_zone_run(mx_check *c, const char *path, const char *origin, char *why, size_t why_size)
{
	FILE *fp;
	mx_err err;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(why, why_size, "%s: %s", path, strerror(errno));
		return MX_ERR_NOT_FOUND;
	}
	err = check_zone_fp(c, fp, origin, why, why_size);
	fclose(fp);
	return err;
}
