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

#include "cli.h"
#include "util/error.h"
#include "probe/jwtconfig.h"

#define CMD "token"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wsprobe token [options]\n\n"
            "Mint a JWT and print it on stdout, for scripts:\n"
            "  TOKEN=$(wsprobe token --jwt-secret-env APP_JWT_SECRET --jwt-claim sub=e2e)\n\n"
            "options:\n%s"
            "  -h, --help              this help\n\n"
            "The secret or key comes from the environment or a file, never from the command\n"
            "line. Exit 0 with the token, 2 on a usage or configuration error (docs/jwt.md).\n",
            wsp_jwt_option_help());
}

/* Options that people reach for and that must not exist: a secret in argv lands in shell
 * history and in every `ps` listing. */
static bool secret_on_command_line(const char *name)
{
    static const char *const refused[] = {"--jwt-secret", "--secret", "--jwt-key",
                                          "--key",        "--token",  "--jwt-token"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (strcmp(name, refused[i]) == 0)
            return true;
    return false;
}

int wsp_cmd_token(int argc, char **argv)
{
    int rc = 2;
    wsp_err err;
    wsp_err_clear(&err);
    wsp_jwt_config *cfg = wsp_jwt_config_new();
    char *token = NULL;
    char name[48];
    if (!cfg) {
        fprintf(stderr, "wsprobe: " CMD ": out of memory\n");
        return wsp_class_exit_code(WSP_CLASS_INTERNAL);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            rc = 0;
            goto done;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            /* Not quoted back: a stray argument is often a secret pasted in the wrong place. */
            wsp_cli_usage_error(CMD,
                                "argument %d is not an option: token takes only options "
                                "(see wsprobe token --help)",
                                i);
            goto done;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) {
            wsp_cli_usage_error(CMD, "argument %d is not a known option (see --help)", i);
            goto done;
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        const char *value = eq ? eq + 1 : NULL;
        switch (wsp_jwt_option_kind(name)) {
        case WSP_JWT_OPT_UNKNOWN:
            if (secret_on_command_line(name))
                wsp_cli_usage_error(CMD,
                                    "%s: there is no such option: secrets and keys never go on "
                                    "the command line (shell history, ps); use "
                                    "--jwt-secret-env VAR, --jwt-secret-file F or "
                                    "--jwt-key-file PEM",
                                    name);
            else
                wsp_cli_usage_error(CMD, "%s: unknown option (see wsprobe token --help)", name);
            goto done;
        case WSP_JWT_OPT_VALUE:
            if (!value) {
                if (i + 1 >= argc) {
                    wsp_cli_usage_error(CMD, "%s needs a value", name);
                    goto done;
                }
                value = argv[++i];
            }
            break;
        case WSP_JWT_OPT_FLAG:
            break;
        }
        if (wsp_jwt_config_set(cfg, name, value, &err) != 0) {
            rc = wsp_cli_usage_error(CMD, "%s", err.msg);
            goto done;
        }
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
