/*
 * fuzz_aliases.c - libFuzzer target for lib/submit/aliases.c and
 * rewrite.c: the input is an alias file; it is parsed, every problem
 * read, a few names (and the first name defined) expanded, and the same
 * bytes rewritten as a message header.  Build and run: see meson.build.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "rewrite.h"

static void
expand(const struct aliases *a, const char *rcpt)
{
	char why[256], **out = NULL;
	size_t n = 0;

	if (aliases_expand(a, "origin.test", rcpt, &out, &n, why, sizeof(why)) == MX_OK)
		for (size_t i = 0; i < n; i++)
			if (strchr(out[i], '@') == NULL)
				abort(); /* everything that comes out is qualified */
	aliases_list_free(out, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aliases *a = NULL;
	char *head = NULL, name[64] = "";
	size_t head_len, hlen;

	if (aliases_parse("fuzz", (const char *)data, size, &a) == MX_OK) {
		for (size_t i = 0; i < aliases_problem_count(a); i++)
			if (strlen(aliases_problem(a, i)) == 0)
				abort();
		expand(a, "root");
		expand(a, "Postmaster@origin.test");
		expand(a, "\\root");
		/* The input is not NUL-terminated: never strcspn it. */
		size_t k = 0;
		while (k < size && data[k] != ':' && data[k] != '\n')
			k++;
		if (k < size && k < sizeof(name)) {
			memcpy(name, data, k);
			name[k] = '\0';
			expand(a, name);
		}
	}
	aliases_free(a);
	if (rewrite_header((const char *)data, size, "origin.test", &head, &head_len, &hlen) ==
		MX_OK &&
	    (hlen > size || head_len < hlen))
		abort();
	free(head);
	return 0;
}
