/*
 * check_json.c - a check's result as one line of JSON:
 * {"domain", "mode", "findings": [{"id", "severity", "message",
 * "evidence": [...], "line"?}], "untested": [{"test", "reason"}],
 * "summary": {"error", "warning", "notice", "info", "worst", "tempfail"}}.
 * Writes to a memory stream it owns; the caller frees the string.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check_facts.h"
#include "json.h"

static void
write_finding(FILE *f, const struct mx_finding *fd)
{
	fputs("{\"id\":", f);
	json_string(f, fd->id);
	fputs(",\"severity\":", f);
	json_string(f, mx_severity_name(fd->severity));
	fputs(",\"message\":", f);
	json_string(f, fd->message);
	fputs(",\"evidence\":[", f);
	for (size_t i = 0; i < fd->n_evidence; i++) {
		if (i > 0)
			fputc(',', f);
		json_string(f, fd->evidence[i]);
	}
	fputc(']', f);
	if (fd->line > 0)
		fprintf(f, ",\"line\":%u", fd->line);
	fputc('}', f);
}

static void
write_summary(FILE *f, const mx_check *c)
{
	size_t count[4] = { 0 };

	for (size_t i = 0; i < c->n_findings; i++)
		count[c->findings[i].severity]++;
	fprintf(f, "{\"error\":%zu,\"warning\":%zu,\"notice\":%zu,\"info\":%zu,\"worst\":",
	    count[MX_SEVERITY_ERROR], count[MX_SEVERITY_WARNING], count[MX_SEVERITY_NOTICE],
	    count[MX_SEVERITY_INFO]);
	if (c->n_findings == 0)
		fputs("null", f);
	else
		json_string(f, mx_severity_name(mx_check_worst(c)));
	fprintf(f, ",\"tempfail\":%s", c->tempfail ? "true" : "false");
	if (c->tempfail) {
		fputs(",\"reason\":", f);
		json_string(f, c->tempfail_why);
	}
	fprintf(f, ",\"ignored\":%zu,\"dropped\":%zu}", c->n_ignored, c->n_dropped);
}

mx_err
mx_check_to_json(const mx_check *c, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (c == NULL || out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MX_ERR_NOMEM;
	fputs("{\"domain\":", f);
	json_string(f, c->domain);
	fprintf(f, ",\"mode\":\"%s\",\"findings\":[", c->zone_mode ? "zone" : "live");
	for (size_t i = 0; i < c->n_findings; i++) {
		if (i > 0)
			fputc(',', f);
		write_finding(f, &c->findings[i]);
	}
	fputs("],\"untested\":[", f);
	for (size_t i = 0; i < c->n_untested; i++) {
		fputs(i > 0 ? ",{\"test\":" : "{\"test\":", f);
		json_string(f, c->untested[i].test);
		fputs(",\"reason\":", f);
		json_string(f, c->untested[i].reason);
		fputc('}', f);
	}
	fputs("],\"summary\":", f);
	write_summary(f, c);
	fputc('}', f);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return MX_ERR_NOMEM;
	}
	*out = buf;
	return MX_OK;
}

mx_err
mx_check_invalid_to_json(const char *arg, const char *why, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (arg == NULL || why == NULL || out == NULL)
		return MX_ERR_INVALID;
	*out = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return MX_ERR_NOMEM;
	fputs("{\"domain\":", f);
	json_string(f, arg);
	fputs(",\"mode\":\"live\",\"findings\":[],\"untested\":[],\"summary\":"
	      "{\"error\":0,\"warning\":0,\"notice\":0,\"info\":0,\"worst\":null,"
	      "\"tempfail\":true,\"reason\":",
	    f);
	json_string(f, why);
	fputs(",\"ignored\":0,\"dropped\":0},\"invalid\":true}", f);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return MX_ERR_NOMEM;
	}
	*out = buf;
	return MX_OK;
}
