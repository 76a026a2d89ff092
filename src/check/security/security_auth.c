/* security_auth.c - the auth.* checks (SECURITY-CHECKS.md "Authentication"): forged, unsigned,
 * mis-signed and mis-claimed tokens sent where the env's credential goes, beside baselines; and
 * the offline weak-secret search. Tokens are forged with jwt.h's deliberate deviations
 * (wsp_jwt_forge); none of them, nor the baseline token, reaches the evidence (the check runner
 * redacts every result, check.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "probe/jwtconfig.h"
#include "util/clock.h"
#include "check/security/security_int.h"
#include "util/redact.h"

#define MAX_VARIANTS 8

/* ---- the baseline token, decoded ---- */

typedef struct jwt_parts {
    char *token;     /* the whole baseline token, wiped on release */
    json_t *header;  /* decoded header object */
    json_t *payload; /* decoded claims object */
    wsp_jwt_alg alg; /* from the header; -1 when not one we know */
    bool known_alg;
} jwt_parts;

static json_t *decode_segment(const char *s, size_t n)
{
    uint8_t *buf = malloc(n / 4 * 3 + 3);
    size_t len = 0;
    json_t *j = NULL;
    if (buf && wsp_jwt_b64url_decode(s, n, buf, n / 4 * 3 + 3, &len) == 0) {
        json_error_t je;
        j = json_loadb((const char *)buf, len, 0, &je);
        if (j && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    free(buf);
    return j;
}

static void parts_cleanup(jwt_parts *p)
{
    if (p->token) {
        OPENSSL_cleanse(p->token, strlen(p->token));
        free(p->token);
    }
    json_decref(p->header);
    json_decref(p->payload);
    memset(p, 0, sizeof *p);
}

/* Get a token from the env's credential and decode it. Returns 0; -1 when there is no
 * credential (out set skip), -2 when it is not a JWT (out set not_applicable). */
static int baseline_parts(const wsp_env *env, wsp_check_result *out, jwt_parts *p)
{
    memset(p, 0, sizeof *p);
    if (!wsp_auth_active(&env->auth)) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: no credential to forge from (give --jwt-secret-env, "
                      "--jwt-key-file, --token-env or --token-file)");
        return -1;
    }
    wsp_err e;
    wsp_err_clear(&e);
    p->token = wsp_auth_token(&env->auth, &e);
    if (!p->token) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, e.cls, "could not make the credential: %s",
                      e.msg);
        return -1;
    }
    const char *d1 = strchr(p->token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 && d2) {
        p->header = decode_segment(p->token, (size_t)(d1 - p->token));
        p->payload = decode_segment(d1 + 1, (size_t)(d2 - d1 - 1));
    }
    if (!p->header || !p->payload) {
        wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                      "the credential is not a JWT: nothing to forge from");
        parts_cleanup(p);
        return -2;
    }
    const char *alg = json_string_value(json_object_get(p->header, "alg"));
    int a = alg ? wsp_jwt_alg_from_name(alg) : -1;
    p->known_alg = a >= 0;
    p->alg = a >= 0 ? (wsp_jwt_alg)a : WSP_JWT_ALG_HS256;
    return 0;
}

/* ---- running negatives ---- */

typedef struct variant {
    const char *name;
    char *token;          /* owned; NULL: no credential at all */
    bool placement_query; /* put it in ?token= instead of the env's placement */
} variant;

static void variants_free(variant *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].token) {
            OPENSSL_cleanse(v[i].token, strlen(v[i].token));
            free(v[i].token);
        }
}

static void auth_like(const wsp_env *env, wsp_auth *a, const variant *v)
{
    wsp_auth_init(a);
    a->in = v->placement_query ? WSP_AUTH_IN_QUERY : env->auth.in;
    if (v->placement_query)
        snprintf(a->name, sizeof a->name, "token");
    else
        memcpy(a->name, env->auth.name, sizeof a->name);
    if (!v->placement_query && env->auth.message)
        a->message = strdup(env->auth.message);
    if (v->token)
        wsp_auth_set_token(a, v->token, NULL);
}

/* Baseline, the variants concurrently, baseline again; the verdict by the decision rules. */
static void run_negatives(const wsp_env *env, wsp_check_result *out, variant *v, size_t n,
                          const char *what, const char *const *secrets)
{
    if (n == 0) {
        /* nothing was sent: that is never a pass */
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL,
                      "could not build any of the %s", what);
        goto done;
    }
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        goto done;
    wsp_auth auths[MAX_VARIANTS];
    wsp_probe_config cfgs[MAX_VARIANTS];
    const wsp_probe_config *cp[MAX_VARIANTS];
    for (size_t i = 0; i < n; i++) {
        auth_like(env, &auths[i], &v[i]);
        wsp_sec_cfg_from_env(env, &cfgs[i]);
        cfgs[i].auth = &auths[i];
        wsp_sec_cfg_add_marker(env, &cfgs[i]);
        cp[i] = &cfgs[i];
    }
    wsp_sec_batch *b = wsp_sec_batch_run(cp, n);
    wsp_sec_tally t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; b && i < n; i++) {
        if (!b->probes[i]) {
            wsp_sec_count(&t, v[i].name, WSP_SEC_UNREACHABLE);
            continue;
        }
        wsp_sec_note(out, &t, v[i].name, b->probes[i], wsp_sec_judge(b->probes[i]));
    }
    wsp_sec_batch_free(b);
    for (size_t i = 0; i < n; i++) {
        wsp_probe_config_cleanup(&cfgs[i]);
        wsp_auth_cleanup(&auths[i]);
    }
    if (!b) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL, "out of memory");
        goto done;
    }
    bool after = wsp_sec_baseline(env, out, "baseline_after", false);
    wsp_sec_conclude(out, &t, after, what);
done:
    variants_free(v, n);
    for (size_t k = 0; secrets && secrets[k]; k++)
        wsp_redact_register(secrets[k], strlen(secrets[k])); /* the runner redacts the result */
}

static char *mint(wsp_jwt_alg alg, const wsp_jwt_key *key, json_t *claims, json_t *hdr,
                  const wsp_jwt_forge *forge)
{
    wsp_jwt_mint_opts o;
    memset(&o, 0, sizeof o);
    o.alg = alg;
    o.key = key;
    o.claims = claims;
    o.header = hdr;
    o.now = (int64_t)time(NULL);
    o.forge = forge;
    char *tok = NULL;
    wsp_err e;
    if (wsp_jwt_mint(&o, &tok, &e) != 0)
        return NULL;
    return tok;
}

/* The baseline header's members other than alg and typ (kid, ...), or NULL. New reference. */
static json_t *extra_header(const jwt_parts *p)
{
    json_t *h = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(p->header, k, v)
    {
        if (strcmp(k, "alg") != 0 && strcmp(k, "typ") != 0)
            json_object_set(h, k, v);
    }
    if (json_object_size(h) == 0) {
        json_decref(h);
        return NULL;
    }
    return h;
}

/* ---- keys ---- */

/* A fresh private key for alg (RS256: RSA 2048, ES256: P-256) as a wsp_jwt_key. */
static wsp_jwt_key *fresh_key(wsp_jwt_alg alg)
{
    EVP_PKEY *pk = alg == WSP_JWT_ALG_RS256 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    if (!pk)
        return NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    wsp_jwt_key *k = NULL;
    if (bio && PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) == 1) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        wsp_err e;
        if (len > 0)
            k = wsp_jwt_key_pem(data, (size_t)len, alg, WSP_JWT_KEY_SIGN, &e);
    }
    BIO_free(bio);
    EVP_PKEY_free(pk);
    return k;
}

/* The signing key from params.signing; *alg_out set; *secret_out (for redaction) a NUL-
 * terminated copy of a printable secret, or NULL. Returns NULL with why when absent. */
static wsp_jwt_key *signing_key(const json_t *params, wsp_jwt_alg *alg_out, char **secret_out,
                                char *why, size_t cap)
{
    *secret_out = NULL;
    const json_t *s = json_object_get(params, "signing");
    if (!json_is_object(s)) {
        snprintf(why, cap, "no signing key given (params.signing / --jwt-secret-env)");
        return NULL;
    }
    const char *alg = json_string_value(json_object_get(s, "alg"));
    int a = alg ? wsp_jwt_alg_from_name(alg) : (int)WSP_JWT_ALG_HS256;
    const char *env = json_string_value(json_object_get(s, "secret_env"));
    const char *file = json_string_value(json_object_get(s, "secret_file"));
    const char *kf = json_string_value(json_object_get(s, "key_file"));
    wsp_err e;
    wsp_err_clear(&e);
    if (kf) {
        wsp_jwt_key *k = wsp_jwt_key_from_file(
            "signing.key_file", kf,
            a >= 0 && !wsp_jwt_alg_is_hmac((wsp_jwt_alg)a) ? (wsp_jwt_alg)a : WSP_JWT_ALG_NONE,
            WSP_JWT_KEY_SIGN, &e);
        if (!k) {
            snprintf(why, cap, "%.200s", e.msg);
            return NULL;
        }
        *alg_out = wsp_jwt_key_alg(k);
        return k;
    }
    uint8_t *sec = NULL;
    size_t len = 0;
    int rc = env    ? wsp_jwt_secret_from_env("signing.secret_env", env, &sec, &len, &e)
             : file ? wsp_jwt_secret_from_file("signing.secret_file", file, &sec, &len, &e)
                    : -1;
    if (rc != 0) {
        snprintf(why, cap, "%.200s", env || file ? e.msg : "no secret or key in params.signing");
        return NULL;
    }
    wsp_jwt_key *k = wsp_jwt_key_secret(sec, len);
    *alg_out = a >= 0 && wsp_jwt_alg_is_hmac((wsp_jwt_alg)a) ? (wsp_jwt_alg)a : WSP_JWT_ALG_HS256;
    *secret_out = malloc(len + 1);
    if (*secret_out) {
        memcpy(*secret_out, sec, len);
        (*secret_out)[len] = '\0';
    }
    OPENSSL_cleanse(sec, len);
    free(sec);
    return k;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* ---- the checks ---- */

void wsp_sec_auth_missing(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    if (!wsp_auth_active(&env->auth)) {
        /* no credential: the only question left is whether the endpoint serves anyone */
        wsp_probe_config cfg;
        wsp_sec_cfg_from_env(env, &cfg);
        cfg.auth = NULL;
        wsp_sec_cfg_add_marker(env, &cfg);
        wsp_sec_outcome o = wsp_sec_probe_once(&cfg, out, "no_token");
        if (o == WSP_SEC_ACCEPTED)
            wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_AUTH_NOT_ENFORCED,
                          "the endpoint served a client without any credential (success marker "
                          "came back)");
        else
            wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                          "refused without a credential (%s), but no valid credential was given "
                          "for the baseline that proves the endpoint works",
                          wsp_sec_outcome_name(o));
        wsp_probe_config_cleanup(&cfg);
        return;
    }
    variant v[3];
    memset(v, 0, sizeof v);
    size_t n = 0;
    v[n++].name = "no_token";
    v[n].name = "bearer_invalid";
    v[n++].token = strdup("invalid");
    jwt_parts p;
    memset(&p, 0, sizeof p);
    wsp_err e;
    char *tok = wsp_auth_token(&env->auth, &e);
    if (tok) {
        size_t len = strlen(tok);
        v[n].name = "truncated_jwt";
        v[n++].token = strndup(tok, len / 2 ? len / 2 : 1);
        wsp_auth_token_free(tok);
    }
    run_negatives(env, out, v, n, "requests without a valid credential", NULL);
}

void wsp_sec_auth_unsigned(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    jwt_parts p;
    if (baseline_parts(env, out, &p) != 0)
        return;
    variant v[MAX_VARIANTS];
    memset(v, 0, sizeof v);
    size_t n = 0;
    static const char *const spellings[] = {"none", "None", "NONE", "nOnE"};
    static const char *const names[] = {"alg_none", "alg_None", "alg_NONE", "alg_nOnE"};
    json_t *hx = extra_header(&p);
    for (size_t i = 0; i < 4; i++) {
        wsp_jwt_forge f = {.alg_header = spellings[i], .empty_signature = true};
        v[n].name = names[i];
        v[n].token = mint(WSP_JWT_ALG_NONE, NULL, p.payload, hx, &f);
        if (v[n].token)
            n++;
    }
    /* null signature: the real header and payload, "h.p." */
    char *last = strrchr(p.token, '.');
    if (last) {
        v[n].name = "null_signature";
        v[n++].token = strndup(p.token, (size_t)(last - p.token) + 1);
        size_t sl = strlen(last + 1);
        if (sl > 4) {
            v[n].name = "cut_signature";
            v[n++].token = strndup(p.token, strlen(p.token) - 4);
        }
    }
    wsp_jwt_key *empty = wsp_jwt_key_secret("", 0);
    wsp_jwt_forge fe = {.allow_empty_secret = true};
    v[n].name = "hs256_empty_secret";
    v[n].token = empty ? mint(WSP_JWT_ALG_HS256, empty, p.payload, hx, &fe) : NULL;
    if (v[n].token)
        n++;
    wsp_jwt_key_free(empty);
    json_decref(hx);
    parts_cleanup(&p);
    run_negatives(env, out, v, n, "unsigned tokens", NULL);
}

void wsp_sec_auth_bad_signature(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    jwt_parts p;
    if (baseline_parts(env, out, &p) != 0)
        return;
    wsp_jwt_key *k = NULL;
    wsp_jwt_alg alg = p.known_alg ? p.alg : WSP_JWT_ALG_HS256;
    if (wsp_jwt_alg_is_hmac(alg)) {
        uint8_t sec[32];
        if (RAND_bytes(sec, sizeof sec) == 1)
            k = wsp_jwt_key_secret(sec, sizeof sec);
        OPENSSL_cleanse(sec, sizeof sec);
    } else {
        k = fresh_key(alg);
    }
    variant v[1];
    memset(v, 0, sizeof v);
    size_t n = 0;
    json_t *hx = extra_header(&p);
    if (k) {
        v[0].name = "other_key";
        v[0].token = mint(alg, k, p.payload, hx, NULL);
        n = v[0].token ? 1 : 0;
    }
    json_decref(hx);
    wsp_jwt_key_free(k);
    parts_cleanup(&p);
    if (n == 0) {
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL,
                      "could not sign a token with another key");
        return;
    }
    json_object_set_new(out->evidence, "alg", json_string(wsp_jwt_alg_name(alg)));
    run_negatives(env, out, v, n, "tokens signed with another key", NULL);
}

/* The endpoint's public key as PEM: params.public_key_file, else the public half of
 * params.signing.key_file. Heap or NULL. */
static char *public_pem(const json_t *params, size_t *len)
{
    const char *pf = json_string_value(json_object_get(params, "public_key_file"));
    const char *kf =
        json_string_value(json_object_get(json_object_get(params, "signing"), "key_file"));
    wsp_err e;
    wsp_jwt_key *k = NULL;
    if (pf)
        k = wsp_jwt_key_from_file("public_key_file", pf, WSP_JWT_ALG_NONE, WSP_JWT_KEY_VERIFY, &e);
    else if (kf)
        k = wsp_jwt_key_from_file("signing.key_file", kf, WSP_JWT_ALG_NONE, WSP_JWT_KEY_VERIFY, &e);
    char *pem = NULL;
    if (k && wsp_jwt_key_public_pem(k, &pem, len, &e) != 0)
        pem = NULL;
    wsp_jwt_key_free(k);
    return pem;
}

void wsp_sec_auth_key_confusion(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    jwt_parts p;
    if (baseline_parts(env, out, &p) != 0)
        return;
    if (!p.known_alg || wsp_jwt_alg_is_hmac(p.alg)) {
        wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                      "the endpoint's tokens are %s: key confusion concerns RS/ES endpoints",
                      p.known_alg ? wsp_jwt_alg_name(p.alg) : "of an unknown algorithm");
        parts_cleanup(&p);
        return;
    }
    size_t len = 0;
    char *pem = public_pem(params, &len);
    if (!pem) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: the endpoint's public key is needed (--jwt-public-key-file, or "
                      "--jwt-key-file)");
        parts_cleanup(&p);
        return;
    }
    variant v[2];
    memset(v, 0, sizeof v);
    size_t n = 0;
    json_t *hx = extra_header(&p);
    wsp_jwt_forge f = {.allow_pem_secret = true};
    for (int i = 0; i < 2; i++) {
        size_t l = i == 0 ? len : (len && pem[len - 1] == '\n' ? len - 1 : len);
        wsp_jwt_key *k = wsp_jwt_key_secret(pem, l);
        v[n].name = i == 0 ? "hs256_public_pem" : "hs256_public_pem_no_newline";
        v[n].token = k ? mint(WSP_JWT_ALG_HS256, k, p.payload, hx, &f) : NULL;
        if (v[n].token)
            n++;
        wsp_jwt_key_free(k);
    }
    json_decref(hx);
    free(pem);
    parts_cleanup(&p);
    run_negatives(env, out, v, n, "HS256 tokens keyed with the public key", NULL);
}

void wsp_sec_auth_header_injection(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    jwt_parts p;
    if (baseline_parts(env, out, &p) != 0)
        return;
    variant v[3];
    memset(v, 0, sizeof v);
    size_t n = 0;
    /* an embedded jwk: our own key, published in the token itself */
    wsp_jwt_key *own = fresh_key(WSP_JWT_ALG_ES256);
    json_t *jwk = NULL;
    wsp_err e;
    if (own && wsp_jwt_key_jwk(own, &jwk, &e) == 0) {
        json_t *h = json_pack("{s:O}", "jwk", jwk);
        v[n].name = "embedded_jwk";
        v[n].token = mint(WSP_JWT_ALG_ES256, own, p.payload, h, NULL);
        if (v[n].token)
            n++;
        json_decref(h);
        json_decref(jwk);
    }
    wsp_jwt_key_free(own);
    /* kid path traversal, signed with an empty key (the contents of /dev/null) */
    wsp_jwt_key *empty = wsp_jwt_key_secret("", 0);
    wsp_jwt_forge fe = {.allow_empty_secret = true};
    json_t *h = json_pack("{s:s}", "kid", "../../../../../../dev/null");
    v[n].name = "kid_traversal";
    v[n].token = empty ? mint(WSP_JWT_ALG_HS256, empty, p.payload, h, &fe) : NULL;
    if (v[n].token)
        n++;
    json_decref(h);
    wsp_jwt_key_free(empty);
    /* kid that a SQL lookup would turn into a known key */
    wsp_jwt_key *known = wsp_jwt_key_secret("wsprobe", 7);
    h = json_pack("{s:s}", "kid", "x' UNION SELECT 'wsprobe' -- ");
    v[n].name = "kid_sql";
    v[n].token = known ? mint(WSP_JWT_ALG_HS256, known, p.payload, h, NULL) : NULL;
    if (v[n].token)
        n++;
    json_decref(h);
    wsp_jwt_key_free(known);
    parts_cleanup(&p);
    run_negatives(env, out, v, n, "tokens with injected header keys", NULL);
}

/* A token from the env's own JWT configuration whose exp is `exp`, without knowing the key:
 * mint once to learn the lifetime, then mint "a lifetime before exp". NULL when the
 * configuration makes no exp (or there is none). */
static char *config_token_with_exp(const wsp_env *env, int64_t exp)
{
    if (!env->auth.jwt)
        return NULL;
    int64_t now = (int64_t)time(NULL);
    char *t = NULL;
    wsp_err e;
    if (wsp_jwt_config_mint(env->auth.jwt, now, &t, &e) != 0)
        return NULL;
    const char *d1 = strchr(t, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    json_t *pl = d2 ? decode_segment(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
    OPENSSL_cleanse(t, strlen(t));
    free(t);
    t = NULL;
    json_t *je = json_object_get(pl, "exp");
    if (json_is_integer(je)) {
        int64_t ttl = (int64_t)json_integer_value(je) - now;
        if (wsp_jwt_config_mint(env->auth.jwt, exp - ttl, &t, &e) != 0)
            t = NULL;
    }
    json_decref(pl);
    return t;
}

static char *expired_from_config(const wsp_env *env)
{
    return config_token_with_exp(env, (int64_t)time(NULL) - 3600);
}

void wsp_sec_auth_claims(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    jwt_parts p;
    if (baseline_parts(env, out, &p) != 0)
        return;
    wsp_jwt_alg alg = p.alg;
    char *secret = NULL;
    char why[256];
    wsp_jwt_key *k = signing_key(params, &alg, &secret, why, sizeof why);
    variant v[4];
    memset(v, 0, sizeof v);
    size_t n = 0;
    int64_t now = (int64_t)time(NULL);
    json_t *hx = extra_header(&p);
    json_t *not_run = json_array();
    if (k) {
        json_t *c = json_deep_copy(p.payload);
        json_object_set_new(c, "iat", json_integer(now - 7200));
        json_object_set_new(c, "exp", json_integer(now - 3600));
        v[n].name = "exp_past";
        v[n].token = mint(alg, k, c, hx, NULL);
        n += v[n].token != NULL;
        json_decref(c);
        c = json_deep_copy(p.payload);
        json_object_set_new(c, "nbf", json_integer(now + 3600));
        json_object_set_new(c, "exp", json_integer(now + 7200));
        v[n].name = "nbf_future";
        v[n].token = mint(alg, k, c, hx, NULL);
        n += v[n].token != NULL;
        json_decref(c);
        c = json_deep_copy(p.payload);
        json_object_set_new(c, "aud", json_string("wsprobe-wrong-audience"));
        v[n].name = "wrong_aud";
        v[n].token = mint(alg, k, c, hx, NULL);
        n += v[n].token != NULL;
        json_decref(c);
        if (json_object_get(p.payload, "iss")) {
            c = json_deep_copy(p.payload);
            json_object_set_new(c, "iss", json_string("https://wrong-issuer.wsprobe.invalid"));
            v[n].name = "wrong_iss";
            v[n].token = mint(alg, k, c, hx, NULL);
            n += v[n].token != NULL;
            json_decref(c);
        } else {
            json_array_append_new(not_run, json_string("wrong_iss: the credential has no iss"));
        }
    } else {
        v[n].name = "exp_past";
        v[n].token = expired_from_config(env);
        n += v[n].token != NULL;
        json_array_append_new(not_run, json_string(why));
        json_array_append_new(not_run, json_string("nbf_future, wrong_aud, wrong_iss need the "
                                                   "signing key"));
    }
    json_decref(hx);
    wsp_jwt_key_free(k);
    parts_cleanup(&p);
    json_object_set_new(out->evidence, "not_run", not_run);
    if (n == 0) {
        free_secret(secret);
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: no way to sign tokens with bad claims (%s)", why);
        return;
    }
    const char *secrets[] = {secret, NULL};
    run_negatives(env, out, v, n, "validly signed tokens with bad claims", secrets);
    free_secret(secret);
}

/* Common HMAC secrets from tutorials, frameworks' defaults and leaked-secret lists. */
static const char *const common_secrets[] = {
    "secret",
    "password",
    "123456",
    "12345678",
    "1234567890",
    "changeme",
    "change_me",
    "changeit",
    "jwt",
    "jwt_secret",
    "jwtsecret",
    "jwt-secret",
    "JWT_SECRET",
    "key",
    "secretkey",
    "secret_key",
    "secret-key",
    "SECRET_KEY",
    "mysecret",
    "my_secret",
    "my-secret",
    "mysecretkey",
    "supersecret",
    "super_secret",
    "topsecret",
    "verysecret",
    "s3cr3t",
    "s3cret",
    "secret123",
    "your-256-bit-secret",
    "your-secret-key",
    "your_jwt_secret",
    "your-jwt-secret",
    "yoursecret",
    "test",
    "test123",
    "testing",
    "admin",
    "administrator",
    "default",
    "qwerty",
    "letmein",
    "abc123",
    "password123",
    "passw0rd",
    "P@ssw0rd",
    "welcome",
    "hello",
    "hello world",
    "foobar",
    "foo",
    "bar",
    "shhhhh",
    "shhhhhhared-secret",
    "keyboard cat",
    "development",
    "dev",
    "production",
    "prod",
    "staging",
    "example",
    "sample",
    "demo",
    "token",
    "auth",
    "access",
    "private",
    "public",
    "hmac",
    "hs256",
    "HS256",
    "gophers",
    "node",
    "express",
    "django",
    "rails",
    "laravel",
    "spring",
    "flask",
    "app",
    "api",
    "apikey",
    "api_key",
    "replace_me",
    "replaceme",
    "TODO",
    "none",
    "null",
    "undefined",
    "localhost",
    "chat",
    "websocket",
    "ws",
    "socket",
    "session",
    "cookie",
    "signing_key",
    "signingkey",
    "jwtkey",
    "jwt-key",
    "secretsecret",
    "thisisasecret",
    "ThisIsASecret",
    "notasecret",
    "insecure",
    "root",
    "toor",
    "pass",
    "1234",
    "12345",
    "0000",
    "wsprobe",
};

void wsp_sec_auth_weak_secret(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    jwt_parts p;
    if (baseline_parts(env, out, &p) != 0)
        return;
    if (!p.known_alg || !wsp_jwt_alg_is_hmac(p.alg)) {
        wsp_check_set(out, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                      "the token is not HMAC-signed (%s): there is no shared secret to guess",
                      p.known_alg ? wsp_jwt_alg_name(p.alg) : "unknown alg");
        parts_cleanup(&p);
        return;
    }
    size_t tried = 0;
    long found = -1;
    size_t tlen = strlen(p.token);
    for (size_t i = 0; i < sizeof common_secrets / sizeof common_secrets[0]; i++) {
        wsp_jwt_key *k = wsp_jwt_key_secret(common_secrets[i], strlen(common_secrets[i]));
        if (!k)
            continue;
        wsp_jwt_verify_opts o;
        memset(&o, 0, sizeof o);
        o.alg = p.alg;
        o.key = k;
        o.now = (int64_t)time(NULL);
        o.leeway = 86400;
        wsp_jwt_status st = wsp_jwt_verify(p.token, tlen, &o, NULL);
        wsp_jwt_key_free(k);
        tried++;
        if (st != WSP_JWT_BAD_SIGNATURE && st != WSP_JWT_MALFORMED &&
            st != WSP_JWT_ALG_NOT_ALLOWED && st != WSP_JWT_KEY_INVALID) {
            found = (long)i;
            break;
        }
    }
    json_object_set_new(out->evidence, "alg", json_string(wsp_jwt_alg_name(p.alg)));
    json_object_set_new(out->evidence, "secrets_tried", json_integer((json_int_t)tried));
    json_object_set_new(out->evidence, "network", json_false());
    parts_cleanup(&p);
    if (found >= 0) {
        /* the entry's index, never the secret itself */
        json_object_set_new(out->evidence, "list_entry", json_integer(found));
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "the token's HMAC secret is in the list of common secrets (entry %ld): "
                      "anyone can mint tokens",
                      found);
        snprintf(out->hint, sizeof out->hint,
                 "use a random secret of 32 bytes or more (openssl rand -base64 32) and rotate "
                 "the current one");
    } else {
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "none of %zu common secrets verifies the token (offline, nothing sent)",
                      tried);
    }
}

void wsp_sec_auth_query_token(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    (void)params;
    if (!wsp_auth_active(&env->auth)) {
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK, "not run: no credential to place");
        return;
    }
    if (env->auth.in == WSP_AUTH_IN_QUERY) {
        json_object_set_new(out->evidence, "token_in_query", json_true());
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "informational: the configured credential travels in the URL query "
                      "(?%s=): it lands in access logs and proxies",
                      env->auth.name);
        return;
    }
    if (!wsp_sec_baseline(env, out, "baseline_before", true))
        return;
    wsp_err e;
    variant v = {"token_in_query", wsp_auth_token(&env->auth, &e), true};
    wsp_auth a;
    auth_like(env, &a, &v);
    wsp_probe_config cfg;
    wsp_sec_cfg_from_env(env, &cfg);
    cfg.auth = &a;
    wsp_sec_cfg_add_marker(env, &cfg);
    wsp_sec_outcome o = wsp_sec_probe_once(&cfg, out, "token_in_query");
    wsp_probe_config_cleanup(&cfg);
    wsp_auth_cleanup(&a);
    variants_free(&v, 1);
    json_object_set_new(out->evidence, "query_accepted", json_boolean(o == WSP_SEC_ACCEPTED));
    if (o == WSP_SEC_ACCEPTED)
        wsp_check_set(out, WSP_VERDICT_WARN, WSP_CLASS_OK,
                      "informational: the endpoint accepts the token in the URL query (?token=): "
                      "URLs land in access logs and proxies; prefer the Authorization header");
    else if (o == WSP_SEC_EDGE || o == WSP_SEC_SILENT || o == WSP_SEC_UNREACHABLE)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "no clear answer to a token in the query (%s)", wsp_sec_outcome_name(o));
    else
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "a token in the URL query is not accepted (%s)", wsp_sec_outcome_name(o));
}

typedef struct expiry_ctx {
    wsp_auth auth;
} expiry_ctx;

void wsp_sec_auth_expiry_on_open(const wsp_env *env, const json_t *params, wsp_check_result *out)
{
    jwt_parts p;
    if (baseline_parts(env, out, &p) != 0)
        return;
    json_t *lw = json_object_get(params, "expiry_leeway_ms");
    int64_t leeway_ms =
        json_is_integer(lw) && json_integer_value(lw) >= 0 ? (int64_t)json_integer_value(lw) : 5000;
    if (leeway_ms > 120000)
        leeway_ms = 120000;
    json_object_set_new(out->evidence, "leeway_ms", json_integer(leeway_ms));
    if (!wsp_sec_baseline(env, out, "baseline_before", true)) {
        parts_cleanup(&p);
        return;
    }
    /* a token that expires two seconds from now (whole seconds: one to two seconds left) */
    int64_t exp = (int64_t)time(NULL) + 2;
    wsp_jwt_alg alg = p.alg;
    char *secret = NULL;
    char why[256];
    wsp_jwt_key *k = signing_key(params, &alg, &secret, why, sizeof why);
    variant v = {"expiring_token", NULL, false};
    if (k) {
        json_t *c = json_deep_copy(p.payload);
        json_object_set_new(c, "iat", json_integer(exp - 60));
        json_object_set_new(c, "exp", json_integer(exp));
        json_object_del(c, "nbf");
        json_t *hx = extra_header(&p);
        v.token = mint(alg, k, c, hx, NULL);
        json_decref(hx);
        json_decref(c);
    } else {
        v.token = config_token_with_exp(env, exp);
    }
    bool had_key = k != NULL;
    wsp_jwt_key_free(k);
    parts_cleanup(&p);
    if (!v.token) {
        free_secret(secret);
        wsp_check_set(out, WSP_VERDICT_SKIP, WSP_CLASS_OK,
                      "not run: no way to make a token that expires soon (%s)",
                      had_key ? "minting failed" : why);
        return;
    }
    expiry_ctx x;
    auth_like(env, &x.auth, &v);
    int64_t now_ms = wsp_clock_real_ms();
    /* exp has whole seconds: a server may round to the next one; then 500 ms of grace */
    int64_t hold_ms = exp * 1000 - now_ms + leeway_ms + 1500;
    wsp_sec_raw a;
    memset(&a, 0, sizeof a);
    a.o.with_auth = true;
    a.o.auth = &x.auth;
    a.o.wait_us = (uint64_t)(hold_ms > 0 ? hold_ms : 1) * 1000ull;
    a.o.keepalive_us = 300000;
    a.o.marker_at_end = true;
    a.o.stop_on_marker = true;
    wsp_sec_raw *sp[] = {&a};
    wsp_sec_raw_run(env, sp, 1);
    int64_t end_ms = wsp_clock_real_ms();
    bool server_ended =
        a.rec.closed_by == WSP_CLOSED_BY_SERVER || a.rec.err.cls == WSP_CLASS_WS_DROPPED;
    wsp_sec_raw_evidence(out, "expiring", &a, NULL);
    json_object_set_new(out->evidence, "ended_after_expiry_ms",
                        json_integer((json_int_t)(end_ms - exp * 1000)));
    json_object_set_new(out->evidence, "marker_sent_after_expiry", json_boolean(a.end_marker_sent));
    if (!a.opened)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, a.rec.err.cls,
                      "a connection with a token that expires in 2 s did not open: %.300s",
                      a.rec.err.msg);
    else if (a.marker_seen && a.end_marker_sent)
        wsp_check_set(out, WSP_VERDICT_FAIL, WSP_CLASS_OK,
                      "the connection was still served %lld ms after its token expired (leeway "
                      "%lld ms): a revoked or expired session keeps working",
                      (long long)(end_ms - exp * 1000), (long long)leeway_ms);
    else if (server_ended && end_ms >= exp * 1000 - 1000)
        wsp_check_set(out, WSP_VERDICT_PASS, WSP_CLASS_OK,
                      "the server ended the connection %lld ms after the token expired (close %d)",
                      (long long)(end_ms - exp * 1000), a.rec.close_code);
    else if (server_ended)
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "the server closed the connection before the token expired (close %d)",
                      a.rec.close_code);
    else
        wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                      "after expiry the connection stayed open but the success marker did not "
                      "come back");
    wsp_sec_raw_cleanup(&a);
    wsp_auth_cleanup(&x.auth);
    variants_free(&v, 1);
    if (out->verdict == WSP_VERDICT_PASS || out->verdict == WSP_VERDICT_FAIL) {
        bool after = wsp_sec_baseline(env, out, "baseline_after", false);
        if (!after && out->verdict == WSP_VERDICT_PASS)
            wsp_check_set(out, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                          "the connection was closed after expiry, but the baseline after "
                          "failed");
    }
    if (secret)
        wsp_redact_register(secret, strlen(secret)); /* the runner redacts the result */
    free_secret(secret);
}
