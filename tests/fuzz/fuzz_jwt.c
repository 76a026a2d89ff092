/* fuzz_jwt.c - wsp_jwt_verify on arbitrary bytes (the reference server's peer input), with a
 * fixed HS256 secret, plus paths that reach past the signature check:
 *
 *   - the whole input as a token (exact size, not NUL-terminated: ASan sees any over-read);
 *   - the first byte picks a mode for the rest:
 *       0: base64url decode; what decodes must encode back to the same text (canonical);
 *       1: the rest as the payload under {"alg":"HS256","typ":"JWT"}, signed with the secret,
 *          then verified: with a genuine signature the verdict may only be about the claims;
 *       2: the rest split at the first NUL into header and payload, signed as they are, then
 *          verified (hostile headers with a valid signature);
 *       3: the rest as a --jwt-claim K=V argument.
 * Checks: no crash, leak or undefined behaviour; claims are returned exactly on OK; the
 * invariants above. Seeds: tests/fuzz/corpus/jwt/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "probe/jwtconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SECRET "wsprobe-fuzz-secret-0123456789ab"
#define FUZZ_NOW 1700000000

static wsp_jwt_key *fuzz_key(void)
{
    static wsp_jwt_key *key;
    if (!key)
        key = wsp_jwt_key_secret(FUZZ_SECRET, strlen(FUZZ_SECRET));
    return key;
}

static wsp_jwt_status verify(const char *tok, size_t len, uint8_t flags)
{
    wsp_jwt_verify_opts o = {
        .alg = WSP_JWT_ALG_HS256,
        .key = fuzz_key(),
        .now = FUZZ_NOW,
        .leeway = flags & 4 ? 60 : 0,
        .aud = flags & 8 ? "chat" : NULL,
        .iss = flags & 16 ? "auth" : NULL,
        .require_exp = (flags & 32) != 0,
    };
    json_t *claims = NULL;
    wsp_jwt_status st = wsp_jwt_verify(tok, len, &o, &claims);
    if ((st == WSP_JWT_OK) != (claims != NULL) || (claims && !json_is_object(claims)))
        abort();
    json_decref(claims);
    return st;
}

static void b64_roundtrip(const uint8_t *in, size_t n)
{
    uint8_t *out = malloc(n / 4 * 3 + 3);
    char *again = malloc(n + 2);
    size_t ol = 0;
    if (out && again && wsp_jwt_b64url_decode((const char *)in, n, out, n / 4 * 3 + 3, &ol) == 0) {
        size_t el = wsp_jwt_b64url_encode(out, ol, again);
        if (el != n || memcmp(again, in, n) != 0)
            abort();
    }
    free(out);
    free(again);
}

static void signed_payload(const uint8_t *p, size_t n, uint8_t flags)
{
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *tok = NULL;
    if (wsp_jwt_encode_raw(WSP_JWT_ALG_HS256, fuzz_key(), hdr, strlen(hdr), p, n, NULL, &tok,
                           NULL) != 0)
        abort();
    wsp_jwt_status st = verify(tok, strlen(tok), flags);
    /* a genuine signature under the pinned alg: only the claims may be judged wrong (or the
     * token too large to be read at all) */
    if (st == WSP_JWT_BAD_SIGNATURE || st == WSP_JWT_ALG_NOT_ALLOWED || st == WSP_JWT_KEY_INVALID)
        abort();
    if (strlen(tok) <= WSP_JWT_MAX_TOKEN && st == WSP_JWT_MALFORMED && n > 0) {
        /* malformed here means the payload is not one JSON object, a NumericDate is not a
         * number, or the nesting cap: then jansson must agree it is no usable object, or it
         * nests deeply, or a time claim has the wrong type */
        json_t *v = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(v)) {
            const char *names[] = {"exp", "nbf", "iat"};
            bool bad_time = false;
            for (size_t i = 0; i < 3; i++) {
                json_t *t = json_object_get(v, names[i]);
                if (t && !json_is_number(t))
                    bad_time = true;
            }
            if (!bad_time && n < 2 * WSP_JWT_MAX_DEPTH)
                abort();
        }
        json_decref(v);
    }
    free(tok);
}

static void signed_raw(const uint8_t *p, size_t n, uint8_t flags)
{
    const uint8_t *nul = memchr(p, 0, n);
    size_t hl = nul ? (size_t)(nul - p) : n;
    const uint8_t *pay = nul ? nul + 1 : p + n;
    size_t pl = nul ? n - hl - 1 : 0;
    char *tok = NULL;
    if (wsp_jwt_encode_raw(WSP_JWT_ALG_HS256, fuzz_key(), p, hl, pay, pl, NULL, &tok, NULL) != 0)
        abort();
    if (verify(tok, strlen(tok), flags) == WSP_JWT_BAD_SIGNATURE)
        abort();
    free(tok);
}

static void claim(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    json_t *claims = json_object();
    if (s && claims) {
        memcpy(s, p, n);
        s[n] = '\0';
        wsp_err e;
        if (wsp_jwt_claim_parse(claims, "--jwt-claim", s, &e) == 0 && json_object_size(claims) != 1)
            abort();
    }
    json_decref(claims);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the whole input as a token, in an exact-size buffer */
    char *tok = malloc(size ? size : 1);
    if (!tok)
        return 0;
    memcpy(tok, data, size);
    verify(tok, size, size ? data[0] : 0);
    free(tok);
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    switch (flags & 3) {
    case 0:
        b64_roundtrip(rest, n);
        break;
    case 1:
        signed_payload(rest, n, flags);
        break;
    case 2:
        signed_raw(rest, n, flags);
        break;
    case 3:
        claim(rest, n);
        break;
    }
    return 0;
}
