/*
 * server_state.h - types only: struct mx_server (settings, listeners,
 * the count of sessions per client address, the batch waiting for a
 * group commit) and struct sconn (one client's connection), shared by
 * server.c, server_conn.c and server_commit.c.
 */
#ifndef MX_SERVER_STATE_H
#define MX_SERVER_STATE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "lmtp_target.h"
#include "mx.h"
#include "relay.h"
#include "smtpd_session.h"
#include "spool.h"
#include "syncer.h"
#include "verify_cache.h"
#include "verify_probe.h"

#define SERVER_LISTEN_MAX     16
#define SERVER_CLIENT_BUCKETS 4096
#define SERVER_MEM_DATA       65536        /* a message is kept in memory up to this */
#define SERVER_BATCH_MAX      SYNC_JOB_MAX /* messages in one group commit at most */
#define SERVER_RECEIVED_MAX   2048
#define SERVER_MAILBOX_SLOTS  256 /* recipients of local domains remembered */

struct client_count {
	struct client_count *next;
	int family;
	uint8_t addr[16];
	unsigned n;
};

struct sconn;
struct mailbox_ask;

/* A local recipient the LMTP store was asked about (server_mailbox.c). */
struct mailbox_slot {
	char addr[321];
	bool known;
	int64_t until; /* unix seconds; 0: empty */
};

/* One message in the batch; done is called once the batch is durable
 * (ok) or refused, unless the client left first (conn NULL). */
struct staged {
	struct spool_staged st;
	struct sconn *conn; /* NULL once the client is gone */
	void (*done)(struct sconn *conn, bool ok, const char *id, const char *why);
};

/* Recipient verification with the backup domains' better MX hosts
 * (server_verify.c): settings, the answers kept, the probes under way. */
struct server_verify {
	unsigned positive_ttl, negative_ttl; /* seconds */
	unsigned timeout_ms;                 /* one probe, DNS included */
	size_t cache_max;
	mx_policy *policy; /* this host's name as a local name (RFC 5321 5.1) */
	struct verify_cache *cache;
	struct sockaddr_storage self[VERIFY_SELF_MAX]; /* the listening addresses */
	size_t n_self;
	struct verify_wait *waits; /* one per RCPT waiting for its probe */
	size_t n_waits;
	size_t probes, cached; /* probes started, answers taken from the cache */
	/* The answers' file (verify_store.c): written every save_s seconds
	 * when changed (answers kept since the last write). */
	unsigned save_s;
	struct event *save_ev;
	bool changed;
};

struct mx_server {
	mx_resolver *resolver;
	struct event_base *base;
	struct spool *spool;
	char dir[4096];
	char hostname[256];
	struct smtpd_settings set;
	struct smtpd_hooks hooks;
	struct relay_policy relay;
	unsigned per_client, timeout_s, greet_pause_ms;
	SSL_CTX *tls;
	int fds[SERVER_LISTEN_MAX];
	char names[SERVER_LISTEN_MAX][64];
	size_t n_fds;
	struct evconnlistener *listeners[SERVER_LISTEN_MAX];
	struct client_count *clients[SERVER_CLIENT_BUCKETS];
	struct staged *batch[SERVER_BATCH_MAX]; /* filling */
	size_t n_batch;
	struct event *commit_ev;
	struct syncer *syncer;
	struct sync_job job;                     /* with the syncer, or idle */
	struct staged *flight[SERVER_BATCH_MAX]; /* the job's messages */
	size_t n_flight;
	size_t sessions;
	struct sconn *conns; /* every open session, freed with the server */
	char (*backup_rcpts)[321];
	size_t n_backup_rcpts;
	struct server_verify verify;
	mx_daemon_log_fn log;
	void *log_arg;
	/* Local recipients asked of the LMTP store (mx_server_set_lmtp). */
	struct lmtp_target lmtp;
	bool lmtp_set;
	struct mailbox_slot mailbox_cache[SERVER_MAILBOX_SLOTS];
	struct {
		size_t commits, messages; /* group commits and the messages in them */
	} st;
};

struct sconn {
	mx_server *srv;
	struct sconn *prev, *next; /* in srv->conns */
	struct bufferevent *bev;
	struct event *timer;
	struct smtpd_session s;
	struct sockaddr_storage peer;
	char peer_text[INET6_ADDRSTRLEN + 2];
	bool trusted, greeted, closing, tls_wanted, counted;
	unsigned linger; /* ticks waited for the last reply to leave */
	/* the transaction */
	char sender[SMTP_CMD_PATH_MAX + 1];
	char (*rcpts)[321];
	size_t n_rcpts, cap_rcpts;
	char *mem; /* the message, up to SERVER_MEM_DATA */
	size_t mem_len;
	int fd; /* the rest of it, in an unlinked file; -1 */
	size_t file_len;
	struct staged *pending;      /* in the server's batch */
	struct verify_wait *wait;    /* the RCPT's verification under way */
	struct mailbox_ask *mailbox; /* a RCPT waiting for the LMTP store */
};

#endif
