/* test_handshake.c - RFC 6455 section 4: the key and its Accept (RFC 1.3 vector), the request
 * byte for byte, header injection, and every verdict of the response check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "codec/handshake.h"
#include "codec/http.h"
#include "util/rand.h"
#include "util/sha1.h"
#include "wsp_config.h"

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* ---- key and accept ---- */

static void test_accept_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *key, *accept;
    } v[] = {
        {RFC_KEY, RFC_ACCEPT}, /* RFC 6455 1.3 */
        {"AAECAwQFBgcICQoLDA0ODw==", "Bz3qJYTGdOe8gUSpLosEdiLKDrk="},
        {"", "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w="},
    };
    char out[WSP_HS_ACCEPT_LEN + 1];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        memset(out, 'z', sizeof out);
        wsp_hs_accept(v[i].key, strlen(v[i].key), out);
        assert_string_equal(out, v[i].accept);
    }
    /* the length counts, not a NUL: the key may sit inside a larger buffer */
    wsp_hs_accept(RFC_KEY "trailing", strlen(RFC_KEY), out);
    assert_string_equal(out, RFC_ACCEPT);
}

static void hex(const uint8_t *md, char out[2 * WSP_SHA1_LEN + 1])
{
    for (int i = 0; i < WSP_SHA1_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* FIPS 180 / RFC 3174 examples: one block, two blocks (padding across), a million bytes fed
 * in uneven pieces, and the lengths around the padding boundary (55, 56, 63, 64 bytes)
 * against values from Python's hashlib. */
static void test_sha1_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *md;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    wsp_sha1 s;
    uint8_t md[WSP_SHA1_LEN];
    char got[2 * WSP_SHA1_LEN + 1];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        wsp_sha1_init(&s);
        wsp_sha1_update(&s, v[i].in, strlen(v[i].in));
        wsp_sha1_final(&s, md);
        hex(md, got);
        assert_string_equal(got, v[i].md);
    }
    static char a[1000];
    memset(a, 'a', sizeof a);
    wsp_sha1_init(&s);
    size_t done = 0, piece = 1;
    while (done < 1000000) { /* pieces of 1 to 997 bytes: every offset within a block */
        size_t n = 1000000 - done < piece ? 1000000 - done : piece;
        wsp_sha1_update(&s, a, n);
        done += n;
        piece = piece % 997 + 1;
    }
    wsp_sha1_final(&s, md);
    hex(md, got);
    assert_string_equal(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    static const struct {
        size_t n;
        const char *md;
    } edge[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        wsp_sha1_init(&s);
        wsp_sha1_update(&s, a, edge[i].n);
        wsp_sha1_final(&s, md);
        hex(md, got);
        assert_string_equal(got, edge[i].md);
    }
}

/* The same digest as OpenSSL's for 600 inputs of every length from 0 to 599 bytes. */
static void test_sha1_against_openssl(void **state)
{
    (void)state;
    static uint8_t in[600];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 131 + 7);
    for (size_t n = 0; n < sizeof in; n++) {
        uint8_t ours[WSP_SHA1_LEN], theirs[EVP_MAX_MD_SIZE];
        unsigned int tl = 0;
        wsp_sha1 s;
        wsp_sha1_init(&s);
        wsp_sha1_update(&s, in, n / 3);
        wsp_sha1_update(&s, in + n / 3, n - n / 3);
        wsp_sha1_final(&s, ours);
        assert_int_equal(EVP_Digest(in, n, theirs, &tl, EVP_sha1(), NULL), 1);
        assert_int_equal(tl, WSP_SHA1_LEN);
        assert_memory_equal(ours, theirs, WSP_SHA1_LEN);
    }
}

typedef struct hook_state {
    uint8_t fill; /* first byte; each next one is +step */
    uint8_t step;
    size_t asked; /* bytes asked for in all */
    int calls;
    int fail;
} hook_state;

static int test_hook(void *ud, uint8_t *buf, size_t len)
{
    hook_state *h = ud;
    h->calls++;
    h->asked += len;
    if (h->fail)
        return -1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(h->fill + i * h->step);
    return 0;
}

static void test_key_new(void **state)
{
    (void)state;
    char key[WSP_HS_KEY_LEN + 1];
    hook_state h = {0x00, 1, 0, 0, 0};
    wsp_rand_set_hook(test_hook, &h);
    assert_int_equal(wsp_hs_key_new(key), 0);
    assert_string_equal(key, "AAECAwQFBgcICQoLDA0ODw=="); /* bytes 00 01 .. 0f */
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.asked, 16);

    h = (hook_state){0xff, 0, 0, 0, 0};
    assert_int_equal(wsp_hs_key_new(key), 0);
    assert_string_equal(key, "/////////////////////w==");

    h = (hook_state){0, 0, 0, 0, 1};
    memset(key, 'k', sizeof key);
    assert_int_equal(wsp_hs_key_new(key), -1);

    /* the real generator: 24 base64 characters of 16 bytes, different each time */
    wsp_rand_set_hook(NULL, NULL);
    char key2[WSP_HS_KEY_LEN + 1];
    assert_int_equal(wsp_hs_key_new(key), 0);
    assert_int_equal(wsp_hs_key_new(key2), 0);
    assert_int_equal(strlen(key), WSP_HS_KEY_LEN);
    assert_int_equal(
        strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), 22);
    assert_string_equal(key + 22, "==");
    assert_string_not_equal(key, key2);
}

/* ---- the request ---- */

static wsp_hs_request base_request(void)
{
    wsp_hs_request r;
    memset(&r, 0, sizeof r);
    r.host_header = "server.example.com";
    r.target = "/chat";
    r.key = RFC_KEY;
    return r;
}

#define UA "User-Agent: wsprobe/" WSP_VERSION "\r\n"

static void expect_request(const wsp_hs_request *r, const char *want)
{
    char buf[2048];
    memset(buf, 'x', sizeof buf);
    int n = wsp_hs_build_request(buf, sizeof buf, r);
    if (n < 0)
        fail_msg("build failed, want:\n%s", want);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);

    /* the request parses back, with every header as written */
    wsp_http_header h[48];
    wsp_http_request req = {.headers = h, .num_headers = 48};
    assert_int_equal(wsp_http_parse_request(buf, (size_t)n, &req, NULL), n);
    assert_true(wsp_http_eq(req.method, req.method_len, "GET"));
    assert_int_equal(req.minor_version, 1);
    assert_int_equal(wsp_http_count(h, req.num_headers, "Host"), 1);
}

static void test_build_minimal(void **state)
{
    (void)state;
    wsp_hs_request r = base_request();
    /* RFC 6455 4.1's example request, plus our User-Agent */
    expect_request(&r, "GET /chat HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n" UA "\r\n");
}

static void test_build_full(void **state)
{
    (void)state;
    wsp_hs_request r = base_request();
    r.host_header = "[::1]:8080";
    r.target = "/ws?room=a%20b&x=1";
    r.origin = "http://example.com";
    r.subprotocols = "chat, superchat";
    r.extensions = "permessage-deflate; client_max_window_bits";
    r.user_agent = "probe-bot/2\t(ci)";
    r.extra[0] = "Authorization: Bearer abc.def.ghi";
    r.extra[1] = "X-Empty:";
    r.num_extra = 2;
    expect_request(&r, "GET /ws?room=a%20b&x=1 HTTP/1.1\r\n"
                       "Host: [::1]:8080\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Origin: http://example.com\r\n"
                       "Sec-WebSocket-Protocol: chat, superchat\r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                       "User-Agent: probe-bot/2\t(ci)\r\n"
                       "Authorization: Bearer abc.def.ghi\r\n"
                       "X-Empty:\r\n"
                       "\r\n");
}

/* An extra line named like a built-in header replaces it; "" drops the User-Agent. */
static void test_build_overrides(void **state)
{
    (void)state;
    wsp_hs_request r = base_request();
    r.user_agent = "";
    r.origin = "https://a.example";
    r.extra[0] = "sec-websocket-version: 1337";
    r.extra[1] = "ORIGIN: https://b.example";
    r.num_extra = 2;
    expect_request(&r, "GET /chat HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "sec-websocket-version: 1337\r\n"
                       "ORIGIN: https://b.example\r\n"
                       "\r\n");
    r = base_request();
    r.extra[0] = "User-Agent: mine";
    r.extra[1] = "User-Agentx: kept";
    r.num_extra = 2;
    expect_request(&r, "GET /chat HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "User-Agent: mine\r\n"
                       "User-Agentx: kept\r\n"
                       "\r\n");
}

/* Every capacity short of length + 1 fails, without writing past the buffer (exact-size heap
 * buffers: ASan catches a write beyond). */
static void test_build_capacity(void **state)
{
    (void)state;
    wsp_hs_request r = base_request();
    r.origin = "http://example.com";
    char big[1024];
    int len = wsp_hs_build_request(big, sizeof big, &r);
    assert_true(len > 0);
    for (int cap = 1; cap <= len + 1; cap++) {
        char *b = malloc((size_t)cap);
        assert_non_null(b);
        int n = wsp_hs_build_request(b, (size_t)cap, &r);
        if (cap <= len)
            assert_int_equal(n, -1);
        else {
            assert_int_equal(n, len);
            assert_memory_equal(b, big, (size_t)len + 1);
        }
        free(b);
    }
    assert_int_equal(wsp_hs_build_request(big, 0, &r), -1);
}

typedef enum field {
    F_HOST,
    F_TARGET,
    F_KEY,
    F_ORIGIN,
    F_PROTO,
    F_EXT,
    F_UA,
    F_EXTRA,
} field;

static void test_build_refuses_injection(void **state)
{
    (void)state;
    static const struct {
        field f;
        const char *value;
    } bad[] = {
        {F_HOST, "h\r\nX-Injected: 1"},
        {F_HOST, "h\nX: 1"},
        {F_HOST, "h\r"},
        {F_HOST, ""},
        {F_TARGET, "/a\r\nX: 1"},
        {F_TARGET, "/a b"},
        {F_TARGET, "/a\tb"},
        {F_TARGET, "/\x80"},
        {F_TARGET, ""},
        {F_KEY, RFC_KEY "\r\n"},
        {F_ORIGIN, "http://e\r\nCookie: s=1"},
        {F_ORIGIN, "http://e\x01"},
        {F_ORIGIN, "http://e\x7f"},
        {F_PROTO, "chat\nX: 1"},
        {F_EXT, "permessage-deflate\r\n\r\nGET / HTTP/1.1"},
        {F_UA, "ua\r\n"},
        {F_EXTRA, "X-A: b\r\nX-C: d"},
        {F_EXTRA, "X-A: b\n"},
        {F_EXTRA, "X-A: b\r"},
        {F_EXTRA, "no colon"},
        {F_EXTRA, "Bad Name: v"},
        {F_EXTRA, ": v"},
        {F_EXTRA, "X-A : v"},
        {F_EXTRA, ""},
    };
    char buf[2048];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsp_hs_request r = base_request();
        switch (bad[i].f) {
        case F_HOST:
            r.host_header = bad[i].value;
            break;
        case F_TARGET:
            r.target = bad[i].value;
            break;
        case F_KEY:
            r.key = bad[i].value;
            break;
        case F_ORIGIN:
            r.origin = bad[i].value;
            break;
        case F_PROTO:
            r.subprotocols = bad[i].value;
            break;
        case F_EXT:
            r.extensions = bad[i].value;
            break;
        case F_UA:
            r.user_agent = bad[i].value;
            break;
        case F_EXTRA:
            r.extra[0] = "X-Fine: 1";
            r.extra[1] = bad[i].value;
            r.num_extra = 2;
            break;
        }
        if (wsp_hs_build_request(buf, sizeof buf, &r) != -1)
            fail_msg("case %zu accepted: '%s'", i, bad[i].value);
    }
    wsp_hs_request r = base_request();
    r.key = NULL;
    assert_int_equal(wsp_hs_build_request(buf, sizeof buf, &r), -1);
    r = base_request();
    r.num_extra = WSP_HS_MAX_EXTRA + 1;
    assert_int_equal(wsp_hs_build_request(buf, sizeof buf, &r), -1);
    r.num_extra = 1; /* a NULL line */
    assert_int_equal(wsp_hs_build_request(buf, sizeof buf, &r), -1);
}

/* ---- the response ---- */

#define OK_HEADERS                                                                                 \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
#define R101 "HTTP/1.1 101 Switching Protocols\r\n"

typedef struct check_case {
    const char *response;
    const char *subprotocols; /* offered */
    const char *extensions;   /* offered */
    wsp_class want;
    const char *msg;         /* exact; NULL when OK */
    const char *subprotocol; /* negotiated, NULL for none */
    const char *ext;         /* negotiated Sec-WebSocket-Extensions value */
    const char *location;
} check_case;

static const check_case checks[] = {
    /* 101: accepted */
    {R101 OK_HEADERS "\r\n", NULL, NULL, WSP_CLASS_OK},
    {R101 "upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
          "sec-websocket-accept: " RFC_ACCEPT "\r\n\r\n",
     NULL, NULL, WSP_CLASS_OK},
    {R101 "Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: UPGRADE\r\n"
          "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
     NULL, NULL, WSP_CLASS_OK},
    {"HTTP/1.1 101\r\n" OK_HEADERS "\r\n", NULL, NULL, WSP_CLASS_OK},
    {R101 OK_HEADERS "Sec-WebSocket-Protocol: superchat\r\n\r\n", "chat, superchat", NULL,
     WSP_CLASS_OK, NULL, "superchat"},
    {R101 OK_HEADERS "\r\n", "chat, superchat", NULL, WSP_CLASS_OK}, /* offered, none chosen */
    {R101 OK_HEADERS "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
                     "\r\n",
     NULL, "permessage-deflate; client_max_window_bits", WSP_CLASS_OK, NULL, NULL,
     "permessage-deflate; server_no_context_takeover"},
    {R101 OK_HEADERS "Sec-WebSocket-Extensions: PerMessage-Deflate;x=\"a,b;c\", , foo\r\n\r\n",
     NULL, "foo, permessage-deflate", WSP_CLASS_OK, NULL, NULL,
     "PerMessage-Deflate;x=\"a,b;c\", , foo"},

    /* status classes */
    {"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_IGNORED,
     "got HTTP 200 OK without Upgrade"},
    {"HTTP/1.1 204\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_IGNORED, "got HTTP 204 without Upgrade"},
    {"HTTP/1.1 301 Moved Permanently\r\nLocation: wss://new.example.com/ws\r\n\r\n", NULL, NULL,
     WSP_CLASS_UPGRADE_REDIRECT,
     "server redirected the upgrade: HTTP 301 Moved Permanently to 'wss://new.example.com/ws'",
     NULL, NULL, "wss://new.example.com/ws"},
    {"HTTP/1.1 308 Permanent Redirect\r\nlocation: /other\r\n\r\n", NULL, NULL,
     WSP_CLASS_UPGRADE_REDIRECT,
     "server redirected the upgrade: HTTP 308 Permanent Redirect to '/other'", NULL, NULL,
     "/other"},
    {"HTTP/1.1 302 Found\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_REDIRECT,
     "server redirected the upgrade: HTTP 302 Found without a Location"},
    {"HTTP/1.1 401 Unauthorized\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_AUTH,
     "server refused the upgrade: HTTP 401 Unauthorized"},
    {"HTTP/1.1 403 Forbidden\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_AUTH,
     "server refused the upgrade: HTTP 403 Forbidden"},
    {"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_AUTH,
     "server refused the upgrade: HTTP 407 Proxy Authentication Required"},
    {"HTTP/1.1 404 Not Found\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_NOT_FOUND,
     "server refused the upgrade: HTTP 404 Not Found"},
    {"HTTP/1.1 405 Method Not Allowed\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_NOT_FOUND,
     "server refused the upgrade: HTTP 405 Method Not Allowed"},
    {"HTTP/1.1 410 Gone\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_NOT_FOUND,
     "server refused the upgrade: HTTP 410 Gone"},
    {"HTTP/1.1 400 Bad Request\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_REJECTED,
     "server refused the upgrade: HTTP 400 Bad Request"},
    {"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13, 8\r\n\r\n", NULL, NULL,
     WSP_CLASS_UPGRADE_REJECTED,
     "server refused the upgrade: HTTP 426 Upgrade Required (Sec-WebSocket-Version: 13, 8)"},
    {"HTTP/1.1 426 Upgrade Required\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_REJECTED,
     "server refused the upgrade: HTTP 426 Upgrade Required"},
    {"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\n\r\n", NULL, NULL,
     WSP_CLASS_UPGRADE_REJECTED,
     "server refused the upgrade: HTTP 429 Too Many Requests (Retry-After: 30)"},
    {"HTTP/1.1 499 Client Closed Request\r\nRetry-After: 30\r\n\r\n", NULL, NULL,
     WSP_CLASS_UPGRADE_REJECTED, "server refused the upgrade: HTTP 499 Client Closed Request"},
    {"HTTP/1.1 500 Internal Server Error\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_SERVER_ERROR,
     "server failed the upgrade: HTTP 500 Internal Server Error"},
    {"HTTP/1.1 502 Bad Gateway\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_SERVER_ERROR,
     "server failed the upgrade: HTTP 502 Bad Gateway"},
    {"HTTP/1.1 503 Service Unavailable\r\n" OK_HEADERS "\r\n", NULL, NULL,
     WSP_CLASS_UPGRADE_SERVER_ERROR, "server failed the upgrade: HTTP 503 Service Unavailable"},
    {"HTTP/1.1 100 Continue\r\n\r\n", NULL, NULL, WSP_CLASS_HS_MALFORMED,
     "got HTTP 100 Continue where 101 Switching Protocols was expected"},
    {"HTTP/1.1 600 Odd\r\n\r\n", NULL, NULL, WSP_CLASS_HS_MALFORMED,
     "got HTTP 600 Odd where 101 Switching Protocols was expected"},
    /* peer text is made printable */
    {"HTTP/1.1 403 Verboten \xc3\xa9\t!\r\n\r\n", NULL, NULL, WSP_CLASS_UPGRADE_AUTH,
     "server refused the upgrade: HTTP 403 Verboten ??"
     "?!"},

    /* RFC 6455 4.1: HTTP/1.1 or later, even with every header right */
    {"HTTP/1.0 101 Switching Protocols\r\n" OK_HEADERS "\r\n", NULL, NULL, WSP_CLASS_HS_MALFORMED,
     "HTTP/1.0 101: RFC 6455 4.1 requires HTTP/1.1 or later for the upgrade"},

    /* Upgrade, Connection */
    {R101 "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", NULL, NULL,
     WSP_CLASS_HS_BAD_HEADERS, "HTTP 101 without an Upgrade header"},
    {R101 "Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n", NULL, NULL, WSP_CLASS_HS_BAD_HEADERS,
     "Upgrade is 'h2c', expected 'websocket'"},
    {R101 "Upgrade: websocket/13\r\nConnection: Upgrade\r\n\r\n", NULL, NULL,
     WSP_CLASS_HS_BAD_HEADERS, "Upgrade is 'websocket/13', expected 'websocket'"},
    {R101 "Upgrade: websocket\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", NULL, NULL,
     WSP_CLASS_HS_BAD_HEADERS, "HTTP 101 without a Connection header"},
    {R101 "Upgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
     NULL, NULL, WSP_CLASS_HS_BAD_HEADERS, "Connection is 'close', expected the token 'Upgrade'"},
    {R101 "Upgrade: websocket\r\nConnection: upgraded\r\n\r\n", NULL, NULL,
     WSP_CLASS_HS_BAD_HEADERS, "Connection is 'upgraded', expected the token 'Upgrade'"},

    /* Accept */
    {R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", NULL, NULL, WSP_CLASS_HS_BAD_ACCEPT,
     "HTTP 101 without Sec-WebSocket-Accept"},
    {R101 OK_HEADERS "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", NULL, NULL,
     WSP_CLASS_HS_BAD_ACCEPT, "Sec-WebSocket-Accept appears 2 times, expected once"},
    {R101 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: xxx\r\n\r\n", NULL,
     NULL, WSP_CLASS_HS_BAD_ACCEPT, "Sec-WebSocket-Accept is 'xxx', expected '" RFC_ACCEPT "'"},
    {R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n",
     NULL, NULL, WSP_CLASS_HS_BAD_ACCEPT,
     "Sec-WebSocket-Accept is 'S3PPLMBITXAQ9KYGZZHZRBK+XOO=', expected '" RFC_ACCEPT "'"},
    {R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " RFC_ACCEPT "=\r\n\r\n",
     NULL, NULL, WSP_CLASS_HS_BAD_ACCEPT,
     "Sec-WebSocket-Accept is '" RFC_ACCEPT "=', expected '" RFC_ACCEPT "'"},
    {R101 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " RFC_KEY "\r\n\r\n",
     NULL, NULL, WSP_CLASS_HS_BAD_ACCEPT,
     "Sec-WebSocket-Accept is '" RFC_KEY "', expected '" RFC_ACCEPT "'"},
    {R101 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \r\n\r\n", NULL, NULL,
     WSP_CLASS_HS_BAD_ACCEPT, "Sec-WebSocket-Accept is '', expected '" RFC_ACCEPT "'"},
    /* order: a bad Accept is reported before a bad subprotocol */
    {R101 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n"
          "Sec-WebSocket-Protocol: evil\r\n\r\n",
     NULL, NULL, WSP_CLASS_HS_BAD_ACCEPT,
     "Sec-WebSocket-Accept is 'nope', expected '" RFC_ACCEPT "'"},

    /* subprotocol */
    {R101 OK_HEADERS "Sec-WebSocket-Protocol: x\r\n\r\n", "chat, superchat", NULL,
     WSP_CLASS_HS_NEGOTIATION,
     "server chose subprotocol 'x' which was not offered (offered: chat, superchat)"},
    {R101 OK_HEADERS "Sec-WebSocket-Protocol: chat\r\n\r\n", NULL, NULL, WSP_CLASS_HS_NEGOTIATION,
     "server chose subprotocol 'chat' which was not offered (offered: none)"},
    {R101 OK_HEADERS "Sec-WebSocket-Protocol: Chat\r\n\r\n", "chat", NULL, WSP_CLASS_HS_NEGOTIATION,
     "server chose subprotocol 'Chat' which was not offered (offered: chat)"},
    {R101 OK_HEADERS "Sec-WebSocket-Protocol: cha\r\n\r\n", "chat", NULL, WSP_CLASS_HS_NEGOTIATION,
     "server chose subprotocol 'cha' which was not offered (offered: chat)"},
    {R101 OK_HEADERS "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n", "chat, superchat", NULL,
     WSP_CLASS_HS_NEGOTIATION,
     "server chose several subprotocols 'chat, superchat'; it must "
     "choose one"},
    {R101 OK_HEADERS "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n", "chat",
     NULL, WSP_CLASS_HS_NEGOTIATION,
     "server sent Sec-WebSocket-Protocol 2 times; it must choose one subprotocol"},
    {R101 OK_HEADERS "Sec-WebSocket-Protocol:\r\n\r\n", "chat", NULL, WSP_CLASS_HS_NEGOTIATION,
     "server sent an empty Sec-WebSocket-Protocol"},

    /* extensions */
    {R101 OK_HEADERS "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n", NULL,
     "permessage-deflate", WSP_CLASS_HS_NEGOTIATION,
     "server chose extension 'x-webkit-deflate-frame' which was not offered"},
    {R101 OK_HEADERS "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", NULL, NULL,
     WSP_CLASS_HS_NEGOTIATION, "server chose extension 'permessage-deflate' which was not offered"},
    {R101 OK_HEADERS "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                     "Sec-WebSocket-Extensions: foo; a=1\r\n\r\n",
     NULL, "permessage-deflate", WSP_CLASS_HS_NEGOTIATION,
     "server chose extension 'foo' which was not offered"},
    {R101 OK_HEADERS "Sec-WebSocket-Extensions: permessage-deflate2\r\n\r\n", NULL,
     "permessage-deflate", WSP_CLASS_HS_NEGOTIATION,
     "server chose extension 'permessage-deflate2' which was not offered"},
    {R101 OK_HEADERS "Sec-WebSocket-Extensions: ; a=1\r\n\r\n", NULL, "permessage-deflate",
     WSP_CLASS_HS_NEGOTIATION,
     "server sent Sec-WebSocket-Extensions element '; a=1' without a "
     "name"},
};

static void check_counted(const char *got, size_t len, const char *want, const char *what, size_t i)
{
    if (!want) {
        if (got)
            fail_msg("case %zu: %s is '%.*s', want none", i, what, (int)len, got);
        return;
    }
    if (!got || len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("case %zu: %s is '%.*s', want '%s'", i, what, got ? (int)len : 4,
                 got ? got : "NULL", want);
}

static void test_check_response(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        const check_case *c = &checks[i];
        wsp_http_header h[16];
        wsp_http_response res = {.headers = h, .num_headers = 16};
        const char *why = NULL;
        int n = wsp_http_parse_response(c->response, strlen(c->response), &res, &why);
        if (n != (int)strlen(c->response))
            fail_msg("case %zu does not parse: %s", i, why ? why : "partial");
        wsp_hs_request req = base_request();
        req.subprotocols = c->subprotocols;
        req.extensions = c->extensions;
        wsp_hs_result out;
        memset(&out, 0x5a, sizeof out);
        wsp_err e;
        wsp_err_clear(&e);
        wsp_class cls = wsp_hs_check_response(&res, &req, &out, &e);
        if (cls != c->want)
            fail_msg("case %zu: class %s (%s), want %s", i, wsp_class_name(cls), e.msg,
                     wsp_class_name(c->want));
        if (c->want == WSP_CLASS_OK) {
            assert_int_equal(e.cls, WSP_CLASS_OK);
            assert_string_equal(e.msg, "");
        } else {
            assert_int_equal(e.cls, c->want);
            if (strcmp(e.msg, c->msg) != 0)
                fail_msg("case %zu:\n got  %s\n want %s", i, e.msg, c->msg);
            assert_true(e.hint[0] != '\0');
        }
        check_counted(out.subprotocol, out.subprotocol_len, c->subprotocol, "subprotocol", i);
        check_counted(out.extensions, out.extensions_len, c->ext, "extensions", i);
        check_counted(out.location, out.location_len, c->location, "location", i);
        /* the same verdict without an error record */
        assert_int_equal(wsp_hs_check_response(&res, &req, &out, NULL), c->want);
    }
}

/* A redirect names its target in the hint too; a long or hostile value is cut and made
 * printable. */
static void test_redirect_hint_and_cut(void **state)
{
    (void)state;
    char resp[1024];
    char loc[401];
    memset(loc, 'a', 400);
    loc[400] = '\0';
    snprintf(resp, sizeof resp, "HTTP/1.1 307 Temporary Redirect\r\nLocation: wss://%s\r\n\r\n",
             loc);
    wsp_http_header h[4];
    wsp_http_response res = {.headers = h, .num_headers = 4};
    assert_int_equal(wsp_http_parse_response(resp, strlen(resp), &res, NULL), (int)strlen(resp));
    wsp_hs_request req = base_request();
    wsp_hs_result out;
    wsp_err e;
    assert_int_equal(wsp_hs_check_response(&res, &req, &out, &e), WSP_CLASS_UPGRADE_REDIRECT);
    assert_int_equal(out.location_len, 406); /* the result keeps all of it */
    char want[512];
    snprintf(want, sizeof want,
             "server redirected the upgrade: HTTP 307 Temporary Redirect to 'wss://%.194s...'",
             loc);
    assert_string_equal(e.msg, want);
    assert_non_null(strstr(e.hint, "probe that URL instead"));
    assert_non_null(strstr(e.hint, "'wss://aaa"));
}

/* The hints that name the fix: a 426 that lists 13 means the upgrade was lost on the way; an
 * unoffered subprotocol's hint names the offer. */
static wsp_err judge(const char *resp, const char *subprotocols)
{
    wsp_http_header h[16];
    wsp_http_response res = {.headers = h, .num_headers = 16};
    assert_int_equal(wsp_http_parse_response(resp, strlen(resp), &res, NULL), (int)strlen(resp));
    wsp_hs_request req = base_request();
    req.subprotocols = subprotocols;
    wsp_hs_result out;
    wsp_err e;
    wsp_err_clear(&e);
    wsp_hs_check_response(&res, &req, &out, &e);
    return e;
}

static void test_hints_name_the_fix(void **state)
{
    (void)state;
    wsp_err e = judge("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n", NULL);
    assert_non_null(strstr(e.hint, "proxy"));
    assert_non_null(strstr(e.hint, "proxy_set_header Upgrade"));
    e = judge("HTTP/1.1 426 Upgrade Required\r\n\r\n", NULL);
    assert_non_null(strstr(e.hint, "proxy"));
    e = judge("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8\r\n\r\n", NULL);
    assert_null(strstr(e.hint, "proxy"));
    assert_non_null(strstr(e.hint, "version 8"));
    e = judge(R101 OK_HEADERS "Sec-WebSocket-Protocol: graphql-ws\r\n\r\n", "chat.v1");
    assert_non_null(strstr(e.hint, "offered 'chat.v1'"));
    assert_non_null(strstr(e.hint, "'graphql-ws'"));
    e = judge(R101 OK_HEADERS "Sec-WebSocket-Protocol: graphql-ws\r\n\r\n", NULL);
    assert_non_null(strstr(e.hint, "offered no subprotocol"));
}

static void test_refusal_body_says_tls(void **state)
{
    (void)state;
    static const char nginx[] = "<html>\r\n<head><title>400 The plain HTTP request was sent to "
                                "HTTPS port</title></head>";
    static const char go[] = "Client sent an HTTP request to an HTTPS server.\n";
    const char *bodies[] = {nginx, go};
    for (size_t i = 0; i < 2; i++) {
        wsp_err e;
        wsp_err_set(&e, WSP_CLASS_UPGRADE_REJECTED, "server refused the upgrade: HTTP 400");
        wsp_hs_refine_refusal(&e, 400, bodies[i], strlen(bodies[i]));
        assert_non_null(strstr(e.hint, "wss://"));
        assert_non_null(strstr(e.msg, "expects TLS"));
    }
    wsp_err e;
    wsp_err_set(&e, WSP_CLASS_UPGRADE_REJECTED, "server refused the upgrade: HTTP 400");
    char before[sizeof e.hint];
    memcpy(before, e.hint, sizeof before);
    wsp_hs_refine_refusal(&e, 400, "{\"error\":\"bad key\"}", 19);
    assert_string_equal(e.hint, before);
    /* a body is not NUL-terminated: the phrase at the very end is found, never past it */
    wsp_hs_refine_refusal(&e, 400, nginx, 20);
    assert_string_equal(e.hint, before);
}

static void test_reserved_headers(void **state)
{
    (void)state;
    const char *reserved[] = {"Host: x",
                              "upgrade: websocket",
                              "CONNECTION: close",
                              "Sec-WebSocket-Key: abc",
                              "Sec-WebSocket-Version: 13",
                              "Sec-WebSocket-Accept: x",
                              "Sec-WebSocket-Protocol : chat",
                              "sec-websocket-extensions: permessage-deflate"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        assert_non_null(wsp_hs_reserved_header(reserved[i]));
    assert_non_null(strstr(wsp_hs_reserved_header("Sec-WebSocket-Protocol: a"), "--subprotocol"));
    const char *free_[] = {"Origin: https://a", "Authorization: Bearer x",
                           "X-Host: y",         "Hostname: z",
                           "Cookie: a=b",       "Upgrade-Insecure-Requests: 1"};
    for (size_t i = 0; i < sizeof free_ / sizeof free_[0]; i++)
        assert_null(wsp_hs_reserved_header(free_[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_vectors),          cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_sha1_against_openssl),    cmocka_unit_test(test_key_new),
        cmocka_unit_test(test_build_minimal),           cmocka_unit_test(test_build_full),
        cmocka_unit_test(test_build_overrides),         cmocka_unit_test(test_build_capacity),
        cmocka_unit_test(test_build_refuses_injection), cmocka_unit_test(test_check_response),
        cmocka_unit_test(test_redirect_hint_and_cut),   cmocka_unit_test(test_hints_name_the_fix),
        cmocka_unit_test(test_refusal_body_says_tls),   cmocka_unit_test(test_reserved_headers),
    };
    return cmocka_run_group_tests_name("handshake", tests, NULL, NULL);
}
