/*
 * why.h - filling the caller's mx_why, the one way libmx explains a
 * failure (mx.h).  Every function here takes NULL for why and does
 * nothing with it then; none allocates.
 */
#ifndef MX_WHY_H
#define MX_WHY_H

#include "mx.h"

/* "" : what a public call does first, so that success leaves it empty. */
void why_clear(mx_why *why);
/* Writes the sentence (cut to MX_WHY_MAX - 1 octets) and returns err,
 * so that a failure is one line: return why_set(why, MX_ERR_X, ...). */
mx_err why_set(mx_why *why, mx_err err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* why_set unless why already says something: the first cause wins. */
mx_err
why_first(mx_why *why, mx_err err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
