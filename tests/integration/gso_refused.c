/*
 * gso_refused.c - a fault for test_bulk.py, preloaded into mx: every
 * sendmsg(2) that asks the kernel to segment (a UDP_SEGMENT control
 * message) fails with EIO, as it does where the route has no checksum
 * offload; everything else goes to the real sendmsg.  The number refused
 * is written at exit to the file named by GSO_REFUSED_LOG.  Test-only:
 * it lets the suite reach the stub's fallback to sendmmsg on a kernel
 * whose loopback always segments.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned long refused;

ssize_t sendmsg(int fd, const struct msghdr *m, int flags);

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	ssize_t (*real)(int, const struct msghdr *, int);

	/* POSIX's way to turn dlsym's object pointer into a function's. */
	*(void **)&real = dlsym(RTLD_NEXT, "sendmsg");

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL;
	    c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT) {
			refused++;
			errno = EIO;
			return -1;
		}
	}
	return real(fd, m, flags);
}

__attribute__((destructor)) static void
report(void)
{
	const char *path = getenv("GSO_REFUSED_LOG");
	char buf[32];
	int fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%lu\n", refused);
	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		n = 0;
	close(fd);
}
