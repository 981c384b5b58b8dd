/*
 * server.c - mx_server (see mx.h): its settings, the listening sockets
 * (bound in mx_server_listen, while the caller may still be root), the
 * TLS context (TLS 1.2 or later), and the start and end of the whole.
 * Connections are server_conn.c's, the group commit server_commit.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "address.h"
#include "name.h"
#include "resolver.h"
#include "server_clients.h"
#include "server_commit.h"
#include "server_conn.h"
#include "lmtp_target.h"
#include "server_verify.h"
#include "why.h"

mx_err
mx_server_new(mx_server **out, mx_resolver *resolver, const char *spool_dir, const char *hostname)
{
	mx_server *srv;

	if (out == NULL || resolver == NULL || spool_dir == NULL || hostname == NULL ||
	    strlen(spool_dir) >= sizeof(srv->dir) || strlen(hostname) >= sizeof(srv->hostname))
		return MX_ERR_INVALID;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return MX_ERR_NOMEM;
	srv->resolver = resolver;
	srv->base = resolver_base(resolver);
	memcpy(srv->dir, spool_dir, strlen(spool_dir) + 1);
	memcpy(srv->hostname, hostname, strlen(hostname) + 1);
	srv->set.hostname = srv->hostname;
	srv->set.max_size = 10240000;
	srv->set.max_rcpts = 1000;
	srv->per_client = 50;
	srv->timeout_s = 300;
	srv->greet_pause_ms = 1000;
	verify_defaults(srv);
	*out = srv;
	return MX_OK;
}

void
mx_server_free(mx_server *srv)
{
	if (srv == NULL)
		return;
	for (size_t i = 0; i < srv->n_fds; i++) {
		if (srv->listeners[i] != NULL)
			evconnlistener_free(srv->listeners[i]); /* closes the socket */
		else
			close(srv->fds[i]);
	}
	/* Sessions still open (a client's connection cache, say) end here:
	 * none of them was answered 250 for anything not durable. */
	sconn_free_all(srv);
	commit_teardown(srv);
	verify_clear(srv);
	/* One turn of the loop frees the client sessions the probes closed
	 * (lib/smtp reaps a closed session from the loop). */
	if (srv->base != NULL)
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
	clients_clear(srv);
	spool_close(srv->spool);
	SSL_CTX_free(srv->tls);
	free(srv->relay.local);
	free(srv->relay.backup);
	free(srv->backup_rcpts);
	free(srv);
}

mx_err
mx_server_set_lmtp(mx_server *srv, const char *target, mx_why *why)
{
	mx_why parse;

	why_clear(why);
	if (srv == NULL || target == NULL)
		return why_set(why, MX_ERR_INVALID, "no server or no LMTP target (NULL)");
	if (lmtp_target_parse(target, &srv->lmtp, &parse) != MX_OK)
		return why_set(why, MX_ERR_CONFIG, "--lmtp: %.400s", parse.text);
	srv->lmtp_set = true;
	return MX_OK;
}

/* "ADDR:PORT" or "[ADDR]:PORT" into host and port. */
static bool
split_addr(const char *in, char host[64], char port[8])
{
	const char *colon = strrchr(in, ':'), *h = in;
	size_t hlen;

	if (colon == NULL || strlen(colon + 1) == 0 || strlen(colon + 1) >= 8)
		return false;
	hlen = (size_t)(colon - in);
	if (in[0] == '[') {
		if (hlen < 2 || in[hlen - 1] != ']')
			return false;
		h = in + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= 64)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, 8, "%s", colon + 1);
	return true;
}

static int
bind_one(const struct addrinfo *ai, const char *addr_port, mx_why *why)
{
	int one = 1, fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		why_set(why, MX_ERR_SYSTEM, "--listen %.100s: no socket: %s", addr_port,
		    strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		why_set(why, MX_ERR_SYSTEM, "--listen %.100s: cannot listen: %s", addr_port,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

mx_err
mx_server_listen(mx_server *srv, const char *addr_port, mx_why *why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE },
			*ai = NULL;
	char host[64], port[8];
	int fd;

	why_clear(why);
	if (srv == NULL || addr_port == NULL)
		return why_set(why, MX_ERR_INVALID, "no server or no address (NULL)");
	if (srv->n_fds >= SERVER_LISTEN_MAX || !split_addr(addr_port, host, port) ||
	    getaddrinfo(host, port, &hints, &ai) != 0)
		return why_set(why, MX_ERR_INVALID,
		    "--listen %.100s: not ADDR:PORT or [IPv6]:PORT "
		    "with a numeric address (at most %d)",
		    addr_port, SERVER_LISTEN_MAX);
	fd = bind_one(ai, addr_port, why);
	freeaddrinfo(ai);
	if (fd < 0)
		return MX_ERR_SYSTEM;
	snprintf(srv->names[srv->n_fds], sizeof(srv->names[0]), "%s", addr_port);
	srv->fds[srv->n_fds++] = fd;
	return MX_OK;
}

static mx_err
add_name(char (**list)[MX_DOMAIN_MAX + 1], size_t *n, const char *name)
{
	char folded[MX_DOMAIN_MAX + 1];
	void *p;

	if (strlen(name) > MX_DOMAIN_MAX || *n >= RELAY_DOMAINS_MAX)
		return MX_ERR_INVALID;
	snprintf(folded, sizeof(folded), "%s", name);
	name_fold(folded);
	if (name_check_hostname(folded) != NULL)
		return MX_ERR_INVALID;
	if ((p = reallocarray(*list, *n + 1, sizeof(**list))) == NULL)
		return MX_ERR_NOMEM;
	*list = p;
	memcpy((*list)[(*n)++], folded, sizeof(folded));
	return MX_OK;
}

mx_err
mx_server_add_domain(mx_server *srv, const char *domain, bool backup)
{
	if (srv == NULL || domain == NULL)
		return MX_ERR_INVALID;
	return backup ? add_name(&srv->relay.backup, &srv->relay.n_backup, domain)
		      : add_name(&srv->relay.local, &srv->relay.n_local, domain);
}

mx_err
mx_server_add_relay_network(mx_server *srv, const char *cidr)
{
	if (srv == NULL || cidr == NULL || srv->relay.n_nets >= RELAY_NETWORKS_MAX ||
	    !relay_network_parse(cidr, &srv->relay.nets[srv->relay.n_nets]))
		return MX_ERR_INVALID;
	srv->relay.n_nets++;
	return MX_OK;
}

mx_err
mx_server_set_limits(mx_server *srv, size_t max_size, unsigned max_rcpts, unsigned per_client,
    unsigned timeout_s, unsigned greet_pause_ms)
{
	if (srv == NULL || max_size == 0 || max_size > SPOOL_DATA_MAX / 2 || max_rcpts == 0 ||
	    max_rcpts > SPOOL_RCPTS_MAX || per_client == 0 || timeout_s == 0 ||
	    greet_pause_ms > 60000)
		return MX_ERR_INVALID;
	srv->set.max_size = max_size;
	srv->set.max_rcpts = max_rcpts;
	srv->per_client = per_client;
	srv->timeout_s = timeout_s;
	srv->greet_pause_ms = greet_pause_ms;
	return MX_OK;
}

mx_err
mx_server_set_verify(mx_server *srv, unsigned positive_ttl_s, unsigned negative_ttl_s,
    size_t cache_max, unsigned timeout_ms)
{
	if (srv == NULL || cache_max == 0 || cache_max > 10000000 || timeout_ms == 0 ||
	    timeout_ms > 600000 || srv->verify.cache != NULL)
		return MX_ERR_INVALID;
	srv->verify.positive_ttl = positive_ttl_s;
	srv->verify.negative_ttl = negative_ttl_s;
	srv->verify.cache_max = cache_max;
	srv->verify.timeout_ms = timeout_ms;
	return MX_OK;
}

void
mx_server_set_log(mx_server *srv, mx_daemon_log_fn fn, void *arg)
{
	if (srv == NULL)
		return;
	srv->log = fn;
	srv->log_arg = arg;
}

mx_err
mx_server_set_tls(mx_server *srv, const char *cert, const char *key, mx_why *why)
{
	SSL_CTX *ctx;

	why_clear(why);
	if (srv == NULL || cert == NULL || key == NULL)
		return why_set(why, MX_ERR_INVALID, "no server, certificate or key (NULL)");
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return why_set(why, MX_ERR_NOMEM, "out of memory for a TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		const char *reason = ERR_reason_error_string(ERR_get_error());
		SSL_CTX_free(ctx);
		return why_set(why, MX_ERR_CONFIG, "--tls-cert %.200s / --tls-key %.200s: %s", cert,
		    key, reason != NULL ? reason : "not a usable certificate and key");
	}
	SSL_CTX_free(srv->tls);
	srv->tls = ctx;
	srv->set.tls_offer = true;
	return MX_OK;
}

/*
 * Whether a line of the file can match: "@domain", or an address as
 * address.c reads it, so a quoted local part may hold a blank
 * ("john doe"@example.com) and a blank outside quotes is an error.
 */
static bool
backup_line_ok(const char *line)
{
	struct address a;

	if (strlen(line) > 320 || strchr(line, '@') == NULL)
		return false;
	if (line[0] == '@')
		return strpbrk(line, " \t") == NULL;
	return address_parse(line, &a, NULL) == MX_OK;
}

/* One line of the backup recipients file: "user@domain" or "@domain". */
static mx_err
backup_line(mx_server *srv, char *line, size_t *cap)
{
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || line[0] == '#')
		return MX_OK;
	if (!backup_line_ok(line))
		return MX_ERR_CONFIG;
	if (srv->n_backup_rcpts == *cap) {
		void *p = reallocarray(
		    srv->backup_rcpts, *cap ? *cap * 2 : 16, sizeof(*srv->backup_rcpts));
		if (p == NULL)
			return MX_ERR_NOMEM;
		srv->backup_rcpts = p;
		*cap = *cap ? *cap * 2 : 16;
	}
	snprintf(srv->backup_rcpts[srv->n_backup_rcpts++], 321, "%s", line);
	return MX_OK;
}

mx_err
mx_server_set_backup_recipients(mx_server *srv, const char *path, mx_why *why)
{
	FILE *f;
	char line[512];
	size_t cap = 0, n = 0;
	mx_err err = MX_OK;

	why_clear(why);
	if (srv == NULL || path == NULL)
		return why_set(why, MX_ERR_INVALID, "no server or no path (NULL)");
	if ((f = fopen(path, "re")) == NULL)
		return why_set(
		    why, MX_ERR_CONFIG, "--backup-recipients %.300s: %s", path, strerror(errno));
	while (err == MX_OK && fgets(line, sizeof(line), f) != NULL) {
		n++;
		err = backup_line(srv, line, &cap);
	}
	fclose(f);
	if (err == MX_ERR_CONFIG)
		return why_set(why, err, "%.300s:%zu: not an address or @domain", path, n);
	if (err != MX_OK)
		return why_set(why, err, "%.300s: out of memory at line %zu", path, n);
	return MX_OK;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	(void)l;
	sconn_accept(arg, fd, sa, len);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	/* EMFILE and its kind: the listener goes on; the client waits in the backlog. */
	(void)l;
	server_log(arg, "warning: accept: %s", strerror(errno));
}

mx_err
mx_server_start(mx_server *srv, mx_why *why)
{
	mx_why scratch;

	if (why == NULL)
		why = &scratch; /* spool_open writes into the text */
	why_clear(why);
	if (srv == NULL)
		return why_set(why, MX_ERR_INVALID, "no server (NULL)");
	if (srv->spool == NULL &&
	    spool_open(srv->dir, &srv->spool, why->text, sizeof(why->text)) != MX_OK)
		return MX_ERR_SYSTEM;
	if (commit_setup(srv) != MX_OK)
		return why_set(
		    why, MX_ERR_NOMEM, "out of memory or descriptors for the group commit");
	if (verify_setup(srv) != MX_OK)
		return why_set(why, MX_ERR_NOMEM, "out of memory for recipient verification");
	for (size_t i = 0; i < srv->n_fds; i++) {
		if (srv->listeners[i] != NULL)
			continue;
		srv->listeners[i] = evconnlistener_new(
		    srv->base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE, -1, srv->fds[i]);
		if (srv->listeners[i] == NULL)
			return why_set(why, MX_ERR_SYSTEM, "cannot listen on %s: %s", srv->names[i],
			    strerror(errno));
		evconnlistener_set_error_cb(srv->listeners[i], on_accept_error);
		server_log(srv, "listening on %s", srv->names[i]);
	}
	return MX_OK;
}
