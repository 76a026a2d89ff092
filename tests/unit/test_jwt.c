/* test_jwt.c - the JWT codec: base64url vectors, RFC 7515 appendix A.1 byte for byte, tokens
 * equal to an independent implementation's (python3-jwt) for HS256/384/512 and RS256, ES256 in
 * the JOSE r||s form, every forgery of SECURITY-CHECKS.md's auth section refused, time and
 * audience checks at their boundaries, malformed and hostile tokens, and the loading helpers'
 * messages (which name the option and never the secret). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "probe/jwtconfig.h"
#include "util/rand.h"

/* Test keys, made for this file with `openssl genpkey` (2048-bit RSA, EC P-256). Never use them
 * for anything else. */
static const char RSA_PEM[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDBmfEaKm2pAfXi\n"
                              "rsnxpsQkD+7P8dCiheuVXTjHOBCAGq688Na/qM/vIisLdfTEgNTFteqY009FTbwo\n"
                              "kDtpMfDD36hNHlbrVZCaBv6QtvtLtMXmqFnT8/1KCBC5j/xiYntsyqA1dplwPxW5\n"
                              "Wxzt0mjuMJlnY30w3G8m4ZoKrZ0IaOMdfPSJVT6f80ct/JDaczs1EAY0tjgzLGUm\n"
                              "VjePq5HVRpCZa8ZbO90fBRrtfcvJtW5UGsgUzlhAFwZoUCBvYxO6D7cPwu8YRaFp\n"
                              "eAWXmCaBLAN+Y/T1xKP5magO62DYNemCEnJK4f3+KN0wi/m1ej6v5uHOOvPP45Um\n"
                              "ZsHxiNQdAgMBAAECggEAK/x35QQCykVhwlEIHNlQ8wiTr7c3OdXHgrYdclXwmcp2\n"
                              "LQNjJ0SJicFvmjkAlazXqtv8IyDPf+V7fJPYi7wHAdnM+UiNYwabxgMUz3hje/3k\n"
                              "gNV7I0bqI2nVsvNd2lSZykv3Pm5lyjTrEKP83KPTp1pvYCggh3tt3Z2gTBDJ/uDA\n"
                              "SknsLtKDktp7jBME6Io0QmvDfmSXvsca95GcLd2pIfn1D+KJFKwMiZtPI0Gg4AOY\n"
                              "+MyPTIazG4gDiwxmR0POs9kOiC3KL3vSsZQk2suMaMDNVFZN4etm9dsDZv1/ubxx\n"
                              "+OD3qlcTdwE7wpps3z7knd9t5qbkczUOphIx3bQTWQKBgQDxcmQl0geFBuBs5x5O\n"
                              "mEyWWgLX3kiKdN8tXq9x6uYOun1EouwRf/DGfaGR6ZSWBgHKzJM6qh/6kXXtxJa9\n"
                              "AdOtiOOhBp1q+Z0u69iQZpOIUnKKB0KeQWqfO3UTpJ//2m/e5fwlSYxV45qbmgXW\n"
                              "9li6v/lyQxQvCk1M59uuJsU0TwKBgQDNRUcd288cXSxTTd+Dof+jF1z9v4scPBqA\n"
                              "8M0MJJXNYi+tytYQ9GATv3qPie61nanJnykPNArnUsQvdAhQjlzIx/26V78KgsEH\n"
                              "oYHGkNfuMT+KxquQiXw3ivpMYKao+Sm64aH/7MJjDmfVns7EVGcCxaq7U+oplp/7\n"
                              "PFzLpy0Z0wKBgQDw4SXm0YYtAjJOk7mZwbnO2lgx0xLeB0FMu0UfyrDgis9E9aG8\n"
                              "x76H2Hij4LwbfDy3fad5BJdI3Wwg3Vthj3wGiiZG1Rmhyww07pitX5jajR62dA3T\n"
                              "YwIjgCcKhNgXYm7vmtUWwiye16a8jEo9LqJRFgugIin10DpUepChSw69YwKBgQCq\n"
                              "6tlZYlIkcuxafMf0ieoauXRjkJ7bJqyG2npRdxEIz42VrwPpYCGzr8b0R8xsitf6\n"
                              "Gr2MfC/sBv116a6WrMNTJzr8ct2OeesSWId/d9Fj8rvO6LeoBOJaOS1KdVuv7K+z\n"
                              "fPZv64q8Ah2xQKc30HNpWn9btXaPpGyXO96kcBHcowKBgQDITT85hETRaOXFEi7p\n"
                              "qG3q9ZycMxsCTPiPixI/4vrM53jxoNz3WwLw6E5zlHHQRCVtdJBllFOnQF103FbC\n"
                              "iEZtSIo28c4ZZJZN0bvsZrwatJBXgsdOboPnxjrQA5qtwaXTYwj+Ga20XAhkADfa\n"
                              "KlZzwOWy3qqLxNnXzguUZbB/ew==\n"
                              "-----END PRIVATE KEY-----\n";

static const char RSA_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwZnxGiptqQH14q7J8abE\n"
                              "JA/uz/HQooXrlV04xzgQgBquvPDWv6jP7yIrC3X0xIDUxbXqmNNPRU28KJA7aTHw\n"
                              "w9+oTR5W61WQmgb+kLb7S7TF5qhZ0/P9SggQuY/8YmJ7bMqgNXaZcD8VuVsc7dJo\n"
                              "7jCZZ2N9MNxvJuGaCq2dCGjjHXz0iVU+n/NHLfyQ2nM7NRAGNLY4MyxlJlY3j6uR\n"
                              "1UaQmWvGWzvdHwUa7X3LybVuVBrIFM5YQBcGaFAgb2MTug+3D8LvGEWhaXgFl5gm\n"
                              "gSwDfmP09cSj+ZmoDutg2DXpghJySuH9/ijdMIv5tXo+r+bhzjrzz+OVJmbB8YjU\n"
                              "HQIDAQAB\n"
                              "-----END PUBLIC KEY-----\n";

static const char RSA2_PEM[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCdjFjow3YBNymY\n"
                               "4ikejXcQ4MhAtq8mcO2aJituquXlPcOz/p5z54cmLmIaaxZmwhHYXlIb1RP81wiv\n"
                               "fOkII9ND504bm8XS9P+12693ye4X4IpLxCrUuI5qrkHVXTktAovvXEWwz/2s69Yt\n"
                               "04h/IkFvHIGNjxpeGbB+SK+CcvqNp5PN0dfl7Xx/Ni5wxZTd0oC42PHbhDmyKxk+\n"
                               "9Owx/yvM6u+2Mn3k8+OkGfQDUIS0m6tm0m2FZJfdWHcBIiI1zkWE1MPU07CMabdg\n"
                               "UvY/lKPVdz0HxmzCsJ7y0L9TgVMGQmX/wR4F/XyINC+ELgF5vJWj/Cl+MJQ/Vtuc\n"
                               "aNwUislRAgMBAAECggEAAIG/6XkeKzvVB5e2qnv/BZALj4sRk4M/0xlLViRORVyx\n"
                               "AVEQ4Rjov4/c+JkemH8IVVSxrpg9Y7istPp8ZMPPaAOu+yTBpVTsxlYqFthl9TAK\n"
                               "PIXUM3H9N0z54Oissz8zrwtHcshV2Gq7z32Y41EmD72c5xUuRbOPH0uMO6mzXPr1\n"
                               "5mU63pWuA43cQ7OyS3kpmrzpXQ/Zw0Kz/h/fO1HURyk9u1iH+Sfwi+FHWjl7BCkJ\n"
                               "AJAsEszh30v7//SFcZ4Nu/z2vGtrw6siVruCQjp+Tu/2s5eywGVLNS0/8DhkH2Xo\n"
                               "c1J5wIP1814ZWVteVnaxdAve9ndXX3BCMhLzWw1vqQKBgQDcQX+M0pGvjo543iaO\n"
                               "PBpEBo3VBxjNZcDWBFhisP3JvAGe3197jQZ067NEEtNOT+nkf+pDgsg/VCgONtH1\n"
                               "R4FMS23+2/EcQfUjcK3S3XdADjPXm0eVJyPamp+wNn7lL6Wvls07tOKYpVPwSE4y\n"
                               "jp4/6ptlUjJycfLN/QMoDms8rQKBgQC3Has3q69Co4B3kkOO0vKgyfOQnlQpLbIz\n"
                               "pz83T42CDXKnWTyqFafF9Yb8ol/HUp72IzRK0+qoDYMFf9CaCwpe92PdzZbfD0in\n"
                               "hpjN5Y11eAIQXAXPmeA4iqI/UGqjhTi49rPYNYbLm5SzpqolVR+mYcMbl3zPTLmy\n"
                               "Js8Fk23PtQKBgFA8Q/zG0G+FnP0G4EC8QE07nftWhIB+assL9i6tjyYoKOb5NE1L\n"
                               "yGhbXIiV2wgSMIAe4PYK9GutepIDAmU50S475CwNbz3+ARESASBpsQFSqywF0wPQ\n"
                               "qE0AOt/0WjGfM9pNMyJm+Izm3TcQ//uG3Lsn+cflM59hRzQm0TmMVyBZAoGAFSPZ\n"
                               "tm2dqCXUGPnLzttPo3xtIA8HTFG4Nvph8/K9NXxz9hn5RPGHEvWLhfMA97P0Ihpi\n"
                               "WRkqCAi3TZU58e7AXcJVxy+K8WmES8LgNTUBJcSbCGR3T0ZGeoCWxpR0GziwGbpx\n"
                               "fM6BJ1Ro0Gy3S+QN6Vlz+uV8RTpoXcbZM52XmdkCgYEA0w0Eu0mJpUU1Ktd8vmub\n"
                               "X5qRZ3lGvgkll/C11IjqobWsicUzIxUsWBwSWWt1Ye+ISNdCkOsEgCPMrxHV+b4D\n"
                               "BAe4UKaYxasb/Ir0jLodAv4eimL+jEbPZRumqNeSUWEEE7S207wPGX3L/1rY9UcL\n"
                               "6L/yg+Qg5Zec1HF6dQCjuto=\n"
                               "-----END PRIVATE KEY-----\n";

static const char EC_PEM[] = "-----BEGIN PRIVATE KEY-----\n"
                             "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc3rgSzXqmOl/N35A\n"
                             "D1xBUtdONpK0UQ6X5TR0uBjHUhKhRANCAARWwAM1gfGLWVfU2ZStO8SndYrfn476\n"
                             "FbtNcV8AF0jPCo1wmXfg7bQOJyVdLyxYKe40pC4Z8gwCQ7T758JUGk7M\n"
                             "-----END PRIVATE KEY-----\n";

static const char EC_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVsADNYHxi1lX1NmUrTvEp3WK35+O\n"
                             "+hW7TXFfABdIzwqNcJl34O20DiclXS8sWCnuNKQuGfIMAkO0++fCVBpOzA==\n"
                             "-----END PUBLIC KEY-----\n";

static const char EC2_PEM[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIYwbMOMWeGDLfWEB\n"
                              "nxF92jk/06Gpd2ax9beDa1bAM/ihRANCAAQfXivIw5/IUdaupSx7IA1APZK62Djg\n"
                              "TTVKZ0/QhkaXqmJp+x7UxmSvVN8TnIQyQCkBmeJIzyMEIyjpwvFR2V76\n"
                              "-----END PRIVATE KEY-----\n";

#define SECRET "wsprobe-test-secret-0123456789abcdef"
#define NOW 1700000000

/* ---- helpers ---- */

static int counting_rand(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)i;
    return 0;
}

static wsp_jwt_key *secret_key(const char *s)
{
    wsp_jwt_key *k = wsp_jwt_key_secret(s, strlen(s));
    assert_non_null(k);
    return k;
}

static wsp_jwt_key *pem_key(const char *pem, wsp_jwt_alg alg, wsp_jwt_key_use use)
{
    wsp_err e;
    wsp_err_clear(&e);
    wsp_jwt_key *k = wsp_jwt_key_pem(pem, strlen(pem), alg, use, &e);
    if (!k)
        fail_msg("key: %s", e.msg);
    return k;
}

static wsp_jwt_status verify_at(const char *tok, wsp_jwt_alg alg, const wsp_jwt_key *key,
                                int64_t now, int64_t leeway, const char *aud, const char *iss)
{
    wsp_jwt_verify_opts o = {
        .alg = alg, .key = key, .now = now, .leeway = leeway, .aud = aud, .iss = iss};
    json_t *claims = (json_t *)1;
    wsp_jwt_status st = wsp_jwt_verify(tok, strlen(tok), &o, &claims);
    if (st == WSP_JWT_OK) {
        assert_true(json_is_object(claims));
        json_decref(claims);
    } else {
        assert_null(claims);
    }
    return st;
}

static wsp_jwt_status verify(const char *tok, wsp_jwt_alg alg, const wsp_jwt_key *key)
{
    return verify_at(tok, alg, key, NOW, 0, NULL, NULL);
}

/* Mint with claims given as JSON text and an optional forge; fails the test on error. */
static char *mint(wsp_jwt_alg alg, const wsp_jwt_key *key, const char *claims_json,
                  const char *header_json, const wsp_jwt_forge *forge)
{
    json_error_t je;
    json_t *claims = claims_json ? json_loads(claims_json, 0, &je) : NULL;
    json_t *hdr = header_json ? json_loads(header_json, 0, &je) : NULL;
    wsp_jwt_mint_opts o = {
        .alg = alg, .key = key, .claims = claims, .header = hdr, .now = NOW, .forge = forge};
    char *tok = NULL;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_jwt_mint(&o, &tok, &e) != 0)
        fail_msg("mint: %s", e.msg);
    json_decref(claims);
    json_decref(hdr);
    return tok;
}

/* Raw header and payload text, signed as they are. */
static char *raw(wsp_jwt_alg alg, const wsp_jwt_key *key, const char *hdr, const char *payload)
{
    char *tok = NULL;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_jwt_encode_raw(alg, key, hdr, strlen(hdr), payload, strlen(payload), NULL, &tok, &e) !=
        0)
        fail_msg("encode_raw: %s", e.msg);
    return tok;
}

/* The decoded bytes of segment `idx` (0..2) of a token, in a static buffer. */
static size_t segment(const char *tok, int idx, uint8_t *out, size_t cap)
{
    const char *p = tok;
    for (int i = 0; i < idx; i++)
        p = strchr(p, '.') + 1;
    const char *end = strchr(p, '.');
    size_t n = end ? (size_t)(end - p) : strlen(p), len = 0;
    assert_int_equal(wsp_jwt_b64url_decode(p, n, out, cap, &len), 0);
    return len;
}

/* ---- base64url ---- */

static void test_b64url_vectors(void **state)
{
    (void)state;
    /* RFC 4648 section 10, without padding */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        uint8_t back[16];
        size_t n = 0;
        assert_int_equal(wsp_jwt_b64url_encode(plain[i], strlen(plain[i]), out), strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        assert_int_equal(wsp_jwt_b64url_encoded_len(strlen(plain[i])), strlen(enc[i]));
        assert_int_equal(wsp_jwt_b64url_decode(enc[i], strlen(enc[i]), back, sizeof back, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
    }
    /* RFC 7515 appendix C: the URL-safe alphabet */
    static const uint8_t c[] = {3, 236, 255, 224, 193};
    char out[16];
    wsp_jwt_b64url_encode(c, sizeof c, out);
    assert_string_equal(out, "A-z_4ME");
    static const uint8_t hi[] = {0xfb, 0xff, 0xbf};
    wsp_jwt_b64url_encode(hi, sizeof hi, out);
    assert_string_equal(out, "-_-_");
}

static void test_b64url_strict(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
    } bad[] = {
        {"Zg==", 4},
        {"Zm8=", 4},
        {"Z", 1},
        {"Zm9vY", 5},
        {"Zm+v", 4},
        {"Zm/v", 4},
        {"Zm9v\n", 5},
        {" Zm9v", 5},
        {"Zm 9v", 5},
        {"Zm9v.", 5},
        {"Zm\0v", 4},
        {"Zm9\xc3\xa9", 5},
        /* non-canonical: "Zg" and "Zm8" with unused low bits set */
        {"Zh", 2},
        {"Zv", 2},
        {"Zm9", 3},
        {"Zm-", 3},
    };
    uint8_t out[16];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (wsp_jwt_b64url_decode(bad[i].in, bad[i].len, out, sizeof out, &n) != -1)
            fail_msg("case %zu decoded", i);
    assert_int_equal(wsp_jwt_b64url_decode("Zm8", 3, out, sizeof out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(wsp_jwt_b64url_decode("", 0, out, 0, &n), 0);
    assert_int_equal(n, 0);
    /* the output cap is respected */
    assert_int_equal(wsp_jwt_b64url_decode("Zm9vYmFy", 8, out, 5, &n), -1);
    assert_int_equal(wsp_jwt_b64url_decode("Zm9vYmFy", 8, out, 6, &n), 0);
}

static void test_b64url_roundtrip(void **state)
{
    (void)state;
    uint8_t in[130], back[130];
    char enc[200];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t el = wsp_jwt_b64url_encode(in, n, enc), bl = 0;
        assert_int_equal(el, wsp_jwt_b64url_encoded_len(n));
        assert_int_not_equal(el % 4, 1);
        assert_null(strchr(enc, '='));
        assert_int_equal(wsp_jwt_b64url_decode(enc, el, back, n / 3 * 3 + 3, &bl), 0);
        assert_int_equal(bl, n);
        assert_memory_equal(back, in, n);
    }
}

/* ---- minting ---- */

/* RFC 7515 appendix A.1: the HS256 JWS, reproduced byte for byte from the RFC's exact header
 * and payload octets (with their CR LF line breaks) and its JWK key. */
static void test_rfc7515_a1(void **state)
{
    (void)state;
    static const char hdr[] = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
    static const char payload[] =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    static const char k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char want[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        "."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
        "cnVlfQ"
        "."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    uint8_t key[64];
    size_t kl = 0;
    assert_int_equal(wsp_jwt_b64url_decode(k, strlen(k), key, sizeof key, &kl), 0);
    assert_int_equal(kl, 64);
    wsp_jwt_key *jk = wsp_jwt_key_secret(key, kl);
    char *tok = NULL;
    assert_int_equal(wsp_jwt_encode_raw(WSP_JWT_ALG_HS256, jk, hdr, strlen(hdr), payload,
                                        strlen(payload), NULL, &tok, NULL),
                     0);
    assert_string_equal(tok, want);

    /* and the verifier accepts it before its exp, with the claims as the RFC gives them */
    wsp_jwt_verify_opts o = {.alg = WSP_JWT_ALG_HS256, .key = jk, .now = 1300819379};
    json_t *claims = NULL;
    assert_int_equal(wsp_jwt_verify(tok, strlen(tok), &o, &claims), WSP_JWT_OK);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "joe");
    assert_true(json_is_true(json_object_get(claims, "http://example.com/is_root")));
    json_decref(claims);
    o.now = 1300819380;
    assert_int_equal(wsp_jwt_verify(tok, strlen(tok), &o, NULL), WSP_JWT_EXPIRED);
    free(tok);
    wsp_jwt_key_free(jk);
}

/* The token jwt.io shows by default, and tokens that python3-jwt 2.6 minted for the same claims:
 * the header and the payload serialization agree byte for byte. */
static void test_mint_matches_independent(void **state)
{
    (void)state;
    wsp_jwt_key *k = secret_key("your-256-bit-secret");
    char *tok =
        mint(WSP_JWT_ALG_HS256, k,
             "{\"sub\":\"1234567890\",\"name\":\"John Doe\",\"iat\":1516239022}", NULL, NULL);
    assert_string_equal(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwib"
                             "mFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwp"
                             "MeJf36POk6yJV_adQssw5c");
    free(tok);
    wsp_jwt_key_free(k);

    static const struct {
        wsp_jwt_alg alg;
        const char *want;
    } vec[] = {
        {WSP_JWT_ALG_HS256,
         "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlMmUiLCJuIjo0MiwiZiI6MS"
         "41LCJvayI6dHJ1ZSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAzMDB9.d0TEpeY"
         "lYu93G2GYR_SfB-0hWjshyFMMAcymbfI_tIw"},
        {WSP_JWT_ALG_HS384,
         "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlMmUiLCJuIjo0MiwiZiI6MS"
         "41LCJvayI6dHJ1ZSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAzMDB9.ArNGjja"
         "73OIXKlXt-gURObde2x9F3hlQ46g3kxNHV0isxYheB2Z_mpT1Z929n--e"},
        {WSP_JWT_ALG_HS512,
         "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlMmUiLCJuIjo0MiwiZiI6MS"
         "41LCJvayI6dHJ1ZSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAzMDB9.qh2-gJk"
         "HgvCi40D5t1S35jA5OaFRJUe3M9_zerUIbDbZN_lhVHI7zg3wEUvcUHTN9EGGMEh4Nt6o8"
         "YTt8xp3BQ"},
        {WSP_JWT_ALG_RS256,
         "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlMmUiLCJuIjo0MiwiZiI6MS41LCJvayI6dHJ1ZS"
         "wiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAzMDB9.njpjoIro7_xpq4tHfzSs1c1YTvX9qSKSS07VRRuT"
         "GDkr_sD3rSf1eNulFio34ZeL8wAoruMULrJZ7jDs7tl9iDzuav0SNaAkaOA0NK3W_fwJ-qIVfnJt_t00GWizkNl"
         "przO_V4Jr2hzLgqCvQKahZDuDUhLoo3mg6H7Q2eX83af72qN_-plTrpcEHeN0w4OeQoiUIZbz7uvN-8q8VT7F1O"
         "HWWXdIMkLvkxd_4CHeiFOVuwWnLpK-yrXhre-4HUpuSPT1BkQNsyDxjUy4nJ-XXvpfqsmIZCVpX8MZvEsX6VD5i"
         "EJ58W_348i1kZrstBPg7uguVYGJqdDewpNRUfN8RQ"},
    };
    json_t *claims = json_loads("{\"sub\":\"e2e\",\"n\":42,\"f\":1.5,\"ok\":true}", 0, NULL);
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        wsp_jwt_key *key = vec[i].alg == WSP_JWT_ALG_RS256
                               ? pem_key(RSA_PEM, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN)
                               : secret_key(SECRET);
        wsp_jwt_mint_opts o = {.alg = vec[i].alg,
                               .key = key,
                               .claims = claims,
                               .now = NOW,
                               .iat = true,
                               .exp = true,
                               .ttl = 300};
        char *t = NULL;
        assert_int_equal(wsp_jwt_mint(&o, &t, NULL), 0);
        assert_string_equal(t, vec[i].want);
        assert_int_equal(verify(t, vec[i].alg, key), WSP_JWT_OK);
        free(t);
        wsp_jwt_key_free(key);
    }
    json_decref(claims);
}

static void test_mint_registered_claims(void **state)
{
    (void)state;
    wsp_jwt_key *k = secret_key(SECRET);
    json_t *claims = json_loads("{\"sub\":\"bot\",\"iat\":1}", 0, NULL);
    json_t *hdr = json_loads("{\"cty\":\"x\"}", 0, NULL);
    wsp_jwt_mint_opts o = {.alg = WSP_JWT_ALG_HS256,
                           .key = k,
                           .claims = claims,
                           .header = hdr,
                           .kid = "key-1",
                           .now = NOW,
                           .iat = true,
                           .exp = true,
                           .ttl = 60,
                           .nbf = true,
                           .nbf_offset = -30,
                           .jti = WSP_JWT_JTI_HEX};
    wsp_rand_set_hook(counting_rand, NULL);
    char *t = NULL;
    assert_int_equal(wsp_jwt_mint(&o, &t, NULL), 0);
    uint8_t buf[512];
    size_t n = segment(t, 0, buf, sizeof buf);
    assert_int_equal(n,
                     strlen("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"cty\":\"x\",\"kid\":\"key-1\"}"));
    assert_memory_equal(buf, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"cty\":\"x\",\"kid\":\"key-1\"}",
                        n);
    /* a given iat keeps its place and takes the computed value */
    static const char want[] = "{\"sub\":\"bot\",\"iat\":1700000000,\"nbf\":1699999970,"
                               "\"exp\":1700000060,\"jti\":\"000102030405060708090a0b0c0d0e0f\"}";
    n = segment(t, 1, buf, sizeof buf);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    free(t);

    o.jti = WSP_JWT_JTI_B64URL;
    o.claims = NULL;
    o.header = NULL;
    o.kid = NULL;
    o.nbf = false;
    assert_int_equal(wsp_jwt_mint(&o, &t, NULL), 0);
    static const char want2[] =
        "{\"iat\":1700000000,\"exp\":1700000060,\"jti\":\"AAECAwQFBgcICQoLDA0ODw\"}";
    n = segment(t, 1, buf, sizeof buf);
    assert_int_equal(n, strlen(want2));
    assert_memory_equal(buf, want2, n);
    free(t);
    wsp_rand_set_hook(NULL, NULL);
    json_decref(claims);
    json_decref(hdr);
    wsp_jwt_key_free(k);
}

/* ES256: the signature is R || S, 64 bytes with each half left-padded to 32 (RFC 7518 section
 * 3.4). Enough signatures are made that some R or S has a leading zero byte (about 1 in 64
 * tokens), so a missing pad would show. */
static void test_es256_jose_signature(void **state)
{
    (void)state;
    wsp_jwt_key *priv = pem_key(EC_PEM, WSP_JWT_ALG_ES256, WSP_JWT_KEY_SIGN);
    wsp_jwt_key *pub = pem_key(EC_PUB, WSP_JWT_ALG_ES256, WSP_JWT_KEY_VERIFY);
    wsp_jwt_key *other = pem_key(EC2_PEM, WSP_JWT_ALG_ES256, WSP_JWT_KEY_VERIFY);
    /* An r or s below 2^248 (a leading zero byte, ~1 signature in 128) must still take its
     * 32 bytes. ECDSA signatures are random: sign at least 400 and go on until such a
     * signature has been seen (P(none in 4,000) ~ 1e-14), so the test is not a coin toss. */
    int short_half = 0;
    for (int i = 0; i < 4000 && (i < 400 || short_half == 0); i++) {
        char claims[64];
        snprintf(claims, sizeof claims, "{\"n\":%d}", i);
        char *t = mint(WSP_JWT_ALG_ES256, priv, claims, NULL, NULL);
        uint8_t sig[128];
        assert_int_equal(segment(t, 2, sig, sizeof sig), 64);
        assert_int_equal(strlen(strrchr(t, '.') + 1), 86);
        if (sig[0] == 0 || sig[32] == 0)
            short_half++;
        assert_int_equal(verify(t, WSP_JWT_ALG_ES256, pub), WSP_JWT_OK);
        assert_int_equal(verify(t, WSP_JWT_ALG_ES256, priv), WSP_JWT_OK);
        assert_int_equal(verify(t, WSP_JWT_ALG_ES256, other), WSP_JWT_BAD_SIGNATURE);
        free(t);
    }
    assert_true(short_half > 0);
    wsp_jwt_key_free(priv);
    wsp_jwt_key_free(pub);
    wsp_jwt_key_free(other);
}

static void test_mint_refusals(void **state)
{
    (void)state;
    wsp_err e;
    char *t = NULL;
    wsp_jwt_key *empty = wsp_jwt_key_secret("", 0);
    wsp_jwt_key *pem = secret_key(RSA_PUB);
    wsp_jwt_key *rsa = pem_key(RSA_PEM, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN);
    wsp_jwt_key *rsa_pub = pem_key(RSA_PUB, WSP_JWT_ALG_RS256, WSP_JWT_KEY_VERIFY);
    wsp_jwt_mint_opts o = {.alg = WSP_JWT_ALG_NONE, .now = NOW};
    /* alg none, an empty secret and a PEM secret only with an explicit forge */
    assert_int_equal(wsp_jwt_mint(&o, &t, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    o.alg = WSP_JWT_ALG_HS256;
    o.key = empty;
    assert_int_equal(wsp_jwt_mint(&o, &t, &e), -1);
    o.key = pem;
    assert_int_equal(wsp_jwt_mint(&o, &t, &e), -1);
    /* key and alg must agree; a public key cannot sign */
    o.key = rsa;
    assert_int_equal(wsp_jwt_mint(&o, &t, &e), -1);
    o.alg = WSP_JWT_ALG_ES256;
    assert_int_equal(wsp_jwt_mint(&o, &t, &e), -1);
    o.alg = WSP_JWT_ALG_RS256;
    o.key = rsa_pub;
    assert_int_equal(wsp_jwt_mint(&o, &t, &e), -1);
    /* the header's alg comes from alg, never from extra fields */
    json_t *hdr = json_loads("{\"alg\":\"none\"}", 0, NULL);
    o.key = rsa;
    o.header = hdr;
    assert_int_equal(wsp_jwt_mint(&o, &t, &e), -1);
    assert_null(t);
    json_decref(hdr);
    wsp_jwt_key_free(empty);
    wsp_jwt_key_free(pem);
    wsp_jwt_key_free(rsa);
    wsp_jwt_key_free(rsa_pub);
}

/* ---- forgeries (SECURITY-CHECKS.md auth.unsigned, auth.key_confusion,
 * auth.header_injection, auth.bad_signature): each is made, and refused by a verifier pinned
 * to HS256, RS256 or ES256 that accepts the genuine token of the same claims. ---- */

typedef struct pinned {
    wsp_jwt_alg alg;
    wsp_jwt_key *sign;   /* the genuine signer */
    wsp_jwt_key *verify; /* what the verifier holds */
    const char *pub_pem; /* the public key as published (RS/ES) */
} pinned;

static void forge_all(const pinned *p, const wsp_jwt_key *attacker_rsa)
{
    const char *claims = "{\"sub\":\"admin\",\"exp\":1800000000}";
    char *t;
    /* the baseline: genuine tokens pass, so the refusals below mean something */
    t = mint(p->alg, p->sign, claims, NULL, NULL);
    assert_int_equal(verify(t, p->alg, p->verify), WSP_JWT_OK);
    size_t sig64 = strlen(strrchr(t, '.') + 1);
    free(t);

    /* alg none in four spellings, empty signature */
    static const char *const none[] = {"none", "None", "NONE", "nOnE"};
    for (size_t i = 0; i < 4; i++) {
        wsp_jwt_forge f = {.alg_header = none[i]};
        t = mint(WSP_JWT_ALG_NONE, NULL, claims, NULL, &f);
        assert_int_equal(t[strlen(t) - 1], '.');
        assert_int_equal(verify(t, p->alg, p->verify), WSP_JWT_ALG_NOT_ALLOWED);
        free(t);
    }
    /* the pinned alg, and a null signature: "h.p." */
    wsp_jwt_forge nullsig = {.empty_signature = true};
    t = mint(p->alg, p->sign, claims, NULL, &nullsig);
    assert_int_equal(t[strlen(t) - 1], '.');
    assert_int_equal(verify(t, p->alg, p->verify), WSP_JWT_BAD_SIGNATURE);
    free(t);
    /* the signature with its last N characters cut, down to nothing */
    size_t cuts[] = {1, 2, 3, 4, 10, sig64 - 1, sig64, sig64 + 5};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        wsp_jwt_forge f = {.cut_signature = cuts[i]};
        t = mint(p->alg, p->sign, claims, NULL, &f);
        size_t left = cuts[i] < sig64 ? sig64 - cuts[i] : 0;
        assert_int_equal(strlen(strrchr(t, '.') + 1), left);
        wsp_jwt_status st = verify(t, p->alg, p->verify);
        assert_true(st == WSP_JWT_BAD_SIGNATURE);
        free(t);
    }
    /* HS256 with an empty secret; with kid path traversal and SQL-ish kid too */
    wsp_jwt_key *empty = wsp_jwt_key_secret("", 0);
    wsp_jwt_forge fe = {.allow_empty_secret = true};
    static const char *const kid_hdr[] = {NULL, "{\"kid\":\"../../../../dev/null\"}",
                                          "{\"kid\":\"x' UNION SELECT '' --\"}"};
    for (size_t i = 0; i < 3; i++) {
        t = mint(WSP_JWT_ALG_HS256, empty, claims, kid_hdr[i], &fe);
        assert_int_equal(verify(t, p->alg, p->verify), p->alg == WSP_JWT_ALG_HS256
                                                           ? WSP_JWT_BAD_SIGNATURE
                                                           : WSP_JWT_ALG_NOT_ALLOWED);
        free(t);
    }
    wsp_jwt_key_free(empty);
    /* key confusion: HS256 signed with the public key PEM as secret, with and without its
     * trailing newline */
    if (p->pub_pem) {
        for (size_t cut = 0; cut <= 1; cut++) {
            wsp_jwt_key *conf = wsp_jwt_key_secret(p->pub_pem, strlen(p->pub_pem) - cut);
            wsp_jwt_forge fc = {.allow_pem_secret = true};
            t = mint(WSP_JWT_ALG_HS256, conf, claims, NULL, &fc);
            assert_int_equal(verify(t, p->alg, p->verify), WSP_JWT_ALG_NOT_ALLOWED);
            free(t);
            wsp_jwt_key_free(conf);
        }
    }
    /* an embedded jwk: the attacker's own RSA key signs, and its public half rides along */
    json_t *jwk = NULL;
    assert_int_equal(wsp_jwt_key_jwk(attacker_rsa, &jwk, NULL), 0);
    json_t *hdr = json_pack("{s:O}", "jwk", jwk);
    char *hdr_text = json_dumps(hdr, JSON_COMPACT);
    t = mint(WSP_JWT_ALG_RS256, attacker_rsa, claims, hdr_text, NULL);
    assert_int_equal(verify(t, p->alg, p->verify),
                     p->alg == WSP_JWT_ALG_RS256 ? WSP_JWT_BAD_SIGNATURE : WSP_JWT_ALG_NOT_ALLOWED);
    free(t);
    free(hdr_text);
    json_decref(hdr);
    json_decref(jwk);
    /* a well-formed token of the pinned alg signed with another key */
    wsp_jwt_key *other = NULL;
    if (wsp_jwt_alg_is_hmac(p->alg))
        other = secret_key("another-secret-of-the-same-length-0");
    else if (p->alg == WSP_JWT_ALG_RS256)
        other = pem_key(RSA2_PEM, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN);
    else
        other = pem_key(EC2_PEM, WSP_JWT_ALG_ES256, WSP_JWT_KEY_SIGN);
    t = mint(p->alg, other, claims, NULL, NULL);
    assert_int_equal(verify(t, p->alg, p->verify), WSP_JWT_BAD_SIGNATURE);
    free(t);
    wsp_jwt_key_free(other);
    /* the pinned name in another case, and another HMAC size, are other algorithms */
    wsp_jwt_forge lower = {.alg_header = p->alg == WSP_JWT_ALG_HS256   ? "hs256"
                                         : p->alg == WSP_JWT_ALG_RS256 ? "rs256"
                                                                       : "es256"};
    t = mint(p->alg, p->sign, claims, NULL, &lower);
    assert_int_equal(verify(t, p->alg, p->verify), WSP_JWT_ALG_NOT_ALLOWED);
    free(t);
    wsp_jwt_key *hs = secret_key(SECRET);
    t = mint(WSP_JWT_ALG_HS512, hs, claims, NULL, NULL);
    assert_int_equal(verify(t, p->alg, p->verify), WSP_JWT_ALG_NOT_ALLOWED);
    free(t);
    wsp_jwt_key_free(hs);
}

static void test_forgeries_refused(void **state)
{
    (void)state;
    wsp_jwt_key *attacker = pem_key(RSA2_PEM, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN);
    wsp_jwt_key *hs = secret_key(SECRET);
    wsp_jwt_key *rsa = pem_key(RSA_PEM, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN);
    wsp_jwt_key *rsa_pub = pem_key(RSA_PUB, WSP_JWT_ALG_RS256, WSP_JWT_KEY_VERIFY);
    wsp_jwt_key *ec = pem_key(EC_PEM, WSP_JWT_ALG_ES256, WSP_JWT_KEY_SIGN);
    wsp_jwt_key *ec_pub = pem_key(EC_PUB, WSP_JWT_ALG_ES256, WSP_JWT_KEY_VERIFY);
    pinned p[] = {
        {WSP_JWT_ALG_HS256, hs, hs, NULL},
        {WSP_JWT_ALG_RS256, rsa, rsa_pub, RSA_PUB},
        {WSP_JWT_ALG_ES256, ec, ec_pub, EC_PUB},
    };
    for (size_t i = 0; i < 3; i++)
        forge_all(&p[i], attacker);
    /* the exported public PEM is what the server publishes, byte for byte */
    char *pem = NULL;
    size_t pl = 0;
    assert_int_equal(wsp_jwt_key_public_pem(rsa, &pem, &pl, NULL), 0);
    assert_string_equal(pem, RSA_PUB);
    assert_int_equal(pl, strlen(RSA_PUB));
    free(pem);
    assert_int_equal(wsp_jwt_key_public_pem(ec, &pem, &pl, NULL), 0);
    assert_string_equal(pem, EC_PUB);
    free(pem);
    /* the EC JWK has 32-byte coordinates */
    json_t *jwk = NULL;
    assert_int_equal(wsp_jwt_key_jwk(ec_pub, &jwk, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "P-256");
    assert_int_equal(json_string_length(json_object_get(jwk, "x")), 43);
    assert_int_equal(json_string_length(json_object_get(jwk, "y")), 43);
    json_decref(jwk);
    wsp_jwt_key_free(attacker);
    wsp_jwt_key_free(hs);
    wsp_jwt_key_free(rsa);
    wsp_jwt_key_free(rsa_pub);
    wsp_jwt_key_free(ec);
    wsp_jwt_key_free(ec_pub);
}

/* The forgeries are exactly what a vulnerable server would accept: python's hmac over the same
 * signing input with the empty key and with the PEM bytes (so a server that HMACs with its
 * public key file, newline or not, would take them), and a bare "h.p." for alg nOnE. */
static void test_forged_bytes(void **state)
{
    (void)state;
    char *t = NULL;
    wsp_jwt_key *empty = wsp_jwt_key_secret("", 0);
    wsp_jwt_forge fe = {.allow_empty_secret = true};
    assert_int_equal(wsp_jwt_encode_raw(WSP_JWT_ALG_HS256, empty, "{\"alg\":\"HS256\"}", 15, "{}",
                                        2, &fe, &t, NULL),
                     0);
    assert_string_equal(t, "eyJhbGciOiJIUzI1NiJ9.e30.4E_Bsx-pJi3kOW9wVXN8CgbATwP09D9V5gxh9-9zSZ0");
    free(t);
    wsp_jwt_key_free(empty);
    static const char *const want[] = {
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiJ9."
        "Pt5T2wMsPyHlUH-bfZtgUOljxTBwtbCwK9bAEdgTgb8",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiJ9."
        "GqSajwOcdjLEwtsPiI0sjfiq1btaAhJ_Is1nURIdxMc",
    };
    wsp_jwt_key *rsa = pem_key(RSA_PEM, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN);
    char *pub = NULL;
    size_t pl = 0;
    assert_int_equal(wsp_jwt_key_public_pem(rsa, &pub, &pl, NULL), 0);
    for (size_t cut = 0; cut <= 1; cut++) {
        wsp_jwt_key *conf = wsp_jwt_key_secret(pub, pl - cut);
        wsp_jwt_forge fc = {.allow_pem_secret = true};
        t = mint(WSP_JWT_ALG_HS256, conf, "{\"sub\":\"admin\"}", NULL, &fc);
        assert_string_equal(t, want[cut]);
        free(t);
        wsp_jwt_key_free(conf);
    }
    free(pub);
    wsp_jwt_key_free(rsa);
    wsp_jwt_forge fn = {.alg_header = "nOnE"};
    t = mint(WSP_JWT_ALG_NONE, NULL, "{\"sub\":\"admin\"}", NULL, &fn);
    assert_string_equal(t, "eyJhbGciOiJuT25FIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiJ9.");
    free(t);
}

/* Any change to a genuine token is refused: every prefix, and every single character replaced
 * by another of the alphabet. Strict base64url makes even the unused bits count. */
static void test_every_mutation_refused(void **state)
{
    (void)state;
    wsp_jwt_key *k = secret_key(SECRET);
    char *t = mint(WSP_JWT_ALG_HS256, k, "{\"sub\":\"a\"}", NULL, NULL);
    size_t n = strlen(t);
    wsp_jwt_verify_opts o = {.alg = WSP_JWT_ALG_HS256, .key = k, .now = NOW};
    assert_int_equal(wsp_jwt_verify(t, n, &o, NULL), WSP_JWT_OK);
    for (size_t len = 0; len < n; len++)
        assert_int_not_equal(wsp_jwt_verify(t, len, &o, NULL), WSP_JWT_OK);
    static const char alt[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    for (size_t i = 0; i < n; i++) {
        char save = t[i];
        for (size_t j = 0; alt[j]; j++) {
            if (alt[j] == save)
                continue;
            t[i] = alt[j];
            assert_int_not_equal(wsp_jwt_verify(t, n, &o, NULL), WSP_JWT_OK);
        }
        t[i] = save;
    }
    free(t);
    wsp_jwt_key_free(k);
}

/* ---- claims ---- */

static void test_exp_nbf_leeway(void **state)
{
    (void)state;
    wsp_jwt_key *k = secret_key(SECRET);
    char buf[128];
    /* RFC 7519 4.1.4: valid while now < exp (+ leeway) */
    snprintf(buf, sizeof buf, "{\"exp\":%d}", NOW);
    char *t = mint(WSP_JWT_ALG_HS256, k, buf, NULL, NULL);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW - 1, 0, NULL, NULL), WSP_JWT_OK);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW, 0, NULL, NULL), WSP_JWT_EXPIRED);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW + 9, 10, NULL, NULL), WSP_JWT_OK);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW + 10, 10, NULL, NULL), WSP_JWT_EXPIRED);
    /* a negative leeway counts as none; a huge one is clamped to a day */
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW - 1, -100, NULL, NULL), WSP_JWT_OK);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW + 86400, INT64_MAX, NULL, NULL),
                     WSP_JWT_EXPIRED);
    free(t);
    /* 4.1.5: valid once now >= nbf (- leeway) */
    snprintf(buf, sizeof buf, "{\"nbf\":%d}", NOW);
    t = mint(WSP_JWT_ALG_HS256, k, buf, NULL, NULL);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW, 0, NULL, NULL), WSP_JWT_OK);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW - 1, 0, NULL, NULL),
                     WSP_JWT_NOT_YET_VALID);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW - 10, 10, NULL, NULL), WSP_JWT_OK);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW - 11, 10, NULL, NULL),
                     WSP_JWT_NOT_YET_VALID);
    free(t);
    /* NumericDate may be a fraction */
    snprintf(buf, sizeof buf, "{\"exp\":%d.5}", NOW);
    t = mint(WSP_JWT_ALG_HS256, k, buf, NULL, NULL);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW, 0, NULL, NULL), WSP_JWT_OK);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW + 1, 0, NULL, NULL), WSP_JWT_EXPIRED);
    free(t);
    /* far past and far future values do not overflow */
    t = mint(WSP_JWT_ALG_HS256, k, "{\"exp\":-9223372036854775807,\"nbf\":-9223372036854775807}",
             NULL, NULL);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, NOW, 3600, NULL, NULL), WSP_JWT_EXPIRED);
    free(t);
    t = mint(WSP_JWT_ALG_HS256, k, "{\"exp\":9223372036854775807,\"nbf\":1e300}", NULL, NULL);
    assert_int_equal(verify_at(t, WSP_JWT_ALG_HS256, k, INT64_MAX, 3600, NULL, NULL),
                     WSP_JWT_NOT_YET_VALID);
    free(t);
    /* times that are not numbers are malformed, after the signature */
    static const char *const bad[] = {"{\"exp\":\"1800000000\"}", "{\"nbf\":true}",
                                      "{\"iat\":null}", "{\"exp\":[1]}"};
    for (size_t i = 0; i < 4; i++) {
        t = mint(WSP_JWT_ALG_HS256, k, bad[i], NULL, NULL);
        assert_int_equal(verify(t, WSP_JWT_ALG_HS256, k), WSP_JWT_MALFORMED);
        free(t);
    }
    /* require_exp */
    t = mint(WSP_JWT_ALG_HS256, k, "{\"sub\":\"x\"}", NULL, NULL);
    wsp_jwt_verify_opts o = {.alg = WSP_JWT_ALG_HS256, .key = k, .now = NOW, .require_exp = true};
    assert_int_equal(wsp_jwt_verify(t, strlen(t), &o, NULL), WSP_JWT_MISSING_EXP);
    free(t);
    wsp_jwt_key_free(k);
}

static void test_aud_iss(void **state)
{
    (void)state;
    wsp_jwt_key *k = secret_key(SECRET);
    static const struct {
        const char *claims, *aud, *iss;
        wsp_jwt_status want;
    } cases[] = {
        {"{\"aud\":\"chat\",\"iss\":\"auth\"}", "chat", "auth", WSP_JWT_OK},
        {"{\"aud\":[\"x\",\"chat\"]}", "chat", NULL, WSP_JWT_OK},
        {"{\"aud\":\"chat\"}", "chat", NULL, WSP_JWT_OK},
        {"{\"aud\":\"chatx\"}", "chat", NULL, WSP_JWT_WRONG_AUD},
        {"{\"aud\":\"Chat\"}", "chat", NULL, WSP_JWT_WRONG_AUD},
        {"{\"aud\":[\"x\",\"y\"]}", "chat", NULL, WSP_JWT_WRONG_AUD},
        {"{\"aud\":[]}", "chat", NULL, WSP_JWT_WRONG_AUD},
        {"{\"aud\":[1,{\"chat\":1}]}", "chat", NULL, WSP_JWT_WRONG_AUD},
        {"{\"sub\":\"x\"}", "chat", NULL, WSP_JWT_WRONG_AUD},
        {"{\"aud\":\"chat\"}", NULL, NULL, WSP_JWT_WRONG_AUD}, /* RFC 7519 4.1.3 */
        {"{\"iss\":\"auth\"}", NULL, "auth", WSP_JWT_OK},
        {"{\"iss\":\"evil\"}", NULL, "auth", WSP_JWT_WRONG_ISS},
        {"{\"iss\":[\"auth\"]}", NULL, "auth", WSP_JWT_WRONG_ISS},
        {"{\"sub\":\"x\"}", NULL, "auth", WSP_JWT_WRONG_ISS},
        {"{\"iss\":\"anything\"}", NULL, NULL, WSP_JWT_OK},
        /* an expired token is reported as expired before its audience */
        {"{\"aud\":\"x\",\"exp\":1}", "chat", NULL, WSP_JWT_EXPIRED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = mint(WSP_JWT_ALG_HS256, k, cases[i].claims, NULL, NULL);
        wsp_jwt_status st = verify_at(t, WSP_JWT_ALG_HS256, k, NOW, 0, cases[i].aud, cases[i].iss);
        if (st != cases[i].want)
            fail_msg("case %zu (%s): %s, want %s", i, cases[i].claims, wsp_jwt_status_name(st),
                     wsp_jwt_status_name(cases[i].want));
        free(t);
    }
    wsp_jwt_key_free(k);
}

/* ---- malformed and hostile input ---- */

static void test_malformed(void **state)
{
    (void)state;
    wsp_jwt_key *k = secret_key(SECRET);
    char *good = mint(WSP_JWT_ALG_HS256, k, "{\"sub\":\"a\"}", NULL, NULL);
    const char *p1 = strchr(good, '.') + 1;
    char buf[1024];
    static const char *const shape[] = {
        "",
        ".",
        "..",
        "...",
        "abc",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9.e30",
        "eyJhbGciOiJIUzI1NiJ9..sig",
        ".e30.sig",
        "eyJhbGciOiJIUzI1NiJ9.e30.sig.more",
        "eyJhbGciOiJIUzI1NiJ9.e30.sig.",
        "eyJhbGciOiJIUzI1NiJ9=.e30.",
        " eyJhbGciOiJIUzI1NiJ9.e30.",
        "eyJhbGciOiJIUzI1NiJ9\n.e30.",
        "eyJhbGciOiJIUzI1NiJ9.e30.\n",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
    };
    for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++) {
        wsp_jwt_status st = verify(shape[i], WSP_JWT_ALG_HS256, k);
        if (st != WSP_JWT_MALFORMED && st != WSP_JWT_BAD_SIGNATURE)
            fail_msg("shape %zu: %s", i, wsp_jwt_status_name(st));
    }
    /* one or four segments of a genuine token */
    snprintf(buf, sizeof buf, "%.*s", (int)(p1 - good - 1), good);
    assert_int_equal(verify(buf, WSP_JWT_ALG_HS256, k), WSP_JWT_MALFORMED);
    snprintf(buf, sizeof buf, "%s.%s", good, strrchr(good, '.') + 1);
    assert_int_equal(verify(buf, WSP_JWT_ALG_HS256, k), WSP_JWT_MALFORMED);
    /* headers that are not an object with a string alg; crit is refused */
    static const char *const hdrs[] = {
        "[\"alg\",\"HS256\"]",
        "\"HS256\"",
        "null",
        "{",
        "{\"alg\":\"HS256\"}x",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":256}",
        "{\"alg\":null}",
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"HS256\\u0000\"}",
        "\xef\xbb\xbf{\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"x\":\"\xff\"}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        char *t = raw(WSP_JWT_ALG_HS256, k, hdrs[i], "{\"sub\":\"a\"}");
        wsp_jwt_status st = verify(t, WSP_JWT_ALG_HS256, k);
        if (st != WSP_JWT_MALFORMED)
            fail_msg("header %zu: %s", i, wsp_jwt_status_name(st));
        free(t);
    }
    /* validly signed payloads that are not one JSON object */
    static const char *const payloads[] = {
        "null",         "[]",      "\"x\"",
        "42",           "",        "{\"a\":1,\"a\":2}",
        "{\"a\":1} {}", "{'a':1}", "{\"a\":\"\xc3\x28\"}",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char *t = raw(WSP_JWT_ALG_HS256, k, "{\"alg\":\"HS256\"}", payloads[i]);
        wsp_jwt_status st = verify(t, WSP_JWT_ALG_HS256, k);
        if (st != WSP_JWT_MALFORMED)
            fail_msg("payload %zu: %s", i, wsp_jwt_status_name(st));
        free(t);
    }
    /* header and payload in any member order and whitespace are fine when signed */
    char *t = raw(WSP_JWT_ALG_HS256, k, " { \"typ\" : \"JWT\" , \"alg\" : \"HS256\" } ",
                  "\n{\"sub\":\"a\"}\t");
    assert_int_equal(verify(t, WSP_JWT_ALG_HS256, k), WSP_JWT_OK);
    free(t);
    free(good);
    wsp_jwt_key_free(k);
}

static void test_caps(void **state)
{
    (void)state;
    wsp_jwt_key *k = secret_key(SECRET);
    /* the nesting cap: 32 levels pass, 33 do not (header and claims alike) */
    char deep[256];
    for (int depth = WSP_JWT_MAX_DEPTH; depth <= WSP_JWT_MAX_DEPTH + 1; depth++) {
        size_t o = 0;
        o += (size_t)snprintf(deep + o, sizeof deep - o, "{\"a\":");
        for (int i = 1; i < depth; i++)
            deep[o++] = '[';
        deep[o++] = '1';
        for (int i = 1; i < depth; i++)
            deep[o++] = ']';
        deep[o++] = '}';
        deep[o] = '\0';
        char *t = raw(WSP_JWT_ALG_HS256, k, "{\"alg\":\"HS256\"}", deep);
        assert_int_equal(verify(t, WSP_JWT_ALG_HS256, k),
                         depth <= WSP_JWT_MAX_DEPTH ? WSP_JWT_OK : WSP_JWT_MALFORMED);
        free(t);
    }
    /* brackets inside strings do not count */
    char *t = raw(WSP_JWT_ALG_HS256, k, "{\"alg\":\"HS256\"}",
                  "{\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}");
    assert_int_equal(verify(t, WSP_JWT_ALG_HS256, k), WSP_JWT_OK);
    free(t);
    /* the length cap: a genuine token just under 8 KiB passes; over it is refused unread */
    for (size_t want = WSP_JWT_MAX_TOKEN - 1; want <= WSP_JWT_MAX_TOKEN + 1; want++) {
        char *pad = NULL;
        /* 37 header characters and a dot, 43 signature characters and a dot: start close */
        size_t pl = (want - 82) / 4 * 3 - 20;
        for (;;) {
            char *claims = malloc(pl + 32);
            memset(claims, 0, pl + 32);
            snprintf(claims, pl + 32, "{\"p\":\"%*s\"}", (int)pl, "");
            char *tok = mint(WSP_JWT_ALG_HS256, k, claims, NULL, NULL);
            free(claims);
            if (strlen(tok) >= want) {
                pad = tok;
                break;
            }
            free(tok);
            pl++;
        }
        size_t len = strlen(pad);
        assert_true(len <= want + 2);
        assert_int_equal(verify(pad, WSP_JWT_ALG_HS256, k),
                         len <= WSP_JWT_MAX_TOKEN ? WSP_JWT_OK : WSP_JWT_MALFORMED);
        free(pad);
    }
    /* a megabyte of garbage */
    size_t big = 1 << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'A', big);
    huge[big] = '\0';
    huge[100] = '.';
    huge[200] = '.';
    assert_int_equal(verify(huge, WSP_JWT_ALG_HS256, k), WSP_JWT_MALFORMED);
    free(huge);
    wsp_jwt_key_free(k);
}

static void test_verifier_key_must_suit(void **state)
{
    (void)state;
    wsp_jwt_key *hs = secret_key(SECRET);
    wsp_jwt_key *empty = wsp_jwt_key_secret("", 0);
    wsp_jwt_key *rsa = pem_key(RSA_PUB, WSP_JWT_ALG_RS256, WSP_JWT_KEY_VERIFY);
    char *t = mint(WSP_JWT_ALG_HS256, hs, "{}", NULL, NULL);
    /* a verifier misconfigured with an empty secret, a PEM key for HS256, an HMAC secret for
     * RS256, or alg none, refuses everything */
    assert_int_equal(verify(t, WSP_JWT_ALG_HS256, empty), WSP_JWT_KEY_INVALID);
    assert_int_equal(verify(t, WSP_JWT_ALG_HS256, rsa), WSP_JWT_KEY_INVALID);
    assert_int_equal(verify(t, WSP_JWT_ALG_RS256, hs), WSP_JWT_KEY_INVALID);
    assert_int_equal(verify(t, WSP_JWT_ALG_ES256, rsa), WSP_JWT_KEY_INVALID);
    assert_int_equal(verify(t, WSP_JWT_ALG_NONE, hs), WSP_JWT_KEY_INVALID);
    assert_int_equal(verify(t, WSP_JWT_ALG_HS256, NULL), WSP_JWT_KEY_INVALID);
    wsp_jwt_key *pem_secret = secret_key(RSA_PUB);
    assert_int_equal(verify(t, WSP_JWT_ALG_HS256, pem_secret), WSP_JWT_KEY_INVALID);
    wsp_jwt_key_free(pem_secret);
    free(t);
    wsp_jwt_key_free(hs);
    wsp_jwt_key_free(empty);
    wsp_jwt_key_free(rsa);
}

/* ---- keys, secrets, claims, options ---- */

static void test_key_pem_kinds(void **state)
{
    (void)state;
    wsp_err e;
    wsp_jwt_key *k;
    /* inference from the key when alg is NONE */
    k = pem_key(RSA_PEM, WSP_JWT_ALG_NONE, WSP_JWT_KEY_SIGN);
    assert_int_equal(wsp_jwt_key_alg(k), WSP_JWT_ALG_RS256);
    wsp_jwt_key_free(k);
    k = pem_key(EC_PEM, WSP_JWT_ALG_NONE, WSP_JWT_KEY_SIGN);
    assert_int_equal(wsp_jwt_key_alg(k), WSP_JWT_ALG_ES256);
    wsp_jwt_key_free(k);
    static const struct {
        const char *pem;
        wsp_jwt_alg alg;
        wsp_jwt_key_use use;
        const char *says;
    } bad[] = {
        {RSA_PEM, WSP_JWT_ALG_ES256, WSP_JWT_KEY_SIGN, "an RSA key, but ES256"},
        {EC_PEM, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN, "an EC P-256 key, but RS256"},
        {RSA_PUB, WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN, "a public key"},
        {"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", WSP_JWT_ALG_RS256,
         WSP_JWT_KEY_SIGN, "a certificate"},
        {"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
         WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN, "encrypted"},
        {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", WSP_JWT_ALG_RS256,
         WSP_JWT_KEY_SIGN, "cannot read the private key"},
        {"hunter2\n", WSP_JWT_ALG_RS256, WSP_JWT_KEY_SIGN, "not a PEM file"},
        {RSA_PEM, WSP_JWT_ALG_HS256, WSP_JWT_KEY_SIGN, "not an HS256 secret"},
        {"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", WSP_JWT_ALG_ES256,
         WSP_JWT_KEY_VERIFY, "cannot read the public key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsp_err_clear(&e);
        k = wsp_jwt_key_pem(bad[i].pem, strlen(bad[i].pem), bad[i].alg, bad[i].use, &e);
        assert_null(k);
        assert_int_equal(e.cls, WSP_CLASS_USAGE);
        if (!strstr(e.msg, bad[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, e.msg, bad[i].says);
        /* no key material in the message */
        assert_null(strstr(e.msg, "MII"));
        assert_null(strstr(e.msg, "hunter2"));
    }
}

static void test_secret_loading(void **state)
{
    (void)state;
    wsp_err e;
    uint8_t *s = NULL;
    size_t n = 0;
    static const char value[] = "s3cr3t-value-that-must-not-leak";
    setenv("WSP_TEST_SECRET", value, 1);
    setenv("WSP_TEST_EMPTY", "", 1);
    unsetenv("WSP_TEST_UNSET");
    assert_int_equal(wsp_jwt_secret_from_env("--jwt-secret-env", "WSP_TEST_SECRET", &s, &n, &e), 0);
    assert_int_equal(n, strlen(value));
    assert_memory_equal(s, value, n);
    free(s);
    assert_int_equal(wsp_jwt_secret_from_env("--jwt-secret-env", "WSP_TEST_UNSET", &s, &n, &e), -1);
    assert_string_equal(e.msg, "--jwt-secret-env WSP_TEST_UNSET: the variable is not set");
    assert_int_equal(wsp_jwt_secret_from_env("--jwt-secret-env", "WSP_TEST_EMPTY", &s, &n, &e), -1);
    assert_string_equal(e.msg, "--jwt-secret-env WSP_TEST_EMPTY: the variable is empty");
    /* a secret given where the variable's name goes is not echoed */
    assert_int_equal(wsp_jwt_secret_from_env("--jwt-secret-env", value, &s, &n, &e), -1);
    assert_null(strstr(e.msg, value));
    assert_non_null(strstr(e.msg, "--jwt-secret-env"));
    /* and not when it looks like a name either, unless it is a conventional upper-case one */
    unsetenv("correcthorsebatterystaple");
    assert_int_equal(
        wsp_jwt_secret_from_env("--jwt-secret-env", "correcthorsebatterystaple", &s, &n, &e), -1);
    assert_null(strstr(e.msg, "correcthorse"));
    assert_non_null(strstr(e.msg, "not set"));

    /* files: one trailing newline goes, the rest is the secret's */
    static const struct {
        const char *content;
        const char *want; /* NULL: refused */
    } files[] = {
        {"abc", "abc"},     {"abc\n", "abc"}, {"abc\r\n", "abc"}, {"abc\n\n", "abc\n"},
        {" abc ", " abc "}, {"\n", NULL},     {"", NULL},         {"\r\n", NULL},
    };
    char path[] = "/tmp/wsp_test_jwt_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FILE *f = fopen(path, "wb");
        fputs(files[i].content, f);
        fclose(f);
        s = NULL;
        int rc = wsp_jwt_secret_from_file("--jwt-secret-file", path, &s, &n, &e);
        if (files[i].want) {
            assert_int_equal(rc, 0);
            assert_int_equal(n, strlen(files[i].want));
            assert_memory_equal(s, files[i].want, n);
            free(s);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(e.msg, "empty"));
        }
    }
    /* exactly at the cap (64 KiB) and one byte over it */
    for (size_t size = 65536; size <= 65537; size++) {
        FILE *f = fopen(path, "wb");
        for (size_t i = 0; i < size; i++)
            fputc('k', f);
        fclose(f);
        s = NULL;
        int rc = wsp_jwt_secret_from_file("--jwt-secret-file", path, &s, &n, &e);
        assert_int_equal(rc, size == 65536 ? 0 : -1);
        if (rc == 0)
            assert_int_equal(n, 65536);
        else
            assert_non_null(strstr(e.msg, "larger than 65536 bytes"));
        free(s);
    }
    /* a pipe by its path is not a regular file (refused at once); as "-", standard input,
     * it is read to its end within the cap */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "piped-secret\n", 13), 13);
    close(fds[1]);
    char fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/dev/fd/%d", fds[0]);
    assert_int_equal(wsp_jwt_secret_from_file("--jwt-secret-file", fdpath, &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "is a FIFO or pipe"));
    int saved = dup(STDIN_FILENO);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    assert_int_equal(wsp_jwt_secret_from_file("--jwt-secret-file", "-", &s, &n, &e), 0);
    dup2(saved, STDIN_FILENO);
    close(saved);
    assert_int_equal(n, 12);
    assert_memory_equal(s, "piped-secret", 12);
    free(s);
    close(fds[0]);
    unlink(path);
    assert_int_equal(wsp_jwt_secret_from_file("--jwt-secret-file", path, &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "--jwt-secret-file"));
    assert_non_null(strstr(e.msg, "cannot open"));
    assert_int_equal(wsp_jwt_secret_from_file("--jwt-secret-file", "/tmp", &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "is a directory"));
    wsp_jwt_key *k = wsp_jwt_key_from_file("--jwt-key-file", "/nonexistent.pem", WSP_JWT_ALG_RS256,
                                           WSP_JWT_KEY_SIGN, &e);
    assert_null(k);
    assert_string_equal(e.msg,
                        "--jwt-key-file /nonexistent.pem: cannot open: No such file or directory");
}

static void test_claim_typing(void **state)
{
    (void)state;
    json_t *c = json_object();
    wsp_err e;
    static const char *const ok[] = {
        "i=42",
        "neg=-7",
        "f=1.5",
        "t=true",
        "fa=false",
        "nu=null",
        "o={\"a\":[1,2]}",
        "a=[1,\"x\"]",
        "qs=\"007\"",
        "s=hello world",
        "z=007",
        "e=",
        "eq=a=b",
        "big=99999999999999999999",
        "sp= 5",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (wsp_jwt_claim_parse(c, "--jwt-claim", ok[i], &e) != 0)
            fail_msg("%s: %s", ok[i], e.msg);
    char *s = json_dumps(c, JSON_COMPACT);
    assert_string_equal(s, "{\"i\":42,\"neg\":-7,\"f\":1.5,\"t\":true,\"fa\":false,\"nu\":null,"
                           "\"o\":{\"a\":[1,2]},\"a\":[1,\"x\"],\"qs\":\"007\",\"s\":\"hello "
                           "world\",\"z\":\"007\",\"e\":\"\",\"eq\":\"a=b\",\"big\":"
                           "\"99999999999999999999\",\"sp\":5}");
    free(s);
    static const struct {
        const char *kv, *says;
    } bad[] = {
        {"noequals", "K=V"},
        {"=v", "K=V"},
        {"i=1", "given twice"},
        {"x={\"private\":", "not valid JSON"},
        {"x=[1,", "not valid JSON"},
        {"x=\"unterminated", "not valid JSON"},
        {"x={\"a\":1,\"a\":2}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wsp_jwt_claim_parse(c, "--jwt-claim", bad[i].kv, &e), -1);
        if (!strstr(e.msg, bad[i].says) || !strstr(e.msg, "--jwt-claim"))
            fail_msg("%s: '%s'", bad[i].kv, e.msg);
        assert_null(strstr(e.msg, "private"));
    }
    json_decref(c);
}

static void test_config(void **state)
{
    (void)state;
    wsp_err e;
    setenv("WSP_TEST_SECRET", SECRET, 1);
    /* a full configuration mints what the options say */
    wsp_jwt_config *c = wsp_jwt_config_new();
    assert_int_equal(wsp_jwt_config_used(c), false);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-alg", "HS384", &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-secret-env", "WSP_TEST_SECRET", &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-claim", "sub=bot", &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-ttl", "1h", &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-nbf", "-30s", &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-jti", NULL, &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-kid", "k1", &e), 0);
    assert_true(wsp_jwt_config_used(c));
    assert_int_equal(wsp_jwt_config_load(c, &e), 0);
    char *t = NULL;
    wsp_rand_set_hook(counting_rand, NULL);
    assert_int_equal(wsp_jwt_config_mint(c, NOW, &t, &e), 0);
    wsp_rand_set_hook(NULL, NULL);
    uint8_t buf[256];
    size_t n = segment(t, 0, buf, sizeof buf);
    assert_memory_equal(buf, "{\"alg\":\"HS384\",\"typ\":\"JWT\",\"kid\":\"k1\"}", n);
    static const char want[] = "{\"sub\":\"bot\",\"iat\":1700000000,\"nbf\":1699999970,\"exp\":"
                               "1700003600,\"jti\":\"000102030405060708090a0b0c0d0e0f\"}";
    n = segment(t, 1, buf, sizeof buf);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    wsp_jwt_key *k = secret_key(SECRET);
    assert_int_equal(verify(t, WSP_JWT_ALG_HS384, k), WSP_JWT_OK);
    wsp_jwt_key_free(k);
    free(t);
    wsp_jwt_config_free(c);

    /* defaults: HS256, iat, exp 5 minutes; --no-iat and --no-exp drop them */
    c = wsp_jwt_config_new();
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-secret-env", "WSP_TEST_SECRET", &e), 0);
    assert_int_equal(wsp_jwt_config_load(c, &e), 0);
    assert_int_equal(wsp_jwt_config_mint(c, NOW, &t, &e), 0);
    n = segment(t, 1, buf, sizeof buf);
    assert_memory_equal(buf, "{\"iat\":1700000000,\"exp\":1700000300}", n);
    assert_memory_equal(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37);
    free(t);
    wsp_jwt_config_free(c);
    c = wsp_jwt_config_new();
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-secret-env", "WSP_TEST_SECRET", &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--no-iat", NULL, &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--no-exp", NULL, &e), 0);
    assert_int_equal(wsp_jwt_config_set(c, "--jwt-claim", "exp=1", &e), 0);
    assert_int_equal(wsp_jwt_config_load(c, &e), -1);
    assert_non_null(strstr(e.msg, "--jwt-claim exp conflicts with --no-exp"));
    wsp_jwt_config_free(c);

    /* refusals, each naming its option */
    static const struct {
        const char *opts[6]; /* name, value pairs; value "" means a flag */
        const char *says;
    } bad[] = {
        {{"--jwt-alg", "none"}, "--jwt-alg none"},
        {{"--jwt-alg", "hs256"}, "--jwt-alg hs256: unknown algorithm"},
        {{"--jwt-alg", "HS256", "--jwt-alg", "HS256"}, "--jwt-alg is given twice"},
        {{"--jwt-ttl", "soon"}, "--jwt-ttl 'soon': expected a duration"},
        {{"--jwt-ttl", "500ms"}, "--jwt-ttl 500ms: JWT times are whole seconds"},
        {{"--jwt-nbf", "31d"}, "--jwt-nbf '31d': expected a duration"},
        {{"--jwt-jti", "uuid"}, "--jwt-jti=uuid: the format is hex or base64url"},
        {{"--jwt-iat", "", "--no-iat", ""}, "--jwt-iat and --no-iat contradict"},
        {{"--jwt-claim", "novalue"}, "--jwt-claim takes K=V"},
        {{"--jwt-secret-env", ""}, "--jwt-secret-env needs a non-empty value"},
        {{"--jwt-secret", "x"}, "--jwt-secret is not an authentication option"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = wsp_jwt_config_new();
        int rc = 0;
        for (size_t j = 0; j < 6 && bad[i].opts[j] && rc == 0; j += 2)
            rc = wsp_jwt_config_set(c, bad[i].opts[j],
                                    bad[i].opts[j + 1][0] ||
                                            strcmp(bad[i].opts[j], "--jwt-secret-env") == 0
                                        ? bad[i].opts[j + 1]
                                        : NULL,
                                    &e);
        assert_int_equal(rc, -1);
        if (!strstr(e.msg, bad[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, e.msg, bad[i].says);
        wsp_jwt_config_free(c);
    }
    static const struct {
        const char *opts[8];
        const char *says;
    } bad_load[] = {
        {{NULL}, "HS256 needs a secret: --jwt-secret-env VAR or --jwt-secret-file F"},
        {{"--jwt-secret-env", "WSP_TEST_SECRET", "--jwt-secret-file", "/x"},
         "give one secret, not two"},
        {{"--jwt-secret-env", "WSP_TEST_UNSET"},
         "--jwt-secret-env WSP_TEST_UNSET: the variable is not set"},
        {{"--jwt-alg", "RS256", "--jwt-secret-env", "WSP_TEST_SECRET"},
         "--jwt-secret-env is for HS256, HS384 and HS512; RS256 signs with --jwt-key-file"},
        {{"--jwt-alg", "ES256"}, "ES256 needs --jwt-key-file PEM"},
        {{"--jwt-alg", "HS512", "--jwt-key-file", "/k.pem"},
         "--jwt-key-file is for RS256 and ES256"},
        {{"--jwt-secret-env", "WSP_TEST_SECRET", "--jwt-ttl", "5m", "--jwt-claim", "exp=1"},
         "--jwt-claim exp conflicts with --jwt-ttl"},
        {{"--jwt-secret-env", "WSP_TEST_SECRET", "--jwt-nbf", "5m", "--jwt-claim", "nbf=1"},
         "--jwt-claim nbf conflicts with --jwt-nbf"},
        {{"--jwt-secret-env", "WSP_TEST_SECRET", "--jwt-ttl", "5m", "--no-exp", ""},
         "--jwt-ttl and --no-exp contradict"},
        {{"--jwt-secret-env", "WSP_TEST_PEM"}, "the secret is a PEM key"},
    };
    setenv("WSP_TEST_PEM", RSA_PUB, 1);
    for (size_t i = 0; i < sizeof bad_load / sizeof bad_load[0]; i++) {
        c = wsp_jwt_config_new();
        for (size_t j = 0; j < 8 && bad_load[i].opts[j]; j += 2)
            assert_int_equal(
                wsp_jwt_config_set(c, bad_load[i].opts[j],
                                   bad_load[i].opts[j + 1][0] ? bad_load[i].opts[j + 1] : NULL, &e),
                0);
        assert_int_equal(wsp_jwt_config_load(c, &e), -1);
        if (!strstr(e.msg, bad_load[i].says))
            fail_msg("load case %zu: '%s' does not say '%s'", i, e.msg, bad_load[i].says);
        assert_null(strstr(e.msg, SECRET));
        assert_null(strstr(e.msg, "MII"));
        wsp_jwt_config_free(c);
    }
    assert_int_equal(wsp_jwt_option_kind("--jwt-ttl"), WSP_JWT_OPT_VALUE);
    assert_int_equal(wsp_jwt_option_kind("--no-iat"), WSP_JWT_OPT_FLAG);
    assert_int_equal(wsp_jwt_option_kind("--jwt-secret"), WSP_JWT_OPT_UNKNOWN);
}

static void test_names(void **state)
{
    (void)state;
    static const wsp_jwt_alg all[] = {WSP_JWT_ALG_HS256, WSP_JWT_ALG_HS384, WSP_JWT_ALG_HS512,
                                      WSP_JWT_ALG_RS256, WSP_JWT_ALG_ES256};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(wsp_jwt_alg_from_name(wsp_jwt_alg_name(all[i])), (int)all[i]);
    assert_int_equal(wsp_jwt_alg_from_name("none"), -1);
    assert_int_equal(wsp_jwt_alg_from_name("hs256"), -1);
    assert_int_equal(wsp_jwt_alg_from_name(NULL), -1);
    for (int s = WSP_JWT_OK; s <= WSP_JWT_KEY_INVALID; s++) {
        assert_true(strlen(wsp_jwt_status_name((wsp_jwt_status)s)) > 0);
        assert_true(strlen(wsp_jwt_status_describe((wsp_jwt_status)s)) > 0);
        for (int t = WSP_JWT_OK; t < s; t++)
            assert_string_not_equal(wsp_jwt_status_name((wsp_jwt_status)s),
                                    wsp_jwt_status_name((wsp_jwt_status)t));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_vectors),
        cmocka_unit_test(test_b64url_strict),
        cmocka_unit_test(test_b64url_roundtrip),
        cmocka_unit_test(test_rfc7515_a1),
        cmocka_unit_test(test_mint_matches_independent),
        cmocka_unit_test(test_mint_registered_claims),
        cmocka_unit_test(test_es256_jose_signature),
        cmocka_unit_test(test_mint_refusals),
        cmocka_unit_test(test_forgeries_refused),
        cmocka_unit_test(test_forged_bytes),
        cmocka_unit_test(test_every_mutation_refused),
        cmocka_unit_test(test_exp_nbf_leeway),
        cmocka_unit_test(test_aud_iss),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_verifier_key_must_suit),
        cmocka_unit_test(test_key_pem_kinds),
        cmocka_unit_test(test_secret_loading),
        cmocka_unit_test(test_claim_typing),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
