/*
 * https_get.c - placeholder: the MTA-STS policy fetch of probe.h is being
 * written (engineer B).  https_get_start fails with MX_ERR_SYSTEM.
 */
#include "probe.h"

mx_err https_get_start(struct event_base *base, const char *host, const struct plan_addr *addr,
    uint16_t port, const char *path, const char *ca_file, unsigned timeout_ms,
    https_get_cb cb, void *arg, struct https_get **out)
{
	(void)base; (void)host; (void)addr; (void)port; (void)path; (void)ca_file;
	(void)timeout_ms; (void)cb; (void)arg;
	*out = NULL;
	return MX_ERR_SYSTEM;
}

void https_get_cancel(struct https_get *g) { (void)g; }
