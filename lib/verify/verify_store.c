/*
 * verify_store.c - the verification answers' file (format in
 * verify_store.h): the strict line reader and the writer over a stdio
 * stream (pure but for the stream: the fuzz target gives a memory one),
 * and the file under SPOOL/private/ (trusted only when this user's and
 * writable by it alone; written durably).  It never asks a better host
 * and never decides what an answer means for a client.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsdir.h"
#include "address.h"
#include "strbuf.h"
#include "verify_store.h"
#include "why.h"

#define PATH_LEN 4096

enum { LINE_EOF = -1, LINE_LONG = -2, LINE_CUT = -3, LINE_ERR = -4 };

/* One line of f into buf, its LF dropped and a NUL put after it: its
 * length, or one of LINE_*.  Never more than size - 1 octets kept; NUL
 * octets are kept (the line's reader refuses them). */
static long
read_line(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF) {
		if (ch == '\n') {
			buf[n] = '\0';
			return (long)n;
		}
		if (n + 1 >= size)
			return LINE_LONG;
		buf[n++] = (char)ch;
	}
	if (ferror(f))
		return LINE_ERR;
	return n == 0 ? LINE_EOF : LINE_CUT;
}

/* Decimal seconds, 1 to INT64_MAX, no sign, no leading zero. */
static bool
seconds(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 19 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* The form the server keeps an address in (server_conn.c has it from
 * relay_judge: "local@domain" out of address_parse), and no other
 * spelling of it: no control octets, at most 320 octets. */
static bool
address_ok(const char *addr, size_t len)
{
	struct address a;
	char again[2 * (ADDRESS_LOCAL_MAX + MX_DOMAIN_MAX)];
	struct strbuf sb;

	if (len < 3 || len > 320)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)addr[i] < 0x20 || addr[i] == 0x7f)
			return false;
	if (address_parse_bytes(addr, len, ADDRESS_RECIPIENT, &a, NULL) != MX_OK ||
	    a.domain[0] == '\0')
		return false;
	strbuf_init(&sb, again, sizeof(again));
	strbuf_printf(&sb, "%s@%s", a.local, a.domain);
	return !sb.truncated && strlen(again) == len && memcmp(again, addr, len) == 0;
}

static const char *
answer_word(enum verify_answer a)
{
	return a == VERIFY_ACCEPTED ? "accepted" : a == VERIFY_REFUSED ? "refused" : NULL;
}

/* "EXPIRES ANSWER ADDRESS" (len octets): NULL, or what is wrong. */
static const char *
parse_entry(
    const char *line, size_t len, int64_t *expires, enum verify_answer *answer, const char **addr)
{
	const char *sp1 = memchr(line, ' ', len), *sp2, *end = line + len;

	if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL)
		return "is not EXPIRES ANSWER ADDRESS";
	if (!seconds(line, (size_t)(sp1 - line), expires))
		return "its expiry is not a number of seconds";
	if ((size_t)(sp2 - sp1 - 1) == 8 && memcmp(sp1 + 1, "accepted", 8) == 0)
		*answer = VERIFY_ACCEPTED;
	else if ((size_t)(sp2 - sp1 - 1) == 7 && memcmp(sp1 + 1, "refused", 7) == 0)
		*answer = VERIFY_REFUSED;
	else
		return "its answer is neither accepted nor refused";
	*addr = sp2 + 1;
	if (!address_ok(*addr, (size_t)(end - *addr)))
		return "its address is not one the server keeps (local@domain, 320 octets "
		       "at most, no control octets)";
	return NULL;
}

/* The first line: the format and its version. */
static mx_err
read_head(FILE *f, mx_why *why)
{
	char line[VERIFY_STORE_LINE_MAX + 1];
	long n = read_line(f, line, sizeof(line));
	size_t magic = strlen(VERIFY_STORE_MAGIC);

	if (n == LINE_ERR)
		return why_set(why, MX_ERR_SYSTEM, "cannot be read: %s", strerror(errno));
	if (n >= 0 && strcmp(line, VERIFY_STORE_MAGIC " 1") == 0 && (size_t)n == magic + 2)
		return MX_OK;
	if (n > 0 && (size_t)n > magic + 1 && memcmp(line, VERIFY_STORE_MAGIC " ", magic + 1) == 0)
		return why_set(why, MX_ERR_CORRUPT,
		    "line 1: format version \"%.20s\" is not one this mx reads (1)",
		    line + magic + 1);
	return why_set(why, MX_ERR_CORRUPT,
	    "line 1: not an mx verification cache (no \"" VERIFY_STORE_MAGIC " 1\" line first)");
}

/* One answer read: ended, of a domain not wanted, or kept (cut down to
 * the TTL of its kind from now). */
static mx_err
take(const struct verify_store_limits *l, struct verify_cache *cache, const char *addr,
    enum verify_answer answer, int64_t expires, struct verify_store_counts *counts)
{
	int64_t most = l->now + (answer == VERIFY_ACCEPTED ? l->positive_ttl : l->negative_ttl);

	if (expires > most)
		expires = most;
	if (expires <= l->now) {
		counts->expired++;
		return MX_OK;
	}
	if (l->keep != NULL && !l->keep(addr, l->arg)) {
		counts->dropped++;
		return MX_OK;
	}
	return verify_cache_put(cache, addr, answer, expires) ? MX_OK : MX_ERR_NOMEM;
}

static mx_err
line_fault(mx_why *why, long n, size_t lineno)
{
	if (n == LINE_ERR)
		return why_set(why, MX_ERR_SYSTEM, "cannot be read: %s", strerror(errno));
	if (n == LINE_LONG)
		return why_set(why, MX_ERR_CORRUPT, "line %zu: longer than %d octets", lineno,
		    VERIFY_STORE_LINE_MAX);
	return why_set(
	    why, MX_ERR_CORRUPT, "line %zu: the file ends inside it (no line feed)", lineno);
}

mx_err
verify_store_read(FILE *f, const struct verify_store_limits *l, struct verify_cache *cache,
    struct verify_store_counts *counts, mx_why *why)
{
	char line[VERIFY_STORE_LINE_MAX + 1];
	const char *bad, *addr;
	enum verify_answer answer;
	int64_t expires;
	size_t lineno = 1;
	long n;
	mx_err err;

	why_clear(why);
	*counts = (struct verify_store_counts){ 0 };
	if ((err = read_head(f, why)) != MX_OK)
		return err;
	while ((n = read_line(f, line, sizeof(line))) != LINE_EOF) {
		lineno++;
		if (n < 0)
			return line_fault(why, n, lineno);
		if ((bad = parse_entry(line, (size_t)n, &expires, &answer, &addr)) != NULL)
			return why_set(why, MX_ERR_CORRUPT, "line %zu: %s", lineno, bad);
		if ((err = take(l, cache, addr, answer, expires, counts)) != MX_OK)
			return why_set(why, err, "line %zu: out of memory", lineno);
	}
	counts->kept = verify_cache_count(cache);
	return MX_OK;
}

struct writing {
	FILE *f;
	int64_t now;
	size_t n;
	bool failed;
};

static bool
write_one(const char *addr, enum verify_answer answer, int64_t expires, void *arg)
{
	struct writing *w = arg;
	const char *word = answer_word(answer);

	/* What the reader would refuse is left out: one odd answer must not
	 * cost the whole file at the next start. */
	if (expires <= w->now || word == NULL || !address_ok(addr, strlen(addr)))
		return true;
	if (fprintf(w->f, "%" PRId64 " %s %s\n", expires, word, addr) < 0) {
		w->failed = true;
		return false;
	}
	w->n++;
	return true;
}

mx_err
verify_store_write(FILE *f, const struct verify_cache *cache, int64_t now, size_t *n)
{
	struct writing w = { .f = f, .now = now };

	if (fprintf(f, VERIFY_STORE_MAGIC " 1\n") < 0)
		return MX_ERR_SYSTEM;
	verify_cache_each(cache, write_one, &w);
	if (n != NULL)
		*n = w.n;
	return w.failed ? MX_ERR_SYSTEM : MX_OK;
}

/* ---- the file ----------------------------------------------------------------- */

static bool
path_of(char *out, const char *spool, const char *name)
{
	struct strbuf sb;

	strbuf_init(&sb, out, PATH_LEN);
	strbuf_printf(&sb, "%s/" VERIFY_STORE_DIR "%s%s", spool, name ? "/" : "", name ? name : "");
	return !sb.truncated;
}

/* Written by this user and no one else, or not trusted at all. */
static mx_err
trusted(int fd, mx_why *why)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return why_set(why, MX_ERR_SYSTEM, "cannot be read: %s", strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return why_set(why, MX_ERR_CONFIG,
		    "not trusted: not a regular file of uid %ld writable by it alone "
		    "(owner uid %ld, mode %04o)",
		    (long)geteuid(), (long)st.st_uid, (unsigned)(st.st_mode & 07777));
	return MX_OK;
}

/* The file's answers into cache; a missing file is none. */
static mx_err
load_into(const char *path, const struct verify_store_limits *l, struct verify_cache *cache,
    struct verify_store_counts *counts, mx_why *why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	FILE *f;
	mx_err err;

	if (fd < 0 && errno == ENOENT)
		return MX_OK;
	if (fd < 0)
		return why_set(why, errno == ELOOP ? MX_ERR_CONFIG : MX_ERR_SYSTEM,
		    "cannot be opened: %s", errno == ELOOP ? "a symbolic link" : strerror(errno));
	if ((err = trusted(fd, why)) != MX_OK) {
		close(fd);
		return err;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return why_set(why, MX_ERR_NOMEM, "out of memory to read it");
	}
	err = verify_store_read(f, l, cache, counts, why);
	fclose(f);
	return err;
}

mx_err
verify_store_load(const char *spool, size_t max, const struct verify_store_limits *l,
    struct verify_cache **out, struct verify_store_counts *counts, mx_why *why)
{
	char path[PATH_LEN], bad[PATH_LEN];
	mx_why fault;
	mx_err err;

	why_clear(why);
	*counts = (struct verify_store_counts){ 0 };
	if ((err = verify_cache_new(max, out)) != MX_OK)
		return why_set(why, err, "out of memory for %zu answers", max);
	if (!path_of(path, spool, VERIFY_STORE_FILE) ||
	    !path_of(bad, spool, VERIFY_STORE_FILE ".bad"))
		return why_set(why, MX_ERR_INVALID, "%.300s: the spool's path is too long", spool);
	if ((err = load_into(path, l, *out, counts, &fault)) == MX_OK)
		return MX_OK;
	/* Nothing of a file that is not read whole is kept. */
	verify_cache_free(*out);
	*counts = (struct verify_store_counts){ 0 };
	if (verify_cache_new(max, out) != MX_OK)
		return why_set(why, MX_ERR_NOMEM, "out of memory for %zu answers", max);
	if (err == MX_ERR_CORRUPT && rename(path, bad) == 0)
		return why_set(
		    why, err, "%.300s: %s (kept as %s.bad)", path, fault.text, VERIFY_STORE_FILE);
	return why_set(why, err, "%.300s: %s", path, fault.text);
}

/* The text into tmp, synced; errno says why not. */
static bool
write_tmp(const char *tmp, const struct verify_cache *cache, int64_t now, size_t *n)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f;
	bool ok;

	if (fd < 0)
		return false;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return false;
	}
	ok = verify_store_write(f, cache, now, n) == MX_OK && fflush(f) == 0 && fsync(fd) == 0;
	ok = fclose(f) == 0 && ok;
	return ok;
}

mx_err
verify_store_save(
    const char *spool, const struct verify_cache *cache, int64_t now, size_t *n, mx_why *why)
{
	char dir[PATH_LEN], tmp[PATH_LEN], path[PATH_LEN];

	why_clear(why);
	/* One name, not one per process: one daemon owns a spool, and what a
	 * kill during a save leaves is truncated by the next save. */
	if (!path_of(tmp, spool, "." VERIFY_STORE_FILE ".tmp") || !path_of(dir, spool, NULL) ||
	    !path_of(path, spool, VERIFY_STORE_FILE))
		return why_set(why, MX_ERR_INVALID, "%.300s: the spool's path is too long", spool);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return why_set(why, MX_ERR_SYSTEM, "%.300s: %s", dir, strerror(errno));
	errno = 0;
	if (!write_tmp(tmp, cache, now, n) || rename(tmp, path) != 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return why_set(why, MX_ERR_SYSTEM, "%.300s: %s", tmp, strerror(e));
	}
	if (!fsdir_sync(dir))
		return why_set(why, MX_ERR_SYSTEM, "%.300s: fsync: %s", dir, strerror(errno));
	return MX_OK;
}
