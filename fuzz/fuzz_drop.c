/*
 * fuzz_drop.c - libFuzzer target for lib/submit/drop.c: the bytes are a
 * drop request (or, when the first byte is odd, a stored drop file),
 * parsed by drop_header_parse; the rest is fed to the data check in
 * pieces whose sizes come from the bytes.  Beyond crashes and leaks it
 * aborts when an invariant breaks:
 *   - a header that parses is re-serialized by drop_header_format, which
 *     must succeed and parse again to the same fields and length (the
 *     stored form written by mx-drop is always readable by pickup);
 *   - a failure leaves the struct empty and says why;
 *   - the data check gives the same verdict whatever the piece sizes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what)
{
	fprintf(stderr, "fuzz_drop: invariant broken: %s\n", what);
	abort();
}

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void
compare(const struct drop_request *a, const struct drop_request *b)
{
	if (!same_text(a->sender, b->sender) || !same_text(a->name, b->name) ||
	    !same_text(a->envid, b->envid) || !same_text(a->notify, b->notify) ||
	    a->sender_set != b->sender_set || a->error_mode != b->error_mode || a->ret != b->ret ||
	    a->body != b->body || a->size != b->size || a->rcpt_n != b->rcpt_n ||
	    a->uid != b->uid || a->gid != b->gid || a->time != b->time || a->stored != b->stored)
		broken("the re-serialized header parses to other fields");
	for (size_t i = 0; i < a->rcpt_n; i++)
		if (strcmp(a->rcpt[i], b->rcpt[i]) != 0)
			broken("a recipient changed on the way");
}

static void
roundtrip(const struct drop_request *r)
{
	struct drop_request back;
	char *text = NULL, why[200];
	size_t len, hlen;

	if (drop_header_format(r, r->size, &text, &len, why, sizeof(why)) != MX_OK)
		broken("a parsed header cannot be written back");
	if (drop_header_parse(text, len, r->stored, &back, &hlen, why, sizeof(why)) != MX_OK ||
	    hlen != len)
		broken("a written header does not parse");
	compare(r, &back);
	drop_request_clear(&back);
	free(text);
}

static mx_err
check_data(const uint8_t *p, size_t n, size_t step)
{
	struct drop_data_check c = { 0 };
	char why[200];

	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		if (drop_data_feed(&c, p + i, k, why, sizeof(why)) != MX_OK)
			return MX_ERR_BAD_DOMAIN;
	}
	return drop_data_end(&c, why, sizeof(why));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct drop_request r;
	char why[200] = "";
	size_t hlen;
	bool stored = size > 0 && (data[0] & 1);

	if (size == 0)
		return 0;
	data++, size--;
	mx_err err =
	    drop_header_parse((const char *)data, size, stored, &r, &hlen, why, sizeof(why));
	if (err != MX_OK) {
		if (r.rcpt != NULL || r.sender != NULL || r.size != 0 || why[0] == '\0')
			broken("a failed parse left fields or no reason");
		hlen = 0;
	} else {
		if (hlen > size || hlen != drop_header_end((const char *)data, size))
			broken("the header length is not where the empty line is");
		roundtrip(&r);
		drop_request_clear(&r);
	}
	mx_err whole = check_data(data + hlen, size - hlen, size + 1);
	size_t step = (size - hlen) % 7 + 1;
	if (check_data(data + hlen, size - hlen, step) != whole)
		broken("the data check depends on how the data is cut");
	return 0;
}
