/* jwt.h - JSON Web Tokens (RFC 7519) in JWS compact serialization (RFC 7515): base64url,
 * minting, verification for the reference server, and, on purpose and behind explicit options,
 * the malformed and forged tokens that the security checks send (SECURITY-CHECKS.md, auth.*).
 *
 * Built on OpenSSL 3 (EVP only) and jansson. The codec is pure: the clock is passed in and the
 * only randomness (jti) comes from wsp_rand_bytes. The loading helpers at the end read files and
 * the environment for the command line; their messages name the option and the reason and never
 * contain a secret, a key or a token.
 *
 * Algorithms (RFC 7518 section 3.1): HS256, HS384, HS512 (HMAC with a shared secret), RS256
 * (RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of 2048 bits or more) and ES256 (ECDSA P-256 with
 * SHA-256, signature in the JOSE form r||s, 64 bytes). "none" exists only for forging.
 */
#ifndef WSP_JWT_H
#define WSP_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/error.h"

/* Caps on peer input. A token longer than this is refused as malformed before any decoding;
 * the decoded header and claims may nest objects and arrays at most this deep. */
#define WSP_JWT_MAX_TOKEN 8192
#define WSP_JWT_MAX_DEPTH 32

typedef enum wsp_jwt_alg {
    WSP_JWT_ALG_NONE, /* unsecured JWS: forging only (wsp_jwt_forge), never verified */
    WSP_JWT_ALG_HS256,
    WSP_JWT_ALG_HS384,
    WSP_JWT_ALG_HS512,
    WSP_JWT_ALG_RS256,
    WSP_JWT_ALG_ES256,
} wsp_jwt_alg;

/* The registered name ("HS256", "none"). Never NULL. */
const char *wsp_jwt_alg_name(wsp_jwt_alg alg);
/* The names of the signing algorithms (not none), NULL-terminated: what --jwt-alg completes. */
extern const char *const wsp_jwt_signing_algs[];
/* Exact, case-sensitive lookup of a name a user may ask for: HS256, HS384, HS512, RS256, ES256.
 * "none" in any spelling is not one of them: returns -1, as for any unknown name. */
int wsp_jwt_alg_from_name(const char *name);
/* Whether the algorithm is keyed with a shared secret (HS*). */
bool wsp_jwt_alg_is_hmac(wsp_jwt_alg alg);

/* ---- base64url without padding (RFC 7515 section 2, RFC 4648 section 5) ---- */

/* Length of the encoding of n bytes, without padding and without the terminating NUL. */
size_t wsp_jwt_b64url_encoded_len(size_t n);
/* Encode n bytes into out, which must hold wsp_jwt_b64url_encoded_len(n) + 1 bytes; writes a
 * NUL. Returns the length written (without the NUL). */
size_t wsp_jwt_b64url_encode(const void *in, size_t n, char *out);
/* Strict decode of n characters: only A-Z a-z 0-9 - _, no padding, no whitespace, a length that
 * is not 1 modulo 4, and unused trailing bits zero (so every byte string has exactly one
 * encoding). out must hold cap bytes; n / 4 * 3 + 2 is always enough. Returns 0 and the decoded
 * length in *out_len, or -1 (nothing meaningful in out). */
int wsp_jwt_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* ---- keys ---- */

/* A secret (HS*) or an EVP key (RS256, ES256). Opaque; freed with wsp_jwt_key_free, which wipes
 * a secret before releasing it. */
typedef struct wsp_jwt_key wsp_jwt_key;

typedef enum wsp_jwt_key_use {
    WSP_JWT_KEY_SIGN,   /* needs a private key */
    WSP_JWT_KEY_VERIFY, /* a public key, a private key, or a certificate's public key */
} wsp_jwt_key_use;

/* A shared secret, copied. len 0 is allowed here (the empty-secret forgery needs it) but minting
 * refuses it without wsp_jwt_forge.allow_empty_secret and verification always refuses it.
 * Returns NULL only when out of memory. */
wsp_jwt_key *wsp_jwt_key_secret(const void *secret, size_t len);
/* A key from PEM text (len bytes, copied as needed). alg is RS256 or ES256 and the key must suit
 * it (RSA of 2048 bits or more; EC on P-256); WSP_JWT_ALG_NONE accepts either kind and
 * wsp_jwt_key_alg tells which. Encrypted PEM is refused (no passphrase prompt), and so is a
 * certificate when use is SIGN. Returns NULL and fills err (class USAGE, a message without the
 * option name and without key material) on failure. */
wsp_jwt_key *wsp_jwt_key_pem(const char *pem, size_t len, wsp_jwt_alg alg, wsp_jwt_key_use use,
                             wsp_err *err);
/* NULL-safe. */
void wsp_jwt_key_free(wsp_jwt_key *key);
/* The algorithm family of the key: HS256 for any secret, RS256 for RSA, ES256 for P-256. */
wsp_jwt_alg wsp_jwt_key_alg(const wsp_jwt_key *key);
/* The public half of an RSA or EC key as a SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC
 * KEY-----", ends with one newline): what a server publishes, and so what the key-confusion
 * forgery uses as an HMAC secret. *pem_out is heap memory the caller frees. Returns 0 or -1. */
int wsp_jwt_key_public_pem(const wsp_jwt_key *key, char **pem_out, size_t *len_out, wsp_err *err);
/* The public half of an RSA or EC key as a JWK (RFC 7517: kty, n, e or kty, crv, x, y), for the
 * embedded-jwk forgery. *jwk_out is a new reference the caller owns. Returns 0 or -1. */
int wsp_jwt_key_jwk(const wsp_jwt_key *key, json_t **jwk_out, wsp_err *err);

/* ---- minting ---- */

/* Deliberate deviations, for the security checks only (auth.unsigned, auth.key_confusion,
 * auth.header_injection). A conforming JWT library refuses to produce these tokens; wsprobe
 * must send them to prove that a server refuses them. Zero-initialize and set what is wanted. */
typedef struct wsp_jwt_forge {
    /* Written verbatim as the header's "alg" instead of the algorithm's name ("none", "None",
     * "NONE", "nOnE", or "HS256" over an RS key...). NULL: the algorithm's name. */
    const char *alg_header;
    /* Empty signature segment: "header.payload." whatever the algorithm. */
    bool empty_signature;
    /* Drop the last N characters of the signature segment (all of them if N is larger). */
    size_t cut_signature;
    /* Allow an HS* secret of zero length. */
    bool allow_empty_secret;
    /* Allow an HS* secret that is a PEM document (the public key used as HMAC secret). */
    bool allow_pem_secret;
} wsp_jwt_forge;

typedef enum wsp_jwt_jti {
    WSP_JWT_JTI_NONE,
    WSP_JWT_JTI_HEX,    /* 16 random bytes as 32 lower-case hex digits */
    WSP_JWT_JTI_B64URL, /* 16 random bytes as 22 base64url characters */
} wsp_jwt_jti;

typedef struct wsp_jwt_mint_opts {
    wsp_jwt_alg alg;
    const wsp_jwt_key *key; /* borrowed; may be NULL only for WSP_JWT_ALG_NONE */
    /* Borrowed, not modified; an object or NULL for {}. Its members come first in the payload,
     * in their insertion order. */
    json_t *claims;
    /* Borrowed, not modified; an object or NULL. Extra header members after "alg" and "typ" (kid,
     * jwk, x5u, cty...); a member named "typ" replaces "JWT", one named "alg" is refused (use
     * forge.alg_header). */
    json_t *header;
    const char *kid; /* NULL or the header's "kid" (after the members of header) */
    int64_t now;     /* seconds since the epoch: the base of iat, exp and nbf */
    bool iat;        /* "iat": now */
    bool exp;        /* "exp": now + ttl (a negative ttl mints an expired token) */
    int64_t ttl;
    bool nbf; /* "nbf": now + nbf_offset (negative: in the past) */
    int64_t nbf_offset;
    wsp_jwt_jti jti; /* "jti": random, from wsp_rand_bytes */
    /* NULL for a conforming token. */
    const wsp_jwt_forge *forge;
} wsp_jwt_mint_opts;

/* Mint a token: header {"alg":ALG,"typ":"JWT",extra...}, payload claims then iat, nbf, exp, jti
 * (each replacing a given claim of the same name, which keeps its place), both serialized with
 * JSON_COMPACT in insertion order, so the same options give the same bytes. *token_out is heap
 * memory the caller frees. Returns 0, or -1 with err filled (USAGE for a bad option or a key
 * that does not suit alg, INTERNAL when OpenSSL or the generator fails). */
int wsp_jwt_mint(const wsp_jwt_mint_opts *opts, char **token_out, wsp_err *err);

/* Sign given header and payload bytes as they are (no JSON handling): base64url(header) "."
 * base64url(payload) "." base64url(signature). For test vectors whose JSON has line breaks
 * (RFC 7515 appendix A) and for forgeries with hand-made JSON. forge may be NULL; its alg_header
 * does not apply here. Returns 0 or -1 as wsp_jwt_mint. */
int wsp_jwt_encode_raw(wsp_jwt_alg alg, const wsp_jwt_key *key, const void *header, size_t hlen,
                       const void *payload, size_t plen, const wsp_jwt_forge *forge,
                       char **token_out, wsp_err *err);

/* ---- verification (the reference server's side: peer input) ---- */

typedef enum wsp_jwt_status {
    WSP_JWT_OK,
    WSP_JWT_MALFORMED,       /* not three base64url segments of JSON objects, over a cap, ... */
    WSP_JWT_ALG_NOT_ALLOWED, /* header alg is not the pinned one (none in any case included) */
    WSP_JWT_BAD_SIGNATURE,   /* missing, cut, or made with another key */
    WSP_JWT_EXPIRED,         /* now >= exp + leeway */
    WSP_JWT_NOT_YET_VALID,   /* now < nbf - leeway */
    WSP_JWT_WRONG_AUD,       /* aud does not name the expected audience, or none expected */
    WSP_JWT_WRONG_ISS,       /* iss is not the expected issuer */
    WSP_JWT_MISSING_EXP,     /* no exp while require_exp is set */
    WSP_JWT_KEY_INVALID,     /* the verifier's own key does not suit the pinned alg */
} wsp_jwt_status;

/* Stable upper-case name ("BAD_SIGNATURE"). Never NULL. */
const char *wsp_jwt_status_name(wsp_jwt_status st);
/* One sentence for logs and reports. Never NULL. */
const char *wsp_jwt_status_describe(wsp_jwt_status st);

typedef struct wsp_jwt_verify_opts {
    wsp_jwt_alg alg;        /* pinned: the only algorithm accepted; never NONE */
    const wsp_jwt_key *key; /* borrowed: the secret, or a key made with WSP_JWT_KEY_VERIFY */
    int64_t now;            /* seconds since the epoch */
    int64_t leeway;         /* seconds of clock skew allowed on exp and nbf (clamped to 0..1 day) */
    const char *aud;        /* NULL: the token must have no aud; else aud must name it */
    const char *iss;        /* NULL: not checked; else iss must equal it */
    bool require_exp;       /* a token without exp is refused (WSP_JWT_MISSING_EXP) */
} wsp_jwt_verify_opts;

/* Verify a compact token of len bytes (it need not be NUL-terminated). Checks, in order: size
 * and shape, header (a JSON object whose alg is exactly the pinned name; crit is refused; kid,
 * jwk, jku, x5u and x5c are never used to find a key), the signature (constant-time compare),
 * the claims (a JSON object; exp, nbf and iat numbers when present), then exp, nbf, aud, iss.
 * Duplicate member names anywhere are malformed. On WSP_JWT_OK and when claims_out is not NULL,
 * *claims_out is a new reference to the decoded claims that the caller owns; on any other
 * status it is set to NULL. */
wsp_jwt_status wsp_jwt_verify(const char *token, size_t len, const wsp_jwt_verify_opts *opts,
                              json_t **claims_out);

/* Whether HMAC secret bytes are a PEM block (a public key given as a secret: the key-confusion
 * attack that verifiers must refuse, and minting must not do by accident). */
bool wsp_jwt_secret_is_pem(const uint8_t *secret, size_t len);

/* Add one "K=V" claim to the object `claims`. V is typed: when it parses as JSON it is that
 * value (integers, floats, true, false, null, "strings", objects, arrays), otherwise the text
 * as a string; a V that starts like JSON ({ [ ") but does not parse is an error, and so are an
 * empty K and a K given twice. */
int wsp_jwt_claim_parse(json_t *claims, const char *opt, const char *kv, wsp_err *err);

#endif
