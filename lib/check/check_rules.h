/*
 * check_rules.h - the MX record rules of `mx check`, pure functions over
 * gathered facts.  See check_rules.c.
 */
#ifndef MX_CHECK_RULES_H
#define MX_CHECK_RULES_H

#include "check_facts.h"

void check_rules_mx(mx_check *c, const struct check_facts *f);
/* Whether the user allows this (private) address: --allow-private. */
bool check_addr_allowed(const mx_check *c, const struct ip_addr *a);
/* True for loopback, private, link-local, shared, reserved and the like. */
bool check_addr_private(const struct ip_addr *a, const char **kind);
/* The target record of exchange, or NULL. */
const struct check_target *check_facts_target(const struct check_facts *f, const char *name);

#endif
