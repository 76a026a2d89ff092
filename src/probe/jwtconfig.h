/* jwtconfig.h - where a JWT's key material comes from (the environment, files) and the
 * authentication options shared by `token`, `probe`, `serve`, plans and the security checks.
 * The codec (codec/jwt.h) signs and verifies from memory; everything that reads the process's
 * environment or the file system for it lives here, one layer up. */
#ifndef WSP_JWTCONFIG_H
#define WSP_JWTCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/jwt.h"
#include "util/error.h"
#include "util/opt.h"

/* ---- loading helpers for the command line, the reference server and plans ----
 * `opt` names where the value came from in messages ("--jwt-secret-env", "auth.jwt.secret_env").
 * Every failure fills err with class USAGE and a message "OPT ...: why", never the secret. */

/* The secret in environment variable `var`: refused when unset or empty. *secret_out is heap
 * memory that the caller wipes (OPENSSL_cleanse) and frees; wsp_jwt_key_secret copies it. */
int wsp_jwt_secret_from_env(const char *opt, const char *var, uint8_t **secret_out, size_t *len_out,
                            wsp_err *err);
/* The secret in file `path` (at most 64 KiB), with one trailing newline ("\n" or "\r\n")
 * removed: refused when unreadable or empty. Ownership as wsp_jwt_secret_from_env. */
int wsp_jwt_secret_from_file(const char *opt, const char *path, uint8_t **secret_out,
                             size_t *len_out, wsp_err *err);
/* A PEM key file (at most 1 MiB), as wsp_jwt_key_pem. */
wsp_jwt_key *wsp_jwt_key_from_file(const char *opt, const char *path, wsp_jwt_alg alg,
                                   wsp_jwt_key_use use, wsp_err *err);
/* The authentication options shared by `token`, `probe` and later plans: collected by
 * wsp_jwt_config_set, checked and loaded once by wsp_jwt_config_load, then minted from as often
 * as needed (a fresh iat, exp and jti each time). */
typedef struct wsp_jwt_config wsp_jwt_config;

typedef enum wsp_jwt_optkind {
    WSP_JWT_OPT_UNKNOWN, /* not an authentication option */
    WSP_JWT_OPT_FLAG,    /* takes no value (--jwt-iat, --no-iat, --no-exp, --jwt-jti[=FORMAT]) */
    WSP_JWT_OPT_VALUE,   /* takes one value */
} wsp_jwt_optkind;

/* The options as a typed table (util/opt.h), all with id WSP_JWT_OPT_ID; plan keys
 * auth.jwt.*. */
#define WSP_JWT_OPT_ID 900
extern const wsp_opt wsp_jwt_opt_table[];

/* Which kind of option `name` (with its leading "--", without "=value") is. */
wsp_jwt_optkind wsp_jwt_option_kind(const char *name);
/* The options' help lines, for --help. */
const char *wsp_jwt_option_help(void);

/* NULL only when out of memory. */
wsp_jwt_config *wsp_jwt_config_new(void);
/* NULL-safe; wipes the secret. */
void wsp_jwt_config_free(wsp_jwt_config *cfg);
/* Apply one option: value is its argument (NULL for a flag; --jwt-jti takes an optional "hex"
 * or "base64url"). The value is copied. Returns 0, or -1 with err filled. */
int wsp_jwt_config_set(wsp_jwt_config *cfg, const char *name, const char *value, wsp_err *err);
/* Whether any authentication option was given. */
bool wsp_jwt_config_used(const wsp_jwt_config *cfg);
/* Check the combination (one source of key material, suited to the algorithm; no claim that
 * conflicts with a computed one) and read the secret or key. Everything that can be refused is
 * refused here, before any connection. Returns 0 or -1 with err filled. */
int wsp_jwt_config_load(wsp_jwt_config *cfg, wsp_err *err);
/* Mint one token at time `now` from a loaded configuration: the algorithm (default HS256, or
 * the key's kind when only --jwt-key-file is given), the claims in the order given, then iat
 * (unless --no-iat), nbf (--jwt-nbf), exp (now + --jwt-ttl, default 5 minutes, unless
 * --no-exp) and jti (--jwt-jti). *token_out is heap memory the caller frees. Returns 0 or -1
 * with err filled. */
int wsp_jwt_config_mint(const wsp_jwt_config *cfg, int64_t now, char **token_out, wsp_err *err);

#endif
