/*
 * tlsrpt_post.c - a day's TLS-RPT report POSTed to the https: addresses
 * of a domain's rua (RFC 8460 5.4): for each, the host's address (A, else
 * AAAA) through the resolver, then policy/https_get.c's POST with the
 * certificate verified for the host; a 2xx status means the report was
 * taken.  One URI at a time, all on the resolver's loop.  It never
 * touches the store or the queue.
 */
#include <ctype.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "https_get.h"
#include "query.h"
#include "resolver.h"
#include "strbuf.h"
#include "tlsrpt_post.h"

#define URIS_MAX   16 /* https: addresses of one record that are tried */
#define TIMEOUT_MS 30000

struct tlsrpt_post {
	mx_resolver *r;
	char *ca_file;
	char *uris[URIS_MAX];
	size_t n, next;
	unsigned char *gz;
	size_t len;
	char host[MX_DOMAIN_MAX + 1], path[TLSRPT_URI_PATH_MAX];
	uint16_t port, qtype;
	struct oneshot *addr;
	struct https_get *get;
	struct event *finish; /* done goes out from the loop */
	unsigned posted, failed;
	char why[256];
	tlsrpt_post_fn done;
	void *arg;
};

static bool
host_ok(const char *h, size_t n)
{
	if (n == 0 || n > MX_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return false;
	return true;
}

bool
tlsrpt_https_uri(
    const char *uri, char host[MX_DOMAIN_MAX + 1], uint16_t *port, char path[TLSRPT_URI_PATH_MAX])
{
	const char *h, *end;
	size_t hn;
	unsigned long p = 443;

	if (strncasecmp(uri, "https://", 8) != 0)
		return false;
	h = uri + 8;
	hn = strcspn(h, ":/");
	end = h + hn;
	if (!host_ok(h, hn))
		return false;
	if (*end == ':') {
		char *stop;
		if (!isdigit((unsigned char)end[1]) || (p = strtoul(end + 1, &stop, 10)) == 0 ||
		    p > 65535 || (*stop != '/' && *stop))
			return false;
		end = stop;
	}
	if (strlen(end) >= TLSRPT_URI_PATH_MAX)
		return false;
	for (const char *c = end; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return false;
	memcpy(host, h, hn);
	host[hn] = '\0';
	snprintf(path, TLSRPT_URI_PATH_MAX, "%s", *end ? end : "/");
	*port = (uint16_t)p;
	return true;
}

static void next_uri(struct tlsrpt_post *p);

static void
failed(struct tlsrpt_post *p, const char *what)
{
	struct strbuf sb;

	p->failed++;
	strbuf_init(&sb, p->why, sizeof(p->why)); /* cut visibly when long */
	strbuf_printf(&sb, "https://%s%s: %s", p->host, p->path, what);
	next_uri(p);
}

static void
on_posted(int status, const char *body, size_t len, const char *error, void *arg)
{
	struct tlsrpt_post *p = arg;
	char what[160];
	struct strbuf sb;

	(void)body;
	(void)len;
	p->get = NULL;
	if (status >= 200 && status < 300) {
		p->posted++;
		next_uri(p);
		return;
	}
	strbuf_init(&sb, what, sizeof(what));
	strbuf_printf(&sb, "%s%sHTTP %d", error ? error : "", error ? "; " : "", status);
	failed(p, what);
}

static void
on_addr(const struct answer *a, void *arg)
{
	struct tlsrpt_post *p = arg;

	p->addr = NULL;
	if ((a->kind != ANSWER_RECORDS || a->n_addrs == 0) && p->qtype == RR_TYPE_A) {
		p->qtype = RR_TYPE_AAAA; /* an IPv6-only report server */
		if (oneshot_start(p->r, p->host, RR_TYPE_AAAA, TIMEOUT_MS, on_addr, p, &p->addr) !=
		    MX_OK)
			failed(p, "could not start the address lookup");
		return;
	}
	if (a->kind != ANSWER_RECORDS || a->n_addrs == 0) {
		failed(p, "the host has no address");
		return;
	}
	if (https_post_start(resolver_base(p->r), p->host, &a->addrs[0], p->port, p->path,
		p->ca_file, TIMEOUT_MS, "application/tlsrpt+gzip", p->gz, p->len, on_posted, p,
		&p->get) != MX_OK)
		failed(p, "could not start the request");
}

static void
next_uri(struct tlsrpt_post *p)
{
	while (p->next < p->n) {
		const char *uri = p->uris[p->next++];
		if (!tlsrpt_https_uri(uri, p->host, &p->port, p->path))
			continue;
		p->qtype = RR_TYPE_A;
		if (oneshot_start(p->r, p->host, RR_TYPE_A, TIMEOUT_MS, on_addr, p, &p->addr) ==
		    MX_OK)
			return;
		struct strbuf sb;
		p->failed++;
		strbuf_init(&sb, p->why, sizeof(p->why));
		strbuf_printf(&sb, "%s: could not start the address lookup", uri);
	}
	event_active(p->finish, EV_TIMEOUT, 0);
}

static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct tlsrpt_post *p = arg;

	(void)fd;
	(void)what;
	p->done(p->posted, p->failed, p->why, p->arg);
	tlsrpt_post_cancel(p);
}

static size_t
https_count(const char *const *uris, size_t n)
{
	char host[MX_DOMAIN_MAX + 1], path[TLSRPT_URI_PATH_MAX];
	uint16_t port;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += tlsrpt_https_uri(uris[i], host, &port, path);
	return k;
}

mx_err
tlsrpt_post_start(mx_resolver *r, const char *ca_file, const char *const *uris, size_t n,
    const unsigned char *gz, size_t len, tlsrpt_post_fn done, void *arg, struct tlsrpt_post **out)
{
	struct tlsrpt_post *p;

	*out = NULL;
	if (r == NULL || gz == NULL || done == NULL)
		return MX_ERR_INVALID;
	if (https_count(uris, n) == 0)
		return MX_OK;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MX_ERR_NOMEM;
	p->r = r;
	p->done = done;
	p->arg = arg;
	p->len = len;
	p->finish = event_new(resolver_base(r), -1, 0, on_finish, p);
	p->gz = malloc(len ? len : 1);
	p->ca_file = ca_file ? strdup(ca_file) : NULL;
	for (size_t i = 0; i < n && p->n < URIS_MAX; i++)
		if ((p->uris[p->n] = strdup(uris[i])) != NULL)
			p->n++;
	if (p->finish == NULL || p->gz == NULL || (ca_file && p->ca_file == NULL)) {
		tlsrpt_post_cancel(p);
		return MX_ERR_NOMEM;
	}
	memcpy(p->gz, gz, len);
	next_uri(p);
	*out = p;
	return MX_OK;
}

void
tlsrpt_post_cancel(struct tlsrpt_post *p)
{
	if (p == NULL)
		return;
	oneshot_cancel(p->addr);
	https_get_cancel(p->get);
	if (p->finish != NULL)
		event_free(p->finish);
	for (size_t i = 0; i < p->n; i++)
		free(p->uris[i]);
	free(p->ca_file);
	free(p->gz);
	free(p);
}
