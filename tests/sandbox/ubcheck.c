/*
 * ubcheck: resolve one name with libunbound, validating against the sandbox
 * trust-anchor file, and print the verdict. Used by the sandbox selftest to
 * prove that $MX_SANDBOX_ANCHOR works with ub_ctx_add_ta_file() the way
 * mxkit uses it.
 *
 * usage: ubcheck RESOLVER ANCHOR-FILE NAME TYPE
 *   RESOLVER  forwarder, "addr@port" ($MX_SANDBOX_RESOLVER)
 *   TYPE      MX, A, AAAA or TLSA
 * prints:   secure|insecure|bogus rcode=N havedata=N [why=...]
 */
#include <stdio.h>
#include <string.h>
#include <unbound.h>

static int rrtype(const char *s)
{
    if (strcmp(s, "MX") == 0)
        return 15;
    if (strcmp(s, "A") == 0)
        return 1;
    if (strcmp(s, "AAAA") == 0)
        return 28;
    if (strcmp(s, "TLSA") == 0)
        return 52;
    return -1;
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "ubcheck: %s: %s\n", what, ub_strerror(err));
    return 2;
}

int main(int argc, char **argv)
{
    struct ub_ctx *ctx;
    struct ub_result *res;
    int err, type;

    if (argc != 5 || (type = rrtype(argv[4])) < 0) {
        fprintf(stderr, "usage: ubcheck RESOLVER ANCHOR-FILE NAME MX|A|AAAA|TLSA\n");
        return 2;
    }
    if ((ctx = ub_ctx_create()) == NULL) {
        fprintf(stderr, "ubcheck: ub_ctx_create failed\n");
        return 2;
    }
    /*
     * libunbound has RFC 6761 default local zones like the daemon: without
     * this every name under test. is answered NXDOMAIN locally. "nodefault"
     * does not work through ub_ctx_set_option() (1.17); "transparent" does.
     */
    if ((err = ub_ctx_set_option(ctx, "local-zone:", "test. transparent")) != 0)
        return fail("local-zone", err);
    if ((err = ub_ctx_set_fwd(ctx, argv[1])) != 0)
        return fail("set_fwd", err);
    if ((err = ub_ctx_add_ta_file(ctx, argv[2])) != 0)
        return fail("add_ta_file", err);
    if ((err = ub_resolve(ctx, argv[3], type, 1 /* IN */, &res)) != 0)
        return fail("resolve", err);

    printf("%s rcode=%d havedata=%d", res->bogus ? "bogus" : res->secure ? "secure" : "insecure",
           res->rcode, res->havedata);
    if (res->why_bogus)
        printf(" why=%s", res->why_bogus);
    printf("\n");
    ub_resolve_free(res);
    ub_ctx_delete(ctx);
    return 0;
}
