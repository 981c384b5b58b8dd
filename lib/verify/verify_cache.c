/*
 * verify_cache.c - the answers of recipient verification (see
 * verify_cache.h): a chained hash table over the addresses, and a list in
 * the order answers were kept, whose head is dropped when the cache is
 * full (an answer replaced moves to the tail).  Addresses are compared
 * exactly: the server gives them with the domain in lower case, and the
 * local part is the better host's to interpret (RFC 5321 2.4).
 */
#include <stdlib.h>
#include <string.h>

#include "verify_cache.h"

#define CACHE_BUCKETS_MAX 65536

struct centry {
	struct centry *hnext;       /* in the bucket */
	struct centry *prev, *next; /* in the order kept */
	int64_t expires;
	enum verify_answer answer;
	char addr[]; /* NUL-terminated */
};

struct verify_cache {
	struct centry **buckets;
	size_t n_buckets; /* a power of two */
	struct centry *oldest, *newest;
	size_t n, max;
};

static size_t
addr_hash(const char *s)
{
	size_t h = 1469598103934665603u; /* FNV-1a */

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

mx_err
verify_cache_new(size_t max, struct verify_cache **out)
{
	struct verify_cache *c;
	size_t nb = 16;

	*out = NULL;
	if (max == 0)
		return MX_ERR_INVALID;
	while (nb < max && nb < CACHE_BUCKETS_MAX)
		nb *= 2;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MX_ERR_NOMEM;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	if ((c->buckets = calloc(nb, sizeof(*c->buckets))) == NULL) {
		free(c);
		return MX_ERR_NOMEM;
	}
	c->n_buckets = nb;
	c->max = max;
	*out = c;
	return MX_OK;
}

void
verify_cache_free(struct verify_cache *c)
{
	if (c == NULL)
		return;
	for (struct centry *e = c->oldest, *next; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	free(c->buckets);
	free(c);
}

static struct centry **
slot_of(struct verify_cache *c, const char *addr)
{
	struct centry **pp = &c->buckets[addr_hash(addr) & (c->n_buckets - 1)];

	while (*pp != NULL && strcmp((*pp)->addr, addr) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

static void
unlink_order(struct verify_cache *c, struct centry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->oldest = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->newest = e->prev;
	e->prev = e->next = NULL;
}

static void
link_newest(struct verify_cache *c, struct centry *e)
{
	e->prev = c->newest;
	if (c->newest != NULL)
		c->newest->next = e;
	else
		c->oldest = e;
	c->newest = e;
}

static void
drop(struct verify_cache *c, struct centry **pp)
{
	struct centry *e = *pp;

	if (e == NULL)
		return;
	*pp = e->hnext;
	unlink_order(c, e);
	c->n--;
	free(e);
}

enum verify_answer
verify_cache_get(struct verify_cache *c, const char *addr, int64_t now)
{
	struct centry **pp = slot_of(c, addr);

	if (*pp == NULL)
		return VERIFY_UNKNOWN;
	if ((*pp)->expires <= now) {
		drop(c, pp);
		return VERIFY_UNKNOWN;
	}
	return (*pp)->answer;
}

bool
verify_cache_put(
    struct verify_cache *c, const char *addr, enum verify_answer answer, int64_t expires)
{
	struct centry **pp = slot_of(c, addr), *e;
	size_t len = strlen(addr);

	if (*pp != NULL) {
		e = *pp;
		e->answer = answer;
		e->expires = expires;
		unlink_order(c, e);
		link_newest(c, e);
		return true;
	}
	if (c->n >= c->max) {
		drop(c, slot_of(c, c->oldest->addr));
		pp = slot_of(c, addr); /* the chain may have changed */
	}
	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		return false;
	memcpy(e->addr, addr, len + 1);
	e->answer = answer;
	e->expires = expires;
	*pp = e;
	link_newest(c, e);
	c->n++;
	return true;
}

size_t
verify_cache_count(const struct verify_cache *c)
{
	return c->n;
}

void
verify_cache_each(const struct verify_cache *c, verify_cache_each_fn fn, void *arg)
{
	for (const struct centry *e = c->oldest; e != NULL; e = e->next)
		if (!fn(e->addr, e->answer, e->expires, arg))
			return;
}
