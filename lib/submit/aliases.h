/*
 * aliases.h - the alias file (Debian's /etc/aliases format, as Postfix's
 * local(8) and sendmail read it) loaded into memory, its problems listed
 * for newaliases, and one recipient expanded into external addresses.
 * Only addresses come out: ":include:", "|command" and "/file" targets
 * are refused (mxkit never runs commands or writes files for mail), with
 * a sentence saying so.  aliases_load allocates; aliases_free frees;
 * aliases_expand's array is the caller's (aliases_list_free).  No
 * global state; no I/O but the one read of the file.
 */
#ifndef MX_ALIASES_H
#define MX_ALIASES_H

#include <stdbool.h>
#include <stddef.h>

#include "mx.h"

#define ALIASES_FILE_MAX     ((size_t)4 << 20) /* octets of an alias file */
#define ALIASES_ENTRIES_MAX  20000             /* names in one file */
#define ALIASES_TARGETS_MAX  1000              /* targets of one name */
#define ALIASES_DEPTH_MAX    16                /* nested aliases */
#define ALIASES_PROBLEMS_MAX 100               /* problems kept for newaliases */
#define ALIASES_OUT_MAX      1000              /* addresses one expansion gives */
#define ALIASES_ADDR_MAX     320               /* octets of one target */
#define ALIASES_PROBLEM_LEN  400

struct aliases;

/*
 * Reads and parses path.  Lines that cannot be used are skipped and listed
 * as problems ("FILE:LINE: sentence"); the rest still works.  MX_OK even
 * with problems; MX_ERR_SYSTEM (errno kept, why filled) when the file
 * cannot be read; MX_ERR_CONFIG when it is too big; MX_ERR_NOMEM.
 */
mx_err aliases_load(const char *path, struct aliases **out, char *why, size_t why_size);

/* An alias table from text in memory (what aliases_load does after the
 * read; name is used in problems), for the fuzzer and tests. */
mx_err aliases_parse(const char *name, const char *text, size_t len, struct aliases **out);

size_t aliases_problem_count(const struct aliases *a);
const char *aliases_problem(const struct aliases *a, size_t i); /* NULL when out of range */
size_t aliases_count(const struct aliases *a);                  /* names defined */

/*
 * rcpt as the aliases make it: a bare local name, or local@origin, is
 * looked up (case does not matter; "\name" is never looked up) and
 * replaced by its targets, recursively (a name already being expanded is
 * taken as the address name@origin, as sendmail does for "root: root,
 * ..."); names without "@" come out qualified with origin; every other
 * address as it is.  The result is deduplicated (case-insensitively) in
 * first-seen order: *out (n strings, aliases_list_free).  why gets a
 * sentence for each refused target (":include:", pipe, file; empty when
 * none).  MX_ERR_BAD_DOMAIN when nothing is left to deliver to or the
 * nesting is deeper than ALIASES_DEPTH_MAX (why says which), MX_ERR_NOMEM.
 * a may be NULL (no aliases: only qualification).
 */
mx_err aliases_expand(const struct aliases *a, const char *origin, const char *rcpt, char ***out,
    size_t *n, char *why, size_t why_size);
void aliases_list_free(char **list, size_t n);

void aliases_free(struct aliases *a); /* NULL ok */

#endif
