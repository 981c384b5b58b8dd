/*
 * probe.c - placeholder: the SMTP/TLS probe of probe.h is being written
 * (engineer B).  probe_start fails with MX_ERR_SYSTEM.
 */
#include "probe.h"

mx_err probe_start(struct event_base *base, const struct probe_config *cfg,
    const struct probe_target *targets, size_t n, probe_cb cb, void *arg, struct probe **out)
{
	(void)base; (void)cfg; (void)targets; (void)n; (void)cb; (void)arg;
	*out = NULL;
	return MX_ERR_SYSTEM;
}

void probe_cancel(struct probe *p) { (void)p; }

const char *probe_connect_name(enum probe_connect c)
{
	switch (c) {
	case PROBE_CONNECTED: return "connected";
	case PROBE_REFUSED: return "refused";
	case PROBE_TIMEOUT: return "timeout";
	case PROBE_UNREACHABLE: return "unreachable";
	}
	return "unknown";
}
