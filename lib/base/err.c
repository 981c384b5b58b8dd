/*
 * err.c - error codes and the stable names of statuses and problems.
 * The names are an interface: JSON output, tests and scripts match them,
 * so they change only with a new major version.
 */
#include "mx.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What happened, and what it is (mx_err_classify), for each code. */
static const struct {
	const char *message;
	mx_err_class class_;
} errors[] = {
	[MX_OK] = { "success", MX_CLASS_NONE },
	[MX_ERR_NOMEM] = { "out of memory", MX_CLASS_TEMPORARY },
	[MX_ERR_INVALID] = { "invalid argument", MX_CLASS_USAGE },
	[MX_ERR_BAD_DOMAIN] = { "malformed domain name", MX_CLASS_PERMANENT },
	[MX_ERR_CONFIG] = { "configuration failed (resolver, trust anchor or CA file)",
	    MX_CLASS_CONFIG },
	[MX_ERR_SYSTEM] = { "system error (sockets, disk or event loop)", MX_CLASS_TEMPORARY },
	[MX_ERR_BUSY] = { "resolver already in use: configure it first", MX_CLASS_USAGE },
	[MX_ERR_NOT_FOUND] = { "not found", MX_CLASS_NOT_FOUND },
	[MX_ERR_TOO_BIG] = { "message too big", MX_CLASS_PERMANENT },
	[MX_ERR_CORRUPT] = { "corrupt file", MX_CLASS_PERMANENT },
	[MX_ERR_BAD_ADDRESS] = { "malformed address", MX_CLASS_PERMANENT },
	[MX_ERR_BAD_MESSAGE] = { "malformed message", MX_CLASS_PERMANENT },
	[MX_ERR_BAD_ZONE] = { "malformed zone file", MX_CLASS_PERMANENT },
	[MX_ERR_LOCKED] = { "in use by another process", MX_CLASS_TEMPORARY },
};
_Static_assert(COUNT(errors) == MX_ERR_LOCKED + 1, "an error code has no message");

const char *
mx_strerror(mx_err err)
{
	if ((unsigned)err >= COUNT(errors))
		return "unknown error";
	return errors[err].message;
}

/* An unknown code is the caller's mistake: it came from no libmx call. */
mx_err_class
mx_err_classify(mx_err err)
{
	if ((unsigned)err >= COUNT(errors))
		return MX_CLASS_USAGE;
	return errors[err].class_;
}

bool
mx_err_temporary(mx_err err)
{
	return mx_err_classify(err) == MX_CLASS_TEMPORARY;
}

static const char *const problem_names[] = {
	[MX_PROBLEM_NULL_MX_MIXED] = "null-mx-mixed",
	[MX_PROBLEM_NULL_MX_PREFERENCE] = "null-mx-preference",
	[MX_PROBLEM_DUPLICATE_HOST] = "duplicate-host",
	[MX_PROBLEM_DNSSEC_BOGUS] = "dnssec-bogus",
	[MX_PROBLEM_CNAME_TARGET] = "cname-target",
	[MX_PROBLEM_IP_LITERAL_TARGET] = "ip-literal-target",
	[MX_PROBLEM_BAD_HOSTNAME] = "bad-hostname",
	[MX_PROBLEM_CNAME_LOOP] = "cname-loop",
	[MX_PROBLEM_ADDRESS_TEMPFAIL] = "address-tempfail",
	[MX_PROBLEM_LOCAL_NAME] = "local-name",
	[MX_PROBLEM_NOT_BETTER_THAN_SELF] = "not-better-than-self",
	[MX_PROBLEM_TIMEOUT] = "timeout",
};
_Static_assert(COUNT(problem_names) == MX_PROBLEM_COUNT_, "a problem has no name");

static const char *const status_names[] = {
	[MX_STATUS_OK] = "ok",
	[MX_STATUS_NULL_MX] = "null-mx",
	[MX_STATUS_NXDOMAIN] = "nxdomain",
	[MX_STATUS_NO_MAIL_HOST] = "no-mail-host",
	[MX_STATUS_TEMPFAIL] = "tempfail",
	[MX_STATUS_LOOP] = "loop",
};

static const char *const host_status_names[] = {
	[MX_HOST_OK] = "ok",
	[MX_HOST_NO_ADDRESS] = "no-address",
	[MX_HOST_TEMPFAIL] = "tempfail",
	[MX_HOST_IP_LITERAL] = "ip-literal",
	[MX_HOST_PRUNED] = "pruned",
	[MX_HOST_BAD_NAME] = "bad-name",
};

static const char *const dnssec_names[] = {
	[MX_DNSSEC_INDETERMINATE] = "indeterminate",
	[MX_DNSSEC_INSECURE] = "insecure",
	[MX_DNSSEC_SECURE] = "secure",
	[MX_DNSSEC_BOGUS] = "bogus",
};

const char *
mx_problem_name(mx_problem p)
{
	return (unsigned)p < COUNT(problem_names) ? problem_names[p] : "unknown";
}

const char *
mx_status_name(mx_status s)
{
	return (unsigned)s < COUNT(status_names) ? status_names[s] : "unknown";
}

const char *
mx_host_status_name(mx_host_status s)
{
	return (unsigned)s < COUNT(host_status_names) ? host_status_names[s] : "unknown";
}

const char *
mx_dnssec_name(mx_dnssec d)
{
	return (unsigned)d < COUNT(dnssec_names) ? dnssec_names[d] : "unknown";
}

bool
mx_status_temporary(mx_status s)
{
	return s == MX_STATUS_TEMPFAIL;
}

bool
mx_status_permanent(mx_status s)
{
	return s == MX_STATUS_NULL_MX || s == MX_STATUS_NXDOMAIN || s == MX_STATUS_NO_MAIL_HOST ||
	    s == MX_STATUS_LOOP;
}
