/*
 * check_state.h - the state of one live `mx check` run and its tickets
 * (the questions outstanding), shared by check_live.c (gathering),
 * check_ticket.c (a question's start and end), check_smtp.c (the probes
 * and their verdicts) and check_judge.c (turning the gathered facts into
 * findings).  Types and limits only: declares no function.
 */
#ifndef MX_CHECK_STATE_H
#define MX_CHECK_STATE_H

#include "answer.h"
#include "check_dns.h"
#include "check_facts.h"
#include "probe.h"
#include "tls.h"

#define LIVE_TICKETS_MAX 512
#define LIVE_TLSA_MAX    8
#define LIVE_PTRS_MAX    64
#define LIVE_PTR_NAMES   4
#define LIVE_NS_MAX      8
#define LIVE_AUTH_MAX    16
#define LIVE_PROBES_MAX  64
#define SPF_FETCH_MAX    20 /* SPF records fetched for the lookup count */

enum ticket_kind {
	TICKET_FREE = 0,
	TICKET_ONESHOT,
	TICKET_RAW,
	TICKET_PROBE,
	TICKET_HTTPS,
	TICKET_AUTH
};

struct check_live;

/* One outstanding question; its address is the callback's argument. */
struct ticket {
	struct check_live *l;
	enum ticket_kind kind;
	void *handle;
	size_t i, j;
};

/* What the live run learns about an MX target beyond struct check_target. */
struct live_target {
	bool answered[2]; /* A, AAAA */
	answer_kind kind[2];
	bool secure[2];
	answer_security tlsa_security;
	size_t n_tlsa;
	struct tls_tlsa tlsa[LIVE_TLSA_MAX];
	uint8_t tlsa_data[LIVE_TLSA_MAX][TLSA_DATA_MAX];
};

/* Reverse DNS of one MX address. */
struct live_ptr {
	struct ip_addr addr;
	size_t target; /* index into facts.targets */
	bool answered;
	char why[160];
	size_t n_names;
	char names[LIVE_PTR_NAMES][NAME_TEXT_MAX];
	bool confirmed; /* a name resolves back to the address */
};

struct check_live {
	mx_check *c;
	struct event_base *base;
	struct event *deadline, *finish_ev;
	int phase;
	/* Runs when the last outstanding question has ended: the next phase.
	 * A callback, so that the tickets need not know the phases. */
	void (*on_idle)(struct check_live *l);
	int pending;
	bool finishing, timed_out, out_of_tickets;
	struct ticket tickets[LIVE_TICKETS_MAX];

	struct check_facts facts;
	answer_security mx_security;
	bool mx_bogus;
	char mx_why[160];
	size_t n_bogus_noted;
	struct live_target targets[CHECK_MX_MAX];

	struct check_policy_txts txts;
	char txt_names[4][NAME_TEXT_MAX + 16];
	int spf_lookups;
	bool spf_incomplete;
	char spf_bad_include[NAME_TEXT_MAX + 64];
	char spf_trail[1024];         /* made by the judge from spf_terms */
	int spf_terms[SPF_FETCH_MAX]; /* -1 (0 after calloc: +1) */
	size_t n_spf_names;
	char spf_names[SPF_FETCH_MAX][NAME_TEXT_MAX];
	size_t spf_parent[SPF_FETCH_MAX]; /* the record that named it; itself at the top */

	char sts_host[NAME_TEXT_MAX + 16];
	bool sts_have_addr;
	struct ip_addr sts_addr;

	char apex[NAME_TEXT_MAX];
	size_t n_ns;
	char ns_names[LIVE_NS_MAX][NAME_TEXT_MAX];
	uint16_t auth_port;
	size_t n_auth;
	struct dns_auth_mx auth[LIVE_AUTH_MAX];

	size_t n_ptrs;
	struct live_ptr ptrs[LIVE_PTRS_MAX];

	bool probe_started, probed;
	size_t n_probes;
	struct probe_target probe_targets[LIVE_PROBES_MAX];
	size_t probe_target_of[LIVE_PROBES_MAX]; /* index into facts.targets */
	struct probe_result probe_results[LIVE_PROBES_MAX];
};

#endif
