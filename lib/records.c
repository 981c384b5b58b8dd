/*
 * records.c - placeholder: the parsers of records.h are being written
 * (engineer B).  Every parser reports "not implemented" as a fatal problem.
 */
#include <string.h>

#include "records.h"

static int todo(struct record_problems *pr)
{
	pr->n = 1;
	pr->p[0].fatal = true;
	strcpy(pr->p[0].text, "not implemented");
	return -1;
}

bool spf_is_record(const char *txt, size_t len) { (void)txt; (void)len; return false; }
bool dmarc_is_record(const char *txt, size_t len) { (void)txt; (void)len; return false; }
bool mta_sts_is_record(const char *txt, size_t len) { (void)txt; (void)len; return false; }
bool tlsrpt_is_record(const char *txt, size_t len) { (void)txt; (void)len; return false; }
int spf_parse(const char *txt, size_t len, struct spf_record *out, struct record_problems *pr)
{ (void)txt; (void)len; memset(out, 0, sizeof *out); return todo(pr); }
int dmarc_parse(const char *txt, size_t len, struct dmarc_record *out, struct record_problems *pr)
{ (void)txt; (void)len; memset(out, 0, sizeof *out); return todo(pr); }
int mta_sts_txt_parse(const char *txt, size_t len, struct mta_sts_txt *out, struct record_problems *pr)
{ (void)txt; (void)len; memset(out, 0, sizeof *out); return todo(pr); }
int mta_sts_policy_parse(const char *body, size_t len, struct mta_sts_policy *out, struct record_problems *pr)
{ (void)body; (void)len; memset(out, 0, sizeof *out); return todo(pr); }
bool mta_sts_mx_match(const char *pattern, const char *host) { (void)pattern; (void)host; return false; }
int tlsrpt_parse(const char *txt, size_t len, struct tlsrpt_record *out, struct record_problems *pr)
{ (void)txt; (void)len; memset(out, 0, sizeof *out); return todo(pr); }
