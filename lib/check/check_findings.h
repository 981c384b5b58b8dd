/*
 * check_findings.h - the list of findings and of what could not be tested
 * that the rules of mx_check fill, and the order they are reported in.
 * See check_findings.c.
 */
#ifndef MX_CHECK_FINDINGS_H
#define MX_CHECK_FINDINGS_H

#include "check_facts.h"

/* Adds a finding (dropped when its id is ignored); returns it or NULL. */
struct mx_finding *check_add(mx_check *c, const char *id, mx_severity sev, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void
check_evidence(struct mx_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void check_add_untested(mx_check *c, const char *test, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void check_reset(mx_check *c);
/* The report's order (check_findings.c says which); check_sort puts the
 * findings, and what was not tested, in it once a run has made them all. */
int check_finding_cmp(const struct mx_finding *a, const struct mx_finding *b);
void check_sort(mx_check *c);
/* MX records by preference, then exchange, then TTL. */
void check_mx_sort(struct check_mx *mx, size_t n);
bool check_ignored(const mx_check *c, const char *id);

#endif
