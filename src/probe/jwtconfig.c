/* jwtconfig.c - see jwtconfig.h. */
#include "probe/jwtconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "util/duration.h"
#include "util/files.h"
#include "util/redact.h"
#include "util/rand.h"

#define SECRET_FILE_MAX (64u * 1024)
#define KEY_FILE_MAX (1024u * 1024)

static bool env_name_ok(const char *s)
{
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (!(isalnum((unsigned char)s[n]) || s[n] == '_') || n >= 128)
            return false;
    return true;
}

/* The name of a variable as messages may show it. A common mistake is to pass the secret's
 * value where its variable's name goes (--jwt-secret-env "$SECRET"); CI logs are read more
 * widely than shell history, so only a conventional name (upper case, digits, _) is repeated. */
static const char *env_shown(const char *var)
{
    size_t n = 0;
    for (; var[n]; n++)
        if (!(isupper((unsigned char)var[n]) || isdigit((unsigned char)var[n]) || var[n] == '_') ||
            n >= 64)
            return "(the variable's name is not repeated here: it is not an upper-case name, "
                   "and may be a secret given by mistake)";
    return var;
}

int wsp_jwt_secret_from_env(const char *opt, const char *var, uint8_t **secret_out, size_t *len_out,
                            wsp_err *err)
{
    *secret_out = NULL;
    if (!env_name_ok(var))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s takes the name of an environment variable (letters, digits, _), "
                           "and what was given is not one; the secret itself never goes on the "
                           "command line",
                           opt);
    const char *v = getenv(var);
    if (!v)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s %s: the variable is not set", opt,
                           env_shown(var));
    size_t n = strlen(v);
    if (n == 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s %s: the variable is empty", opt,
                           env_shown(var));
    uint8_t *s = malloc(n);
    if (!s)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "%s: out of memory", opt);
    memcpy(s, v, n);
    *secret_out = s;
    *len_out = n;
    return 0;
}

int wsp_jwt_secret_from_file(const char *opt, const char *path, uint8_t **secret_out,
                             size_t *len_out, wsp_err *err)
{
    *secret_out = NULL;
    size_t n = 0;
    char *s = wsp_file_read(opt, path, SECRET_FILE_MAX, WSP_FILE_SECRET, &n, err);
    if (!s)
        return -1;
    /* One trailing newline, as `echo secret > file` leaves it; any other byte is the secret's. */
    if (n > 0 && s[n - 1] == '\n') {
        n--;
        if (n > 0 && s[n - 1] == '\r')
            n--;
    }
    if (n == 0) {
        free(s);
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s %s: the file is empty", opt, path);
    }
    *secret_out = (uint8_t *)s;
    *len_out = n;
    return 0;
}

wsp_jwt_key *wsp_jwt_key_from_file(const char *opt, const char *path, wsp_jwt_alg alg,
                                   wsp_jwt_key_use use, wsp_err *err)
{
    size_t n = 0;
    char *pem = wsp_file_read(opt, path, KEY_FILE_MAX, WSP_FILE_SECRET, &n, err);
    if (!pem)
        return NULL;
    wsp_err e;
    wsp_err_clear(&e);
    wsp_jwt_key *k = wsp_jwt_key_pem(pem, n, alg, use, &e);
    OPENSSL_cleanse(pem, n);
    free(pem);
    if (!k) {
        wsp_err_set(err, e.cls, "%s %s: %s", opt, path, e.msg);
        if (err)
            err->tls_err = e.tls_err;
    }
    return k;
}

/* ---- the shared authentication options ---- */

#define DEFAULT_TTL 300 /* seconds: short-lived unless asked otherwise (RFC 8725 section 3.10) */

struct wsp_jwt_config {
    bool used;
    bool alg_set;
    wsp_jwt_alg alg;
    char *secret_env, *secret_file, *key_file, *kid;
    json_t *claims;
    bool ttl_set, no_exp, nbf_set;
    int64_t ttl, nbf;
    int iat; /* 0 default (on), 1 --jwt-iat, -1 --no-iat */
    wsp_jwt_jti jti;
    wsp_jwt_key *key; /* after load */
};

static char *rendered_help;

static void render_help(void)
{
    size_t n = 0;
    FILE *f = open_memstream(&rendered_help, &n);
    if (!f)
        return;
    const wsp_opt *const tables[] = {wsp_jwt_opt_table, NULL};
    wsp_opt_help(f, tables, NULL);
    if (fclose(f) != 0) {
        free(rendered_help);
        rendered_help = NULL;
    }
}

/* The options, declared once: the command line, plans (auth.jwt.KEY) and --help read this. */
#define J WSP_JWT_OPT_ID
const wsp_opt wsp_jwt_opt_table[] = {
    {"jwt-alg", 0, WSP_OPT_TEXT, J, "ALG",
     "HS256 (default), HS384, HS512, RS256 or ES256; with only\n--jwt-key-file, RS256 or ES256 "
     "as the key's kind says",
     0, 0, wsp_jwt_signing_algs, "auth.jwt.alg", 0},
    {"jwt-secret-env", 0, WSP_OPT_ENV, J, "VAR", "the HMAC secret is in environment variable VAR",
     0, 0, NULL, "auth.jwt.secret_env", 0},
    {"jwt-secret-file", 0, WSP_OPT_PATH, J, "F",
     "the HMAC secret is in file F (one trailing newline is\ndropped); secrets are never taken "
     "on the command line",
     0, 0, NULL, "auth.jwt.secret_file", 0},
    {"jwt-key-file", 0, WSP_OPT_PATH, J, "PEM",
     "the private key for RS256 (RSA, 2048 bits or more) or\nES256 (EC P-256), unencrypted PEM", 0,
     0, NULL, "auth.jwt.key_file", 0},
    {"jwt-claim", 0, WSP_OPT_TEXT, J, "K=V",
     "a claim, repeatable; V is JSON when it parses as JSON\n(42, 1.5, true, null, \"text\", "
     "{...}, [...]), else a string",
     0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"jwt-ttl", 0, WSP_OPT_TEXT, J, "DURATION",
     "exp = now + DURATION (default 5m; -1h mints an expired\ntoken)", 0, 0, NULL, "auth.jwt.ttl",
     0},
    {"no-exp", 0, WSP_OPT_FLAG, J, NULL, "no exp claim (a token that never expires)", 0, 0, NULL,
     NULL, 0},
    {"jwt-nbf", 0, WSP_OPT_TEXT, J, "DURATION", "nbf = now + DURATION (a leading - for the past)",
     0, 0, NULL, "auth.jwt.nbf", 0},
    {"jwt-iat", 0, WSP_OPT_FLAG, J, NULL, "an iat claim (the default)", 0, 0, NULL, NULL, 0},
    {"no-iat", 0, WSP_OPT_FLAG, J, NULL, "no iat claim", 0, 0, NULL, NULL, 0},
    {"jwt-jti", 0, WSP_OPT_FLAG, J, "FORMAT",
     "a random jti: 16 bytes as hex (default) or base64url", 0, 0, NULL, NULL, WSP_OPT_OPTIONAL},
    {"jwt-kid", 0, WSP_OPT_TEXT, J, "KID", "the kid header", 0, 0, NULL, "auth.jwt.kid", 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};
#undef J

wsp_jwt_optkind wsp_jwt_option_kind(const char *name)
{
    if (strncmp(name, "--", 2) != 0)
        return WSP_JWT_OPT_UNKNOWN;
    const wsp_opt *const tables[] = {wsp_jwt_opt_table, NULL};
    const wsp_opt *o = wsp_opt_by_name(tables, name + 2);
    if (!o)
        return WSP_JWT_OPT_UNKNOWN;
    return o->type == WSP_OPT_FLAG ? WSP_JWT_OPT_FLAG : WSP_JWT_OPT_VALUE;
}

const char *wsp_jwt_option_help(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, render_help);
    return rendered_help ? rendered_help : "";
}

wsp_jwt_config *wsp_jwt_config_new(void)
{
    wsp_jwt_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->alg = WSP_JWT_ALG_HS256;
    c->claims = json_object();
    if (!c->claims) {
        free(c);
        return NULL;
    }
    return c;
}

void wsp_jwt_config_free(wsp_jwt_config *c)
{
    if (!c)
        return;
    free(c->secret_env);
    free(c->secret_file);
    free(c->key_file);
    free(c->kid);
    json_decref(c->claims);
    wsp_jwt_key_free(c->key);
    free(c);
}

bool wsp_jwt_config_used(const wsp_jwt_config *c)
{
    return c->used;
}

/* A JWT time offset: a duration (duration.h) in whole seconds, with an optional leading '-'. */
static int parse_offset(const char *opt, const char *v, int64_t *out, wsp_err *err)
{
    bool neg = v[0] == '-';
    uint64_t us = 0;
    if (wsp_duration_parse(v + (neg ? 1 : 0), &us) != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s '%.32s': expected a duration like 30s, 5m, 1h (a leading - for the "
                           "past; at most 30 days)",
                           opt, v);
    if (us % 1000000 != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s %.32s: JWT times are whole seconds (RFC 7519 NumericDate)", opt, v);
    int64_t s = (int64_t)(us / 1000000);
    *out = neg ? -s : s;
    return 0;
}

static int set_string(char **slot, const char *opt, const char *v, wsp_err *err)
{
    if (*slot)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s is given twice", opt);
    if (!v || !*v)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s needs a non-empty value", opt);
    *slot = strdup(v);
    return *slot ? 0 : wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
}

int wsp_jwt_config_set(wsp_jwt_config *c, const char *name, const char *v, wsp_err *err)
{
    wsp_jwt_optkind kind = wsp_jwt_option_kind(name);
    if (kind == WSP_JWT_OPT_UNKNOWN)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%.40s is not an authentication option", name);
    if (kind == WSP_JWT_OPT_VALUE && !v)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s needs a value", name);
    if (kind == WSP_JWT_OPT_FLAG && v && strcmp(name, "--jwt-jti") != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s takes no value", name);
    c->used = true;
    if (strcmp(name, "--jwt-alg") == 0) {
        if (c->alg_set)
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s is given twice", name);
        int a = wsp_jwt_alg_from_name(v);
        if (a < 0) {
            if (strcasecmp(v, "none") == 0)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "%s none: unsigned tokens are not minted (any sound server "
                                   "refuses them); one of HS256, HS384, HS512, RS256, ES256",
                                   name);
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s %.16s: unknown algorithm; one of HS256, HS384, HS512, RS256, "
                               "ES256",
                               name, v);
        }
        c->alg = (wsp_jwt_alg)a;
        c->alg_set = true;
        return 0;
    }
    if (strcmp(name, "--jwt-secret-env") == 0)
        return set_string(&c->secret_env, name, v, err);
    if (strcmp(name, "--jwt-secret-file") == 0)
        return set_string(&c->secret_file, name, v, err);
    if (strcmp(name, "--jwt-key-file") == 0)
        return set_string(&c->key_file, name, v, err);
    if (strcmp(name, "--jwt-kid") == 0)
        return set_string(&c->kid, name, v, err);
    if (strcmp(name, "--jwt-claim") == 0)
        return wsp_jwt_claim_parse(c->claims, name, v, err);
    if (strcmp(name, "--jwt-ttl") == 0) {
        if (c->ttl_set)
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s is given twice", name);
        c->ttl_set = true;
        return parse_offset(name, v, &c->ttl, err);
    }
    if (strcmp(name, "--jwt-nbf") == 0) {
        if (c->nbf_set)
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s is given twice", name);
        c->nbf_set = true;
        return parse_offset(name, v, &c->nbf, err);
    }
    if (strcmp(name, "--jwt-iat") == 0 || strcmp(name, "--no-iat") == 0) {
        int want = name[2] == 'j' ? 1 : -1;
        if (c->iat != 0 && c->iat != want)
            return wsp_err_set(err, WSP_CLASS_USAGE, "--jwt-iat and --no-iat contradict");
        c->iat = want;
        return 0;
    }
    if (strcmp(name, "--no-exp") == 0) {
        c->no_exp = true;
        return 0;
    }
    /* --jwt-jti[=hex|base64url] */
    if (!v || strcmp(v, "hex") == 0)
        c->jti = WSP_JWT_JTI_HEX;
    else if (strcmp(v, "base64url") == 0)
        c->jti = WSP_JWT_JTI_B64URL;
    else
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s=%.16s: the format is hex or base64url", name,
                           v);
    return 0;
}

/* A registered claim given with --jwt-claim while the option that computes it is also given. */
static int claim_conflict(const wsp_jwt_config *c, const char *claim, bool computed,
                          const char *opt, wsp_err *err)
{
    if (computed && json_object_get(c->claims, claim))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--jwt-claim %s conflicts with %s, which sets %s: give one of them",
                           claim, opt, claim);
    return 0;
}

int wsp_jwt_config_load(wsp_jwt_config *c, wsp_err *err)
{
    if (c->key)
        return 0;
    if (c->ttl_set && c->no_exp)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--jwt-ttl and --no-exp contradict");
    if (claim_conflict(c, "exp", c->ttl_set || c->no_exp, c->no_exp ? "--no-exp" : "--jwt-ttl",
                       err) ||
        claim_conflict(c, "nbf", c->nbf_set, "--jwt-nbf", err) ||
        claim_conflict(c, "iat", c->iat != 0, c->iat > 0 ? "--jwt-iat" : "--no-iat", err) ||
        claim_conflict(c, "jti", c->jti != WSP_JWT_JTI_NONE, "--jwt-jti", err))
        return -1;

    bool secret = c->secret_env || c->secret_file;
    if (c->secret_env && c->secret_file)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--jwt-secret-env and --jwt-secret-file: give one secret, not two");
    if (!c->alg_set && c->key_file && !secret)
        c->alg = WSP_JWT_ALG_NONE; /* the key file says: RS256 or ES256 */
    const char *an = wsp_jwt_alg_name(c->alg);
    if (wsp_jwt_alg_is_hmac(c->alg)) {
        if (c->key_file)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--jwt-key-file is for RS256 and ES256; %s signs with a shared "
                               "secret from --jwt-secret-env VAR or --jwt-secret-file F",
                               an);
        if (!secret)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s needs a secret: --jwt-secret-env VAR or --jwt-secret-file F "
                               "(never on the command line)",
                               an);
        uint8_t *s = NULL;
        size_t n = 0;
        int rc = c->secret_env
                     ? wsp_jwt_secret_from_env("--jwt-secret-env", c->secret_env, &s, &n, err)
                     : wsp_jwt_secret_from_file("--jwt-secret-file", c->secret_file, &s, &n, err);
        if (rc != 0)
            return -1;
        if (wsp_jwt_secret_is_pem(s, n)) {
            OPENSSL_cleanse(s, n);
            free(s);
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s %s: the secret is a PEM key, not a shared secret; RS256 and "
                               "ES256 sign with --jwt-key-file",
                               c->secret_env ? "--jwt-secret-env" : "--jwt-secret-file",
                               c->secret_env ? env_shown(c->secret_env) : c->secret_file);
        }
        wsp_redact_register((const char *)s, n); /* no report prints it, even echoed by a peer */
        c->key = wsp_jwt_key_secret(s, n);
        OPENSSL_cleanse(s, n);
        free(s);
        if (!c->key)
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        return 0;
    }
    if (secret)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s is for HS256, HS384 and HS512; %s signs with --jwt-key-file PEM",
                           c->secret_env ? "--jwt-secret-env" : "--jwt-secret-file",
                           c->alg == WSP_JWT_ALG_NONE ? "RS256 or ES256" : an);
    if (!c->key_file)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s needs --jwt-key-file PEM (a private key)", an);
    c->key = wsp_jwt_key_from_file("--jwt-key-file", c->key_file, c->alg, WSP_JWT_KEY_SIGN, err);
    if (!c->key)
        return -1;
    if (c->alg == WSP_JWT_ALG_NONE)
        c->alg = wsp_jwt_key_alg(c->key);
    return 0;
}

int wsp_jwt_config_mint(const wsp_jwt_config *c, int64_t now, char **token_out, wsp_err *err)
{
    *token_out = NULL;
    if (!c->key)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "the authentication options are not loaded");
    wsp_jwt_mint_opts o = {
        .alg = c->alg,
        .key = c->key,
        .claims = c->claims,
        .kid = c->kid,
        .now = now,
        .iat = c->iat >= 0 && !json_object_get(c->claims, "iat"),
        .exp = !c->no_exp && !json_object_get(c->claims, "exp"),
        .ttl = c->ttl_set ? c->ttl : DEFAULT_TTL,
        .nbf = c->nbf_set,
        .nbf_offset = c->nbf,
        .jti = c->jti,
    };
    return wsp_jwt_mint(&o, token_out, err);
}
