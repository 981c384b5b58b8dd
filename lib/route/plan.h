/*
 * plan.h - the insides of mx_plan and mx_host, shared by the library files
 * that build plans (route.c), read them (plan.c, plan_json.c) and fill them
 * from the network (lookup.c).  Never installed.
 */
#ifndef MX_PLAN_H
#define MX_PLAN_H

#include <stdint.h>

#include "answer.h"
#include "ipaddr.h"
#include "mx.h"
#include "name.h"
#include "text.h"

/* A problem set: bit n is mx_problem n, so iteration keeps enum order. */
typedef uint32_t problem_set;

#define PROBLEM_BIT(p) ((problem_set)1u << (p))

/*
 * Text fields point into the plan's store (mx_plan.text) or at the plan's
 * own domain, and live as long as the plan; they are never NULL once the
 * host is in plan->hosts (host_init), so a host moves by value.
 */
struct mx_host {
	const char *name; /* lower case, no trailing dot */
	uint16_t preference;
	uint32_t ttl;
	bool ttl_set; /* implicit MX: ttl holds an address TTL */
	mx_host_status status;
	problem_set problems;
	/* Address lookups: which families are still owed, which failed. */
	unsigned families_pending; /* bit 0: A, bit 1: AAAA */
	unsigned families_tempfail;
	bool need_addresses;
	bool addrs_secure; /* every address answer used was DNSSEC-secure */
	bool addrs_seen;
	bool nxdomain;             /* an address lookup said the name does not exist */
	const char *family_why[2]; /* A, AAAA: why the lookup failed, if it did */
	const char *reason;        /* why it is not usable, or what is odd about it */
	struct ip_addr *addrs;     /* in the plan's store (plan_alloc) */
	size_t n_addrs;
};

/* Caps of the text fields: what fixed buffers of these sizes held. */
#define HOST_WHY_MAX    160
#define HOST_REASON_MAX 384
#define PLAN_REASON_MAX 512

struct mx_plan {
	char domain[MX_DOMAIN_MAX + 1];
	const char *canonical; /* domain itself, or in text */
	mx_status status;
	bool decided; /* status is final before address lookups */
	bool implicit_mx;
	/* DNSSEC verdict, folded over every answer used. */
	bool any_bogus, any_insecure, any_unknown;
	answer_security mx_security; /* of the MX answer (DANE needs it secure) */
	size_t answers_seen;
	problem_set problems;
	const char *reason;
	struct mx_host *hosts; /* in the store */
	size_t n_hosts;
	struct text_store text; /* the strings above, the hosts and theirs */
};

/* plan.c */
/* An empty host named name (a string that lives as long as the plan). */
void host_init(struct mx_host *host, const char *name);
/* A copy of s kept by the plan; NULL when out of memory. */
const char *plan_text(mx_plan *plan, const char *s);
/* size bytes in the plan's store (its hosts, their addresses), freed with
 * the plan; NULL when out of memory.  Never freed or grown by itself:
 * growing is a new block and a copy. */
void *plan_alloc(mx_plan *plan, size_t size);
/* Appends "; sentence" to the reason (at most HOST_REASON_MAX - 1 bytes);
 * out of memory, the reason says so. */
void host_add_reason(mx_plan *plan, struct mx_host *host, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* host->family_why[f] becomes a copy of why, cut at HOST_WHY_MAX - 1. */
void host_set_family_why(mx_plan *plan, struct mx_host *host, int f, const char *why);
mx_err plan_new(const char *domain, mx_plan **out);
void plan_set_reason(mx_plan *plan, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with finished text, cut where the format's buffer would cut it. */
void plan_set_reason_text(mx_plan *plan, const char *text);
void plan_note_security(mx_plan *plan, answer_security sec);
size_t problem_set_count(problem_set set);
mx_problem problem_set_nth(problem_set set, size_t i);

#endif
