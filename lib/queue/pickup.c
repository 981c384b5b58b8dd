/*
 * pickup.c - drop/ into queue/ (see pickup.h).  Every stored file is
 * untrusted input: it was written by mx-drop on behalf of any local user,
 * so it is opened without following symlinks, must be a regular file
 * owned by the uid its header names, is parsed by drop.c's strict parser
 * and its data checked as wire form.  Ordering that keeps "nothing
 * accepted is lost": the drop file is unlinked only after spool_enqueue
 * reported the entry durable; a crash in between gives a duplicate.
 * Never delivers, never prints (lines go to the caller's log function).
 */
#include "pickup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "drop.h"
#include "payload.h"
#include "strbuf.h"

#define SCAN_MAX  65536 /* octets of the message header read to see its fields */
#define ADDED_MAX 4096  /* octets of the fields pickup puts on top */

struct one {
	struct pickup_ctx *c;
	int dirfd, fd;
	const char *name;
	struct drop_request r;
	size_t hlen;
	char login[64], sender[SPOOL_ADDRESS_MAX + 1], fullname[256];
	char **rcpts; /* expanded and qualified (aliases.c) */
	size_t n_rcpts;
	char added[ADDED_MAX];
	size_t added_len;
};

static void plog(struct pickup_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
plog(struct pickup_ctx *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (c->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->log(line, c->log_arg);
}

void
pickup_host_fqdn(char *out, size_t size)
{
	struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *ai = NULL;
	char host[256] = "localhost";

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai->ai_canonname != NULL &&
	    strchr(ai->ai_canonname, '.') != NULL)
		snprintf(out, size, "%s", ai->ai_canonname);
	else
		snprintf(out, size, "%s", host);
	if (ai != NULL)
		freeaddrinfo(ai);
}

/* One expanded recipient, unless an earlier one is the same (case aside). */
static mx_err
add_rcpt(struct one *o, const char *addr, size_t *cap)
{
	for (size_t i = 0; i < o->n_rcpts; i++)
		if (strcasecmp(o->rcpts[i], addr) == 0)
			return MX_OK;
	if (o->n_rcpts == SPOOL_RCPTS_MAX)
		return MX_ERR_BAD_DOMAIN;
	if (o->n_rcpts == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **grown = realloc(o->rcpts, ncap * sizeof(char *));

		if (grown == NULL)
			return MX_ERR_NOMEM;
		o->rcpts = grown;
		*cap = ncap;
	}
	if ((o->rcpts[o->n_rcpts] = strdup(addr)) == NULL)
		return MX_ERR_NOMEM;
	o->n_rcpts++;
	return MX_OK;
}

/*
 * The request's recipients through the alias file and qualified with the
 * origin (aliases_expand; no alias file: qualification only), deduplicated
 * across recipients.  A recipient whose aliases lead nowhere deliverable
 * (only pipes, files or :include:) is dropped with a log line; *why when
 * none is left at all.
 */
static mx_err
expand_rcpts(struct one *o, const char **why)
{
	size_t cap = 0;

	for (size_t i = 0; i < o->r.rcpt_n; i++) {
		char **list = NULL, refused[512] = "";
		size_t n = 0;
		mx_err err = aliases_expand(
		    o->c->aliases, o->c->origin, o->r.rcpt[i], &list, &n, refused, sizeof(refused));

		if (refused[0] != '\0')
			plog(o->c, "%s: recipient <%s>: %s", o->name, o->r.rcpt[i], refused);
		if (err == MX_ERR_NOMEM)
			return err;
		for (size_t j = 0; j < n && err == MX_OK; j++)
			err = add_rcpt(o, list[j], &cap);
		aliases_list_free(list, n);
		if (err != MX_OK)
			return err;
	}
	*why = "no recipient is left once aliases are expanded";
	return o->n_rcpts > 0 ? MX_OK : MX_ERR_BAD_DOMAIN;
}

/* Moves the file to corrupt/drop.NAME (a file there is never lost), with
 * a log line saying why; when even that fails it stays and is retried. */
static void
quarantine(struct pickup_ctx *c, int dirfd, const char *name, const char *why)
{
	char path[4096], to[300];
	int cfd;

	snprintf(path, sizeof(path), "%s/corrupt", c->spool_dir);
	snprintf(to, sizeof(to), "drop.%s", name);
	cfd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd >= 0 && renameat(dirfd, name, cfd, to) == 0) {
		fsync(dirfd);
		plog(c, "%s: drop file moved to corrupt/%s: %s", name, to, why);
		c->st.corrupt++;
	} else {
		plog(c, "%s: bad drop file left in drop/ (cannot move it to corrupt/: %s): %s",
		    name, strerror(errno), why);
		c->st.failed++;
	}
	if (cfd >= 0)
		close(cfd);
}

/* The stored header (read whole, capped) parsed, and the file's size and
 * owner checked against it; why says what is wrong. */
static bool
read_stored(struct one *o, const struct stat *st, char *why, size_t why_size)
{
	size_t cap = (size_t)st->st_size < DROP_HEADER_MAX ? (size_t)st->st_size : DROP_HEADER_MAX;
	char *buf = malloc(cap + 1);
	ssize_t got = buf ? pread(o->fd, buf, cap, 0) : -1;
	bool ok = false;

	if (got < 0 || (size_t)got != cap) {
		snprintf(why, why_size, "cannot read it: %s", got < 0 ? strerror(errno) : "short");
		goto out;
	}
	if (drop_header_parse(buf, cap, true, &o->r, &o->hlen, why, why_size) != MX_OK)
		goto out;
	if ((uint64_t)st->st_size != (uint64_t)o->hlen + o->r.size)
		snprintf(why, why_size, "its size is not its header's plus %zu octets of data",
		    o->r.size);
	else if (st->st_uid != o->r.uid)
		snprintf(why, why_size, "owned by uid %u but its header says uid %u",
		    (unsigned)st->st_uid, (unsigned)o->r.uid);
	else
		ok = true;
out:
	free(buf);
	return ok;
}

/* The data read through once, checked as wire form, and what its header
 * has of Date, Message-ID and From. */
static bool
check_data(struct one *o, bool *date, bool *msgid, bool *from, char *why, size_t why_size)
{
	struct drop_data_check chk = { 0 };
	char *buf = malloc(PAYLOAD_CHUNK + 1);
	size_t pos = 0, seen = 0;
	bool ok = false, in_header = true;

	*date = *msgid = *from = false;
	while (buf != NULL && pos < o->r.size) {
		size_t want = o->r.size - pos < PAYLOAD_CHUNK ? o->r.size - pos : PAYLOAD_CHUNK;
		ssize_t got = pread(o->fd, buf, want, (off_t)(o->hlen + pos));
		if (got <= 0) {
			snprintf(why, why_size, "cannot read its data");
			goto out;
		}
		if (drop_data_feed(&chk, (uint8_t *)buf, (size_t)got, why, why_size) != MX_OK)
			goto out;
		for (size_t i = 0; in_header && i < (size_t)got && seen < SCAN_MAX; i++, seen++) {
			bool bol = pos + i == 0 || (i > 0 && buf[i - 1] == '\n');
			const char *s = buf + i;
			size_t left = (size_t)got - i;
			if (!bol)
				continue;
			if (left >= 2 && s[0] == '\r' && s[1] == '\n')
				in_header = false;
			*date |= left >= 5 && strncasecmp(s, "Date:", 5) == 0;
			*msgid |= left >= 11 && strncasecmp(s, "Message-ID:", 11) == 0;
			*from |= left >= 5 && strncasecmp(s, "From:", 5) == 0;
		}
		pos += (size_t)got;
	}
	ok = buf != NULL && drop_data_end(&chk, why, why_size) == MX_OK;
out:
	free(buf);
	return ok;
}

/* RFC 5322 date in local time with its offset, C-locale names. */
static void
date_text(time_t t, char out[64])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
	    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* The submitter's login, full name (GECOS up to the first comma) and,
 * without -f, the sender LOGIN@ORIGIN. */
static void
who(struct one *o)
{
	struct passwd *pw = getpwuid(o->r.uid);

	if (pw != NULL && strlen(pw->pw_name) < sizeof(o->login)) {
		snprintf(o->login, sizeof(o->login), "%s", pw->pw_name);
		snprintf(o->fullname, sizeof(o->fullname), "%.*s",
		    (int)strcspn(pw->pw_gecos ? pw->pw_gecos : "", ","),
		    pw->pw_gecos ? pw->pw_gecos : "");
	} else {
		snprintf(o->login, sizeof(o->login), "uid%u", (unsigned)o->r.uid);
	}
	if (o->r.name != NULL)
		snprintf(o->fullname, sizeof(o->fullname), "%s", o->r.name);
	if (o->r.sender == NULL || !o->r.sender_set)
		snprintf(o->sender, sizeof(o->sender), "%s@%s", o->login, o->c->origin);
	else if (o->r.sender[0] != '\0' && strchr(o->r.sender, '@') == NULL)
		snprintf(o->sender, sizeof(o->sender), "%s@%s", o->r.sender, o->c->origin);
	else
		snprintf(o->sender, sizeof(o->sender), "%s", o->r.sender);
}

/* A quoted-string of the full name: quotes and backslashes escaped,
 * control bytes (a GECOS field is the user's to set) left out. */
static void
add_quoted(struct strbuf *sb, const char *s)
{
	strbuf_addc(sb, '"');
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			continue;
		if (*s == '"' || *s == '\\')
			strbuf_addc(sb, '\\');
		strbuf_addc(sb, *s);
	}
	strbuf_addc(sb, '"');
}

static bool
message_id(char out[400], const char *host, time_t now)
{
	uint64_t rnd;
	struct tm tm;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return false;
	gmtime_r(&now, &tm);
	snprintf(out, 400, "<%04d%02d%02d%02d%02d%02d.%016llx@%s>", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned long long)rnd,
	    host);
	return true;
}

/* Received, the warning when due, and what the header lacks; sendmail's
 * rule for the warning: a submitter other than root who set a sender
 * that is not LOGIN@ORIGIN. */
static bool
add_fields(struct one *o, const char *host, bool date, bool msgid, bool from)
{
	struct strbuf sb;
	char when[64], mid[400], self[SPOOL_ADDRESS_MAX + 1];
	time_t now = time(NULL);

	strbuf_init(&sb, o->added, sizeof(o->added));
	date_text(now, when);
	strbuf_printf(&sb, "Received: by %s (mx, from userid %u);\r\n\t%s\r\n", host,
	    (unsigned)o->r.uid, when);
	snprintf(self, sizeof(self), "%s@%s", o->login, o->c->origin);
	if (o->r.uid != 0 && o->r.sender_set && strcasecmp(o->sender, self) != 0)
		strbuf_printf(&sb, "X-Authentication-Warning: %s: %s set sender to %s using -f\r\n",
		    host, o->login, o->sender[0] ? o->sender : "<>");
	date_text(o->r.time, when);
	if (!date)
		strbuf_printf(&sb, "Date: %s\r\n", when);
	if (!msgid && message_id(mid, host, now))
		strbuf_printf(&sb, "Message-ID: %s\r\n", mid);
	if (!from) {
		strbuf_add(&sb, "From: ");
		if (o->fullname[0] != '\0') {
			add_quoted(&sb, o->fullname);
			strbuf_addc(&sb, ' ');
		}
		strbuf_printf(&sb, "<%s>\r\n", o->sender[0] ? o->sender : self);
	}
	o->added_len = sb.len;
	return !sb.truncated;
}

static bool
lengths_ok(const struct one *o)
{
	for (size_t i = 0; i < o->n_rcpts; i++)
		if (strlen(o->rcpts[i]) > SPOOL_ADDRESS_MAX)
			return false;
	return strlen(o->sender) < SPOOL_ADDRESS_MAX;
}

/* The entry: the added fields, then the drop file's data from its fd. */
static mx_err
enqueue(struct one *o, char id[SPOOL_ID_MAX + 1], const char **why)
{
	struct payload data;
	mx_err err;

	if ((err = expand_rcpts(o, why)) != MX_OK)
		return err;
	if (!lengths_ok(o)) {
		*why = "an address is longer than 320 octets";
		return MX_ERR_BAD_DOMAIN;
	}
	err = payload_init(
	    &data, (const uint8_t *)o->added, o->added_len, o->fd, (off_t)o->hlen, o->r.size);
	if (err != MX_OK)
		return err;
	struct spool_entry e = { .len = payload_len(&data),
		.payload = &data,
		.no_bounce = o->r.error_mode == DROP_ERRMODE_Q };
	snprintf(e.sender, sizeof(e.sender), "%s", o->sender);
	if ((e.rcpts = calloc(o->n_rcpts, sizeof(*e.rcpts))) == NULL) {
		payload_clear(&data);
		return MX_ERR_NOMEM;
	}
	e.n_rcpts = o->n_rcpts;
	for (size_t i = 0; i < o->n_rcpts; i++)
		snprintf(e.rcpts[i].address, sizeof(e.rcpts[i].address), "%s", o->rcpts[i]);
	err = spool_enqueue_entry(o->c->sp, &e, id, SPOOL_ID_MAX + 1, why);
	free(e.rcpts);
	payload_clear(&data);
	return err;
}

static void
one_free(struct one *o)
{
	for (size_t i = 0; o->rcpts != NULL && i < o->n_rcpts; i++)
		free(o->rcpts[i]);
	free(o->rcpts);
	drop_request_clear(&o->r);
	if (o->fd >= 0)
		close(o->fd);
}

/* The file checked, queued, then unlinked; a bad one quarantined. */
static void
pick_checked(struct one *o, const char *host)
{
	char id[SPOOL_ID_MAX + 1], why[256];
	const char *ewhy = "";
	bool date, msgid, from;
	mx_err err;

	if (!check_data(o, &date, &msgid, &from, why, sizeof(why))) {
		quarantine(o->c, o->dirfd, o->name, why);
		return;
	}
	who(o);
	if (!add_fields(o, host, date, msgid, from)) {
		quarantine(o->c, o->dirfd, o->name, "the added header fields do not fit");
		return;
	}
	err = enqueue(o, id, &ewhy);
	if (err == MX_ERR_BAD_DOMAIN) {
		quarantine(o->c, o->dirfd, o->name, ewhy);
		return;
	}
	if (err != MX_OK) { /* disk full, say: the file stays for the next pass */
		plog(o->c, "%s: cannot queue the drop file (left for the next pass): %s", o->name,
		    ewhy);
		o->c->st.failed++;
		return;
	}
	if (unlinkat(o->dirfd, o->name, 0) < 0 || fsync(o->dirfd) < 0)
		plog(o->c,
		    "%s: queued as %s but not removed from drop/ (%s): it will be "
		    "queued twice",
		    o->name, id, strerror(errno));
	o->c->st.picked++;
	/* Postfix's pickup line; the "(queue active)" line with size and nrcpt
	 * is the scheduler's (the daemon's when it learns the entry, a queue
	 * run's when it delivers it), as Postfix's qmgr logs it. */
	plog(o->c, "%s: uid=%u from=<%s>", id, (unsigned)o->r.uid, o->sender);
}

/* Opens, locks (mx-drop holds its lock until it has synced: a locked
 * file is not finished) and checks one drop file. */
static void
pick_one(struct pickup_ctx *c, int dirfd, const char *name, const char *host)
{
	struct one o = { .c = c, .dirfd = dirfd, .name = name };
	struct stat st;
	char why[256];

	o.fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (o.fd < 0) {
		if (errno != ENOENT)
			quarantine(
			    c, dirfd, name, errno == ELOOP ? "a symbolic link" : strerror(errno));
		return;
	}
	if (flock(o.fd, LOCK_EX | LOCK_NB) < 0) {
		c->st.busy++;
		goto out;
	}
	if (fstat(o.fd, &st) < 0 || st.st_nlink == 0) /* another pickup took it */
		goto out;
	if (!S_ISREG(st.st_mode))
		quarantine(c, dirfd, name, "not a regular file");
	else if (!read_stored(&o, &st, why, sizeof(why)))
		quarantine(c, dirfd, name, why);
	else
		pick_checked(&o, host);
out:
	one_free(&o);
}

/* tmp.* of an mx-drop that died: unlocked and older than tmp_age. */
static void
clean_tmp(struct pickup_ctx *c, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && time(NULL) - st.st_mtime >= (time_t)c->tmp_age &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dirfd, name, 0) == 0) {
		c->st.cleaned++;
		plog(c, "%s: removed from drop/: left by an mx-drop that did not finish", name);
	}
	close(fd);
}

static bool
is_drop_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SPOOL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

mx_err
pickup_run(struct pickup_ctx *c, char *why, size_t why_size)
{
	char path[4096], host[256];
	struct dirent *de;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "%s/drop", c->spool_dir);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return MX_OK; /* no local submission set up here */
		snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
		return MX_ERR_SYSTEM;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
		return MX_ERR_SYSTEM;
	}
	if (c->tmp_age == 0)
		c->tmp_age = PICKUP_TMP_AGE;
	pickup_host_fqdn(host, sizeof(host));
	if (c->origin == NULL)
		c->origin = host;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, "tmp.", 4) == 0)
			clean_tmp(c, dirfd(d), de->d_name);
		else if (is_drop_name(de->d_name))
			pick_one(c, dirfd(d), de->d_name, host);
		else
			quarantine(c, dirfd(d), de->d_name, "not a name mx-drop gives");
	}
	if (c->origin == host)
		c->origin = NULL;
	closedir(d);
	return MX_OK;
}
