/*
 * plan.c - the mx_plan and mx_host objects: creation, the getters of the
 * public API, and freeing.  A plan owns its hosts, their addresses and
 * all their text, all in the plan's store (text.h), which starts in the
 * plan's own block; every pointer a getter returns lives as long as the
 * plan.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/*
 * The plan's text lives in its store (text.h), not in fixed buffers sized
 * for the longest escaped name: with a thousand lookups in flight, plans
 * and hosts of a few kilobytes each (zeroed by calloc, then realloc'd)
 * kept glibc's allocator splitting and merging chunks above its tcache
 * limit and did not fit in the cache.
 */
static const char out_of_memory[] = "(out of memory while writing the reason)";

/*
 * One block per plan: the struct, then the first chunk of its store,
 * where its text, hosts and addresses go.  A plan with a few hosts (most
 * of them) is then one allocation instead of six or so; the block stays
 * under glibc's 1,009-byte large-request threshold (see text.c).
 */
#define PLAN_BLOCK    1000
#define PLAN_STORE_AT ((sizeof(struct mx_plan) + 15) & ~(size_t)15)

_Static_assert(PLAN_BLOCK >= PLAN_STORE_AT + TEXT_CHUNK_HEADER + 256,
    "room for a plan's usual text, hosts and addresses in its block");

/* Text of len bytes of s kept in the plan's store, or the sentence
 * saying it could not be. */
static const char *
keep_text(mx_plan *plan, const char *s, size_t len)
{
	const char *kept = text_add(&plan->text, s, len);

	return kept != NULL ? kept : out_of_memory;
}

mx_err
plan_new(const char *domain, mx_plan **out)
{
	mx_plan *plan = malloc(PLAN_BLOCK);
	size_t len = strnlen(domain, MX_DOMAIN_MAX); /* memset wrote the NUL */

	if (plan == NULL)
		return MX_ERR_NOMEM;
	memset(plan, 0, sizeof(*plan));
	text_store_init(&plan->text, (char *)plan + PLAN_STORE_AT, PLAN_BLOCK - PLAN_STORE_AT);
	memcpy(plan->domain, domain, len);
	plan->canonical = plan->domain;
	plan->reason = "";
	plan->status = MX_STATUS_TEMPFAIL;
	*out = plan;
	return MX_OK;
}

const char *
plan_text(mx_plan *plan, const char *s)
{
	return text_copy(&plan->text, s);
}

void *
plan_alloc(mx_plan *plan, size_t size)
{
	return text_alloc(&plan->text, size);
}

void
host_init(struct mx_host *host, const char *name)
{
	memset(host, 0, sizeof(*host));
	host->name = name;
	host->family_why[0] = host->family_why[1] = "";
	host->reason = "";
}

void
plan_set_reason_text(mx_plan *plan, const char *text)
{
	plan->reason = keep_text(plan, text, strnlen(text, PLAN_REASON_MAX - 1));
}

void
plan_set_reason(mx_plan *plan, const char *fmt, ...)
{
	char buf[PLAN_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	plan_set_reason_text(plan, buf);
}

/* Appends "; sentence" so several causes (A and AAAA) read as one line;
 * cut where a char[HOST_REASON_MAX] would cut it. */
void
host_add_reason(mx_plan *plan, struct mx_host *host, const char *fmt, ...)
{
	char buf[HOST_REASON_MAX];
	size_t len = strnlen(host->reason, sizeof(buf) - 1);
	va_list ap;

	memcpy(buf, host->reason, len);
	buf[len] = '\0';
	if (len > 0 && len + 2 < sizeof(buf)) {
		memcpy(buf + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
	host->reason = keep_text(plan, buf, strlen(buf));
}

void
host_set_family_why(mx_plan *plan, struct mx_host *host, int f, const char *why)
{
	host->family_why[f] = keep_text(plan, why, strnlen(why, HOST_WHY_MAX - 1));
}

void
plan_note_security(mx_plan *plan, answer_security sec)
{
	plan->answers_seen++;
	plan->any_bogus |= sec == SEC_BOGUS;
	plan->any_insecure |= sec == SEC_INSECURE;
	plan->any_unknown |= sec == SEC_UNKNOWN;
}

size_t
problem_set_count(problem_set set)
{
	return (size_t)__builtin_popcount(set);
}

mx_problem
problem_set_nth(problem_set set, size_t i)
{
	for (unsigned p = 0; p < MX_PROBLEM_COUNT_; p++)
		if ((set & PROBLEM_BIT(p)) && i-- == 0)
			return (mx_problem)p;
	return MX_PROBLEM_COUNT_;
}

void
mx_plan_free(mx_plan *plan)
{
	if (plan == NULL)
		return;
	text_store_free(&plan->text);
	free(plan);
}

const char *
mx_plan_domain(const mx_plan *plan)
{
	return plan->domain;
}
mx_status
mx_plan_status(const mx_plan *plan)
{
	return plan->status;
}
const char *
mx_plan_reason(const mx_plan *plan)
{
	return plan->reason;
}
bool
mx_plan_implicit_mx(const mx_plan *plan)
{
	return plan->implicit_mx;
}
const char *
mx_plan_canonical(const mx_plan *plan)
{
	return plan->canonical;
}
size_t
mx_plan_host_count(const mx_plan *plan)
{
	return plan->n_hosts;
}

/* Bogus is judged first: one bogus answer makes the plan bogus. */
mx_dnssec
mx_plan_dnssec(const mx_plan *plan)
{
	if (plan->any_bogus)
		return MX_DNSSEC_BOGUS;
	if (plan->answers_seen == 0 || plan->any_unknown)
		return MX_DNSSEC_INDETERMINATE;
	if (plan->any_insecure)
		return MX_DNSSEC_INSECURE;
	return MX_DNSSEC_SECURE;
}

size_t
mx_plan_problem_count(const mx_plan *plan)
{
	return problem_set_count(plan->problems);
}

mx_problem
mx_plan_problem(const mx_plan *plan, size_t i)
{
	return problem_set_nth(plan->problems, i);
}

const mx_host *
mx_plan_host(const mx_plan *plan, size_t i)
{
	return i < plan->n_hosts ? &plan->hosts[i] : NULL;
}

const char *
mx_host_name(const mx_host *host)
{
	return host->name;
}
uint16_t
mx_host_preference(const mx_host *host)
{
	return host->preference;
}
uint32_t
mx_host_ttl(const mx_host *host)
{
	return host->ttl;
}
mx_host_status
mx_host_status_of(const mx_host *host)
{
	return host->status;
}
size_t
mx_host_address_count(const mx_host *host)
{
	return host->n_addrs;
}
const char *
mx_host_reason(const mx_host *host)
{
	return host->reason;
}

size_t
mx_host_problem_count(const mx_host *host)
{
	return problem_set_count(host->problems);
}

mx_problem
mx_host_problem(const mx_host *host, size_t i)
{
	return problem_set_nth(host->problems, i);
}

const char *
mx_host_address(const mx_host *host, size_t i)
{
	return i < host->n_addrs ? host->addrs[i].text : NULL;
}

int
mx_host_address_family(const mx_host *host, size_t i)
{
	return i < host->n_addrs ? host->addrs[i].family : AF_UNSPEC;
}

socklen_t
mx_host_address_sockaddr(const mx_host *host, size_t i, uint16_t port, struct sockaddr_storage *out)
{
	if (i >= host->n_addrs || out == NULL)
		return 0;
	return ip_addr_sockaddr(&host->addrs[i], port, out);
}
