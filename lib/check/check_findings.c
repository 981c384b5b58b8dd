/*
 * check_findings.c - the list of findings of an mx_check and of what it
 * could not test, filled by the rules as they judge (ids the user
 * ignores are counted, not kept; past CHECK_FINDINGS_MAX they are
 * dropped), and the one order they are reported in.  Knows nothing of
 * how the facts were gathered.  The lists belong to the check.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_findings.h"

bool
check_ignored(const mx_check *c, const char *id)
{
	for (size_t i = 0; i < c->n_ignore; i++)
		if (strcmp(c->ignore[i], id) == 0)
			return true;
	return false;
}

void
check_reset(mx_check *c)
{
	c->tempfail = false;
	c->tempfail_why[0] = '\0';
	c->domain[0] = '\0';
	c->n_findings = 0;
	c->n_dropped = 0;
	c->n_untested = 0;
	c->n_ignored = 0;
}

struct mx_finding *
check_add(mx_check *c, const char *id, mx_severity sev, unsigned line, const char *fmt, ...)
{
	struct mx_finding *f;
	va_list ap;

	if (check_ignored(c, id)) {
		c->n_ignored++;
		return NULL;
	}
	if (c->n_findings == CHECK_FINDINGS_MAX) {
		c->n_dropped++;
		return NULL;
	}
	f = &c->findings[c->n_findings++];
	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->severity = sev;
	f->line = line;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return f;
}

void
check_evidence(struct mx_finding *f, const char *fmt, ...)
{
	va_list ap;

	if (f == NULL || f->n_evidence == CHECK_EVIDENCE_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(f->evidence[f->n_evidence++], CHECK_EVIDENCE_TEXT, fmt, ap);
	va_end(ap);
}

/*
 * The order findings are reported in, whatever order the answers and
 * probes came back in: the worst severity first, then by id, then by
 * zone line, then by message (which names the host, then the address:
 * each id's messages share their start), then by evidence.  A total order
 * over everything a finding shows, so equal output means equal findings.
 */
int
check_finding_cmp(const struct mx_finding *a, const struct mx_finding *b)
{
	int d;

	if (a->severity != b->severity)
		return a->severity > b->severity ? -1 : 1;
	if ((d = strcmp(a->id, b->id)) != 0)
		return d;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if ((d = strcmp(a->message, b->message)) != 0)
		return d;
	for (size_t i = 0; i < a->n_evidence && i < b->n_evidence; i++)
		if ((d = strcmp(a->evidence[i], b->evidence[i])) != 0)
			return d;
	return a->n_evidence < b->n_evidence ? -1 : a->n_evidence > b->n_evidence;
}

static int
finding_qsort_cmp(const void *a, const void *b)
{
	return check_finding_cmp(a, b);
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct check_mx *x = a, *y = b;
	int d;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	if ((d = strcmp(x->exchange, y->exchange)) != 0)
		return d;
	return x->ttl < y->ttl ? -1 : x->ttl > y->ttl;
}

/* Resolvers hand an RRset out in any order (Unbound rotates it): the facts
 * keep one, by preference, then name, so what is judged and shown as
 * evidence does not change from run to run. */
void
check_mx_sort(struct check_mx *mx, size_t n)
{
	qsort(mx, n, sizeof(*mx), mx_cmp);
}

static int
untested_cmp(const void *a, const void *b)
{
	const struct check_untested *x = a, *y = b;
	int d = strcmp(x->test, y->test);

	return d != 0 ? d : strcmp(x->reason, y->reason);
}

/* What could not be tested goes by test, then reason, for the same reason. */
void
check_sort(mx_check *c)
{
	qsort(c->findings, c->n_findings, sizeof(*c->findings), finding_qsort_cmp);
	qsort(c->untested, c->n_untested, sizeof(*c->untested), untested_cmp);
}

void
check_add_untested(mx_check *c, const char *test, const char *fmt, ...)
{
	struct check_untested *u;
	va_list ap;

	if (c->n_untested == CHECK_UNTESTED_MAX)
		return;
	u = &c->untested[c->n_untested++];
	snprintf(u->test, sizeof(u->test), "%s", test);
	va_start(ap, fmt);
	vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
	va_end(ap);
}
