/* jwt.c - see jwt.h. RFC 7515 (JWS), RFC 7518 (algorithms), RFC 7519 (JWT), RFC 8725 (BCP). */
#include "codec/jwt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "util/rand.h"

#define RSA_MIN_BITS 2048
#define ES256_PART 32 /* RFC 7518 section 3.4: r and s, 32 octets each */

/* ---- algorithms ---- */

const char *const wsp_jwt_signing_algs[] = {"HS256", "HS384", "HS512", "RS256", "ES256", NULL};

const char *wsp_jwt_alg_name(wsp_jwt_alg alg)
{
    switch (alg) {
    case WSP_JWT_ALG_NONE:
        return "none";
    case WSP_JWT_ALG_HS256:
        return "HS256";
    case WSP_JWT_ALG_HS384:
        return "HS384";
    case WSP_JWT_ALG_HS512:
        return "HS512";
    case WSP_JWT_ALG_RS256:
        return "RS256";
    case WSP_JWT_ALG_ES256:
        return "ES256";
    }
    return "none";
}

int wsp_jwt_alg_from_name(const char *name)
{
    static const wsp_jwt_alg named[] = {WSP_JWT_ALG_HS256, WSP_JWT_ALG_HS384, WSP_JWT_ALG_HS512,
                                        WSP_JWT_ALG_RS256, WSP_JWT_ALG_ES256};
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(name, wsp_jwt_alg_name(named[i])) == 0)
            return (int)named[i];
    return -1;
}

bool wsp_jwt_alg_is_hmac(wsp_jwt_alg alg)
{
    return alg == WSP_JWT_ALG_HS256 || alg == WSP_JWT_ALG_HS384 || alg == WSP_JWT_ALG_HS512;
}

static const char *hmac_digest(wsp_jwt_alg alg)
{
    switch (alg) {
    case WSP_JWT_ALG_HS384:
        return "SHA384";
    case WSP_JWT_ALG_HS512:
        return "SHA512";
    case WSP_JWT_ALG_HS256:
    case WSP_JWT_ALG_RS256:
    case WSP_JWT_ALG_ES256:
    case WSP_JWT_ALG_NONE:
        break;
    }
    return "SHA256";
}

/* ---- base64url (RFC 4648 section 5, no padding: RFC 7515 section 2) ---- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t wsp_jwt_b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t wsp_jwt_b64url_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int wsp_jwt_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t rem = n % 4;
    if (rem == 1)
        return -1;
    size_t need = n / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    if (need > cap)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = b64url_value((unsigned char)in[i + k]);
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (rem) {
        uint32_t v = 0;
        for (size_t k = 0; k < rem; k++) {
            int d = b64url_value((unsigned char)in[i + k]);
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        /* Canonical form (RFC 4648 section 3.5): the unused low bits of the last character are
         * zero, so a signature cannot be altered without changing its bytes. */
        if (rem == 2) {
            if (v & 0xf)
                return -1;
            out[o++] = (uint8_t)(v >> 4);
        } else {
            if (v & 0x3)
                return -1;
            out[o++] = (uint8_t)(v >> 10);
            out[o++] = (uint8_t)(v >> 2);
        }
    }
    *out_len = o;
    return 0;
}

/* Heap base64url of n bytes, or NULL when out of memory. */
static char *b64url_dup(const void *in, size_t n)
{
    char *s = malloc(wsp_jwt_b64url_encoded_len(n) + 1);
    if (s)
        wsp_jwt_b64url_encode(in, n, s);
    return s;
}

/* ---- keys ---- */

struct wsp_jwt_key {
    uint8_t *secret; /* HS*: the secret (never NULL for a secret key, even when empty) */
    size_t secret_len;
    EVP_PKEY *pkey;  /* RS256, ES256 */
    wsp_jwt_alg alg; /* HS256 for secrets, RS256 or ES256 for pkeys */
    bool has_private;
};

/* Record the newest OpenSSL error (its reason only: never data that could quote key bytes) and
 * clear the queue, as every failing OpenSSL call site must. */
static int ossl_fail(wsp_err *err, wsp_class cls, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    wsp_err_set(err, cls, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
    if (err)
        err->tls_err = e;
    ERR_clear_error();
    return -1;
}

wsp_jwt_key *wsp_jwt_key_secret(const void *secret, size_t len)
{
    wsp_jwt_key *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->secret = malloc(len ? len : 1);
    if (!k->secret) {
        free(k);
        return NULL;
    }
    if (len)
        memcpy(k->secret, secret, len);
    k->secret_len = len;
    k->alg = WSP_JWT_ALG_HS256;
    return k;
}

void wsp_jwt_key_free(wsp_jwt_key *key)
{
    if (!key)
        return;
    if (key->secret) {
        OPENSSL_cleanse(key->secret, key->secret_len);
        free(key->secret);
    }
    EVP_PKEY_free(key->pkey);
    free(key);
}

wsp_jwt_alg wsp_jwt_key_alg(const wsp_jwt_key *key)
{
    return key->alg;
}

/* Never prompt for a passphrase: an encrypted key is refused with a message instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Whether the n bytes at s contain needle (which is NUL-terminated). */
static bool contains(const char *s, size_t n, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, nl) == 0)
            return true;
    return false;
}

/* Whether the PEM text has a block labelled exactly `label`. */
static bool pem_has(const char *pem, size_t len, const char *label)
{
    char want[64];
    int wl = snprintf(want, sizeof want, "-----BEGIN %s-----", label);
    return wl > 0 && (size_t)wl < sizeof want && contains(pem, len, want);
}

static bool pem_any(const char *pem, size_t len)
{
    return contains(pem, len, "-----BEGIN ");
}

static const char *pkey_kind(const EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return "an RSA key";
    if (EVP_PKEY_is_a(pkey, "EC"))
        return "an EC key";
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return "an Ed25519 key";
    if (EVP_PKEY_is_a(pkey, "ED448"))
        return "an Ed448 key";
    if (EVP_PKEY_is_a(pkey, "RSA-PSS"))
        return "an RSA-PSS key";
    return "a key of a kind JWT does not use here";
}

static bool pkey_is_p256(const EVP_PKEY *pkey)
{
    char group[64];
    size_t gl = 0;
    if (!EVP_PKEY_is_a(pkey, "EC"))
        return false;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &gl) != 1) {
        ERR_clear_error();
        return false;
    }
    return OBJ_txt2nid(group) == NID_X9_62_prime256v1 || strcmp(group, "P-256") == 0;
}

/* Check that pkey suits alg (NONE: either kind) and return the alg it suits, or -1. */
static int pkey_check(const EVP_PKEY *pkey, wsp_jwt_alg alg, wsp_err *err)
{
    const char *kind = pkey_kind(pkey);
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (alg != WSP_JWT_ALG_RS256 && alg != WSP_JWT_ALG_NONE)
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s, but %s needs an EC key on curve P-256",
                               kind, wsp_jwt_alg_name(alg));
        int bits = EVP_PKEY_get_bits(pkey);
        /* RFC 7518 section 3.3: a key of size 2048 bits or larger MUST be used. */
        if (bits < RSA_MIN_BITS)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "an RSA key of %d bits; RS256 needs %d bits or more (RFC 7518 "
                               "section 3.3)",
                               bits, RSA_MIN_BITS);
        return (int)WSP_JWT_ALG_RS256;
    }
    if (pkey_is_p256(pkey)) {
        if (alg != WSP_JWT_ALG_ES256 && alg != WSP_JWT_ALG_NONE)
            return wsp_err_set(err, WSP_CLASS_USAGE, "an EC P-256 key, but %s needs an RSA key",
                               wsp_jwt_alg_name(alg));
        return (int)WSP_JWT_ALG_ES256;
    }
    if (EVP_PKEY_is_a(pkey, "EC"))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "an EC key on a curve other than P-256; ES256 needs P-256 "
                           "(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)");
    if (alg == WSP_JWT_ALG_NONE)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s; wsprobe signs with RS256 (RSA) or ES256 (EC P-256)", kind);
    return wsp_err_set(err, WSP_CLASS_USAGE, "%s, but %s needs %s", kind, wsp_jwt_alg_name(alg),
                       alg == WSP_JWT_ALG_ES256 ? "an EC key on curve P-256" : "an RSA key");
}

wsp_jwt_key *wsp_jwt_key_pem(const char *pem, size_t len, wsp_jwt_alg alg, wsp_jwt_key_use use,
                             wsp_err *err)
{
    if (wsp_jwt_alg_is_hmac(alg)) {
        wsp_err_set(err, WSP_CLASS_USAGE, "a PEM key is not an %s secret", wsp_jwt_alg_name(alg));
        return NULL;
    }
    if (len > INT_MAX || !pem_any(pem, len)) {
        wsp_err_set(err, WSP_CLASS_USAGE, "not a PEM file (no -----BEGIN line)");
        return NULL;
    }
    bool priv = pem_has(pem, len, "PRIVATE KEY") || pem_has(pem, len, "RSA PRIVATE KEY") ||
                pem_has(pem, len, "EC PRIVATE KEY");
    bool pub = pem_has(pem, len, "PUBLIC KEY") || pem_has(pem, len, "RSA PUBLIC KEY");
    bool cert = pem_has(pem, len, "CERTIFICATE");
    if (pem_has(pem, len, "ENCRYPTED PRIVATE KEY") ||
        contains(pem, len, "Proc-Type: 4,ENCRYPTED")) {
        wsp_err_set(err, WSP_CLASS_USAGE,
                    "an encrypted private key; wsprobe asks for no passphrase: decrypt it "
                    "first (openssl pkey -in KEY -out PLAIN.pem) into a file only you can read");
        return NULL;
    }
    if (use == WSP_JWT_KEY_SIGN && !priv) {
        if (cert)
            wsp_err_set(err, WSP_CLASS_USAGE,
                        "a certificate, not a private key: signing needs the private key that "
                        "goes with it");
        else if (pub)
            wsp_err_set(err, WSP_CLASS_USAGE, "a public key: signing needs the private key");
        else
            wsp_err_set(err, WSP_CLASS_USAGE, "no private key in this PEM file");
        return NULL;
    }
    if (!priv && !pub && !cert) {
        wsp_err_set(err, WSP_CLASS_USAGE, "no key or certificate in this PEM file");
        return NULL;
    }

    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        ossl_fail(err, WSP_CLASS_INTERNAL, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    const char *what = "cannot read the key";
    if (priv) {
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, NULL, NULL, NULL);
        what = "cannot read the private key";
    } else if (pub) {
        OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
                                                               EVP_PKEY_PUBLIC_KEY, NULL, NULL);
        if (dctx && OSSL_DECODER_from_bio(dctx, bio) != 1) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        OSSL_DECODER_CTX_free(dctx);
        what = "cannot read the public key";
    } else {
        X509 *x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
        if (x)
            pkey = X509_get_pubkey(x);
        X509_free(x);
        what = "cannot read the certificate's public key";
    }
    BIO_free(bio);
    if (!pkey) {
        ossl_fail(err, WSP_CLASS_USAGE, what);
        return NULL;
    }
    ERR_clear_error();
    int suited = pkey_check(pkey, alg, err);
    if (suited < 0) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    wsp_jwt_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        return NULL;
    }
    k->pkey = pkey;
    k->alg = (wsp_jwt_alg)suited;
    k->has_private = priv;
    return k;
}

int wsp_jwt_key_public_pem(const wsp_jwt_key *key, char **pem_out, size_t *len_out, wsp_err *err)
{
    *pem_out = NULL;
    if (!key->pkey)
        return wsp_err_set(err, WSP_CLASS_USAGE, "a shared secret has no public key");
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PUBKEY(bio, key->pkey) != 1) {
        BIO_free(bio);
        return ossl_fail(err, WSP_CLASS_INTERNAL, "cannot write the public key");
    }
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!out) {
        BIO_free(bio);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot write the public key");
    }
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    *pem_out = out;
    if (len_out)
        *len_out = (size_t)n;
    return 0;
}

/* Set member `name` of obj to the base64url of the big-endian bytes of BIGNUM parameter
 * `param`, left-padded to width bytes when width is not 0 (RFC 7518 section 6.2.1.2). */
static int jwk_bn(json_t *obj, const char *name, const EVP_PKEY *pkey, const char *param, int width)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        return -1;
    int n = width ? width : BN_num_bytes(bn);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    int rc = -1;
    if (buf && BN_bn2binpad(bn, buf, n) == n) {
        char *s = b64url_dup(buf, (size_t)n);
        if (s && json_object_set_new(obj, name, json_string(s)) == 0)
            rc = 0;
        free(s);
    }
    free(buf);
    BN_free(bn);
    return rc;
}

int wsp_jwt_key_jwk(const wsp_jwt_key *key, json_t **jwk_out, wsp_err *err)
{
    *jwk_out = NULL;
    if (!key->pkey)
        return wsp_err_set(err, WSP_CLASS_USAGE, "a shared secret has no public JWK");
    json_t *jwk = json_object();
    if (!jwk)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    int rc;
    if (key->alg == WSP_JWT_ALG_RS256) {
        rc = json_object_set_new(jwk, "kty", json_string("RSA"));
        rc |= jwk_bn(jwk, "n", key->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        rc |= jwk_bn(jwk, "e", key->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
    } else {
        rc = json_object_set_new(jwk, "kty", json_string("EC"));
        rc |= json_object_set_new(jwk, "crv", json_string("P-256"));
        rc |= jwk_bn(jwk, "x", key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, ES256_PART);
        rc |= jwk_bn(jwk, "y", key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, ES256_PART);
    }
    if (rc != 0) {
        json_decref(jwk);
        return ossl_fail(err, WSP_CLASS_INTERNAL, "cannot export the public key as a JWK");
    }
    *jwk_out = jwk;
    return 0;
}

/* ---- signing and verifying bytes ---- */

/* Whether the secret is a PEM document: the key-confusion forgery, refused unless asked for. */
bool wsp_jwt_secret_is_pem(const uint8_t *s, size_t n)
{
    return pem_any((const char *)s, n);
}

/* Sign data with alg and key into a new heap buffer. */
static int sign_bytes(wsp_jwt_alg alg, const wsp_jwt_key *key, const uint8_t *data, size_t len,
                      uint8_t **sig_out, size_t *sig_len, wsp_err *err)
{
    *sig_out = NULL;
    *sig_len = 0;
    if (wsp_jwt_alg_is_hmac(alg)) {
        uint8_t *mac = malloc(EVP_MAX_MD_SIZE);
        size_t maclen = 0;
        if (!mac)
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        /* RFC 7518 section 3.2. A zero-length key is legal HMAC (the empty-secret forgery). */
        static const uint8_t empty[1] = {0};
        const uint8_t *k = key->secret_len ? key->secret : empty;
        if (!EVP_Q_mac(NULL, "HMAC", NULL, hmac_digest(alg), NULL, k, key->secret_len, data, len,
                       mac, EVP_MAX_MD_SIZE, &maclen)) {
            free(mac);
            return ossl_fail(err, WSP_CLASS_INTERNAL, "HMAC failed");
        }
        *sig_out = mac;
        *sig_len = maclen;
        return 0;
    }
    size_t cap = (size_t)EVP_PKEY_get_size(key->pkey);
    uint8_t *sig = malloc(cap ? cap : 1);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sl = cap;
    if (!sig || !md ||
        EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key->pkey, NULL) != 1 ||
        EVP_DigestSign(md, sig, &sl, data, len) != 1) {
        free(sig);
        EVP_MD_CTX_free(md);
        return ossl_fail(err, WSP_CLASS_INTERNAL, "signing failed");
    }
    EVP_MD_CTX_free(md);
    if (alg == WSP_JWT_ALG_ES256) {
        /* RFC 7518 section 3.4: the JWS signature is R || S, each a 32-octet big-endian
         * integer, not the DER SEQUENCE that OpenSSL produces. */
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
        uint8_t *jose = malloc(2 * ES256_PART);
        const BIGNUM *r = NULL, *s = NULL;
        if (es)
            ECDSA_SIG_get0(es, &r, &s);
        if (!es || !jose || BN_bn2binpad(r, jose, ES256_PART) != ES256_PART ||
            BN_bn2binpad(s, jose + ES256_PART, ES256_PART) != ES256_PART) {
            ECDSA_SIG_free(es);
            free(jose);
            free(sig);
            return ossl_fail(err, WSP_CLASS_INTERNAL, "cannot convert the ECDSA signature");
        }
        ECDSA_SIG_free(es);
        free(sig);
        *sig_out = jose;
        *sig_len = 2 * ES256_PART;
        return 0;
    }
    *sig_out = sig;
    *sig_len = sl;
    return 0;
}

/* Whether sig is a valid signature of data. Never fails open: any error is false. */
static bool verify_bytes(wsp_jwt_alg alg, const wsp_jwt_key *key, const uint8_t *data, size_t len,
                         const uint8_t *sig, size_t sig_len)
{
    if (wsp_jwt_alg_is_hmac(alg)) {
        uint8_t mac[EVP_MAX_MD_SIZE];
        size_t maclen = 0;
        if (!EVP_Q_mac(NULL, "HMAC", NULL, hmac_digest(alg), NULL, key->secret, key->secret_len,
                       data, len, mac, sizeof mac, &maclen)) {
            ERR_clear_error();
            return false;
        }
        /* The length is public (it is the algorithm's); the bytes are compared in constant
         * time so that a forger learns nothing from the time a refusal takes. */
        bool ok = sig_len == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
        OPENSSL_cleanse(mac, sizeof mac);
        return ok;
    }
    uint8_t *der = NULL;
    const uint8_t *check = sig;
    size_t check_len = sig_len;
    if (alg == WSP_JWT_ALG_ES256) {
        if (sig_len != 2 * ES256_PART)
            return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, ES256_PART, NULL);
        BIGNUM *s = BN_bin2bn(sig + ES256_PART, ES256_PART, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(s);
            ERR_clear_error();
            return false;
        }
        int dl = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (dl <= 0) {
            ERR_clear_error();
            return false;
        }
        check = der;
        check_len = (size_t)dl;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(key->pkey)) {
        return false; /* RFC 8017 section 8.2.2: the signature is exactly k octets */
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, key->pkey, NULL) == 1 &&
              EVP_DigestVerify(md, check, check_len, data, len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

/* ---- minting ---- */

int wsp_jwt_encode_raw(wsp_jwt_alg alg, const wsp_jwt_key *key, const void *header, size_t hlen,
                       const void *payload, size_t plen, const wsp_jwt_forge *forge,
                       char **token_out, wsp_err *err)
{
    *token_out = NULL;
    if (alg == WSP_JWT_ALG_NONE && !forge)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "alg none makes an unsigned token: only the security checks forge it");
    if (alg != WSP_JWT_ALG_NONE) {
        if (!key)
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s needs a key", wsp_jwt_alg_name(alg));
        if (wsp_jwt_alg_is_hmac(alg)) {
            if (!key->secret)
                return wsp_err_set(err, WSP_CLASS_USAGE, "%s needs a shared secret, not a PEM key",
                                   wsp_jwt_alg_name(alg));
            if (key->secret_len == 0 && !(forge && forge->allow_empty_secret))
                return wsp_err_set(err, WSP_CLASS_USAGE, "the %s secret is empty",
                                   wsp_jwt_alg_name(alg));
            if (wsp_jwt_secret_is_pem(key->secret, key->secret_len) &&
                !(forge && forge->allow_pem_secret))
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "the %s secret is a PEM key; RS256 and ES256 sign with a key "
                                   "file",
                                   wsp_jwt_alg_name(alg));
        } else if (!key->pkey || !key->has_private || key->alg != alg) {
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s needs %s private key",
                               wsp_jwt_alg_name(alg),
                               alg == WSP_JWT_ALG_RS256 ? "an RSA" : "an EC P-256");
        }
    }

    size_t h64 = wsp_jwt_b64url_encoded_len(hlen), p64 = wsp_jwt_b64url_encoded_len(plen);
    size_t input_len = h64 + 1 + p64;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    char *tok = malloc(input_len + 2);
    if (!tok)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    wsp_jwt_b64url_encode(header, hlen, tok);
    tok[h64] = '.';
    wsp_jwt_b64url_encode(payload, plen, tok + h64 + 1);
    /* RFC 7515 section 5.1: the signing input is ASCII(BASE64URL(header) '.' BASE64URL(payload)) */
    if (alg != WSP_JWT_ALG_NONE && !(forge && forge->empty_signature)) {
        if (sign_bytes(alg, key, (const uint8_t *)tok, input_len, &sig, &sig_len, err) != 0) {
            free(tok);
            return -1;
        }
    }
    size_t s64 = wsp_jwt_b64url_encoded_len(sig_len);
    char *full = realloc(tok, input_len + 1 + s64 + 1);
    if (!full) {
        free(tok);
        free(sig);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    full[input_len] = '.';
    wsp_jwt_b64url_encode(sig, sig_len, full + input_len + 1);
    free(sig);
    if (forge && forge->cut_signature) {
        size_t cut = forge->cut_signature < s64 ? forge->cut_signature : s64;
        full[input_len + 1 + s64 - cut] = '\0';
    }
    *token_out = full;
    return 0;
}

/* Set obj[name] = value (a new reference, taken even on failure). */
static int set_new(json_t *obj, const char *name, json_t *value)
{
    return value ? json_object_set_new(obj, name, value) : -1;
}

int wsp_jwt_mint(const wsp_jwt_mint_opts *o, char **token_out, wsp_err *err)
{
    *token_out = NULL;
    if ((o->claims && !json_is_object(o->claims)) || (o->header && !json_is_object(o->header)))
        return wsp_err_set(err, WSP_CLASS_USAGE, "claims and header must be JSON objects");
    if (o->header && json_object_get(o->header, "alg"))
        return wsp_err_set(
            err, WSP_CLASS_USAGE,
            "the header's alg is the algorithm's name (forge.alg_header changes it)");
    int64_t exp = 0, nbf = 0;
    if ((o->exp && __builtin_add_overflow(o->now, o->ttl, &exp)) ||
        (o->nbf && __builtin_add_overflow(o->now, o->nbf_offset, &nbf)))
        return wsp_err_set(err, WSP_CLASS_USAGE, "exp or nbf out of range");

    int rc = -1;
    char *hs = NULL, *ps = NULL;
    json_t *hdr = json_object(), *claims = json_object();
    if (!hdr || !claims)
        goto oom;
    const char *alg =
        o->forge && o->forge->alg_header ? o->forge->alg_header : wsp_jwt_alg_name(o->alg);
    /* RFC 7515 section 4.1.1 and RFC 7519 section 5.1 */
    if (set_new(hdr, "alg", json_string(alg)) || set_new(hdr, "typ", json_string("JWT")))
        goto oom;
    if (o->header && json_object_update(hdr, o->header) != 0)
        goto oom;
    if (o->kid && set_new(hdr, "kid", json_string(o->kid)))
        goto oom;
    if (o->claims && json_object_update(claims, o->claims) != 0)
        goto oom;
    /* RFC 7519 section 4.1: NumericDate claims, whole seconds */
    if (o->iat && set_new(claims, "iat", json_integer(o->now)))
        goto oom;
    if (o->nbf && set_new(claims, "nbf", json_integer(nbf)))
        goto oom;
    if (o->exp && set_new(claims, "exp", json_integer(exp)))
        goto oom;
    if (o->jti != WSP_JWT_JTI_NONE) {
        uint8_t raw[16];
        char text[33];
        if (wsp_rand_bytes(raw, sizeof raw) != 0) {
            wsp_err_set(err, WSP_CLASS_INTERNAL, "the random generator failed (jti)");
            goto done;
        }
        if (o->jti == WSP_JWT_JTI_HEX)
            for (size_t i = 0; i < sizeof raw; i++)
                snprintf(text + 2 * i, 3, "%02x", raw[i]);
        else
            wsp_jwt_b64url_encode(raw, sizeof raw, text);
        if (set_new(claims, "jti", json_string(text)))
            goto oom;
    }
    hs = json_dumps(hdr, JSON_COMPACT);
    ps = json_dumps(claims, JSON_COMPACT);
    if (!hs || !ps) {
        wsp_err_set(err, WSP_CLASS_USAGE, "claims or header cannot be serialized as JSON");
        goto done;
    }
    rc = wsp_jwt_encode_raw(o->alg, o->key, hs, strlen(hs), ps, strlen(ps), o->forge, token_out,
                            err);
    goto done;
oom:
    wsp_err_set(err, WSP_CLASS_INTERNAL,
                "out of memory, or a claim or header value is not "
                "valid UTF-8");
done:
    free(hs);
    free(ps);
    json_decref(hdr);
    json_decref(claims);
    return rc;
}

/* ---- verification ---- */

const char *wsp_jwt_status_name(wsp_jwt_status st)
{
    switch (st) {
    case WSP_JWT_OK:
        return "OK";
    case WSP_JWT_MALFORMED:
        return "MALFORMED";
    case WSP_JWT_ALG_NOT_ALLOWED:
        return "ALG_NOT_ALLOWED";
    case WSP_JWT_BAD_SIGNATURE:
        return "BAD_SIGNATURE";
    case WSP_JWT_EXPIRED:
        return "EXPIRED";
    case WSP_JWT_NOT_YET_VALID:
        return "NOT_YET_VALID";
    case WSP_JWT_WRONG_AUD:
        return "WRONG_AUD";
    case WSP_JWT_WRONG_ISS:
        return "WRONG_ISS";
    case WSP_JWT_MISSING_EXP:
        return "MISSING_EXP";
    case WSP_JWT_KEY_INVALID:
        return "KEY_INVALID";
    }
    return "MALFORMED";
}

const char *wsp_jwt_status_describe(wsp_jwt_status st)
{
    switch (st) {
    case WSP_JWT_OK:
        return "the token is valid";
    case WSP_JWT_MALFORMED:
        return "the token is not a well-formed JWS compact serialization of JSON objects";
    case WSP_JWT_ALG_NOT_ALLOWED:
        return "the token's alg is not the one algorithm this verifier accepts";
    case WSP_JWT_BAD_SIGNATURE:
        return "the signature does not verify with the configured key";
    case WSP_JWT_EXPIRED:
        return "the token has expired (exp)";
    case WSP_JWT_NOT_YET_VALID:
        return "the token is not valid yet (nbf)";
    case WSP_JWT_WRONG_AUD:
        return "the token is not meant for this audience (aud)";
    case WSP_JWT_WRONG_ISS:
        return "the token is not from the expected issuer (iss)";
    case WSP_JWT_MISSING_EXP:
        return "the token has no expiry (exp) and one is required";
    case WSP_JWT_KEY_INVALID:
        return "the verifier's key does not suit its pinned algorithm";
    }
    return "the token is malformed";
}

/* Nesting depth of JSON text, counted outside strings; false past max. Run before jansson so
 * that hostile input cannot make it recurse deeply. */
static bool json_depth_ok(const uint8_t *s, size_t n, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

/* Decode one base64url segment and parse it as a JSON object; NULL when anything is wrong. */
static json_t *segment_object(const char *seg, size_t n)
{
    uint8_t *buf = malloc(n / 4 * 3 + 3);
    size_t blen = 0;
    json_t *v = NULL;
    if (buf && n > 0 && wsp_jwt_b64url_decode(seg, n, buf, n / 4 * 3 + 3, &blen) == 0 &&
        json_depth_ok(buf, blen, WSP_JWT_MAX_DEPTH)) {
        json_error_t je;
        /* RFC 7515 section 5.2 step 4 and RFC 7519 section 4: duplicate names are refused
         * rather than resolved, so two parsers cannot disagree about one token. */
        v = json_loadb((const char *)buf, blen, JSON_REJECT_DUPLICATES, &je);
        if (v && !json_is_object(v)) {
            json_decref(v);
            v = NULL;
        }
    }
    free(buf);
    return v;
}

/* A NumericDate claim (RFC 7519 section 2): integer or real. Returns 0 absent, 1 present with
 * *i or *d set (*is_int tells which), -1 present but not a number. */
static int claim_time(json_t *claims, const char *name, int64_t *i, double *d, bool *is_int)
{
    json_t *v = json_object_get(claims, name);
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *i = (int64_t)json_integer_value(v);
        *is_int = true;
        return 1;
    }
    if (json_is_real(v)) {
        *d = json_real_value(v);
        *is_int = false;
        return 1;
    }
    return -1;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static bool aud_matches(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (!json_is_array(aud))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

static wsp_jwt_status check_claims(json_t *claims, const wsp_jwt_verify_opts *o)
{
    int64_t exp_i = 0, nbf_i = 0, iat_i = 0;
    double exp_d = 0, nbf_d = 0, iat_d = 0;
    bool exp_int = true, nbf_int = true, iat_int = true;
    int has_exp = claim_time(claims, "exp", &exp_i, &exp_d, &exp_int);
    int has_nbf = claim_time(claims, "nbf", &nbf_i, &nbf_d, &nbf_int);
    int has_iat = claim_time(claims, "iat", &iat_i, &iat_d, &iat_int);
    if (has_exp < 0 || has_nbf < 0 || has_iat < 0)
        return WSP_JWT_MALFORMED;
    int64_t leeway = o->leeway < 0 ? 0 : o->leeway > 86400 ? 86400 : o->leeway;
    /* RFC 7519 section 4.1.4: the current time MUST be before exp (give or take leeway). */
    int64_t lo = sat_add(o->now, -leeway);
    if (has_exp && (exp_int ? exp_i <= lo : !(exp_d > (double)lo)))
        return WSP_JWT_EXPIRED;
    if (!has_exp && o->require_exp)
        return WSP_JWT_MISSING_EXP;
    /* Section 4.1.5: the current time MUST be at or after nbf. */
    int64_t hi = sat_add(o->now, leeway);
    if (has_nbf && (nbf_int ? nbf_i > hi : !(nbf_d <= (double)hi)))
        return WSP_JWT_NOT_YET_VALID;
    /* Section 4.1.3: a principal that does not identify itself with a value in aud MUST
     * reject the token, so a token with aud is refused by a verifier that expects none. */
    json_t *aud = json_object_get(claims, "aud");
    if (o->aud ? !aud || !aud_matches(aud, o->aud) : aud != NULL)
        return WSP_JWT_WRONG_AUD;
    if (o->iss) {
        json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), o->iss) != 0)
            return WSP_JWT_WRONG_ISS;
    }
    return WSP_JWT_OK;
}

static bool key_suits(const wsp_jwt_key *key, wsp_jwt_alg alg)
{
    if (!key || alg == WSP_JWT_ALG_NONE)
        return false;
    if (wsp_jwt_alg_is_hmac(alg))
        /* A PEM document as HMAC secret is the key-confusion setup itself: refused. */
        return key->secret && key->secret_len > 0 &&
               !wsp_jwt_secret_is_pem(key->secret, key->secret_len);
    return key->pkey && key->alg == alg;
}

wsp_jwt_status wsp_jwt_verify(const char *token, size_t len, const wsp_jwt_verify_opts *o,
                              json_t **claims_out)
{
    if (claims_out)
        *claims_out = NULL;
    if (!key_suits(o->key, o->alg))
        return WSP_JWT_KEY_INVALID;
    if (!token || len == 0 || len > WSP_JWT_MAX_TOKEN)
        return WSP_JWT_MALFORMED;
    /* RFC 7515 section 7.1: exactly three segments separated by two periods. */
    const char *d1 = memchr(token, '.', len);
    if (!d1)
        return WSP_JWT_MALFORMED;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return WSP_JWT_MALFORMED;
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);
    if (hlen == 0 || plen == 0)
        return WSP_JWT_MALFORMED;

    wsp_jwt_status st = WSP_JWT_MALFORMED;
    json_t *claims = NULL;
    uint8_t *sig = NULL;
    json_t *hdr = segment_object(token, hlen);
    if (!hdr)
        goto done;
    /* RFC 8725 section 3.1: the algorithm is the verifier's choice; the header may only agree
     * with it. This refuses "none" in any spelling, and HS256 over an RS/ES key. */
    json_t *alg = json_object_get(hdr, "alg");
    if (!json_is_string(alg))
        goto done;
    if (strcmp(json_string_value(alg), wsp_jwt_alg_name(o->alg)) != 0) {
        st = WSP_JWT_ALG_NOT_ALLOWED;
        goto done;
    }
    /* RFC 7515 section 4.1.11: extensions listed in crit MUST be understood; none are. */
    if (json_object_get(hdr, "crit"))
        goto done;
    size_t sig_cap = slen / 4 * 3 + 3, sig_len = 0;
    sig = malloc(sig_cap);
    if (!sig || wsp_jwt_b64url_decode(d2 + 1, slen, sig, sig_cap, &sig_len) != 0) {
        st = sig ? WSP_JWT_BAD_SIGNATURE : WSP_JWT_MALFORMED;
        goto done;
    }
    if (sig_len == 0 ||
        !verify_bytes(o->alg, o->key, (const uint8_t *)token, hlen + 1 + plen, sig, sig_len)) {
        st = WSP_JWT_BAD_SIGNATURE;
        goto done;
    }
    /* Only now, with the signature checked, is the payload parsed. */
    claims = segment_object(d1 + 1, plen);
    if (!claims)
        goto done;
    st = check_claims(claims, o);
done:
    free(sig);
    json_decref(hdr);
    if (st == WSP_JWT_OK && claims_out)
        *claims_out = claims;
    else
        json_decref(claims);
    return st;
}

int wsp_jwt_claim_parse(json_t *claims, const char *opt, const char *kv, wsp_err *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s takes K=V with a non-empty name K", opt);
    size_t kl = (size_t)(eq - kv);
    char *k = strndup(kv, kl);
    if (!k)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    int rc = -1;
    const char *v = eq + 1;
    json_t *val = NULL;
    if (json_object_get(claims, k)) {
        wsp_err_set(err, WSP_CLASS_USAGE, "%s %.64s: the claim is given twice", opt, k);
        goto done;
    }
    json_error_t je;
    val = json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!val) {
        const char *p = v;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '{' || *p == '[' || *p == '"') {
            /* The value itself is not quoted back: it may hold something private. */
            wsp_err_set(err, WSP_CLASS_USAGE,
                        "%s %.64s: the value starts like JSON but is not valid JSON (column %d: "
                        "%s)",
                        opt, k, je.column, strstr(je.text, "near") ? "syntax error" : je.text);
            goto done;
        }
        val = json_string(v);
        if (!val) {
            wsp_err_set(err, WSP_CLASS_USAGE, "%s %.64s: the value is not valid UTF-8", opt, k);
            goto done;
        }
    }
    if (json_object_set_new(claims, k, val) != 0) {
        val = NULL;
        wsp_err_set(err, WSP_CLASS_USAGE, "%s: the claim name is not valid UTF-8", opt);
        goto done;
    }
    rc = 0;
done:
    free(k);
    return rc;
}
