/*
 * route.c - an example program that embeds libmx: routes the domain of
 * each argument (a domain or a mail address) and lists the addresses to
 * try, in order.  It uses nothing but the installed library:
 *
 *   cc -o route examples/route.c $(pkg-config --cflags --libs libmx)
 *   ./route [-r RESOLVER] [-a ANCHOR|none] DOMAIN...
 *
 * scripts/check-install builds it that way against a real `meson install`
 * and runs it in the test sandbox.  Exit status: 0 every domain can take
 * mail now, 75 one must wait (temporary), 68 one never will, 70 a library
 * call failed.
 */
#define _POSIX_C_SOURCE 200809L /* getopt */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mx.h>

static int
route_one(mx_resolver *resolver, const mx_policy *policy, const char *arg)
{
	mx_plan *plan = NULL;
	mx_why why;
	mx_err err = mx_route_lookup(resolver, policy, arg, &plan, &why);
	int rc;

	if (err != MX_OK) {
		/* why says what the code cannot: which line of which file, say. */
		fprintf(stderr, "route: %s: %s: %s\n", arg, mx_strerror(err), why.text);
		return mx_err_temporary(err) ? 75 : 70;
	}
	printf("%s: %s (%s)\n", mx_plan_domain(plan), mx_status_name(mx_plan_status(plan)),
	    mx_plan_reason(plan));
	for (size_t i = 0; i < mx_plan_host_count(plan); i++) {
		const mx_host *h = mx_plan_host(plan, i);

		if (mx_host_status_of(h) != MX_HOST_OK)
			continue;
		for (size_t j = 0; j < mx_host_address_count(h); j++)
			printf("  try %s (%s)\n", mx_host_address(h, j), mx_host_name(h));
	}
	if (mx_plan_status(plan) == MX_STATUS_OK)
		rc = 0;
	else
		rc = mx_status_temporary(mx_plan_status(plan)) ? 75 : 68;
	mx_plan_free(plan);
	return rc;
}

int
main(int argc, char **argv)
{
	mx_resolver *resolver = NULL;
	mx_policy *policy = NULL;
	const char *server = NULL, *anchor = NULL;
	int version, opt, rc = 0;
	mx_err err;

	while ((opt = getopt(argc, argv, "r:a:")) != -1) {
		if (opt == 'r')
			server = optarg;
		else if (opt == 'a')
			anchor = optarg;
		else
			return 64;
	}
	if (optind == argc) {
		fprintf(stderr, "usage: route [-r RESOLVER] [-a ANCHOR|none] DOMAIN...\n");
		return 64;
	}
	/* The library this program runs with must be one it was built for. */
	mx_version(&version);
	if (version >> 16 != MX_VERSION_MAJOR || version < MX_VERSION_NUMBER) {
		fprintf(stderr, "route: built for libmx %s, running with %s\n", MX_VERSION,
		    mx_version(NULL));
		return 70;
	}
	if ((err = mx_resolver_new(&resolver)) != MX_OK ||
	    (server != NULL && (err = mx_resolver_add_server(resolver, server)) != MX_OK) ||
	    (anchor != NULL && (err = mx_resolver_set_trust_anchor(resolver, anchor)) != MX_OK) ||
	    (err = mx_policy_new(&policy)) != MX_OK) {
		fprintf(stderr, "route: %s\n", mx_strerror(err));
		rc = 70;
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		int one = route_one(resolver, policy, argv[i]);

		if (one > rc)
			rc = one;
	}
out:
	mx_policy_free(policy);
	mx_resolver_free(resolver);
	return rc;
}
