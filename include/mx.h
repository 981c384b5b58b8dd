/*
 * mx.h - the public interface of libmx, mail routing by DNS MX records.
 *
 * libmx turns a mail domain into a delivery plan as RFC 5321 section 5.1
 * defines it (with RFC 7505 null MX and RFC 2181 section 10.3), resolving
 * through libunbound with DNSSEC validation.  Every object is opaque and
 * comes in a _new/_free pair; _free(NULL) is a no-op.  Strings passed in
 * are borrowed (copied when kept); strings and objects handed out by a
 * getter live as long as the object they came from.  Nothing here exits
 * or aborts on bad input: fallible calls return an mx_err and set their
 * out-parameter to NULL on failure; getters and setters that cannot fail
 * take objects the library made (never NULL).  Why a call failed, in
 * words, comes back in the caller's mx_why (see "errors").  libunbound's
 * own log is kept for mx_resolver_diagnostic, never printed.
 *
 * Threads: one mx_resolver (and what it hands out) per thread at a time.
 * The stub transport and live checks call c-ares' ares_library_init,
 * which c-ares 1.18 documents as not thread-safe: create stub resolvers
 * and start checks from one thread.
 */
#ifndef MX_H
#define MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MX_BUILDING_LIBRARY) && defined(__GNUC__)
#define MX_API __attribute__((visibility("default")))
#else
#define MX_API
#endif

/*
 * The version of this header.  mx_version() gives the library's own, which
 * may be newer: a program built against MAJOR.MINOR runs with any library
 * of the same MAJOR and a MINOR at least as high (docs/HACKING.md, "The
 * library's ABI").  Before the first packaged release (MAJOR 0) a MINOR
 * may change the ABI too: 0.2.0 did (mx_why, error codes, mx_send_start's
 * flags), keeping the soname libmx.so.0 since 0.1.0 was never packaged.
 * MX_VERSION_NUMBER is 0xMMmmpp, for comparisons.
 */
/* meson.build and scripts/check-symbols read these lines as they are. */
/* clang-format off */
#define MX_VERSION_MAJOR 0
#define MX_VERSION_MINOR 2
#define MX_VERSION_PATCH 0
#define MX_VERSION "0.2.0"
/* clang-format on */
#define MX_VERSION_NUMBER ((MX_VERSION_MAJOR << 16) | (MX_VERSION_MINOR << 8) | MX_VERSION_PATCH)

/* The running library's version as text ("0.2.0"); its MX_VERSION_NUMBER
 * in *number unless number is NULL. */
MX_API const char *mx_version(int *number);

/* RFC 1035 section 2.3.4 and RFC 5321 section 4.5.3.1.2. */
#define MX_DOMAIN_MAX 253 /* text form, without the trailing dot */
#define MX_LABEL_MAX  63

/* ---- errors ------------------------------------------------------------ */

/*
 * Every failure has a class (mx_err_classify) that says what to do about
 * it, and a code that says what happened.  New codes are appended, so a
 * code's number never changes.
 */
typedef enum mx_err {
	MX_OK = 0,
	MX_ERR_NOMEM,       /* out of memory (temporary) */
	MX_ERR_INVALID,     /* a bad argument or option value (usage) */
	MX_ERR_BAD_DOMAIN,  /* a malformed domain name (permanent) */
	MX_ERR_CONFIG,      /* set-up failed: anchor file, resolv.conf, CA file (config) */
	MX_ERR_SYSTEM,      /* the OS refused something: sockets, disk, event loop (temporary) */
	MX_ERR_BUSY,        /* the resolver was reconfigured after first use (usage) */
	MX_ERR_NOT_FOUND,   /* no such queue entry or input file, or unreadable (not found) */
	MX_ERR_TOO_BIG,     /* a message over the size limit (permanent) */
	MX_ERR_CORRUPT,     /* a stored file that does not parse: a queue entry (permanent) */
	MX_ERR_BAD_ADDRESS, /* a malformed envelope address (permanent) */
	MX_ERR_BAD_MESSAGE, /* a malformed message: bare CR, NUL, long line (permanent) */
	MX_ERR_BAD_ZONE,    /* a zone file that does not parse (permanent) */
	MX_ERR_LOCKED,      /* another process holds it: a queue entry (temporary) */
} mx_err;

typedef enum mx_err_class {
	MX_CLASS_NONE = 0,  /* MX_OK */
	MX_CLASS_TEMPORARY, /* try again later (sysexits EX_TEMPFAIL) */
	MX_CLASS_PERMANENT, /* will fail the same way every time (EX_DATAERR) */
	MX_CLASS_USAGE,     /* the caller's mistake: fix the call (EX_USAGE) */
	MX_CLASS_CONFIG,    /* the set-up is wrong: fix a file (EX_CONFIG) */
	MX_CLASS_NOT_FOUND, /* what was named is not there (EX_NOINPUT) */
} mx_err_class;

/*
 * The reason behind a failure, for people.  Every fallible call that can
 * say more than its code takes a caller-owned mx_why as its last argument
 * (NULL when not wanted): a sentence on failure, "" on success.  It is
 * the only channel for errors; the reasons that results carry
 * (mx_plan_reason, mx_delivery_reason, ...) are results, not errors.
 */
#define MX_WHY_MAX 512
typedef struct mx_why {
	char text[MX_WHY_MAX];
} mx_why;

MX_API const char *mx_strerror(mx_err err);
MX_API mx_err_class mx_err_classify(mx_err err);
MX_API bool mx_err_temporary(mx_err err);

/* ---- names ------------------------------------------------------------- */

/*
 * Turns a command-line argument, a domain ("Example.COM.") or an address
 * ("user@example.com"), into the domain's canonical form: lower case, no
 * trailing dot, internationalised names as A-labels.  On MX_ERR_BAD_DOMAIN,
 * why says what is wrong in words that read after the argument ("is an
 * IP address, not a domain").
 */
MX_API mx_err mx_domain_from_arg(const char *arg, char out[MX_DOMAIN_MAX + 1], mx_why *why);

/* ---- routing policy ---------------------------------------------------- */

typedef struct mx_policy mx_policy;

typedef enum mx_family_pref {
	MX_PREFER_IPV6 = 0, /* the default, as RFC 6724 orders them */
	MX_PREFER_IPV4,
} mx_family_pref;

MX_API mx_err mx_policy_new(mx_policy **out);
MX_API void mx_policy_free(mx_policy *policy);
/* Seeds the shuffle of equal-preference hosts; unset, it is random. */
MX_API void mx_policy_set_seed(mx_policy *policy, uint64_t seed);
MX_API void mx_policy_set_prefer(mx_policy *policy, mx_family_pref pref);
/* A name of this host: MX hosts at or past its preference are pruned. */
MX_API mx_err mx_policy_add_local_name(mx_policy *policy, const char *name);
/* Deadline for one domain's whole plan, in milliseconds (default 10000). */
MX_API mx_err mx_policy_set_timeout_ms(mx_policy *policy, unsigned ms);

/* ---- resolver ---------------------------------------------------------- */

typedef struct mx_resolver mx_resolver;
struct event_base;

/*
 * A validating, caching resolver (libunbound).  mx_resolver_new makes and
 * owns its own event loop; mx_resolver_new_event runs on the caller's
 * libevent base, which must outlive the resolver.  Configure it before the
 * first lookup: afterwards the setters return MX_ERR_BUSY.
 */
MX_API mx_err mx_resolver_new(mx_resolver **out);
MX_API mx_err mx_resolver_new_event(mx_resolver **out, struct event_base *base);
/*
 * Cancels every lookup still under way (mx_route_start's, with their
 * queries, waiting or on the wire, on either transport, and their plans)
 * and frees it all: the callbacks of cancelled lookups are never called.
 * Deliveries and checks are not lookups: free the checks
 * (mx_check_free cancels them) and let deliveries call back, and free
 * the senders, before the resolver.
 */
MX_API void mx_resolver_free(mx_resolver *resolver);
/* "IP" or "IP@PORT", IPv4 or IPv6; repeatable.  Unset: /etc/resolv.conf. */
MX_API mx_err mx_resolver_add_server(mx_resolver *resolver, const char *server);
/* Reads nameservers from this file instead of /etc/resolv.conf. */
MX_API mx_err mx_resolver_set_resolv_conf(mx_resolver *resolver, const char *path);
/*
 * DNSSEC trust anchors (DS or DNSKEY records in zone-file form).  Unset,
 * the root key of Debian's dns-root-data is used when present; "none" or
 * NULL turns validation off (every plan is then "indeterminate").
 */
MX_API mx_err mx_resolver_set_trust_anchor(mx_resolver *resolver, const char *path);
/* Queries on the wire at once; default 1000. */
MX_API mx_err mx_resolver_set_max_inflight(mx_resolver *resolver, unsigned n);

typedef enum mx_transport {
	/* libunbound: validating, caching; for a few domains at a time. */
	MX_TRANSPORT_UNBOUND = 0,
	/* c-ares as a plain stub with a shared address cache: no DNSSEC
	 * validation (plans are "indeterminate"), about 6x less CPU per
	 * lookup; for bulk work over many domains. */
	MX_TRANSPORT_STUB,
} mx_transport;

MX_API mx_err mx_resolver_set_transport(mx_resolver *resolver, mx_transport t);
/*
 * Stub transport: time for one query before c-ares retries it (default
 * 2000 ms, doubling per try) and tries per query (default 3).
 */
MX_API mx_err mx_resolver_set_query_timeout_ms(mx_resolver *resolver, unsigned ms);
MX_API mx_err mx_resolver_set_tries(mx_resolver *resolver, unsigned tries);

/*
 * libunbound's own log, kept rather than printed: the first error line it
 * wrote ("" when none), for debugging.  Failures are explained in the
 * mx_why of the call that failed (a trust anchor's line included); this
 * is only what libunbound itself said.  Lives as long as the resolver.
 */
MX_API const char *mx_resolver_diagnostic(const mx_resolver *resolver);

/* What the resolver has done so far. */
struct mx_resolver_stats {
	unsigned long queries;    /* questions sent (stub) or asked (unbound) */
	unsigned long retries;    /* resends after a timeout (stub) */
	unsigned long timeouts;   /* questions never answered (stub) */
	unsigned long cache_hits; /* address questions answered from cache (stub) */
	size_t cache_entries;     /* addresses cached now (stub) */
};

MX_API void mx_resolver_get_stats(const mx_resolver *resolver, struct mx_resolver_stats *out);

/* ---- plans ------------------------------------------------------------- */

typedef struct mx_plan mx_plan;
typedef struct mx_host mx_host;

typedef enum mx_status {
	MX_STATUS_OK = 0,       /* at least one host has an address */
	MX_STATUS_NULL_MX,      /* RFC 7505: the domain accepts no mail */
	MX_STATUS_NXDOMAIN,     /* the domain does not exist */
	MX_STATUS_NO_MAIL_HOST, /* no host has an address, for good */
	MX_STATUS_TEMPFAIL,     /* DNS failed for now: try again later */
	MX_STATUS_LOOP,         /* the best MX is this host itself */
} mx_status;

typedef enum mx_host_status {
	MX_HOST_OK = 0,
	MX_HOST_NO_ADDRESS, /* NXDOMAIN or no A/AAAA */
	MX_HOST_TEMPFAIL,   /* SERVFAIL, timeout, bogus: no address now */
	MX_HOST_IP_LITERAL, /* exchange written as an address: unusable */
	MX_HOST_PRUNED,     /* this host, or not better than this host */
	MX_HOST_BAD_NAME,   /* exchange is not a valid host name */
} mx_host_status;

typedef enum mx_dnssec {
	MX_DNSSEC_INDETERMINATE = 0, /* no trust anchor, or no answer */
	MX_DNSSEC_INSECURE,
	MX_DNSSEC_SECURE, /* every answer used was validated */
	MX_DNSSEC_BOGUS,  /* some answer failed validation */
} mx_dnssec;

/* Stable identifiers of problems, as printed in JSON ("null-mx-mixed"). */
typedef enum mx_problem {
	MX_PROBLEM_NULL_MX_MIXED = 0,    /* RFC 7505 null MX beside real ones */
	MX_PROBLEM_NULL_MX_PREFERENCE,   /* null MX with preference other than 0 */
	MX_PROBLEM_DUPLICATE_HOST,       /* the same host listed twice */
	MX_PROBLEM_DNSSEC_BOGUS,         /* an answer failed validation */
	MX_PROBLEM_CNAME_TARGET,         /* exchange is a CNAME (RFC 2181 10.3) */
	MX_PROBLEM_IP_LITERAL_TARGET,    /* exchange written as an IP address */
	MX_PROBLEM_BAD_HOSTNAME,         /* exchange has characters no host has */
	MX_PROBLEM_CNAME_LOOP,           /* a CNAME chain loops or is too long */
	MX_PROBLEM_ADDRESS_TEMPFAIL,     /* one address family failed for now */
	MX_PROBLEM_LOCAL_NAME,           /* this host is the machine itself */
	MX_PROBLEM_NOT_BETTER_THAN_SELF, /* preference not below our own */
	MX_PROBLEM_TIMEOUT,              /* the deadline passed first */
	MX_PROBLEM_COUNT_
} mx_problem;

MX_API const char *mx_problem_name(mx_problem problem);
MX_API const char *mx_status_name(mx_status status);
MX_API const char *mx_host_status_name(mx_host_status status);
MX_API const char *mx_dnssec_name(mx_dnssec dnssec);
/* True for MX_STATUS_TEMPFAIL; MX_STATUS_OK is neither. */
MX_API bool mx_status_temporary(mx_status status);
MX_API bool mx_status_permanent(mx_status status);

/*
 * Plan lookup.  mx_route_lookup runs the resolver's own loop until the
 * plan is ready; the caller frees *out with mx_plan_free.  The domain is
 * an argument as mx_domain_from_arg takes it.
 */
MX_API mx_err mx_route_lookup(
    mx_resolver *resolver, const mx_policy *policy, const char *domain, mx_plan **out, mx_why *why);

/*
 * Asynchronous form: cb runs from the event loop once the plan is ready,
 * and owns the plan it is given.  The policy is copied.  Lookups (and
 * deliveries, see mx_send_start) started on a resolver made by
 * mx_resolver_new run inside mx_resolver_run, which returns when none is
 * left.
 */
typedef void (*mx_route_cb)(mx_plan *plan, void *arg);
MX_API mx_err mx_route_start(mx_resolver *resolver, const mx_policy *policy, const char *domain,
    mx_route_cb cb, void *arg, mx_why *why);
MX_API mx_err mx_resolver_run(mx_resolver *resolver);
/* One turn of the resolver's event loop: waits for something to happen
 * and runs the callbacks it causes.  For callers that feed lookups in as
 * others finish (bulk work); returns at once when nothing is pending. */
MX_API mx_err mx_resolver_run_once(mx_resolver *resolver);

MX_API void mx_plan_free(mx_plan *plan);
MX_API const char *mx_plan_domain(const mx_plan *plan);
MX_API mx_status mx_plan_status(const mx_plan *plan);
/* A sentence for people: why the plan has the status it has. */
MX_API const char *mx_plan_reason(const mx_plan *plan);
MX_API bool mx_plan_implicit_mx(const mx_plan *plan);
MX_API mx_dnssec mx_plan_dnssec(const mx_plan *plan);
/* The name the domain's CNAME chain ends at; the domain when none. */
MX_API const char *mx_plan_canonical(const mx_plan *plan);
MX_API size_t mx_plan_problem_count(const mx_plan *plan);
MX_API mx_problem mx_plan_problem(const mx_plan *plan, size_t i);
/* Every MX host in delivery order, usable or not. */
MX_API size_t mx_plan_host_count(const mx_plan *plan);
MX_API const mx_host *mx_plan_host(const mx_plan *plan, size_t i);
/*
 * The plan as one line of JSON (no newline), in the `mx route --json`
 * schema.  The caller frees *out with free().
 */
MX_API mx_err mx_plan_to_json(const mx_plan *plan, char **out);
/*
 * The line the same schema gives an argument that is not a domain:
 * {"domain": arg, "status": "invalid", "reason": why}.  Freed with free().
 */
MX_API mx_err mx_invalid_to_json(const char *arg, const char *why, char **out);

MX_API const char *mx_host_name(const mx_host *host);
MX_API uint16_t mx_host_preference(const mx_host *host);
/* TTL of the MX record (for an implicit MX: of the addresses). */
MX_API uint32_t mx_host_ttl(const mx_host *host);
MX_API mx_host_status mx_host_status_of(const mx_host *host);
/* Why the host is not usable, or what is odd about it; "" when nothing. */
MX_API const char *mx_host_reason(const mx_host *host);
MX_API size_t mx_host_problem_count(const mx_host *host);
MX_API mx_problem mx_host_problem(const mx_host *host, size_t i);
/* Addresses in the order to try them (--prefer applied). */
MX_API size_t mx_host_address_count(const mx_host *host);
/* Text form ("192.0.2.1", "2001:db8::1"). */
MX_API const char *mx_host_address(const mx_host *host, size_t i);
/* AF_INET or AF_INET6. */
MX_API int mx_host_address_family(const mx_host *host, size_t i);
/* Fills a sockaddr for connecting to port; returns its length, 0 if i is out of range. */
MX_API socklen_t mx_host_address_sockaddr(
    const mx_host *host, size_t i, uint16_t port, struct sockaddr_storage *out);

/* ---- sending ----------------------------------------------------------- */

/*
 * Delivery along the plan: recipients grouped by domain, one SMTP
 * transaction per domain and host, connections staggered across the
 * plan's addresses (RFC 8305 style, MX preference first), STARTTLS as
 * the policy says, DANE (RFC 7672) whenever the MX RRset and the host's
 * TLSA records are DNSSEC-secure.
 */
typedef struct mx_sender mx_sender;
typedef struct mx_delivery mx_delivery;

typedef enum mx_tls_policy {
	MX_TLS_MAY = 0, /* STARTTLS when offered, unauthenticated; DANE when secure */
	MX_TLS_ENCRYPT, /* TLS required, unauthenticated (or DANE when secure) */
	MX_TLS_DANE,    /* DANE required: defer hosts without secure TLSA */
	MX_TLS_VERIFY,  /* TLS required, certificate verified for the MX name */
} mx_tls_policy;

typedef enum mx_rcpt_status {
	MX_RCPT_SENT = 0,
	MX_RCPT_DEFERRED, /* temporary: try again later */
	MX_RCPT_BOUNCED,  /* permanent: tell the sender */
} mx_rcpt_status;

/* The SMTP dialogue: dir '>' sent, '<' received; host is the MX name. */
typedef void (*mx_transcript_fn)(
    const char *host, char dir, const char *line, size_t len, void *arg);
/* Called once when every recipient has a status; owns the delivery. */
typedef void (*mx_send_cb)(mx_delivery *delivery, void *arg);

/* The resolver is borrowed and must outlive the sender; the policy is copied. */
MX_API mx_err mx_sender_new(mx_sender **out, mx_resolver *resolver, const mx_policy *policy);
MX_API void mx_sender_free(mx_sender *sender);
MX_API mx_err mx_sender_set_helo(mx_sender *sender, const char *name);
/* ca_file: for MX_TLS_VERIFY (NULL: the system's store). */
MX_API mx_err mx_sender_set_tls(
    mx_sender *sender, mx_tls_policy policy, const char *ca_file, mx_why *why);
/* Stagger between connection attempts (250 ms) and one attempt's limit (30 s). */
MX_API mx_err mx_sender_set_connect(
    mx_sender *sender, unsigned attempt_delay_ms, unsigned connect_timeout_ms);
MX_API void mx_sender_set_transcript(mx_sender *sender, mx_transcript_fn fn, void *arg);
/*
 * Final delivery over LMTP (RFC 2033): recipients of a domain added with
 * mx_sender_add_local_domain go to the one mail store at target
 * ("unix:PATH", or "HOST:PORT" with HOST an IP address, "[::1]:24")
 * instead of their MX hosts; each recipient's reply after the message is
 * its own (delivered, deferred or bounced alone).  Never TLS.  A store
 * that cannot be reached defers.  MX_ERR_INVALID with why for a target
 * that is neither, or a domain that is not one.
 */
MX_API mx_err mx_sender_set_lmtp(mx_sender *sender, const char *target, mx_why *why);
MX_API mx_err mx_sender_add_local_domain(mx_sender *sender, const char *domain);

/* Waits for the server, RFC 5321 4.5.3.2 defaults in parentheses. */
typedef enum mx_smtp_stage {
	MX_SMTP_GREETING = 0, /* the 220 (5 min) */
	MX_SMTP_EHLO,         /* EHLO/HELO reply (5 min) */
	MX_SMTP_STARTTLS,     /* STARTTLS reply and handshake (5 min) */
	MX_SMTP_MAIL,         /* (5 min) */
	MX_SMTP_RCPT,         /* (5 min) */
	MX_SMTP_DATA,         /* the 354 (2 min) */
	MX_SMTP_BLOCK,        /* each write of the message making progress (3 min) */
	MX_SMTP_DOT,          /* the reply to the final dot (10 min) */
} mx_smtp_stage;

MX_API mx_err mx_sender_set_timeout(mx_sender *sender, mx_smtp_stage stage, unsigned ms);
/* A limit on one whole delivery (DNS, connections, SMTP); what is still
 * pending then is deferred.  0, the default, means none beyond the others. */
MX_API mx_err mx_sender_set_deadline(mx_sender *sender, unsigned ms);

/* ---- MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) -------------------------- */
/*
 * On by default: before its MX hosts are tried, a domain's MTA-STS policy
 * is looked up (_mta-sts TXT, the cache, else the HTTPS fetch).  Under
 * "enforce" only the MX hosts the policy lists are used, only over TLS
 * with a certificate valid for the host name (the sender's CA file or the
 * system store); a host that cannot be used so is deferred with 4.7.5,
 * never tried in clear text.  DANE, where it applies, takes precedence.
 * "testing" delivers as without a policy and records the failures.
 * dir (normally SPOOL/mta-sts, made 0700 when missing) keeps the policy
 * cache and the TLS-RPT session store; NULL: policies are fetched on every
 * delivery and nothing is recorded.  on false turns MTA-STS off.
 */
MX_API mx_err mx_sender_set_sts(mx_sender *sender, bool on, const char *dir);

/*
 * The MTA-STS policy in force for a domain, looked up and fetched live
 * (no cache read or written; ca_file NULL: the system's store), for
 * `mx route --tls-policy`.  cb runs once from the resolver's loop and owns
 * sts (mx_sts_free).  Mode: "enforce", "testing", "none" or
 * "no-policy-found"; the summary is one sentence saying what was found.
 * The JSON: {"mode", "id", "max_age", "mx": [patterns], "note",
 * "hosts": [{"name", "matches"}]} for plan's hosts (plan may be NULL).
 */
typedef struct mx_sts mx_sts;
typedef void (*mx_sts_cb)(mx_sts *sts, void *arg);
MX_API mx_err mx_sts_start(
    mx_resolver *resolver, const char *domain, const char *ca_file, mx_sts_cb cb, void *arg);
MX_API const char *mx_sts_mode(const mx_sts *sts);
MX_API const char *mx_sts_summary(const mx_sts *sts);
MX_API bool mx_sts_matches(const mx_sts *sts, const char *host);
MX_API mx_err mx_sts_to_json(const mx_sts *sts, const mx_plan *plan, char **out);
MX_API void mx_sts_free(mx_sts *sts);

/*
 * Sends a message, exactly as it goes on the wire after DATA (CRLF lines,
 * dot-stuffed, without the final "."), to the recipients.  Addresses are
 * bare "local@domain" (no angle brackets; mail_from "" is the null
 * sender) and are NOT checked here: callers taking addresses from
 * outside use mx_send_message, or mx_address_check first, so that no CR
 * or LF reaches a command.  Everything is copied.  flags say what MAIL
 * FROM must announce (MX_ERR_INVALID for a flag not below).  cb runs from
 * the resolver's event loop; MX_ERR_CONFIG when the resolver cannot start,
 * with why saying what is wrong with its set-up.
 */
#define MX_SEND_8BITMIME 1u /* the message has 8-bit octets: BODY=8BITMIME */
#define MX_SEND_SMTPUTF8 2u /* UTF-8 in an address or header: SMTPUTF8 */
MX_API mx_err mx_send_start(mx_sender *sender, const char *mail_from, const char *const *rcpts,
    size_t n_rcpts, const uint8_t *data, size_t len, unsigned flags, mx_send_cb cb, void *arg,
    mx_why *why);

/*
 * Checks one envelope address ("local@domain" or "<local@domain>"; for a
 * sender, "<>" too).  MX_ERR_BAD_ADDRESS with why (words that read
 * after the address) when it is not one: a line break or control byte,
 * over the RFC 5321 4.5.3.1 lengths, bad syntax.
 */
MX_API mx_err mx_address_check(const char *address, bool sender, mx_why *why);

/* A message read for sending (see mx_message_read). */
typedef struct mx_message mx_message;
#define MX_MESSAGE_FROM_HEADERS  1u /* -t: recipients from To, Cc, Bcc; Bcc removed */
#define MX_MESSAGE_DOTS_ARE_DATA 2u /* -i: a lone "." line does not end the input */

/*
 * Reads a whole message from fd (LF or CRLF line ends) and makes it ready
 * for the wire: CRLF, dot-stuffed, checked (no bare CR, no NUL, no line
 * over 998 octets).  MX_ERR_BAD_MESSAGE with why for a malformed message,
 * MX_ERR_BAD_ADDRESS for an unreadable To, Cc or Bcc address (with
 * MX_MESSAGE_FROM_HEADERS), MX_ERR_TOO_BIG when over max_size octets,
 * MX_ERR_SYSTEM on read errors
 * and when the temporary file cannot be made or written.  The message is
 * not kept in memory: it goes, checked as it streams, to an unlinked file
 * in $TMPDIR (else /tmp), mode 0600, that the mx_message owns and
 * mx_message_free closes; memory stays the same whatever its size.
 * Deliveries and queue entries made from it take their own descriptor or
 * copy, so it may be freed as soon as mx_send_message or mx_queue_add
 * returns.
 */
MX_API mx_err mx_message_read(
    int fd, unsigned flags, size_t max_size, mx_message **out, mx_why *why);
MX_API void mx_message_free(mx_message *message);
/*
 * Adds what locally submitted mail lacks, as sendmail and Postfix do:
 * Date:, Message-ID: (at host) and From: (the sender, unless it is <>).
 * A field already there is left alone.
 */
MX_API mx_err mx_message_complete(mx_message *message, const char *sender, const char *host);
/* With MX_MESSAGE_FROM_HEADERS: the recipients the headers named. */
MX_API size_t mx_message_recipient_count(const mx_message *message);
MX_API const char *mx_message_recipient(const mx_message *message, size_t i);
/* mx_send_start for a message read by mx_message_read; addresses as given
 * to mx_address_check (angle brackets optional). */
MX_API mx_err mx_send_message(mx_sender *sender, const char *mail_from, const char *const *rcpts,
    size_t n_rcpts, const mx_message *message, mx_send_cb cb, void *arg, mx_why *why);

MX_API void mx_delivery_free(mx_delivery *delivery);
MX_API size_t mx_delivery_count(const mx_delivery *delivery);
MX_API mx_rcpt_status mx_delivery_status(const mx_delivery *delivery, size_t i);
/* The line administrators grep for, Postfix style, no newline; free(). */
MX_API mx_err mx_delivery_log_line(const mx_delivery *delivery, size_t i, char **out);
/* One JSON object with the same facts and every attempt made; free(). */
MX_API mx_err mx_delivery_to_json(const mx_delivery *delivery, size_t i, char **out);

/* The reason a delivery gave for this recipient's status: the server's
 * reply, or why no server gave one.  Lives as long as the delivery. */
MX_API const char *mx_delivery_reason(const mx_delivery *delivery, size_t i);
/* The recipient as it was sent (local@domain). */
MX_API const char *mx_delivery_recipient(const mx_delivery *delivery, size_t i);

/* ---- local submission (sendmail) -------------------------------------- */

/*
 * The envelope of a message handed to the set-group-ID helper mx-drop
 * (docs/SECURITY.md): zero it, then fill what the caller was given.
 * Strings are borrowed.  Bare local names are allowed (pickup qualifies
 * them and applies the aliases).
 */
typedef struct mx_drop_envelope {
	const char *sender;       /* NULL: none given (the submitter's login); "" for <> */
	bool sender_set;          /* -f or -r was given */
	const char *full_name;    /* -F, or NULL */
	const char *const *rcpts; /* 1..1000 */
	size_t rcpt_count;
	char error_mode;    /* -oeX: 'e', 'm', 'p', 'q', or 0 */
	char ret;           /* -R: 'f' (full), 'h' (hdrs), or 0 */
	const char *envid;  /* -V, or NULL */
	const char *notify; /* -N as given ("never", "success,delay"), or NULL */
	char body;          /* -B: '7' (7BIT), '8' (8BITMIME), or 0 */
} mx_drop_envelope;

/*
 * Runs the helper at helper_path (no shell, empty environment), pipes it
 * the envelope and the message as read by mx_message_read, and waits:
 * returns its exit status (0 once the message is durably in the drop
 * directory, else a sysexits(3) code: 65 a request it refused, 75 it
 * could not write or could not be run, 78 a bad drop directory), with
 * why filled when not 0.  65 EX_DATAERR, before the helper is run, when
 * the envelope itself cannot be written (why says which field).
 */
MX_API int mx_message_drop(const mx_message *message, const mx_drop_envelope *envelope,
    const char *helper_path, mx_why *why);

/* ---- queue ------------------------------------------------------------- */

/*
 * A durable queue of messages not delivered yet, in a spool directory
 * (tmp/, queue/, corrupt/).  A message is accepted once an mx_queue_add*
 * call returns MX_OK: it was written, fsynced and renamed into queue/,
 * with queue/ fsynced too, and survives a crash or power loss from then
 * on.  Several processes may share a spool: an entry being delivered is
 * locked (flock), and a lock dies with its holder.  Delivery is at least
 * once: a crash between a server's 250 and the queue's own record of it
 * sends that recipient the message again.
 *
 * Every call that can fail says why in its mx_why (the OS's words kept).
 */
typedef struct mx_queue mx_queue;

#define MX_QUEUE_ID_MAX 32 /* characters of a queue ID, [0-9A-Za-z] */

/* Defaults, in the spirit of Postfix's minimal_backoff_time,
 * maximal_backoff_time and maximal_queue_lifetime. */
#define MX_QUEUE_RETRY_FIRST 300u               /* seconds before the first retry */
#define MX_QUEUE_RETRY_MAX   4000u              /* the longest wait between tries */
#define MX_QUEUE_LIFETIME    (5u * 24u * 3600u) /* then a DSN, and it is gone */

/*
 * Opens the spool at dir, creating what is missing (mode 0700), and checks
 * that it is writable.  On failure *out is NULL and why says why, with
 * the OS's reason; MX_ERR_SYSTEM is temporary (a full or read-only
 * disk): `mx send` exits 75 on it.
 */
MX_API mx_err mx_queue_open(mx_queue **out, const char *dir, mx_why *why);
/*
 * Opens the spool at dir as it is, for mx_queue_list, mx_queue_load,
 * mx_queue_next_due and mx_queue_delete: nothing is created, and the
 * directory need not be writable (deleting needs queue/ writable).  A
 * spool that does not exist is an empty queue, not an error (as mailq
 * says "empty"); other failures as mx_queue_open's.  mx_queue_add*,
 * mx_queue_run refuse such a queue with MX_ERR_INVALID.
 */
MX_API mx_err mx_queue_open_existing(mx_queue **out, const char *dir, mx_why *why);
MX_API void mx_queue_close(mx_queue *queue);
/*
 * Retry schedule: the first retry after first seconds, each later one
 * after twice the previous wait (with up to 20 % jitter, so that entries
 * deferred together do not come back together), at most max; after
 * lifetime seconds in the queue a message that still defers is returned
 * to its sender.  0 for lifetime gives up at the first deferral.
 */
MX_API mx_err mx_queue_set_retry(mx_queue *queue, unsigned first, unsigned max, unsigned lifetime);
/* Messages delivered at once by mx_queue_run (default 8). */
MX_API mx_err mx_queue_set_concurrency(mx_queue *queue, unsigned n);

/*
 * Queues a message for the recipients, due at once, without trying it
 * (`mx send --queue-only`).  Addresses as mx_send_message takes them.
 * The ID goes to id (MX_QUEUE_ID_MAX + 1 octets).
 */
MX_API mx_err mx_queue_add(mx_queue *queue, const char *mail_from, const char *const *rcpts,
    size_t n_rcpts, const mx_message *message, char id[MX_QUEUE_ID_MAX + 1], mx_why *why);
/*
 * Queues the recipients of a finished delivery that were deferred, with
 * their reasons and their first retry scheduled.  id is "" and the call
 * MX_OK when none was deferred.
 */
MX_API mx_err mx_queue_add_deferred(
    mx_queue *queue, const mx_delivery *delivery, char id[MX_QUEUE_ID_MAX + 1], mx_why *why);

/* One queued message as the queue has it, for listing and showing. */
typedef struct mx_queue_item mx_queue_item;

typedef enum mx_queue_rcpt_state {
	MX_QUEUE_PENDING = 0, /* to be tried (again) */
	MX_QUEUE_SENT,
	MX_QUEUE_BOUNCED, /* given up; the sender was told */
} mx_queue_rcpt_state;

/* Loads one entry; MX_ERR_INVALID for an ID that is not one,
 * MX_ERR_NOT_FOUND when there is no such entry, MX_ERR_CORRUPT when the
 * file was corrupt (it is moved to corrupt/). */
MX_API mx_err mx_queue_load(mx_queue *queue, const char *id, mx_queue_item **out, mx_why *why);
MX_API void mx_queue_item_free(mx_queue_item *item);
MX_API const char *mx_queue_item_id(const mx_queue_item *item);
MX_API int64_t mx_queue_item_created(const mx_queue_item *item);    /* unix seconds */
MX_API const char *mx_queue_item_sender(const mx_queue_item *item); /* "" for <> */
/*
 * The message as it goes after DATA (CRLF, dot-stuffed), read into memory
 * on the first call (checked against the entry's CRC-32 again) and kept
 * until mx_queue_item_free; loading and listing items never hold it.
 * NULL and *len 0 when it cannot be read back (out of memory, a read
 * error, or the file damaged since it was loaded).
 */
MX_API const uint8_t *mx_queue_item_data(const mx_queue_item *item, size_t *len);
/* Its size in octets, without reading it. */
MX_API size_t mx_queue_item_size(const mx_queue_item *item);
MX_API size_t mx_queue_item_recipient_count(const mx_queue_item *item);
MX_API const char *mx_queue_item_recipient(const mx_queue_item *item, size_t i);
MX_API mx_queue_rcpt_state mx_queue_item_state(const mx_queue_item *item, size_t i);
MX_API unsigned mx_queue_item_attempts(const mx_queue_item *item, size_t i);
MX_API int64_t mx_queue_item_next_attempt(const mx_queue_item *item, size_t i);
MX_API const char *mx_queue_item_reason(const mx_queue_item *item, size_t i);
/* One line of JSON (envelope, recipients with state, attempts, next attempt
 * and reason; not the message); free(). */
MX_API mx_err mx_queue_item_to_json(const mx_queue_item *item, char **out);

/*
 * Calls cb with every entry, and bad (when not NULL) with the name of
 * anything in queue/ that is not an entry or is corrupt (moved aside).
 * An entry being delivered is listed too.
 */
typedef void (*mx_queue_list_cb)(const mx_queue_item *item, void *arg);
typedef void (*mx_queue_bad_cb)(const char *name, const char *why, void *arg);
MX_API mx_err mx_queue_list(
    mx_queue *queue, mx_queue_list_cb cb, mx_queue_bad_cb bad, void *arg, mx_why *why);
/* Removes an entry without delivering it; MX_ERR_LOCKED while a runner
 * holds it, MX_ERR_NOT_FOUND when there is no such entry. */
MX_API mx_err mx_queue_delete(mx_queue *queue, const char *id, mx_why *why);

/* What one pass did. */
typedef struct mx_queue_stats {
	size_t entries;                 /* in queue/ at the start */
	size_t tried;                   /* entries with recipients due and tried */
	size_t sent, deferred, bounced; /* recipients */
	size_t expired;                 /* of the bounced: given up on time */
	size_t dsns;                    /* delivery status notifications queued */
	size_t skipped;                 /* recipients of a destination found down in this pass */
	size_t locked;                  /* entries another runner held */
	size_t corrupt;                 /* files moved to corrupt/ */
	size_t removed;                 /* entries finished and removed */
	int64_t next_due;               /* the earliest next attempt of the entries the pass
	                     * read (unix seconds); 0 when none is pending */
} mx_queue_stats;

#define MX_QUEUE_FLUSH 1u /* every pending recipient now, due or not */

/* Each recipient's outcome as a log line ("ID: to=<...>, ... status=...")
 * or, with json, one JSON object; lines have no newline. */
typedef void (*mx_queue_log_fn)(const char *line, void *arg);
MX_API void mx_queue_set_log(mx_queue *queue, mx_queue_log_fn fn, bool json, void *arg);

/*
 * One pass over the queue: every entry with recipients due (or all, with
 * MX_QUEUE_FLUSH) is locked, delivered through sender, and its state
 * written back; finished entries are removed; recipients given up on are
 * reported to the sender with a DSN queued and delivered in the same pass
 * (never for the null sender).  A destination whose hosts all failed is
 * not tried again for other entries in the same pass: their recipients
 * are deferred with its reason.  Runs the sender's resolver loop until
 * the pass is over.  stats may be NULL.  MX_ERR_SYSTEM when the spool
 * cannot be read.
 */
MX_API mx_err mx_queue_run(
    mx_queue *queue, mx_sender *sender, unsigned flags, mx_queue_stats *stats, mx_why *why);
/*
 * Moves what local users submitted (mx-drop's files in the spool's drop/)
 * into the queue: each file checked as untrusted (a bad one goes to
 * corrupt/ with a log line), given "Received: by HOST (mx, from userid
 * N)", an X-Authentication-Warning when a user other than root set
 * another sender, Date, Message-ID and From when missing, queued durably
 * and then removed.  Recipients go through the alias file aliases (Debian's
 * /etc/aliases format; NULL: /etc/aliases when it exists, "" for none):
 * pipes, files and :include: are refused with a log line, and a message
 * none of whose recipients is left is moved to corrupt/ with a log line.
 * Bare local names get "@origin" (NULL: the host's fully qualified
 * name).  A named alias file that cannot be read fails the pickup
 * (MX_ERR_CONFIG) and leaves drop/ as it is.  Lines go to the queue's
 * log function; *picked (when not NULL) is how many were queued.  A spool
 * without drop/ has nothing to pick up (MX_OK); MX_ERR_SYSTEM when drop/
 * cannot be read; why says why.
 */
MX_API mx_err mx_queue_pickup(
    mx_queue *queue, const char *origin, const char *aliases, size_t *picked, mx_why *why);
/* The earliest next attempt of any pending recipient (unix seconds), or
 * 0 when the queue has none; for a runner that sleeps until then. */
MX_API int64_t mx_queue_next_due(mx_queue *queue);

/*
 * TLS-RPT (RFC 8460): for every complete UTC day before now recorded under
 * dir (see mx_sender_set_sts), and every policy domain with sessions that
 * day whose _smtp._tls record has rua=mailto: addresses, the day's report
 * (RFC 8460 4, gzip'd JSON) is queued to those addresses in a message as
 * RFC 8460 5.3 has it (from: the envelope and From; submitter: this
 * system's name, for the Subject, the TLS-Report-Submitter header and
 * organization-name).  A day reported (or with nothing to report to) is
 * removed from the store; one whose record could not be looked up is kept
 * for the next call, up to 7 days.  A record's https: addresses get the
 * report POSTed (RFC 8460 5.4; certificates verified against the system's
 * store), and the day is kept until each took it.  Runs the resolver's
 * loop (mx_daemon_set_tlsrpt does the same work on the daemon's loop);
 * *queued (may be NULL) counts the reports queued; why says what last
 * failed.
 */
MX_API mx_err mx_tlsrpt_send_due(mx_queue *queue, mx_resolver *resolver, const char *dir,
    const char *submitter, const char *from, int64_t now, unsigned *queued, mx_why *why);

/* ---- the daemon (`mx daemon`) ------------------------------------------ */

/*
 * The long-running owner of a spool: it sees new entries in queue/ within
 * milliseconds (inotify), delivers concurrently under a total and a
 * per-destination limit, keeps SMTP connections open between messages to
 * one destination, keeps its resolver (and so libunbound's cache) for its
 * whole life, holds a destination that failed back with its own backoff
 * (one probe at a time finds out when it is back), and answers `status`
 * and `flush` on a UNIX socket in the spool (DIR/control).  Its state on
 * disk is the spool's: a kill loses nothing, at most a recipient is sent
 * twice (a kill between the server's 250 and the spool's update).
 * Delivery log lines go to the queue's log function (mx_queue_set_log);
 * the daemon's own lines to mx_daemon_set_log's.
 */
typedef struct mx_daemon mx_daemon;

typedef enum mx_daemon_event {
	MX_DAEMON_READY = 0, /* the first scan is done and the socket listens */
	MX_DAEMON_RELOAD,    /* SIGHUP: re-read settings (mx_daemon_set_*), reopen logs */
	MX_DAEMON_STOPPING,  /* SIGTERM or SIGINT: no new deliveries from now */
} mx_daemon_event;
typedef void (*mx_daemon_event_fn)(mx_daemon *daemon, mx_daemon_event event, void *arg);
/* program: "qmgr" (queue events) or "smtp" (per recipient), as Postfix names them. */
typedef void (*mx_daemon_log_fn)(const char *program, const char *line, void *arg);

/* The queue, sender and its resolver are borrowed; spool_dir is queue's directory. */
MX_API mx_err mx_daemon_new(mx_daemon **out, mx_queue *queue, mx_sender *sender,
    mx_resolver *resolver, const char *spool_dir);
MX_API void mx_daemon_free(mx_daemon *daemon);
/* Deliveries at once in all (default 100) and per destination (default 20). */
MX_API mx_err mx_daemon_set_limits(mx_daemon *daemon, unsigned total, unsigned per_destination);
/* Deliveries at once to the LMTP mail store (mx_sender_set_lmtp), one
 * destination for every local domain (default 10). */
MX_API mx_err mx_daemon_set_lmtp_limit(mx_daemon *daemon, unsigned n);
/* A destination no server of which answered is held back first seconds
 * (default 60), twice as long after each failed probe, at most max (3600). */
MX_API mx_err mx_daemon_set_hold(mx_daemon *daemon, unsigned first, unsigned max);
/* Connection reuse: idle time of a kept connection (ms, default 2000; 0
 * turns reuse off) and transactions per connection (0: no limit). */
MX_API mx_err mx_daemon_set_reuse(mx_daemon *daemon, unsigned idle_ms, unsigned count);
MX_API void mx_daemon_set_events(mx_daemon *daemon, mx_daemon_event_fn fn, void *arg);
MX_API void mx_daemon_set_log(mx_daemon *daemon, mx_daemon_log_fn fn, void *arg);
/*
 * Runs until SIGTERM or SIGINT (handled on the resolver's event loop, as
 * SIGHUP is).  After the signal no delivery starts; the call returns once
 * the deliveries under way ended, or after grace_ms with *abandoned set
 * (their entries stay as they were on disk: they are tried again at the
 * next start).  MX_ERR_SYSTEM when the spool cannot be watched or the
 * socket not made; why says why.
 */
MX_API mx_err mx_daemon_run(mx_daemon *daemon, unsigned grace_ms, bool *abandoned, mx_why *why);
/* What pickup of drop/ uses: the origin of bare local names and the alias
 * file, as mx_queue_pickup takes them (copied; NULL: the defaults). */
MX_API mx_err mx_daemon_set_pickup(mx_daemon *daemon, const char *origin, const char *aliases);
/*
 * A domain this host is a backup MX of (the sender's policy names this
 * host, so its plans hold only the better hosts).  While mail for it
 * waits because no server of it answered, its better MX hosts are probed
 * every interval_s seconds (default 10: connect, EHLO, QUIT); when one
 * answers, the destination's hold ends and its mail goes at once, not a
 * backoff later.
 */
MX_API mx_err mx_daemon_add_backup_domain(mx_daemon *daemon, const char *domain);
MX_API mx_err mx_daemon_set_backup_probe(mx_daemon *daemon, unsigned interval_s);
/*
 * TLS-RPT reports (RFC 8460 4.1) sent by the daemon itself: a few minutes
 * after the start (days that ended while it was down), then once a day
 * after UTC midnight plus a random delay of up to an hour, the days that
 * are over in SPOOL/mta-sts are queued as mx_tlsrpt_send_due does (from
 * and submitter as it takes them, copied), on the daemon's event loop and
 * through its resolver (never blocking deliveries), and delivered as any
 * entry; https: addresses get theirs POSTed (certificates verified with
 * the sender's ca_file, mx_sender_set_tls).  A line to mx_daemon_set_log's
 * function says what was queued and posted.  submitter and from NULL:
 * none (the default).  For tests only: every_s
 * non-zero runs every every_s seconds instead, and clock_offset_s is added
 * to the clock that says which days are over (86400: today too); 0 and 0
 * otherwise.  Set before mx_daemon_run (MX_ERR_BUSY during it);
 * MX_ERR_INVALID when from is not an address or only one is NULL.
 */
MX_API mx_err mx_daemon_set_tlsrpt(mx_daemon *daemon, const char *submitter, const char *from,
    unsigned every_s, int64_t clock_offset_s);
/*
 * The libevent loop the daemon runs on (its first resolver's): a resolver
 * for mx_daemon_set_sender is made on it with mx_resolver_new_event.
 */
MX_API struct event_base *mx_daemon_event_base(mx_daemon *daemon);
/*
 * New settings for deliveries from now on (SIGHUP): the daemon checks
 * that resolver starts (a bad trust anchor is refused here, with why),
 * then delivers new entries through sender (which uses resolver, made on
 * mx_daemon_event_base's loop), closes the idle connections the old
 * settings opened, and takes both: it frees them with itself or once they
 * are replaced and the deliveries begun with them are over.  The sender
 * and resolver given to mx_daemon_new stay the caller's, and are kept
 * until mx_daemon_free even when replaced.  On failure nothing changes
 * and the caller keeps sender and resolver.
 */
MX_API mx_err mx_daemon_set_sender(
    mx_daemon *daemon, mx_sender *sender, mx_resolver *resolver, mx_why *why);
/*
 * The client side of the control socket: sends command ("status",
 * "flush") to the daemon of spool_dir and hands its reply out (free()).
 * MX_ERR_SYSTEM when no daemon answers.
 */
MX_API mx_err mx_daemon_control(const char *spool_dir, const char *command, char **reply);

/* ---- checks (`mx check`) ----------------------------------------------- */

/*
 * A diagnosis of how a domain receives mail: its MX records and their
 * targets, the related records (SPF, DMARC, MTA-STS, TLS-RPT, TLSA),
 * DNSSEC, reverse DNS and, unless turned off, what each MX address says
 * on port 25.  Live, through an mx_resolver (which must use the unbound
 * transport), or offline from a zone file.  Findings carry a stable id
 * (mx-checks(7) lists them), a severity, a sentence and the evidence.
 * A check is reusable: each run replaces the findings of the previous one.
 */
typedef struct mx_check mx_check;
typedef struct mx_finding mx_finding;

typedef enum mx_severity {
	MX_SEVERITY_INFO = 0,
	MX_SEVERITY_NOTICE,
	MX_SEVERITY_WARNING,
	MX_SEVERITY_ERROR,
} mx_severity;

/* resolver: borrowed, must outlive the check; NULL for zone files only. */
MX_API mx_err mx_check_new(mx_check **out, mx_resolver *resolver);
/* A run still under way is cancelled: its callback does not run. */
MX_API void mx_check_free(mx_check *check);
/* Talk to the MX addresses on port 25 (default true). */
MX_API void mx_check_set_smtp(mx_check *check, bool on);
/* Limit on one whole live run, in milliseconds (default 30000). */
MX_API mx_err mx_check_set_timeout_ms(mx_check *check, unsigned ms);
/* Trust store for certificates (PEM); NULL: the system's.  Read now:
 * MX_ERR_CONFIG when it cannot be read or holds no certificate. */
MX_API mx_err mx_check_set_ca_file(mx_check *check, const char *path, mx_why *why);
/* Name sent in EHLO (default "localhost"). */
MX_API mx_err mx_check_set_helo(mx_check *check, const char *name);
/* Findings with this id are not reported (repeatable).  MX_ERR_INVALID
 * for an id mxkit does not know. */
MX_API mx_err mx_check_ignore(mx_check *check, const char *id);
/* True for an id some check can report ("mx-cname"). */
MX_API bool mx_check_id_known(const char *id);
/* A new check on the model's resolver with all of its settings (ignored
 * ids, timeout, trust store, EHLO name, certificate days, allowed
 * networks, shared probes): for many checks at once (`mx check --bulk`). */
MX_API mx_err mx_check_new_like(mx_check **out, const mx_check *model);
/* tls-cert-expiring: a certificate that expires within warning_days is a
 * warning, within error_days an error (defaults 14 and 3); 0 turns that
 * severity off.  MX_ERR_INVALID when error_days > warning_days (but not 0). */
MX_API mx_err mx_check_set_cert_days(mx_check *check, unsigned warning_days, unsigned error_days);
/* Private and loopback MX addresses that mx-address-private accepts (an
 * intranet's mail domain): network NULL allows every one; else a network
 * ("10.0.0.0/8", "fd00::/8", an address), repeatable up to 16.
 * MX_ERR_INVALID for text that is not a network. */
MX_API mx_err mx_check_allow_private(mx_check *check, const char *network);

/*
 * Probe results shared between checks: each (MX host, address) is probed
 * once and its result reused by every check given the same object (at
 * most 16384 are kept; past that, targets are probed unshared).  Free it
 * after the checks that use it.
 */
typedef struct mx_check_probes mx_check_probes;
MX_API mx_err mx_check_probes_new(mx_check_probes **out);
MX_API void mx_check_probes_free(mx_check_probes *probes);
/* Borrowed; NULL: probe alone (the default). */
MX_API void mx_check_share_probes(mx_check *check, mx_check_probes *probes);
/* Targets probed, and results reused instead of probing again. */
MX_API void
mx_check_probes_stats(const mx_check_probes *probes, unsigned long *probed, unsigned long *reused);

/*
 * Live run: cb runs from the resolver's event loop when the check is
 * done (never from inside mx_check_start); the findings are then read
 * with the getters below.  mx_check_run starts one and runs the
 * resolver's loop until it is done.  domain as mx_domain_from_arg takes it.
 */
typedef void (*mx_check_cb)(mx_check *check, void *arg);
MX_API mx_err mx_check_start(
    mx_check *check, const char *domain, mx_check_cb cb, void *arg, mx_why *why);
MX_API mx_err mx_check_run(mx_check *check, const char *domain, mx_why *why);
/*
 * Zone-file run, no network: every rule that the zone alone can judge;
 * MX targets inside the zone are resolved from it.  origin NULL: the
 * zone's $ORIGIN or SOA.  A file that does not parse is MX_ERR_BAD_ZONE
 * with why saying which line and what is wrong;
 * an unreadable one MX_ERR_NOT_FOUND.
 */
MX_API mx_err mx_check_zone(mx_check *check, const char *path, const char *origin, mx_why *why);

/* The domain the last run checked (the zone's origin in zone mode). */
MX_API const char *mx_check_domain(const mx_check *check);
/* The last run could not test the domain: its DNS failed temporarily. */
MX_API bool mx_check_tempfail(const mx_check *check);
/* Why, when mx_check_tempfail; "" otherwise. */
MX_API const char *mx_check_tempfail_reason(const mx_check *check);
MX_API size_t mx_check_finding_count(const mx_check *check);
MX_API const mx_finding *mx_check_finding(const mx_check *check, size_t i);
/* The worst severity found; MX_SEVERITY_INFO when there is nothing. */
MX_API mx_severity mx_check_worst(const mx_check *check);
/* Tests that could not be run from here ("smtp") and why. */
MX_API size_t mx_check_untested_count(const mx_check *check);
MX_API const char *mx_check_untested_test(const mx_check *check, size_t i);
MX_API const char *mx_check_untested_reason(const mx_check *check, size_t i);
/* The whole result as one line of JSON (no newline); free(). */
MX_API mx_err mx_check_to_json(const mx_check *check, char **out);
/* A line of input that is not a domain, in the same schema: no findings,
 * "tempfail": true with why as the reason, and "invalid": true. */
MX_API mx_err mx_check_invalid_to_json(const char *arg, const char *why, char **out);

MX_API const char *mx_finding_id(const mx_finding *f);
MX_API mx_severity mx_finding_severity(const mx_finding *f);
MX_API const char *mx_finding_message(const mx_finding *f);
/* Zone mode: the line of the record the finding is about; 0 otherwise. */
MX_API unsigned mx_finding_line(const mx_finding *f);
MX_API size_t mx_finding_evidence_count(const mx_finding *f);
MX_API const char *mx_finding_evidence(const mx_finding *f, size_t i);
/* "error", "warning", "notice", "info". */
MX_API const char *mx_severity_name(mx_severity severity);

/* ---- the SMTP server (`mx daemon --listen`) ----------------------------- */

/*
 * The receiving side of the daemon, on the resolver's event loop: SMTP
 * (RFC 5321) with PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES and
 * STARTTLS (TLS 1.2 or later) on the addresses given to
 * mx_server_listen.  Mail is accepted for the local and backup domains,
 * and for anywhere from the relay networks (loopback when none is
 * given); everything else is refused at RCPT with 554 5.7.1.  A message
 * is answered 250 only once it is durable in the spool (one sync covers
 * every message finished meanwhile: group commit), where the daemon's
 * inotify finds it.  Strings are copied.
 */
typedef struct mx_server mx_server;

/* hostname: the banner's and Received lines' name. */
MX_API mx_err mx_server_new(
    mx_server **out, mx_resolver *resolver, const char *spool_dir, const char *hostname);
MX_API void mx_server_free(mx_server *server);
/* "ADDR:PORT", "[IPv6]:PORT": bound and listening at once (so that the
 * caller may drop root afterwards); MX_ERR_INVALID for an address that is
 * not one, MX_ERR_SYSTEM when it cannot be bound; why says which. */
MX_API mx_err mx_server_listen(mx_server *server, const char *addr_port, mx_why *why);
/* A domain final here (backup false) or one this host is a backup MX of. */
MX_API mx_err mx_server_add_domain(mx_server *server, const char *domain, bool backup);
/* A network ("192.0.2.0/24", "2001:db8::/32") whose clients may relay. */
MX_API mx_err mx_server_add_relay_network(mx_server *server, const char *cidr);
/*
 * A recipient of a backup domain is taken only when a better MX host of
 * the domain takes it: an answer kept from before decides at once;
 * otherwise the best reachable better host (the domain's MX plan without
 * this host: its hostname and listening addresses, and every host not
 * better, RFC 5321 5.1) is asked with RCPT TO in a session that ends
 * before DATA, while the client's RCPT waits.  2xx: taken; 5xx: 550
 * 5.1.1; 4xx or no better host answering: the backup recipients list
 * decides, or 450.  A 2xx is kept positive_ttl_s seconds (default 86400),
 * a 5xx negative_ttl_s (3600; 0: not kept), at most cache_max answers
 * (10000, the oldest dropped first); one probe has timeout_ms (10000)
 * for DNS, connecting and its replies.  The answers are kept across
 * restarts in SPOOL/private/verify.cache with their ends (unix seconds):
 * read at mx_server_start (ended ones, those of domains no longer backed
 * up and any time beyond today's TTLs dropped; a damaged file is set
 * aside as verify.cache.bad and the server starts with none, saying so
 * in the log), written when they changed every 60 seconds (see
 * mx_server_set_verify_save), by mx_server_sync and by mx_server_free.
 * Before mx_server_start.
 */
MX_API mx_err mx_server_set_verify(mx_server *server, unsigned positive_ttl_s,
    unsigned negative_ttl_s, size_t cache_max, unsigned timeout_ms);
/* Seconds between writes of the verification answers when they changed
 * (1 to 86400, default 60): what a SIGKILL or a crash may lose.  Before
 * mx_server_start. */
MX_API mx_err mx_server_set_verify_save(mx_server *server, unsigned interval_s);
/* Writes now what the server keeps across restarts (the verification
 * answers, durably: a temporary file, fsync, rename) when it changed
 * since the last write; for a stop and SIGHUP.  MX_ERR_SYSTEM with why
 * when it cannot be written (the next write tries again). */
MX_API mx_err mx_server_sync(mx_server *server, mx_why *why);
/* The LMTP mail store of the local domains ("unix:PATH", "IP:PORT"): a
 * recipient of a local domain is asked of it at RCPT (LHLO, MAIL, RCPT,
 * QUIT; cached 10 min if known, 1 min if not) and refused with 550 5.1.1
 * when it says 5xx; a store that does not answer takes nothing away.
 * MX_ERR_CONFIG when target is neither form (why says how). */
MX_API mx_err mx_server_set_lmtp(mx_server *server, const char *target, mx_why *why);
/* The recipients (one address or "@domain" a line) taken for backup
 * domains when no better MX host can tell (see mx_server_set_verify);
 * without a list such a recipient is answered 450.  MX_ERR_CONFIG when
 * the file cannot be read or a line is neither (why names the line). */
MX_API mx_err mx_server_set_backup_recipients(mx_server *server, const char *path, mx_why *why);
/* STARTTLS with this certificate chain and key (PEM); MX_ERR_CONFIG with
 * OpenSSL's reason when they cannot be loaded or do not match. */
MX_API mx_err mx_server_set_tls(mx_server *server, const char *cert, const char *key, mx_why *why);
/* Message size (default 10240000), recipients per message (1000),
 * sessions per client address outside the relay networks (50), seconds
 * a command may take (300, RFC 5321 4.5.3.2), and how long a client
 * outside the relay networks waits for the greeting (ms, default 1000;
 * one that talks first is refused). */
MX_API mx_err mx_server_set_limits(mx_server *server, size_t max_size, unsigned max_rcpts,
    unsigned per_client, unsigned timeout_s, unsigned greet_pause_ms);
/* Log lines, program "smtpd", as Postfix's. */
MX_API void mx_server_set_log(mx_server *server, mx_daemon_log_fn fn, void *arg);
/* Starts accepting on the loop (the spool is opened here); MX_ERR_SYSTEM
 * with why when the spool cannot be opened. */
MX_API mx_err mx_server_start(mx_server *server, mx_why *why);

#ifdef __cplusplus
}
#endif
#endif /* MX_H */
