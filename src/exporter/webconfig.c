/* webconfig.c - see webconfig.h. */
#include "exporter/webconfig.h"

#include <crypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "codec/http.h"
#include "codec/yaml.h"
#include "net/tls.h"
#include "util/files.h"

#define WEBCONFIG_MAX_BYTES (256u * 1024)
#define HASH_MAX 128

typedef struct web_user {
    char name[128];
    char hash[HASH_MAX];
} web_user;

struct wsp_webconfig {
    SSL_CTX *tls;
    web_user users[WSP_WEBCONFIG_MAX_USERS];
    size_t num_users;
    unsigned char cache[WSP_WEBCONFIG_CACHE][32]; /* SHA-256 of user NUL password */
    size_t cached, next_slot;
    char dummy[HASH_MAX]; /* a hash of no one's password, at the users' highest cost */
};

static int fail(wsp_err *err, const char *path, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(wsp_err *err, const char *path, const yaml_node_t *n, const char *fmt, ...)
{
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (n)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--web.config.file %s:%lu:%lu: %s", path,
                           (unsigned long)n->start_mark.line + 1,
                           (unsigned long)n->start_mark.column + 1, m);
    return wsp_err_set(err, WSP_CLASS_USAGE, "--web.config.file %s: %s", path, m);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int tls_version(const char *s)
{
    static const struct {
        const char *name;
        int v;
    } vs[] = {{"TLS10", TLS1_VERSION},
              {"TLS11", TLS1_1_VERSION},
              {"TLS12", TLS1_2_VERSION},
              {"TLS13", TLS1_3_VERSION}};
    for (size_t i = 0; s && i < sizeof vs / sizeof vs[0]; i++)
        if (strcmp(s, vs[i].name) == 0)
            return vs[i].v;
    return -1;
}

static int accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static int load_tls(wsp_webconfig *w, yaml_document_t *doc, yaml_node_t *map, const char *path,
                    wsp_err *err)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(err, path, map, "tls_server_config: expected a mapping");
    const char *cert = NULL, *key = NULL, *auth = "NoClientCert", *ca = NULL;
    int minv = TLS1_2_VERSION, maxv = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key),
                    *vn = yaml_document_get_node(doc, p->value);
        const char *k = scalar(kn), *v = scalar(vn);
        if (!k)
            return fail(err, path, kn, "tls_server_config: keys are strings");
        if (strcmp(k, "cipher_suites") == 0 || strcmp(k, "curve_preferences") == 0 ||
            strcmp(k, "prefer_server_cipher_suites") == 0 || strcmp(k, "client_allowed_sans") == 0)
            return fail(err, path, kn,
                        "tls_server_config.%s: not supported by wsprobe (OpenSSL's defaults "
                        "apply; remove the key)",
                        k);
        if (!v)
            return fail(err, path, vn, "tls_server_config.%s: expected a string", k);
        if (strcmp(k, "cert_file") == 0)
            cert = v;
        else if (strcmp(k, "key_file") == 0)
            key = v;
        else if (strcmp(k, "client_auth_type") == 0)
            auth = v;
        else if (strcmp(k, "client_ca_file") == 0)
            ca = v;
        else if (strcmp(k, "min_version") == 0 || strcmp(k, "max_version") == 0) {
            int tv = tls_version(v);
            if (tv < 0)
                return fail(err, path, vn,
                            "tls_server_config.%s: expected TLS10, TLS11, TLS12 "
                            "or TLS13, got '%.40s'",
                            k, v);
            *(k[1] == 'i' ? &minv : &maxv) = tv;
        } else
            return fail(err, path, kn,
                        "tls_server_config.%.60s: unknown key; expected cert_file, key_file, "
                        "client_auth_type, client_ca_file, min_version, max_version",
                        k);
    }
    if (!cert || !key)
        return fail(err, path, map, "tls_server_config: cert_file and key_file go together");
    static const char *const types[] = {"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                                        "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};
    int t = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(auth, types[i]) == 0)
            t = i;
    if (t < 0)
        return fail(err, path, map,
                    "tls_server_config.client_auth_type: '%.60s' is not one of NoClientCert, "
                    "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
                    "RequireAndVerifyClientCert",
                    auth);
    bool verify = t >= 3;
    if (verify != (ca != NULL))
        return fail(err, path, map,
                    verify ? "tls_server_config: %s needs client_ca_file"
                           : "tls_server_config: client_ca_file needs client_auth_type "
                             "VerifyClientCertIfGiven or RequireAndVerifyClientCert (got %s)",
                    auth);
    wsp_err e;
    w->tls = wsp_tls_server_ctx_new(cert, key, &e);
    if (!w->tls)
        return fail(err, path, map, "tls_server_config: %s", e.msg);
    SSL_CTX_set_min_proto_version(w->tls, minv);
    if (maxv)
        SSL_CTX_set_max_proto_version(w->tls, maxv);
    if (ca) {
        if (wsp_file_check("client_ca_file", ca, &e) != 0 ||
            SSL_CTX_load_verify_locations(w->tls, ca, NULL) != 1)
            return fail(err, path, map, "tls_server_config.client_ca_file %s: cannot load", ca);
        SSL_CTX_set_client_CA_list(w->tls, SSL_load_client_CA_file(ca));
    }
    int mode = t == 0 ? SSL_VERIFY_NONE : SSL_VERIFY_PEER;
    if (t == 2 || t == 4)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    /* Request/RequireAny take any certificate; the Verify types check it against the CA */
    SSL_CTX_set_verify(w->tls, mode, t == 1 || t == 2 ? accept_any : NULL);
    return 0;
}

static int load_users(wsp_webconfig *w, yaml_document_t *doc, yaml_node_t *map, const char *path,
                      wsp_err *err)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(err, path, map, "basic_auth_users: expected a mapping of user: bcrypt hash");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key),
                    *vn = yaml_document_get_node(doc, p->value);
        const char *k = scalar(kn), *v = scalar(vn);
        if (!k || !*k || strlen(k) >= sizeof w->users[0].name || strchr(k, ':'))
            return fail(err, path, kn,
                        "basic_auth_users: a user name is a string of at most 127 bytes without "
                        "':'");
        if (!v || strlen(v) >= HASH_MAX ||
            !(strncmp(v, "$2y$", 4) == 0 || strncmp(v, "$2a$", 4) == 0 ||
              strncmp(v, "$2b$", 4) == 0))
            return fail(err, path, vn,
                        "basic_auth_users.%.60s: expected a bcrypt hash ($2y$..., as htpasswd "
                        "-nBC 10 USER prints), never a password",
                        k);
        for (size_t i = 0; i < w->num_users; i++)
            if (strcmp(w->users[i].name, k) == 0)
                return fail(err, path, kn, "basic_auth_users: '%.60s' is given twice", k);
        if (w->num_users >= WSP_WEBCONFIG_MAX_USERS)
            return fail(err, path, kn, "basic_auth_users: at most %d users",
                        WSP_WEBCONFIG_MAX_USERS);
        /* a hash crypt cannot read would refuse everyone: find out now */
        struct crypt_data *cd = calloc(1, sizeof *cd);
        const char *h = cd ? crypt_rn("wsprobe-check", v, cd, (int)sizeof *cd) : NULL;
        bool ok = h && h[0] != '*';
        free(cd);
        if (!ok)
            return fail(err, path, vn, "basic_auth_users.%.60s: libcrypt cannot read this hash", k);
        snprintf(w->users[w->num_users].name, sizeof w->users[0].name, "%s", k);
        snprintf(w->users[w->num_users].hash, HASH_MAX, "%s", v);
        w->num_users++;
    }
    if (w->num_users == 0)
        return fail(err, path, map, "basic_auth_users: expected at least one user");
    /* an unknown user is checked against a hash of the dearest cost here, made now with a
     * random salt, so a refusal takes as long whether or not the user exists */
    unsigned long cost = 4;
    for (size_t i = 0; i < w->num_users; i++) {
        unsigned long c = strtoul(w->users[i].hash + 4, NULL, 10);
        if (c > cost && c <= 31)
            cost = c;
    }
    char salt[64];
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *h = cd && crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof salt)
                        ? crypt_rn("wsprobe: no one's password", salt, cd, (int)sizeof *cd)
                        : NULL;
    if (h && strlen(h) < sizeof w->dummy)
        snprintf(w->dummy, sizeof w->dummy, "%s", h);
    free(cd);
    if (!w->dummy[0])
        return fail(err, path, map, "basic_auth_users: libcrypt cannot make a bcrypt hash");
    return 0;
}

wsp_webconfig *wsp_webconfig_load(const char *path, wsp_err *err)
{
    size_t len = 0;
    wsp_err e;
    char *text = wsp_file_read("--web.config.file", path, WEBCONFIG_MAX_BYTES, 0, &len, &e);
    if (!text) {
        *err = e;
        return NULL;
    }
    yaml_document_t doc;
    wsp_yaml_result res;
    wsp_yaml_status st = wsp_yaml_load(text, len, NULL, &doc, &res);
    free(text);
    if (st != WSP_YAML_OK) {
        char m[300];
        wsp_yaml_describe(&res, "a web configuration", m, sizeof m);
        wsp_err_set(err, WSP_CLASS_USAGE, "--web.config.file %s:%lu:%lu: %s", path,
                    (unsigned long)res.mark.line + 1, (unsigned long)res.mark.column + 1, m);
        return NULL;
    }
    wsp_webconfig *w = calloc(1, sizeof *w);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = w ? 0 : wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    if (rc == 0 && root && root->type != YAML_MAPPING_NODE)
        rc = fail(err, path, root, "expected a mapping (tls_server_config:, basic_auth_users:)");
    for (yaml_node_pair_t *p = root && rc == 0 ? root->data.mapping.pairs.start : NULL;
         p && p < root->data.mapping.pairs.top && rc == 0; p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key),
                    *vn = yaml_document_get_node(&doc, p->value);
        const char *k = scalar(kn);
        if (k && strcmp(k, "tls_server_config") == 0)
            rc = load_tls(w, &doc, vn, path, err);
        else if (k && strcmp(k, "basic_auth_users") == 0)
            rc = load_users(w, &doc, vn, path, err);
        else if (k && strcmp(k, "http_server_config") == 0)
            rc = fail(err, path, kn,
                      "http_server_config: not supported by wsprobe (HTTP/1.1 only; headers are "
                      "fixed); remove the key");
        else
            rc = fail(err, path, kn,
                      "unknown key '%.60s'; expected tls_server_config, basic_auth_users",
                      k ? k : "?");
    }
    yaml_document_delete(&doc);
    if (rc != 0) {
        wsp_webconfig_free(w);
        return NULL;
    }
    return w;
}

void wsp_webconfig_free(wsp_webconfig *w)
{
    if (!w)
        return;
    SSL_CTX_free(w->tls);
    OPENSSL_cleanse(w, sizeof *w);
    free(w);
}

SSL_CTX *wsp_webconfig_tls(const wsp_webconfig *w)
{
    return w ? w->tls : NULL;
}

bool wsp_webconfig_needs_auth(const wsp_webconfig *w)
{
    return w && w->num_users > 0;
}

static void digest(const char *user, const char *pass, unsigned char out[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned n = 0;
    if (m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(m, user, strlen(user) + 1) == 1 &&
        EVP_DigestUpdate(m, pass, strlen(pass)) == 1 && EVP_DigestFinal_ex(m, out, &n) == 1) {
        EVP_MD_CTX_free(m);
        return;
    }
    EVP_MD_CTX_free(m);
    memset(out, 0xff, 32); /* nothing matches an all-ones digest: it is never remembered */
}

wsp_webauth wsp_webconfig_check(wsp_webconfig *w, const char *authz, size_t len, char *user,
                                size_t ucap, char *pass, size_t pcap)
{
    if (!authz || wsp_http_basic_decode(authz, len, user, ucap, pass, pcap) != 0)
        return WSP_WEBAUTH_DENIED;
    unsigned char d[32];
    digest(user, pass, d);
    for (size_t i = 0; i < w->cached; i++)
        if (CRYPTO_memcmp(w->cache[i], d, 32) == 0)
            return WSP_WEBAUTH_OK;
    return WSP_WEBAUTH_VERIFY;
}

bool wsp_webconfig_verify(const wsp_webconfig *w, const char *user, const char *pass)
{
    const char *hash = w->dummy;
    bool known = false;
    for (size_t i = 0; i < w->num_users; i++)
        if (strcmp(w->users[i].name, user) == 0) {
            hash = w->users[i].hash;
            known = true;
        }
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return false;
    const char *h = crypt_rn(pass, hash, cd, (int)sizeof *cd);
    bool ok = known && h && strlen(h) == strlen(hash) && CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    return ok;
}

void wsp_webconfig_remember(wsp_webconfig *w, const char *user, const char *pass)
{
    unsigned char d[32];
    digest(user, pass, d);
    memcpy(w->cache[w->next_slot], d, 32);
    w->next_slot = (w->next_slot + 1) % WSP_WEBCONFIG_CACHE;
    if (w->cached < WSP_WEBCONFIG_CACHE)
        w->cached++;
}
