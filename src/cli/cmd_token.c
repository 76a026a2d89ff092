/* cmd_token.c - `wsprobe token`: mint one JWT for scripts and print it.
 *
 * The token on stdout is the command's purpose, and the one place wsprobe prints a token. No
 * message on any failure path quotes a secret, a key, a token or an argument that might hold
 * one: options are named, values are not (except algorithm names and durations).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "args.h"
#include "cli.h"
#include "util/error.h"
#include "probe/jwtconfig.h"

#define CMD "token"

static const char usage[] =
    "usage: wsprobe token [options]\n\n"
    "Mint a JWT and print it on stdout, for scripts:\n"
    "  TOKEN=$(wsprobe token --jwt-secret-env APP_JWT_SECRET --jwt-claim sub=e2e)\n\n";

static const char after[] =
    "\nThe secret or key comes from the environment or a file, never from the command\n"
    "line. Exit 0 with the token, 2 on a usage or configuration error (docs/jwt.md).\n"
    "token has no --json: its output is the token, and every JSON report is redacted.\n";

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    (void)v;
    char name[64];
    wsp_err err;
    snprintf(name, sizeof name, "--%s", opt->name);
    if (wsp_jwt_config_set(ud, name, arg, &err) == 0)
        return 0;
    wsp_cli_usage_error(CMD, "%s", err.msg);
    return -1;
}

int wsp_cmd_token(int argc, char **argv)
{
    int rc = 2;
    wsp_err err;
    wsp_err_clear(&err);
    wsp_jwt_config *cfg = wsp_jwt_config_new();
    char *token = NULL;
    if (!cfg) {
        fprintf(stderr, "wsprobe: " CMD ": out of memory\n");
        return wsp_class_exit_code(WSP_CLASS_INTERNAL);
    }
    static const wsp_opt heading[] = {
        {"options:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
        {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    };
    const wsp_opt *const tables[] = {heading, wsp_jwt_opt_table, NULL};
    const wsp_cli_spec spec = {.cmd = CMD, .usage = usage, .after = after, .tables = tables};
    wsp_cli_out out;
    rc = wsp_cli_parse(&spec, argc, argv, take, cfg, &out);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto done;
    }
    rc = 2;
    if (out.noperands > 0) {
        /* Not quoted back: a stray argument is often a secret pasted in the wrong place. */
        wsp_cli_usage_error(CMD,
                            "%d argument%s not an option: token takes only options (not "
                            "repeated here: it may be a secret; see wsprobe token --help)",
                            out.noperands, out.noperands == 1 ? " is" : "s are");
        goto done;
    }
    /* Everything that can be refused is refused before anything is printed. */
    if (wsp_jwt_config_load(cfg, &err) != 0 ||
        wsp_jwt_config_mint(cfg, (int64_t)time(NULL), &token, &err) != 0) {
        wsp_cli_usage_error(CMD, "%s", err.msg);
        rc = wsp_class_exit_code(err.cls);
        goto done;
    }
    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "wsprobe: " CMD ": cannot write the token to stdout\n");
        rc = wsp_class_exit_code(WSP_CLASS_INTERNAL);
        goto done;
    }
    rc = 0;
done:
    if (token) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
    wsp_jwt_config_free(cfg);
    return rc;
}
