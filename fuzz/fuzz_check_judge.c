/*
 * fuzz_check_judge.c - libFuzzer target for the judging of a live `mx
 * check` (lib/check_judge.c, check_rules.c, check_smtp.c) and the text it
 * writes: evidence lines, messages, the JSON (check_json.c).  The input
 * is a small text that fills the facts a live run gathers, one per line:
 *   domain NAME
 *   ns NAME ADDR [silent|lame|nxdomain]  an authoritative server's answer
 *   amx PREF NAME TTL                     an MX record in that answer
 *   mx PREF NAME TTL                      an MX record as the resolver gave it
 *   addr NAME ADDR                        an address of an MX target
 *   ptr ADDR [NAME]                       reverse DNS (none without NAME)
 * A word "X*N" stands for X written N times, so that seeds can hold names
 * longer than any buffer without being that long.  Beyond crashes (ASan:
 * the evidence of a long NS name once ran past a stack buffer) it aborts
 * when every finding's text is not NUL-terminated inside its array or
 * the findings are not in their documented order.  FUZZ_JUDGE_PRINT=1
 * prints each input's JSON.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_findings.h"
#include "check_judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WORDS 4

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_check_judge: invariant broken: %s\n", what);
	abort();
}

/* A word into out (cut to size), "X*N" expanded. */
static void
word(const char *w, char *out, size_t size)
{
	const char *star = strrchr(w, '*');
	size_t unit = star ? (size_t)(star - w) : strlen(w), o = 0;
	unsigned long n = star ? strtoul(star + 1, NULL, 10) : 1;

	if (star == NULL || unit == 0)
		unit = strlen(w), n = 1;
	for (unsigned long k = 0; k < n && o + unit < size; k++, o += unit)
		memcpy(out + o, w, unit);
	out[o] = '\0';
}

static void
set_addr(struct ip_addr *a, const char *text)
{
	memset(a, 0, sizeof(*a));
	a->family = strchr(text, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(a->family, text, a->bytes) != 1)
		a->family = AF_INET;
	snprintf(a->text, sizeof(a->text), "%s", text);
}

static void
add_mx(struct check_mx *m, size_t *n, char w[][NAME_TEXT_MAX])
{
	struct check_mx *x;

	if (*n == CHECK_MX_MAX)
		return;
	x = &m[(*n)++];
	x->pref = (uint16_t)strtoul(w[1], NULL, 10);
	x->ttl = (uint32_t)strtoul(w[3], NULL, 10);
	x->is_null = strcmp(w[2], ".") == 0;
	snprintf(x->exchange, sizeof(x->exchange), "%s", w[2]);
}

static struct check_target *
target(struct check_facts *f, const char *name)
{
	struct check_target *t;

	for (size_t i = 0; i < f->n_targets; i++)
		if (strcmp(f->targets[i].name, name) == 0)
			return &f->targets[i];
	if (f->n_targets == CHECK_MX_MAX)
		return NULL;
	t = &f->targets[f->n_targets++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->state = TARGET_NXDOMAIN;
	return t;
}

static void
add_ns(struct check_live *l, char w[][NAME_TEXT_MAX])
{
	struct dns_auth_mx *x;

	if (l->n_auth == LIVE_AUTH_MAX)
		return;
	x = &l->auth[l->n_auth++];
	snprintf(x->ns_name, sizeof(x->ns_name), "%s", w[1]);
	set_addr(&x->server, w[2]);
	x->answered = strcmp(w[3], "silent") != 0;
	x->authoritative = strcmp(w[3], "lame") != 0;
	x->rcode = strcmp(w[3], "nxdomain") == 0 ? 3 : 0;
	snprintf(x->why, sizeof(x->why), "no answer in time");
}

static void
add_ptr(struct check_live *l, char w[][NAME_TEXT_MAX])
{
	struct live_ptr *p;

	if (l->n_ptrs == LIVE_PTRS_MAX || l->facts.n_targets == 0)
		return;
	p = &l->ptrs[l->n_ptrs++];
	set_addr(&p->addr, w[1]);
	p->target = l->n_ptrs % l->facts.n_targets;
	p->answered = true;
	if (w[2][0] != '\0')
		snprintf(p->names[p->n_names++], NAME_TEXT_MAX, "%s", w[2]);
}

static void
add_addr(struct check_live *l, char w[][NAME_TEXT_MAX])
{
	struct check_target *t = target(&l->facts, w[1]);

	if (t == NULL || t->n_addrs == CHECK_ADDRS_MAX)
		return;
	t->state = TARGET_ADDRESSES;
	set_addr(&t->addrs[t->n_addrs++], w[2]);
}

static void
line(struct check_live *l, char *text)
{
	static char w[WORDS][NAME_TEXT_MAX];
	char *save = NULL, *tok = strtok_r(text, " \t", &save);

	for (size_t i = 0; i < WORDS; i++) {
		w[i][0] = '\0';
		if (tok != NULL)
			word(tok, w[i], sizeof(w[i]));
		tok = tok ? strtok_r(NULL, " \t", &save) : NULL;
	}
	if (strcmp(w[0], "domain") == 0)
		snprintf(l->c->domain, sizeof(l->c->domain), "%s", w[1]);
	else if (strcmp(w[0], "ns") == 0)
		add_ns(l, w);
	else if (strcmp(w[0], "amx") == 0 && l->n_auth > 0)
		add_mx(l->auth[l->n_auth - 1].mx, &l->auth[l->n_auth - 1].n, w);
	else if (strcmp(w[0], "mx") == 0) {
		add_mx(l->facts.mx, &l->facts.n_mx, w);
		l->facts.mx_state = TARGET_ADDRESSES;
		target(&l->facts, w[2]);
	} else if (strcmp(w[0], "addr") == 0)
		add_addr(l, w);
	else if (strcmp(w[0], "ptr") == 0)
		add_ptr(l, w);
}

static void
check_findings(const mx_check *c)
{
	char *json = NULL;

	for (size_t i = 0; i < c->n_findings; i++) {
		const struct mx_finding *f = &c->findings[i];
		if (memchr(f->message, '\0', sizeof(f->message)) == NULL)
			broken("message not terminated");
		for (size_t j = 0; j < f->n_evidence; j++)
			if (memchr(f->evidence[j], '\0', CHECK_EVIDENCE_TEXT) == NULL)
				broken("evidence not terminated");
		if (i > 0 && check_finding_cmp(&c->findings[i - 1], f) > 0)
			broken("findings out of order");
	}
	if (mx_check_to_json(c, &json) != MX_OK || json == NULL)
		broken("no JSON");
	if (getenv("FUZZ_JUDGE_PRINT") != NULL) /* to see what a seed judges to */
		fprintf(stderr, "%s\n", json);
	free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check_live *l = calloc(1, sizeof(*l));
	char *text = malloc(size + 1), *save = NULL;
	mx_check *c = NULL;

	if (l == NULL || text == NULL || mx_check_new(&c, NULL) != MX_OK)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	l->c = c;
	l->facts.mx_state = TARGET_NODATA;
	snprintf(c->domain, sizeof(c->domain), "example.test");
	snprintf(l->facts.domain, sizeof(l->facts.domain), "example.test");
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save))
		line(l, ln);
	check_live_judge(l);
	check_findings(c);
out:
	mx_check_free(c);
	free(text);
	free(l);
	return 0;
}
