/*
 * sts_cache.c - the MTA-STS policy cache file (format in sts_cache.h):
 * the strict parser and writer (pure), and the files under DIR/policy/
 * (durable writes, a bounded number of entries).  It never fetches and
 * never decides which policy is in force (sts.c does).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsdir.h"
#include "sts_cache.h"
#include "strbuf.h"

#define PATH_MAX_LEN 4096
#define FILE_MAX     (HTTPS_GET_BODY_MAX + 1024)

bool
sts_file_name_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n > MX_DOMAIN_MAX || d[0] == '.' || d[0] == '-' || strstr(d, "..") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			c == '_'))
			return false;
	}
	return true;
}

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > STS_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
			(id[i] >= '0' && id[i] <= '9')))
			return false;
	return true;
}

/* "NAME VALUE\n" at *p: the value copied into out (at most size - 1). */
static bool
field(const char **p, const char *end, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *eol;

	if ((size_t)(end - *p) < nl + 1 || memcmp(*p, name, nl) != 0 || (*p)[nl] != ' ')
		return false;
	*p += nl + 1;
	if ((eol = memchr(*p, '\n', (size_t)(end - *p))) == NULL || eol == *p ||
	    (size_t)(eol - *p) >= size || memchr(*p, '\0', (size_t)(eol - *p)) != NULL)
		return false;
	memcpy(out, *p, (size_t)(eol - *p));
	out[eol - *p] = '\0';
	*p = eol + 1;
	return true;
}

/* Decimal, no sign, no leading zero, at most 12 digits (year 33658). */
static bool
number(const char *s, int64_t *out)
{
	size_t n = strlen(s);

	if (n == 0 || n > 12 || (n > 1 && s[0] == '0'))
		return false;
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

static bool
parse_head(const char **p, const char *end, struct sts_cached *out, int64_t *body_len)
{
	char v[MX_DOMAIN_MAX + 2];

	if ((size_t)(end - *p) < sizeof(STS_CACHE_MAGIC) ||
	    memcmp(*p, STS_CACHE_MAGIC "\n", sizeof(STS_CACHE_MAGIC)) != 0)
		return false;
	*p += sizeof(STS_CACHE_MAGIC);
	if (!field(p, end, "domain", out->domain, sizeof(out->domain)) ||
	    !sts_file_name_ok(out->domain) || !field(p, end, "id", out->id, sizeof(out->id)) ||
	    !id_ok(out->id))
		return false;
	if (!field(p, end, "fetched", v, sizeof(v)) || !number(v, &out->fetched) ||
	    !field(p, end, "expires", v, sizeof(v)) || !number(v, &out->expires) ||
	    !field(p, end, "body", v, sizeof(v)) || !number(v, body_len))
		return false;
	return out->expires > out->fetched && out->expires - out->fetched <= MTA_STS_MAX_AGE_MAX &&
	    *body_len > 0 && *body_len <= HTTPS_GET_BODY_MAX;
}

int
sts_cache_parse(const char *data, size_t len, struct sts_cached *out)
{
	const char *p = data, *end;
	struct record_problems pr;
	int64_t body_len;

	memset(out, 0, sizeof(*out));
	if (data == NULL)
		return -1;
	end = data + len; /* only now: NULL + len is undefined */
	if (!parse_head(&p, end, out, &body_len) || (int64_t)(end - p) != body_len)
		return -1;
	memcpy(out->body, p, (size_t)body_len);
	out->body[body_len] = '\0';
	out->body_len = (size_t)body_len;
	memset(&pr, 0, sizeof(pr));
	/* What sts.c stored parsed once; a policy that no longer does is not one. */
	if (mta_sts_policy_parse(out->body, out->body_len, &out->policy, &pr) != 0 ||
	    pr.n_fatal > 0)
		return -1;
	return 0;
}

mx_err
sts_cache_format(const struct sts_cached *e, char **out, size_t *len)
{
	size_t cap = e->body_len + 512;
	char *buf;
	int n;

	*out = NULL;
	if (!sts_file_name_ok(e->domain) || !id_ok(e->id) || e->expires <= e->fetched ||
	    e->fetched < 0 || e->body_len == 0 || e->body_len > HTTPS_GET_BODY_MAX)
		return MX_ERR_INVALID;
	if ((buf = malloc(cap)) == NULL)
		return MX_ERR_NOMEM;
	n = snprintf(buf, cap,
	    STS_CACHE_MAGIC "\ndomain %s\nid %s\nfetched %" PRId64 "\nexpires %" PRId64
			    "\nbody %zu\n",
	    e->domain, e->id, e->fetched, e->expires, e->body_len);
	if (n < 0 || (size_t)n + e->body_len > cap) {
		free(buf);
		return MX_ERR_INVALID;
	}
	memcpy(buf + n, e->body, e->body_len);
	*out = buf;
	*len = (size_t)n + e->body_len;
	return MX_OK;
}

static bool
path_of(char *out, size_t size, const char *dir, const char *name)
{
	struct strbuf sb;

	strbuf_init(&sb, out, size);
	strbuf_printf(&sb, "%s/policy%s%s", dir, name ? "/" : "", name ? name : "");
	return !sb.truncated;
}

mx_err
sts_cache_load(const char *dir, const char *domain, struct sts_cached *out)
{
	char path[PATH_MAX_LEN], *buf = NULL;
	ssize_t n;
	int fd = -1;
	mx_err err = MX_ERR_SYSTEM;

	if (!sts_file_name_ok(domain) || !path_of(path, sizeof(path), dir, domain))
		return MX_ERR_BAD_DOMAIN;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		goto out;
	err = MX_ERR_NOMEM;
	if ((buf = malloc(FILE_MAX + 1)) == NULL)
		goto out;
	err = MX_ERR_SYSTEM;
	/* One read of at most FILE_MAX + 1: a longer file is not ours. */
	if ((n = read(fd, buf, FILE_MAX + 1)) < 0)
		goto out;
	err = MX_ERR_BAD_DOMAIN;
	if ((size_t)n <= FILE_MAX && sts_cache_parse(buf, (size_t)n, out) == 0 &&
	    strcmp(out->domain, domain) == 0)
		err = MX_OK;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

/* mkdir DIR, then DIR/sub (0700); an existing one is fine. */
static bool
make_dirs(const char *dir, const char *sub)
{
	char path[PATH_MAX_LEN];
	struct strbuf sb;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return false;
	strbuf_init(&sb, path, sizeof(path));
	strbuf_printf(&sb, "%s/%s", dir, sub);
	return !sb.truncated && (mkdir(path, 0700) == 0 || errno == EEXIST);
}

static bool
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

mx_err
sts_write_durably(const char *dirpath, const char *name, const char *data, size_t len)
{
	char tmp[PATH_MAX_LEN], path[PATH_MAX_LEN];
	struct strbuf a, b;
	int fd;
	bool ok;

	strbuf_init(&a, tmp, sizeof(tmp));
	strbuf_printf(&a, "%s/.%s.tmp.%ld", dirpath, name, (long)getpid());
	strbuf_init(&b, path, sizeof(path));
	strbuf_printf(&b, "%s/%s", dirpath, name);
	if (a.truncated || b.truncated)
		return MX_ERR_INVALID;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return MX_ERR_SYSTEM;
	ok = write_all(fd, data, len) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return MX_ERR_SYSTEM;
	}
	return fsdir_sync(dirpath) ? MX_OK : MX_ERR_SYSTEM;
}

/* Whether the named entry has expired (or is not a cache file at all). */
static bool
stale(const char *dir, const char *name, int64_t now, struct sts_cached *scratch)
{
	mx_err err = sts_cache_load(dir, name, scratch);

	return err == MX_ERR_BAD_DOMAIN || (err == MX_OK && scratch->expires <= now);
}

/* Entries under DIR/policy, expired ones removed when at the cap. */
static size_t
prune(const char *dir, const char *dirpath, int64_t now)
{
	struct sts_cached *scratch = malloc(sizeof(*scratch));
	DIR *d = opendir(dirpath);
	struct dirent *de;
	size_t n = 0;

	while (d != NULL && scratch != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (stale(dir, de->d_name, now, scratch) && unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		n++;
	}
	if (d != NULL)
		closedir(d);
	free(scratch);
	return scratch == NULL ? SIZE_MAX : n;
}

static size_t
count_entries(const char *dirpath)
{
	DIR *d = opendir(dirpath);
	struct dirent *de;
	size_t n = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

mx_err
sts_cache_store(const char *dir, const struct sts_cached *e, int64_t now)
{
	char dirpath[PATH_MAX_LEN], path[PATH_MAX_LEN], *text = NULL;
	size_t len;
	mx_err err;

	if (!make_dirs(dir, "policy") || !path_of(dirpath, sizeof(dirpath), dir, NULL) ||
	    !path_of(path, sizeof(path), dir, e->domain))
		return MX_ERR_SYSTEM;
	if ((err = sts_cache_format(e, &text, &len)) != MX_OK)
		return err;
	/* Bounded: a new domain beyond the cap only after expired ones went. */
	if (access(path, F_OK) != 0 && count_entries(dirpath) >= STS_CACHE_ENTRIES_MAX &&
	    prune(dir, dirpath, now) >= STS_CACHE_ENTRIES_MAX) {
		free(text);
		return MX_ERR_SYSTEM;
	}
	err = sts_write_durably(dirpath, e->domain, text, len);
	free(text);
	return err;
}
