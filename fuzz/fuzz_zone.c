/*
 * fuzz_zone.c - libFuzzer target for `mx check --zone` (lib/check_zone.c
 * over ldns, then the rules of check_rules.c and check_policy.c and the
 * JSON writer): the bytes are a zone file, read from a memory stream,
 * once with the origin it names itself and once with --origin
 * example.test.  Beyond crashes and leaks it aborts when an invariant
 * breaks:
 *   - the call ends in MX_OK or MX_ERR_BAD_ZONE (MX_ERR_NOMEM only on a
 *     zone over the record cap) and a failure says why; a parse error
 *     names its line ("line N: ...");
 *   - every finding has a known id, a severity in range, a message, and a
 *     line inside the input (0 for findings about no one record);
 *   - findings and evidence stay under their caps;
 *   - the JSON is one line that begins and ends as an object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_findings.h"
#include "check_zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_zone: invariant broken: %s%s%s\n", what, detail ? ": " : "",
	    detail ? detail : "");
	abort();
}

static unsigned
count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

static void
check_findings(const mx_check *c, unsigned lines)
{
	char *json = NULL;
	size_t len;

	if (mx_check_finding_count(c) > CHECK_FINDINGS_MAX)
		broken("too many findings", NULL);
	for (size_t i = 0; i < mx_check_finding_count(c); i++) {
		const mx_finding *f = mx_check_finding(c, i);
		if (!mx_check_id_known(mx_finding_id(f)))
			broken("unknown id", mx_finding_id(f));
		if (mx_finding_severity(f) > MX_SEVERITY_ERROR)
			broken("severity out of range", mx_finding_id(f));
		if (mx_finding_message(f)[0] == '\0')
			broken("empty message", mx_finding_id(f));
		if (mx_finding_line(f) > lines)
			broken("line past the end", mx_finding_id(f));
		if (mx_finding_evidence_count(f) > CHECK_EVIDENCE_MAX)
			broken("too much evidence", mx_finding_id(f));
	}
	if (mx_check_to_json(c, &json) != MX_OK)
		broken("no JSON", NULL);
	len = strlen(json);
	if (len < 2 || json[0] != '{' || json[len - 1] != '}' || strchr(json, '\n'))
		broken("JSON is not one object on one line", json);
	free(json);
}

static void
run(mx_check *c, const uint8_t *data, size_t size, const char *origin, unsigned lines)
{
	char why[512] = "";
	FILE *fp = fmemopen((void *)(uintptr_t)data, size, "r");
	mx_err err;

	if (fp == NULL)
		return;
	check_reset(c);
	c->zone_mode = true;
	err = check_zone_fp(c, fp, origin, why, sizeof(why));
	fclose(fp);
	if (err == MX_OK) {
		check_findings(c, lines);
		return;
	}
	if (err != MX_ERR_BAD_ZONE && err != MX_ERR_NOMEM)
		broken("unexpected error", mx_strerror(err));
	if (why[0] == '\0')
		broken("a failure without a reason", NULL);
	if (strncmp(why, "line ", 5) != 0 && strstr(why, "SOA") == NULL &&
	    strstr(why, "records") == NULL)
		broken("a parse error without its line", why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mx_check *c = NULL;
	unsigned lines = count_lines(data, size);

	if (size == 0 || mx_check_new(&c, NULL) != MX_OK)
		return 0;
	run(c, data, size, NULL, lines);
	run(c, data, size, "example.test", lines);
	mx_check_free(c);
	return 0;
}
