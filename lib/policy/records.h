/*
 * records.h - pure parsers for the policy records a mail check judges:
 * SPF (RFC 7208), DMARC (RFC 7489), MTA-STS TXT and policy file (RFC 8461),
 * TLS-RPT (RFC 8460).  Text in, verdict out: no I/O, no allocation, no
 * global state.  Every input is (pointer, length) and may hold any octet,
 * NUL included; every output string is NUL-terminated and truncated to its
 * array (a value that does not fit is a problem, never an overflow).
 *
 * Ownership: the caller owns every struct; nothing is kept after a call.
 */
#ifndef MX_RECORDS_H
#define MX_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#define RECORD_PROBLEMS_MAX 8
#define RECORD_PROBLEM_TEXT 200
struct record_problem {
	bool fatal;                     /* the record is invalid */
	char text[RECORD_PROBLEM_TEXT]; /* one printable-ASCII sentence */
};
/* The first RECORD_PROBLEMS_MAX problems; n_dropped counts those past it,
 * n_fatal every fatal one, kept or dropped (the verdict follows it). */
struct record_problems {
	size_t n;
	struct record_problem p[RECORD_PROBLEMS_MAX];
	size_t n_dropped, n_fatal;
};

/* Whether one TXT record (its strings already joined) claims to be of that kind:
 * "v=spf1" then space or end (case-insensitive); "v=DMARC1" first tag; "v=STSv1"; "v=TLSRPTv1". */
bool spf_is_record(const char *txt, size_t len);
bool dmarc_is_record(const char *txt, size_t len);
bool mta_sts_is_record(const char *txt, size_t len);
bool tlsrpt_is_record(const char *txt, size_t len);

#define SPF_TARGETS_MAX 32
struct spf_record {
	unsigned lookup_terms; /* include, a, mx, ptr, exists, redirect here (RFC 7208 4.6.4) */
	char all;              /* qualifier of "all": '+' '-' '~' '?'; 0 when absent */
	size_t n_includes;
	char includes[SPF_TARGETS_MAX][256]; /* include: targets without macros */
	char redirect[256];                  /* "" when none (or it has macros) */
	/* additions */
	bool has_macros; /* some term uses a macro (never expanded here) */
	bool has_ptr;    /* a "ptr" mechanism (RFC 7208 5.5: do not use) */
	char exp[256];   /* exp= domain-spec; "" when none */
};
/* 0 when valid, -1 when not; problems (fatal ones and warnings such as +all, ptr) go to pr. */
int spf_parse(const char *txt, size_t len, struct spf_record *out, struct record_problems *pr);

struct dmarc_record {
	char p[16], sp[16]; /* none | quarantine | reject; sp "" when absent */
	int pct;            /* 100 when absent */
	char adkim, aspf;   /* 'r' or 's' */
	size_t n_rua;
	char rua[8][256];
	/* additions */
	size_t n_ruf;
	char ruf[8][256];
	unsigned long ri; /* 86400 when absent */
	char fo[16];      /* "0" when absent */
};
int dmarc_parse(const char *txt, size_t len, struct dmarc_record *out, struct record_problems *pr);

struct mta_sts_txt {
	char id[33];
};
int
mta_sts_txt_parse(const char *txt, size_t len, struct mta_sts_txt *out, struct record_problems *pr);
#define MTA_STS_MX_MAX      32
#define MTA_STS_MAX_AGE_MAX 31557600L
struct mta_sts_policy {
	char mode[16]; /* enforce | testing | none */
	long max_age;  /* seconds */
	size_t n_mx;
	char mx[MTA_STS_MX_MAX][256];
};
int mta_sts_policy_parse(
    const char *body, size_t len, struct mta_sts_policy *out, struct record_problems *pr);
/* RFC 8461 4.1: pattern "mail.example.com" or "*.example.com" (one leftmost label) against an MX host. */
bool mta_sts_mx_match(const char *pattern, const char *host);

struct tlsrpt_record {
	size_t n_rua;
	char rua[8][256];
};
int
tlsrpt_parse(const char *txt, size_t len, struct tlsrpt_record *out, struct record_problems *pr);

#endif
