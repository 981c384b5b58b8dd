/*
 * drop.c - the drop request and its stored form: a strict, bounded parser
 * of the header (untrusted: any local user writes the request, and the
 * stored file sits in a directory users write into), the writer that
 * builds a header only from a parsed struct, the wire-form check of the
 * data, and drop_submit, which runs mx-drop.  Never opens a file by name,
 * never touches the queue, never prints.
 */
#include "drop.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strbuf.h"

#define EX_TEMPFAIL_CODE 75

static void
say(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_size, fmt, ap);
	va_end(ap);
}

void
drop_request_clear(struct drop_request *r)
{
	if (r == NULL)
		return;
	free(r->sender);
	free(r->name);
	free(r->envid);
	free(r->notify);
	for (size_t i = 0; i < r->rcpt_n; i++)
		free(r->rcpt[i]);
	free(r->rcpt);
	memset(r, 0, sizeof(*r));
}

size_t
drop_header_end(const char *buf, size_t len)
{
	if (len >= 1 && buf[0] == '\n')
		return 1;
	for (size_t i = 1; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\n')
			return i + 1;
	return 0;
}

/* The length of the UTF-8 sequence led by c, 0 when c cannot lead one. */
static size_t
utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Printable UTF-8: no C0 or C1 control, no DEL, well-formed sequences
 * (overlong and surrogate forms are left to the address parser: they are
 * harmless here, where the value is only carried). */
static bool
value_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(s[i]);
		if (k == 0 || i + k > n || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f)))
			return false;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		if (k == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) /* U+0080..U+009F */
			return false;
		i += k;
	}
	return true;
}

/* A decimal number without sign or leading zero, at most max. */
static bool
number(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static char *
copy(const char *s, size_t n)
{
	char *c = malloc(n + 1);

	if (c != NULL) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

/* One of words, separated by '|': its index, or -1. */
static int
one_of(const char *v, size_t n, const char *const *words)
{
	for (int i = 0; words[i] != NULL; i++)
		if (strlen(words[i]) == n && memcmp(words[i], v, n) == 0)
			return i;
	return -1;
}

/* "never", or one or more of success, failure, delay joined by commas. */
static bool
notify_ok(const char *v, size_t n)
{
	static const char *const words[] = { "success", "failure", "delay", NULL };
	size_t start = 0;

	if (n == 5 && memcmp(v, "never", 5) == 0)
		return true;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != ',')
			continue;
		if (one_of(v + start, i - start, words) < 0)
			return false;
		start = i + 1;
	}
	return true;
}

/* Parser state: which keys were seen (each at most once but rcpt). */
enum { K_SENDER, K_SENDER_SET, K_NAME, K_ERR, K_RET, K_ENVID, K_NOTIFY, K_BODY, K_SIZE, K_N };

static const char *const key_names[] = { "sender", "sender-set", "name", "error-mode", "ret",
	"envid", "notify", "body", "size", NULL };

static mx_err
set_text(char **field, const char *v, size_t n)
{
	return (*field = copy(v, n)) == NULL ? MX_ERR_NOMEM : MX_OK;
}

/* One "rcpt" line: the only key that may come more than once. */
static mx_err
take_rcpt(struct drop_request *r, const char *v, size_t n, const char **why)
{
	*why = "too many or empty rcpt lines";
	if (n == 0 || r->rcpt_n >= DROP_RCPT_MAX)
		return MX_ERR_BAD_DOMAIN;
	if (r->rcpt == NULL && (r->rcpt = calloc(DROP_RCPT_MAX, sizeof(char *))) == NULL)
		return MX_ERR_NOMEM;
	if ((r->rcpt[r->rcpt_n] = copy(v, n)) == NULL)
		return MX_ERR_NOMEM;
	r->rcpt_n++;
	return MX_OK;
}

/* One "key value" line of the request part; why says what is wrong. */
static mx_err
take_line(struct drop_request *r, const char *key, size_t kn, const char *v, size_t n,
    bool seen[K_N], const char **why)
{
	static const char *const flags[] = { "0", "1", NULL },
				 *const modes[] = { "e", "m", "p", "q", NULL },
				 *const rets[] = { "full", "hdrs", NULL },
				 *const bodies[] = { "7bit", "8bitmime", NULL };
	uint64_t num;
	int k = one_of(key, kn, key_names), w;

	if (kn == 4 && memcmp(key, "rcpt", 4) == 0)
		return take_rcpt(r, v, n, why);
	*why = "an unknown key, or a key given twice";
	if (k < 0 || seen[k])
		return MX_ERR_BAD_DOMAIN;
	seen[k] = true;
	*why = "a value that is not one the key takes";
	switch (k) {
	case K_SENDER: return set_text(&r->sender, v, n);
	case K_NAME: return set_text(&r->name, v, n);
	case K_ENVID: return n == 0 ? MX_ERR_BAD_DOMAIN : set_text(&r->envid, v, n);
	case K_NOTIFY: return !notify_ok(v, n) ? MX_ERR_BAD_DOMAIN : set_text(&r->notify, v, n);
	case K_SENDER_SET:
		if ((w = one_of(v, n, flags)) < 0)
			return MX_ERR_BAD_DOMAIN;
		r->sender_set = w == 1;
		return MX_OK;
	case K_ERR:
		if ((w = one_of(v, n, modes)) < 0)
			return MX_ERR_BAD_DOMAIN;
		r->error_mode = modes[w][0];
		return MX_OK;
	case K_RET:
		if ((w = one_of(v, n, rets)) < 0)
			return MX_ERR_BAD_DOMAIN;
		r->ret = w == 0 ? DROP_RET_FULL : DROP_RET_HDRS;
		return MX_OK;
	case K_BODY:
		if ((w = one_of(v, n, bodies)) < 0)
			return MX_ERR_BAD_DOMAIN;
		r->body = w == 0 ? DROP_BODY_7BIT : DROP_BODY_8BITMIME;
		return MX_OK;
	default: /* K_SIZE */
		if (!number(v, n, DROP_SIZE_MAX, &num))
			return MX_ERR_BAD_DOMAIN;
		r->size = (size_t)num;
		return MX_OK;
	}
}

/* A line "key value" split at its first space; the line has no '\n'. */
static bool
split(const char *line, size_t n, const char **v, size_t *kn, size_t *vn)
{
	const char *sp = memchr(line, ' ', n);

	if (sp == NULL || sp == line)
		return false;
	*kn = (size_t)(sp - line);
	*v = sp + 1;
	*vn = n - *kn - 1;
	return *vn <= DROP_VALUE_MAX && value_ok((const unsigned char *)*v, *vn);
}

struct cursor {
	const char *p;
	size_t len, pos;
};

/* The next line without its '\n'; false at the empty line or the end. */
static bool
next_line(struct cursor *c, const char **line, size_t *n)
{
	const char *nl = memchr(c->p + c->pos, '\n', c->len - c->pos);

	if (nl == NULL || nl == c->p + c->pos)
		return false;
	*line = c->p + c->pos;
	*n = (size_t)(nl - *line);
	c->pos += *n + 1;
	return true;
}

/* "key N" with exactly this key. */
static bool
numbered(struct cursor *c, const char *key, uint64_t max, uint64_t *v)
{
	const char *line, *val;
	size_t n, kn, vn;

	return next_line(c, &line, &n) && split(line, n, &val, &kn, &vn) && kn == strlen(key) &&
	    memcmp(line, key, kn) == 0 && number(val, vn, max, v);
}

/* The stored form's own lines: uid, gid and time, in that order. */
static bool
stored_head(struct cursor *c, struct drop_request *r)
{
	uint64_t uid, gid, t;

	if (!numbered(c, "uid", UINT32_MAX - 1, &uid) ||
	    !numbered(c, "gid", UINT32_MAX - 1, &gid) || !numbered(c, "time", INT64_MAX, &t))
		return false;
	r->uid = (uid_t)uid;
	r->gid = (gid_t)gid;
	r->time = (time_t)t;
	r->stored = true;
	return true;
}

static mx_err
parse_lines(struct cursor *c, struct drop_request *r, char *why, size_t why_size)
{
	bool seen[K_N] = { false };
	const char *line, *v, *what = NULL;
	size_t n, kn, vn, no = r->stored ? 5 : 2;
	mx_err err;

	for (; next_line(c, &line, &n); no++) {
		if (!split(line, n, &v, &kn, &vn)) {
			say(why, why_size,
			    "header line %zu is not \"key value\" with a printable "
			    "UTF-8 value of at most %d octets",
			    no, DROP_VALUE_MAX);
			return MX_ERR_BAD_DOMAIN;
		}
		if ((err = take_line(r, line, kn, v, vn, seen, &what)) != MX_OK) {
			say(why, why_size, "header line %zu (%.*s): %s", no,
			    (int)(kn > 20 ? 20 : kn), line,
			    err == MX_ERR_NOMEM ? "out of memory" : what);
			return err;
		}
	}
	if (c->pos >= c->len || c->p[c->pos] != '\n') {
		say(why, why_size, "the header does not end with an empty line");
		return MX_ERR_BAD_DOMAIN;
	}
	c->pos++;
	if (!seen[K_SIZE] || r->rcpt_n == 0) {
		say(why, why_size, "the header has no size line or no rcpt line");
		return MX_ERR_BAD_DOMAIN;
	}
	return MX_OK;
}

mx_err
drop_header_parse(const char *buf, size_t len, bool stored, struct drop_request *out,
    size_t *header_len, char *why, size_t why_size)
{
	struct cursor c = { buf, len > DROP_HEADER_MAX ? DROP_HEADER_MAX : len, 0 };
	const char *magic = stored ? DROP_STORED_MAGIC "\n" : DROP_MAGIC "\n";
	mx_err err;

	memset(out, 0, sizeof(*out));
	*header_len = 0;
	if (c.len < strlen(magic) || memcmp(buf, magic, strlen(magic)) != 0) {
		say(why, why_size, "not a drop %s (the first line is not \"%.*s\")",
		    stored ? "file" : "request", (int)strlen(magic) - 1, magic);
		return MX_ERR_BAD_DOMAIN;
	}
	c.pos = strlen(magic);
	if (stored && !stored_head(&c, out)) {
		say(why, why_size, "the uid, gid and time lines are missing or malformed");
		return MX_ERR_BAD_DOMAIN;
	}
	if ((err = parse_lines(&c, out, why, why_size)) != MX_OK) {
		drop_request_clear(out);
		return err;
	}
	*header_len = c.pos;
	return MX_OK;
}

/* Octets the header of r may take at most (each value capped on parse). */
static size_t
header_cap(const struct drop_request *r)
{
	size_t cap = 512;

	cap += r->sender ? strlen(r->sender) : 0;
	cap += r->name ? strlen(r->name) : 0;
	cap += r->envid ? strlen(r->envid) : 0;
	cap += r->notify ? strlen(r->notify) : 0;
	for (size_t i = 0; i < r->rcpt_n; i++)
		cap += strlen(r->rcpt[i]) + 8;
	return cap;
}

static void
add_opt(struct strbuf *sb, const char *key, const char *v)
{
	if (v != NULL)
		strbuf_printf(sb, "%s %s\n", key, v);
}

static void
add_fields(struct strbuf *sb, const struct drop_request *r, size_t size)
{
	static const char *const rets[] = { NULL, "full", "hdrs" },
				 *const bodies[] = { NULL, "7bit", "8bitmime" };

	add_opt(sb, "sender", r->sender);
	strbuf_printf(sb, "sender-set %d\n", r->sender_set ? 1 : 0);
	add_opt(sb, "name", r->name);
	for (size_t i = 0; i < r->rcpt_n; i++)
		strbuf_printf(sb, "rcpt %s\n", r->rcpt[i]);
	if (r->error_mode != 0)
		strbuf_printf(sb, "error-mode %c\n", r->error_mode);
	if (r->ret > 0 && r->ret <= DROP_RET_HDRS)
		add_opt(sb, "ret", rets[r->ret]);
	add_opt(sb, "envid", r->envid);
	add_opt(sb, "notify", r->notify);
	if (r->body > 0 && r->body <= DROP_BODY_8BITMIME)
		add_opt(sb, "body", bodies[r->body]);
	strbuf_printf(sb, "size %zu\n\n", size);
}

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What was parsed back is what the struct says: a value with a newline
 * can parse (as two rcpt lines, or a name line and another key) and
 * still say something else. */
static bool
same_request(const struct drop_request *r, const struct drop_request *b)
{
	if (!same_text(r->sender, b->sender) || r->sender_set != b->sender_set ||
	    !same_text(r->name, b->name) || r->rcpt_n != b->rcpt_n ||
	    r->error_mode != b->error_mode || !same_text(r->envid, b->envid) ||
	    !same_text(r->notify, b->notify) ||
	    (r->ret > 0 && r->ret <= DROP_RET_HDRS ? r->ret : 0) != b->ret ||
	    (r->body > 0 && r->body <= DROP_BODY_8BITMIME ? r->body : 0) != b->body)
		return false;
	for (size_t i = 0; i < r->rcpt_n; i++)
		if (!same_text(r->rcpt[i], b->rcpt[i]))
			return false;
	return true;
}

mx_err
drop_header_format(const struct drop_request *r, size_t size, char **out, size_t *out_len,
    char *why, size_t why_size)
{
	struct drop_request back = { 0 };
	struct strbuf sb;
	size_t cap = header_cap(r), hlen;
	char *buf = malloc(cap);
	mx_err err;

	*out = NULL;
	if (buf == NULL)
		return MX_ERR_NOMEM;
	strbuf_init(&sb, buf, cap);
	if (r->stored)
		strbuf_printf(&sb,
		    DROP_STORED_MAGIC "\nuid %" PRIu64 "\ngid %" PRIu64 "\ntime %" PRId64 "\n",
		    (uint64_t)r->uid, (uint64_t)r->gid, (int64_t)r->time);
	else
		strbuf_add(&sb, DROP_MAGIC "\n");
	add_fields(&sb, r, size);
	/* What is written must parse back: a value with a newline or a
	 * control byte, an empty rcpt or a wrong count never leaves here. */
	err = sb.truncated ? MX_ERR_INVALID
			   : drop_header_parse(buf, sb.len, r->stored, &back, &hlen, why, why_size);
	if (err == MX_OK && !same_request(r, &back)) {
		say(why, why_size, "a field holds a line break or a key line");
		err = MX_ERR_INVALID;
	}
	drop_request_clear(&back);
	if (err != MX_OK || hlen != sb.len) {
		if (sb.truncated)
			say(why, why_size, "internal error: the drop header did not fit");
		free(buf);
		return err == MX_ERR_NOMEM ? err : MX_ERR_INVALID;
	}
	*out = buf;
	*out_len = sb.len;
	return MX_OK;
}

static bool
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

mx_err
drop_request_write(
    int fd, const struct drop_request *r, const struct payload *data, char *why, size_t why_size)
{
	size_t total = data ? payload_len(data) : 0, hlen, pos = 0;
	char *head = NULL, *chunk = NULL;
	mx_err err = drop_header_format(r, total, &head, &hlen, why, why_size);

	if (err != MX_OK)
		return err;
	err = MX_ERR_SYSTEM;
	if (!write_all(fd, head, hlen) || (chunk = malloc(PAYLOAD_CHUNK)) == NULL)
		goto fail;
	while (pos < total) {
		ssize_t got = payload_read(data, pos, chunk, PAYLOAD_CHUNK);
		if (got <= 0 || !write_all(fd, chunk, (size_t)got))
			goto fail;
		pos += (size_t)got;
	}
	err = MX_OK;
	goto out;
fail:
	say(why, why_size, "writing the drop request failed: %s", strerror(errno));
out:
	free(chunk);
	free(head);
	return err;
}

mx_err
drop_data_feed(struct drop_data_check *c, const uint8_t *p, size_t n, char *why, size_t why_size)
{
	const char *fault = NULL;

	for (size_t i = 0; i < n && fault == NULL; i++, c->total++) {
		uint8_t b = p[i];
		if (c->line == 0)
			c->line = 1;
		if (c->cr && b != '\n')
			fault = "a bare carriage return (CR without LF)";
		else if (b == '\n' && !c->cr)
			fault = "a bare line feed (LF without CR)";
		else if (b == '\0')
			fault = "a NUL octet";
		else if (b == '\n') {
			c->line++;
			c->line_len = 0;
			c->first = 0;
			c->cr = false;
		} else if (b == '\r') {
			c->cr = true;
			if (c->line_len == 1 && c->first == '.')
				fault = "a line that is a lone dot (not dot-stuffed)";
		} else if (++c->line_len > 998) {
			fault = "a line over 998 octets";
		} else if (c->line_len == 2 && c->first == '.' && b != '.') {
			fault = "a line that starts with a dot and is not dot-stuffed";
		} else if (c->line_len == 1) {
			c->first = b;
		}
	}
	if (fault == NULL)
		return MX_OK;
	say(why, why_size, "the data has %s on line %zu", fault, c->line);
	return MX_ERR_BAD_DOMAIN;
}

mx_err
drop_data_end(const struct drop_data_check *c, char *why, size_t why_size)
{
	if (c->line_len == 0 && !c->cr)
		return MX_OK;
	say(why, why_size, "the data does not end with CRLF");
	return MX_ERR_BAD_DOMAIN;
}

/* The child: the pipe on stdin, nothing from us in its environment. */
static void
exec_helper(int rfd, int wfd, const char *helper_path)
{
	char *const argv[] = { (char *)helper_path, NULL };
	/* Only MX_DROP_DIR is handed on: the helper ignores it when it runs
	 * elevated, and honours it unelevated (tests, a private spool). */
	const char *dir = getenv("MX_DROP_DIR");
	char *env_dir = NULL;
	char *envp[2] = { NULL, NULL };

	if (dir != NULL && strlen(dir) < 4096 && asprintf(&env_dir, "MX_DROP_DIR=%s", dir) > 0)
		envp[0] = env_dir;

	close(wfd);
	if (rfd != 0 && (dup2(rfd, 0) < 0 || close(rfd) < 0))
		_exit(EX_TEMPFAIL_CODE);
	execve(helper_path, argv, envp);
	_exit(EX_TEMPFAIL_CODE);
}

/* Writes with SIGPIPE held, and drops a SIGPIPE our write raised, so a
 * helper that stops reading gives EPIPE, not the death of the caller. */
static mx_err
write_quietly(
    int fd, const struct drop_request *r, const struct payload *data, char *why, size_t why_size)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	bool was_pending;
	mx_err err;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	err = drop_request_write(fd, r, data, why, why_size);
	if (!was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

int
drop_submit(const struct drop_request *r, const struct payload *data, const char *helper_path,
    char *why, size_t why_size)
{
	struct drop_request req = *r;
	int fds[2], status;
	pid_t pid;
	mx_err err;

	req.stored = false;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		say(why, why_size, "cannot make a pipe to %s: %s", helper_path, strerror(errno));
		return EX_TEMPFAIL_CODE;
	}
	if ((pid = fork()) < 0) {
		say(why, why_size, "cannot start %s: %s", helper_path, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return EX_TEMPFAIL_CODE;
	}
	if (pid == 0)
		exec_helper(fds[0], fds[1], helper_path);
	close(fds[0]);
	err = write_quietly(fds[1], &req, data, why, why_size);
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			say(why, why_size, "lost %s: %s", helper_path, strerror(errno));
			return EX_TEMPFAIL_CODE;
		}
	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 0 && err != MX_OK)
			return EX_TEMPFAIL_CODE; /* cannot be: it read all or failed */
		if (WEXITSTATUS(status) != 0)
			say(why, why_size, "%s exited with status %d", helper_path,
			    WEXITSTATUS(status));
		return WEXITSTATUS(status);
	}
	say(why, why_size, "%s was killed by signal %d", helper_path,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_TEMPFAIL_CODE;
}
