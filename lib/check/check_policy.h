/*
 * check_policy.h - the rules of `mx check` over SPF, DMARC, MTA-STS TXT
 * and TLS-RPT of a domain, pure.  See check_policy.c.
 */
#ifndef MX_CHECK_POLICY_H
#define MX_CHECK_POLICY_H

#include "check_facts.h"

/* spf_lookups: DNS-querying terms counted through include/redirect, or
 * -1 when not counted (zone mode, or not all includes resolved). */
void check_rules_policy(mx_check *c, const struct check_policy_txts *p, int spf_lookups,
    const char *spf_count_evidence);
bool check_mta_sts_published(const struct check_txts *txts);
/* The fetched policy (error non-NULL: the fetch failed) against the MX hosts. */
void check_rules_mta_sts_policy(mx_check *c, int status, const char *body, size_t len,
    const char *error, const struct check_facts *f);

#endif
