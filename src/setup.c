/*
 * setup.c - `mx setup [--spool DIR] [--helper PATH]` (root): what local
 * submission needs, made idempotently (postfix set-permissions'
 * counterpart; docs/SECURITY.md): the mx system user and the mxdrop
 * group (useradd/groupadd --system when missing; mx is made a member of
 * mxdrop so that pickup can read drop files), the spool (0755 root) with
 * tmp/ queue/ corrupt/ (0700 mx) and drop/ (1730 mx:mxdrop), and the
 * helper mx-drop root:mxdrop 2755.  Never follows a symlink in the spool.
 * Exit: 0 done, 64 usage, 77 not root, 71 a tool failed, 73 a path is
 * wrong (a symlink, not a directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "setup.h"

#ifndef MX_SPOOLDIR
#define MX_SPOOLDIR "/var/spool/mx"
#endif
#ifndef MX_USER
#define MX_USER "mx"
#endif
#ifndef MX_DROPGROUP
#define MX_DROPGROUP "mxdrop"
#endif
#ifndef MX_HELPER
#define MX_HELPER "/usr/local/libexec/mx/mx-drop"
#endif

static int
run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool
member(const struct group *g, const char *user)
{
	for (char **m = g->gr_mem; m && *m; m++)
		if (strcmp(*m, user) == 0)
			return true;
	return false;
}

static int
ensure_accounts(const char *spool)
{
	char *groupadd[] = { "/usr/sbin/groupadd", "--system", MX_DROPGROUP, NULL };
	char *useradd[] = { "/usr/sbin/useradd", "--system", "--user-group", "--home-dir",
		(char *)spool, "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment",
		"mxkit mail system", MX_USER, NULL };
	char *usermod[] = { "/usr/sbin/usermod", "--append", "--groups", MX_DROPGROUP, MX_USER,
		NULL };
	struct group *g;

	if (getgrnam(MX_DROPGROUP) == NULL && run(groupadd) != 0)
		return cli_warn("setup", "groupadd %s failed", MX_DROPGROUP), EX_OSERR;
	if (getpwnam(MX_USER) == NULL && run(useradd) != 0)
		return cli_warn("setup", "useradd %s failed", MX_USER), EX_OSERR;
	if ((g = getgrnam(MX_DROPGROUP)) == NULL)
		return cli_warn("setup", "no group %s after groupadd", MX_DROPGROUP), EX_OSERR;
	if (!member(g, MX_USER) && run(usermod) != 0)
		return cli_warn("setup", "usermod -aG %s %s failed", MX_DROPGROUP, MX_USER),
		       EX_OSERR;
	return EX_OK;
}

/* dir/name made or kept, never through a symlink, then owner and mode. */
static int
ensure_dir(int parent, const char *shown, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;
	int fd;

	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return cli_warn("setup", "mkdir %s: %s", shown, strerror(errno)), EX_CANTCREAT;
	if ((fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return cli_warn("setup", "%s is not a directory (a symlink?): %s", shown,
			   strerror(errno)),
		       EX_CANTCREAT;
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 || fstat(fd, &st) < 0) {
		cli_warn("setup", "%s: %s", shown, strerror(errno));
		close(fd);
		return EX_CANTCREAT;
	}
	close(fd);
	return EX_OK;
}

static int
ensure_spool(const char *spool)
{
	/* private/: mx daemon's control socket; mta-sts/: the MTA-STS policy
	 * cache and the TLS-RPT store. */
	static const char *const own[] = { "tmp", "queue", "corrupt", "private", "mta-sts" };
	struct passwd *pw = getpwnam(MX_USER);
	struct group *g = getgrnam(MX_DROPGROUP);
	char shown[4096];
	int rc, fd;

	if (pw == NULL || g == NULL)
		return EX_OSERR;
	uid_t uid = pw->pw_uid;
	gid_t ugid = pw->pw_gid, dgid = g->gr_gid;
	if ((rc = ensure_dir(AT_FDCWD, spool, spool, 0, 0, 0755)) != EX_OK)
		return rc;
	if ((fd = open(spool, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return cli_warn("setup", "%s: %s", spool, strerror(errno)), EX_CANTCREAT;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]) && rc == EX_OK; i++) {
		snprintf(shown, sizeof(shown), "%s/%s", spool, own[i]);
		rc = ensure_dir(fd, shown, own[i], uid, ugid, 0700);
	}
	snprintf(shown, sizeof(shown), "%s/drop", spool);
	if (rc == EX_OK)
		rc = ensure_dir(fd, shown, "drop", uid, dgid, 01730);
	close(fd);
	return rc;
}

/* chown first: it clears the set-group-ID bit, which chmod then sets. */
static int
ensure_helper(const char *helper)
{
	struct group *g = getgrnam(MX_DROPGROUP);
	int fd = open(helper, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int rc = EX_OK;

	if (fd < 0)
		return cli_warn("setup", "the helper %s: %s", helper, strerror(errno)), EX_OSFILE;
	if (g == NULL || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fchown(fd, 0, g->gr_gid) < 0 || fchmod(fd, 02755) < 0) {
		cli_warn("setup", "cannot make %s root:%s 2755: %s", helper, MX_DROPGROUP,
		    strerror(errno));
		rc = EX_OSFILE;
	}
	close(fd);
	return rc;
}

int
cmd_setup(int argc, char **argv)
{
	static const struct option longopts[] = { { "spool", required_argument, NULL, 'P' },
		{ "helper", required_argument, NULL, 'x' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *spool = MX_SPOOLDIR, *helper = MX_HELPER;
	int opt, rc;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'P')
			spool = optarg;
		else if (opt == 'x')
			helper = optarg;
		else {
			fprintf(opt == 'h' ? stdout : stderr,
			    "usage: mx setup [--spool DIR] [--helper PATH]\n");
			return opt == 'h' ? EX_OK : EX_USAGE;
		}
	}
	if (optind != argc)
		return cli_warn("setup", "takes no arguments but options"), EX_USAGE;
	if (geteuid() != 0)
		return cli_warn("setup", "must run as root (it creates users and sets owners)"),
		       EX_NOPERM;
	if (spool[0] != '/')
		return cli_warn("setup", "--spool takes an absolute path"), EX_USAGE;
	if ((rc = ensure_accounts(spool)) != EX_OK || (rc = ensure_spool(spool)) != EX_OK)
		return rc;
	return ensure_helper(helper);
}
