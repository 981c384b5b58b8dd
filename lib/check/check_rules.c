/*
 * check_rules.c - the MX record rules of `mx check` as pure functions
 * over gathered facts (struct check_facts): the same code judges a live
 * domain and a zone file.  No I/O; findings go to the check.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "check_findings.h"
#include "check_rules.h"
#include "name.h"

const struct check_target *
check_facts_target(const struct check_facts *f, const char *name)
{
	for (size_t i = 0; i < f->n_targets; i++)
		if (strcmp(f->targets[i].name, name) == 0)
			return &f->targets[i];
	return NULL;
}

static void
evidence_mx(struct mx_finding *fd, const struct check_facts *f, const struct check_mx *m)
{
	(void)f;
	if (fd == NULL)
		return;
	check_evidence(fd, "%s. %u IN MX %u %s%s", f->domain, m->ttl, m->pref, m->exchange,
	    m->is_null ? "" : ".");
}

static void
rule_missing(mx_check *c, const struct check_facts *f)
{
	struct mx_finding *fd;

	if (f->mx_state == TARGET_NXDOMAIN) {
		fd = check_add(c, "mx-missing", MX_SEVERITY_ERROR, 0,
		    "%s does not exist (NXDOMAIN): no mail can be delivered to it", f->domain);
		check_evidence(fd, "%s. MX: NXDOMAIN", f->domain);
		return;
	}
	if (f->mx_state != TARGET_NODATA)
		return;
	if (f->self_state == TARGET_ADDRESSES) {
		fd = check_add(c, "mx-missing", MX_SEVERITY_WARNING, 0,
		    "%s has no MX record: mail goes to its own address (implicit MX, "
		    "RFC 5321 5.1); publish an MX record, or a null MX "
		    "(\"MX 0 .\") if it takes no mail",
		    f->domain);
		check_evidence(fd, "%s. MX: no records; %zu address record(s) used as implicit MX",
		    f->domain, f->n_self_addrs);
		return;
	}
	fd = check_add(c, "mx-missing", MX_SEVERITY_ERROR, 0,
	    "%s has no MX record and no address: no mail can be delivered; "
	    "publish an MX record, or a null MX (\"MX 0 .\") to say so",
	    f->domain);
	check_evidence(fd, "%s. MX: no records; A, AAAA: no records", f->domain);
}

static void
rule_null_mx(mx_check *c, const struct check_facts *f)
{
	size_t n_null = 0;
	struct mx_finding *fd;

	for (size_t i = 0; i < f->n_mx; i++) {
		const struct check_mx *m = &f->mx[i];
		if (!m->is_null)
			continue;
		n_null++;
		if (m->pref != 0) {
			fd = check_add(c, "null-mx-preference", MX_SEVERITY_WARNING, m->line,
			    "the null MX of %s has preference %u; RFC 7505 says 0: "
			    "publish \"MX 0 .\"",
			    f->domain, m->pref);
			evidence_mx(fd, f, m);
		}
	}
	if (n_null == 0 || n_null == f->n_mx)
		return;
	for (size_t i = 0; i < f->n_mx; i++) {
		if (!f->mx[i].is_null)
			continue;
		fd = check_add(c, "null-mx-mixed", MX_SEVERITY_ERROR, f->mx[i].line,
		    "%s publishes a null MX (\"no mail\") beside other MX records; "
		    "RFC 7505 3: remove the null MX if it takes mail, else the others",
		    f->domain);
		for (size_t j = 0; j < f->n_mx; j++)
			evidence_mx(fd, f, &f->mx[j]);
		return;
	}
}

static void
rule_names(mx_check *c, const struct check_facts *f, const struct check_mx *m)
{
	struct mx_finding *fd;
	const char *why;

	if (m->is_null)
		return;
	if (name_is_ip_literal(m->exchange)) {
		fd = check_add(c, "mx-ip-literal", MX_SEVERITY_ERROR, m->line,
		    "the MX of %s names an IP address (%s) where a host name belongs; "
		    "senders look it up as a name and fail: point the MX at a host "
		    "name with an A/AAAA record",
		    f->domain, m->exchange);
		evidence_mx(fd, f, m);
		return;
	}
	why = m->bad_name ? "contains bytes no host name has" : name_check_hostname(m->exchange);
	if (why != NULL) {
		fd = check_add(c, "mx-bad-hostname", MX_SEVERITY_ERROR, m->line,
		    "the MX target %s of %s is not a valid host name: it %s "
		    "(RFC 1123 2.1); use letters, digits and hyphens",
		    m->exchange, f->domain, why);
		evidence_mx(fd, f, m);
	}
}

static void
rule_duplicate(mx_check *c, const struct check_facts *f, size_t i)
{
	struct mx_finding *fd;

	for (size_t j = 0; j < i; j++) {
		if (f->mx[j].is_null || strcmp(f->mx[j].exchange, f->mx[i].exchange) != 0)
			continue;
		fd = check_add(c, "mx-duplicate", MX_SEVERITY_WARNING, f->mx[i].line,
		    "%s lists %s more than once; keep one MX record per host", f->domain,
		    f->mx[i].exchange);
		evidence_mx(fd, f, &f->mx[j]);
		evidence_mx(fd, f, &f->mx[i]);
		return;
	}
}

static void
rule_ttl_low(mx_check *c, const struct check_facts *f)
{
	struct mx_finding *fd;

	for (size_t i = 0; i < f->n_mx; i++) {
		if (f->mx[i].ttl >= CHECK_TTL_LOW)
			continue;
		fd = check_add(c, "mx-ttl-low", MX_SEVERITY_NOTICE, f->mx[i].line,
		    "the MX records of %s have a TTL of %u s: every sender asks again "
		    "that often and a DNS outage hits mail at once; %d s or more is usual",
		    f->domain, f->mx[i].ttl, CHECK_TTL_LOW);
		evidence_mx(fd, f, &f->mx[i]);
		return;
	}
}

static void
rule_ttl_mismatch(mx_check *c, const struct check_facts *f)
{
	struct mx_finding *fd;

	for (size_t i = 1; i < f->n_mx; i++) {
		if (f->mx[i].ttl == f->mx[0].ttl)
			continue;
		fd = check_add(c, "mx-ttl-mismatch", MX_SEVERITY_WARNING, f->mx[i].line,
		    "the MX records of %s carry different TTLs (%u and %u); RFC 2181 5.2: "
		    "the records of one RRset must have the same TTL",
		    f->domain, f->mx[0].ttl, f->mx[i].ttl);
		for (size_t j = 0; j < f->n_mx; j++)
			evidence_mx(fd, f, &f->mx[j]);
		return;
	}
}

static void
evidence_addrs(struct mx_finding *fd, const struct check_target *t)
{
	for (size_t i = 0; i < t->n_addrs; i++)
		check_evidence(fd, "%s. %s %s", t->cname[0] ? t->cname : t->name,
		    t->addrs[i].family == AF_INET ? "A" : "AAAA", t->addrs[i].text);
}

static void
rule_target(mx_check *c, const struct check_facts *f, const struct check_mx *m,
    const struct check_target *t)
{
	struct mx_finding *fd;
	const char *kind;

	if (t->is_cname) {
		fd = check_add(c, "mx-cname", MX_SEVERITY_WARNING, m->line,
		    "the MX target %s of %s is an alias (CNAME to %s); RFC 2181 10.3: "
		    "point the MX at the canonical name",
		    t->name, f->domain, t->cname);
		evidence_mx(fd, f, m);
		check_evidence(fd, "%s. CNAME %s.", t->name, t->cname);
	}
	if (t->state == TARGET_NXDOMAIN || t->state == TARGET_NODATA) {
		fd = check_add(c, "mx-no-address", MX_SEVERITY_ERROR, m->line,
		    "the MX target %s of %s has no address (%s): mail cannot reach it; "
		    "add its A/AAAA records or remove the MX record",
		    t->name, f->domain,
		    t->state == TARGET_NXDOMAIN ? "the name does not exist"
						: "no A or AAAA record");
		evidence_mx(fd, f, m);
		check_evidence(fd, "%s. A, AAAA: %s", t->cname[0] ? t->cname : t->name,
		    t->state == TARGET_NXDOMAIN ? "NXDOMAIN" : "no records");
	}
	for (size_t i = 0; i < t->n_addrs; i++) {
		if (!check_addr_private(&t->addrs[i], &kind) || check_addr_allowed(c, &t->addrs[i]))
			continue;
		fd = check_add(c, "mx-address-private", MX_SEVERITY_ERROR,
		    t->line ? t->line : m->line,
		    "the MX target %s of %s has a %s address (%s) that senders on the "
		    "Internet cannot reach; give it a public address",
		    t->name, f->domain, kind, t->addrs[i].text);
		evidence_mx(fd, f, m);
		evidence_addrs(fd, t);
		break;
	}
}

/*
 * One usable host, or every usable host on the same single address.
 * Targets not judged (outside the zone) or not resolved now might be
 * other hosts: then nothing is said.
 */
static void
rule_single_host(mx_check *c, const struct check_facts *f)
{
	const struct check_target *usable[CHECK_MX_MAX];
	size_t n = 0, n_unknown = 0;
	struct mx_finding *fd;
	bool one_address = true;

	for (size_t i = 0; i < f->n_targets; i++) {
		if (f->targets[i].state == TARGET_ADDRESSES)
			usable[n++] = &f->targets[i];
		else if (f->targets[i].state == TARGET_UNKNOWN ||
		    f->targets[i].state == TARGET_TEMPFAIL)
			n_unknown++;
	}
	if (n == 0 || n_unknown > 0)
		return;
	for (size_t i = 0; i < n && one_address; i++)
		for (size_t j = 0; j < usable[i]->n_addrs; j++)
			if (strcmp(usable[i]->addrs[j].text, usable[0]->addrs[0].text) != 0)
				one_address = false;
	if (n > 1 && !one_address)
		return;
	fd = check_add(c, "mx-single-host", MX_SEVERITY_NOTICE, f->mx[0].line,
	    n == 1 ? "%s has one mail host: when it is down, senders queue and retry "
		     "(no redundancy); a second MX host on another network helps"
		   : "%s has several MX hosts but they share one address (no redundancy); "
		     "a second MX host on another network helps",
	    f->domain);
	for (size_t i = 0; i < n; i++)
		evidence_addrs(fd, usable[i]);
}

void
check_rules_mx(mx_check *c, const struct check_facts *f)
{
	const struct check_target *t;

	rule_missing(c, f);
	if (f->n_mx == 0)
		return;
	rule_null_mx(c, f);
	for (size_t i = 0; i < f->n_mx; i++) {
		rule_names(c, f, &f->mx[i]);
		rule_duplicate(c, f, i);
	}
	rule_ttl_low(c, f);
	rule_ttl_mismatch(c, f);
	for (size_t i = 0; i < f->n_mx; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= strcmp(f->mx[j].exchange, f->mx[i].exchange) == 0;
		if (seen || f->mx[i].is_null)
			continue;
		if ((t = check_facts_target(f, f->mx[i].exchange)) != NULL)
			rule_target(c, f, &f->mx[i], t);
	}
	rule_single_host(c, f);
}

/* RFC 6890 special-purpose ranges that are not globally reachable. */
static bool
v4_private(const uint8_t *b, const char **kind)
{
	static const struct {
		uint8_t net[4];
		int bits;
		const char *kind;
	} r[] = {
		{ { 0, 0, 0, 0 }, 8, "\"this network\"" },
		{ { 10, 0, 0, 0 }, 8, "private" },
		{ { 100, 64, 0, 0 }, 10, "shared (carrier-grade NAT)" },
		{ { 127, 0, 0, 0 }, 8, "loopback" },
		{ { 169, 254, 0, 0 }, 16, "link-local" },
		{ { 172, 16, 0, 0 }, 12, "private" },
		{ { 192, 0, 0, 0 }, 24, "reserved" },
		{ { 192, 0, 2, 0 }, 24, "documentation" },
		{ { 192, 168, 0, 0 }, 16, "private" },
		{ { 198, 18, 0, 0 }, 15, "benchmarking" },
		{ { 198, 51, 100, 0 }, 24, "documentation" },
		{ { 203, 0, 113, 0 }, 24, "documentation" },
		{ { 224, 0, 0, 0 }, 4, "multicast" },
		{ { 240, 0, 0, 0 }, 4, "reserved" },
	};
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		uint32_t n = (uint32_t)r[i].net[0] << 24 | (uint32_t)r[i].net[1] << 16 |
		    (uint32_t)r[i].net[2] << 8 | r[i].net[3];
		uint32_t mask = 0xffffffffu << (32 - r[i].bits);
		if ((a & mask) == n) {
			*kind = r[i].kind;
			return true;
		}
	}
	return false;
}

static bool
v6_private(const uint8_t *b, const char **kind)
{
	static const uint8_t loop[16] = { [15] = 1 }, any[16] = { 0 };
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (memcmp(b, loop, 16) == 0 || memcmp(b, any, 16) == 0)
		*kind = memcmp(b, loop, 16) == 0 ? "loopback" : "unspecified";
	else if (memcmp(b, mapped, 12) == 0)
		return v4_private(b + 12, kind);
	else if ((b[0] & 0xfe) == 0xfc)
		*kind = "unique-local (private)";
	else if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		*kind = "link-local";
	else if (b[0] == 0xff)
		*kind = "multicast";
	else if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		*kind = "documentation";
	else if ((b[0] & 0xe0) != 0x20)
		*kind = "reserved";
	else
		return false;
	return true;
}

static bool
in_net(const struct check_net *n, const struct ip_addr *a)
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (n->family != a->family)
		return false;
	if (memcmp(n->bytes, a->bytes, full) != 0)
		return false;
	return rest == 0 ||
	    ((n->bytes[full] ^ a->bytes[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* --allow-private: every special-purpose address, or those in its networks. */
bool
check_addr_allowed(const mx_check *c, const struct ip_addr *a)
{
	if (c->private_ok)
		return true;
	for (size_t i = 0; i < c->n_nets; i++)
		if (in_net(&c->nets[i], a))
			return true;
	return false;
}

bool
check_addr_private(const struct ip_addr *a, const char **kind)
{
	const char *scratch;

	if (kind == NULL)
		kind = &scratch;
	return a->family == AF_INET ? v4_private(a->bytes, kind) : v6_private(a->bytes, kind);
}
