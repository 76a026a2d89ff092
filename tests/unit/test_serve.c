/* test_serve.c - the reference server's pure parts: HTML escaping, Origin matching, query and
 * token extraction (header, query, subprotocol, cookie), token judgement with and without the
 * unsafe switches, the upgrade decision (whole and cut at every byte), the response bytes, and
 * the chat protocol. Tokens here are minted with wsprobe's own jwt module; the end-to-end tests
 * mint theirs with an independent implementation (python3-jwt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "codec/jwt.h"
#include "serve/serve.h"

#define NOW 1700000000
#define SECRET "unit-test-secret-0123456789abcdef"

static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* ---- HTML escaping ---- */

static void test_html_escape_table(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain text 123", "plain text 123"},
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;&#47;script&gt;"},
        {"\"'><svg/onload=alert(2)>", "&#34;&#39;&gt;&lt;svg&#47;onload&#61;alert(2)&gt;"},
        {"javascript:alert(3)", "javascript&#58;alert(3)"},
        {"&lt;b&gt;4", "&amp;lt;b&amp;gt;4"},
        {"`x`", "&#96;x&#96;"},
        {"h\xc3\xa9llo \xe2\x9c\x93", "h\xc3\xa9llo \xe2\x9c\x93"}, /* UTF-8 kept as is */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        size_t n = wsp_serve_html_escape(cases[i].in, strlen(cases[i].in), out, sizeof out);
        assert_int_equal(n, strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
        /* the length alone */
        assert_int_equal(wsp_serve_html_escape(cases[i].in, strlen(cases[i].in), NULL, 0), n);
    }
}

static void test_html_escape_truncates_like_snprintf(void **state)
{
    (void)state;
    char out[6];
    size_t n = wsp_serve_html_escape("a<b", 3, out, sizeof out);
    assert_int_equal(n, 6); /* "a&lt;b" */
    assert_string_equal(out, "a&lt;");
    char one[1] = {'x'};
    assert_int_equal(wsp_serve_html_escape("<", 1, one, 1), 4);
    assert_int_equal(one[0], '\0');
    /* embedded NUL is passed through, not a terminator */
    char nul[8];
    assert_int_equal(wsp_serve_html_escape("a\0b", 3, nul, sizeof nul), 3);
    assert_memory_equal(nul, "a\0b", 3);
}

/* ---- Origin ---- */

static bool allowed(const char *const *list, size_t n, const char *origin, const char *host,
                    bool tls)
{
    char *o = exact_copy(origin, strlen(origin));
    char *h = exact_copy(host, strlen(host));
    bool r = wsp_serve_origin_allowed(list, n, o, strlen(origin), h, strlen(host), tls);
    free(o);
    free(h);
    return r;
}

static void test_origin_allow_list_exact(void **state)
{
    (void)state;
    const char *list[] = {"https://app.example", "http://localhost:3000"};
    assert_true(allowed(list, 2, "https://app.example", "any", true));
    assert_true(allowed(list, 2, "http://localhost:3000", "any", false));
    const char *refused[] = {
        "http://app.example", /* the http form of an allowed origin */
        "https://app.example.attacker.example",
        "https://attacker-app.example", /* prefix */
        "https://app-example",          /* dots replaced */
        "https://APP.example",          /* exact: no case folding */
        "https://app.example/",         /* exact: no trailing slash */
        "https://app.example:443",      /* exact: no default-port folding */
        "null",
        "",
        "https://app.exampl",
        "http://localhost:30000",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (allowed(list, 2, refused[i], "app.example", true))
            fail_msg("allowed %s", refused[i]);
}

static void test_origin_same_origin_rule(void **state)
{
    (void)state;
    struct {
        const char *origin, *host;
        bool tls, want;
    } cases[] = {
        {"http://127.0.0.1:8765", "127.0.0.1:8765", false, true},
        {"https://127.0.0.1:8766", "127.0.0.1:8766", true, true},
        {"http://LOCALHOST:8765", "localhost:8765", false, true}, /* host names fold case */
        {"http://example.com", "example.com:80", false, true},    /* default ports */
        {"https://example.com:443", "example.com", true, true},
        {"http://[::1]:9000", "[::1]:9000", false, true},
        {"https://127.0.0.1:8765", "127.0.0.1:8765", false, false}, /* scheme of the listener */
        {"http://127.0.0.1:8766", "127.0.0.1:8766", true, false},
        {"http://127.0.0.1:8765", "127.0.0.1:8766", false, false},
        {"http://127.0.0.1", "127.0.0.1:8765", false, false},
        {"http://127.0.0.1:8765.attacker.example", "127.0.0.1:8765", false, false},
        {"http://attacker.example/127.0.0.1:8765", "127.0.0.1:8765", false, false},
        {"http://user@127.0.0.1:8765", "127.0.0.1:8765", false, false},
        {"http://127.0.0.1:8765/", "127.0.0.1:8765", false, false},
        {"http://127.0.0.1:0", "127.0.0.1", false, false},
        {"null", "127.0.0.1:8765", false, false},
        {"http://", "127.0.0.1", false, false},
        {"http://127.0.0.1:99999", "127.0.0.1:99999", false, false},
        {"http://[::1", "[::1]", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (allowed(NULL, 0, cases[i].origin, cases[i].host, cases[i].tls) != cases[i].want)
            fail_msg("case %zu: origin %s host %s tls %d: want %d", i, cases[i].origin,
                     cases[i].host, cases[i].tls, cases[i].want);
}

/* ---- query ---- */

static void test_query_param(void **state)
{
    (void)state;
    char out[16];
    size_t n = 0;
    const char *t = "/ws?a=1&token=abc%2Edef&room=x+y&token=second&empty=&flag";
    assert_int_equal(wsp_serve_query_param(t, strlen(t), "token", out, sizeof out, &n), 1);
    assert_string_equal(out, "abc.def");
    assert_int_equal(n, 7);
    assert_int_equal(wsp_serve_query_param(t, strlen(t), "room", out, sizeof out, &n), 1);
    assert_string_equal(out, "x y");
    assert_int_equal(wsp_serve_query_param(t, strlen(t), "empty", out, sizeof out, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(wsp_serve_query_param(t, strlen(t), "flag", out, sizeof out, &n), 1);
    assert_int_equal(wsp_serve_query_param(t, strlen(t), "nope", out, sizeof out, &n), 0);
    assert_int_equal(wsp_serve_query_param(t, strlen(t), "tok", out, sizeof out, &n), 0);
    assert_int_equal(wsp_serve_query_param("/ws", 3, "token", out, sizeof out, &n), 0);
    const char *bad[] = {"/ws?token=%zz", "/ws?token=%4", "/ws?token=%00", "/ws?token=%0a",
                         "/ws?token=0123456789abcdefXYZ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            wsp_serve_query_param(bad[i], strlen(bad[i]), "token", out, sizeof out, &n), -1);
    /* a fragment is not part of the query */
    const char *frag = "/ws?room=a#token=b";
    assert_int_equal(wsp_serve_query_param(frag, strlen(frag), "token", out, sizeof out, &n), 0);
}

/* ---- token extraction ---- */

typedef struct parsed {
    char *buf;
    wsp_http_header h[WSP_SERVE_HEADERS_MAX];
    wsp_http_request req;
} parsed;

static void parse(parsed *p, const char *head)
{
    p->buf = exact_copy(head, strlen(head));
    memset(&p->req, 0, sizeof p->req);
    p->req.headers = p->h;
    p->req.num_headers = WSP_SERVE_HEADERS_MAX;
    const char *why = NULL;
    int n = wsp_http_parse_request(p->buf, strlen(head), &p->req, &why);
    if (n <= 0)
        fail_msg("test input does not parse: %s", why ? why : "?");
}

static int find(const char *head, char *tok_out, size_t cap, char *proto_out, size_t pcap)
{
    parsed p;
    parse(&p, head);
    char qbuf[64];
    const char *tok, *proto;
    size_t tl, pl;
    int src = wsp_serve_find_token(&p.req, qbuf, sizeof qbuf, &tok, &tl, &proto, &pl);
    snprintf(tok_out, cap, "%.*s", (int)tl, tok ? tok : "");
    snprintf(proto_out, pcap, "%.*s", (int)pl, proto ? proto : "");
    free(p.buf);
    return src;
}

static void test_find_token_sources_and_precedence(void **state)
{
    (void)state;
    char t[128], pr[128];
    assert_int_equal(find("GET /ws HTTP/1.1\r\nAuthorization: Bearer aaa.bbb.ccc\r\n\r\n", t,
                          sizeof t, pr, sizeof pr),
                     WSP_SERVE_TOKEN_HEADER);
    assert_string_equal(t, "aaa.bbb.ccc");
    assert_int_equal(find("GET /ws HTTP/1.1\r\nauthorization: bEaReR   x.y.z\r\n\r\n", t, sizeof t,
                          pr, sizeof pr),
                     WSP_SERVE_TOKEN_HEADER);
    assert_string_equal(t, "x.y.z");
    assert_int_equal(find("GET /ws?token=q.q.q HTTP/1.1\r\n\r\n", t, sizeof t, pr, sizeof pr),
                     WSP_SERVE_TOKEN_QUERY);
    assert_string_equal(t, "q.q.q");
    assert_int_equal(find("GET /ws HTTP/1.1\r\nSec-WebSocket-Protocol: chat, bearer.s.s.s\r\n\r\n",
                          t, sizeof t, pr, sizeof pr),
                     WSP_SERVE_TOKEN_SUBPROTOCOL);
    assert_string_equal(t, "s.s.s");
    assert_string_equal(pr, "bearer.s.s.s");
    assert_int_equal(find("GET /ws HTTP/1.1\r\nCookie: a=1; token=c.c.c; b=2\r\n\r\n", t, sizeof t,
                          pr, sizeof pr),
                     WSP_SERVE_TOKEN_COOKIE);
    assert_string_equal(t, "c.c.c");
    assert_int_equal(find("GET /ws HTTP/1.1\r\nCookie: x=1\r\nCookie: token=\"d.d.d\"\r\n\r\n", t,
                          sizeof t, pr, sizeof pr),
                     WSP_SERVE_TOKEN_COOKIE);
    assert_string_equal(t, "d.d.d");
    /* precedence: header, query, subprotocol, cookie; the protocol is echoed regardless */
    assert_int_equal(find("GET /ws?token=Q HTTP/1.1\r\nCookie: token=C\r\n"
                          "Sec-WebSocket-Protocol: bearer.P\r\nAuthorization: Bearer H\r\n\r\n",
                          t, sizeof t, pr, sizeof pr),
                     WSP_SERVE_TOKEN_HEADER);
    assert_string_equal(t, "H");
    assert_string_equal(pr, "bearer.P");
    assert_int_equal(find("GET /ws?token=Q HTTP/1.1\r\nCookie: token=C\r\n"
                          "Sec-WebSocket-Protocol: bearer.P\r\n\r\n",
                          t, sizeof t, pr, sizeof pr),
                     WSP_SERVE_TOKEN_QUERY);
    assert_int_equal(find("GET /ws HTTP/1.1\r\nCookie: token=C\r\nSec-WebSocket-Protocol: "
                          "bearer.P\r\n\r\n",
                          t, sizeof t, pr, sizeof pr),
                     WSP_SERVE_TOKEN_SUBPROTOCOL);
    /* not tokens */
    const char *none[] = {
        "GET /ws HTTP/1.1\r\n\r\n",
        "GET /ws HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n",
        "GET /ws HTTP/1.1\r\nAuthorization: Bearer\r\n\r\n",
        "GET /ws HTTP/1.1\r\nAuthorization: Bearerx.y.z\r\n\r\n",
        "GET /ws HTTP/1.1\r\nSec-WebSocket-Protocol: bearer.\r\n\r\n",
        "GET /ws HTTP/1.1\r\nSec-WebSocket-Protocol: Bearer.x\r\n\r\n",
        "GET /ws HTTP/1.1\r\nCookie: mytoken=x; token_b=y\r\n\r\n",
        "GET /ws HTTP/1.1\r\nCookie: token=\r\n\r\n",
        "GET /ws?token= HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (find(none[i], t, sizeof t, pr, sizeof pr) != WSP_SERVE_TOKEN_NONE)
            fail_msg("found a token in case %zu: '%s'", i, t);
    assert_int_equal(find("GET /ws?token=%zz HTTP/1.1\r\n\r\n", t, sizeof t, pr, sizeof pr), -1);
}

/* ---- token judgement ---- */

static wsp_jwt_key *g_key, *g_other;

static int setup_keys(void **state)
{
    (void)state;
    g_key = wsp_jwt_key_secret(SECRET, strlen(SECRET));
    g_other = wsp_jwt_key_secret("another-secret-entirely-987654", 30);
    return g_key && g_other ? 0 : -1;
}

static int teardown_keys(void **state)
{
    (void)state;
    wsp_jwt_key_free(g_key);
    wsp_jwt_key_free(g_other);
    return 0;
}

/* A token: claims as JSON text; exp_in seconds from NOW (0: no exp). */
static char *token(const wsp_jwt_key *key, const char *claims_json, int64_t exp_in,
                   const char *alg_header)
{
    json_t *claims = json_loads(claims_json, 0, NULL);
    assert_non_null(claims);
    wsp_jwt_forge forge = {.alg_header = alg_header, .empty_signature = alg_header != NULL};
    wsp_jwt_mint_opts o = {.alg = alg_header ? WSP_JWT_ALG_NONE : WSP_JWT_ALG_HS256,
                           .key = key,
                           .claims = claims,
                           .now = NOW,
                           .exp = exp_in != 0,
                           .ttl = exp_in,
                           .forge = alg_header ? &forge : NULL};
    char *tok = NULL;
    wsp_err e;
    if (wsp_jwt_mint(&o, &tok, &e) != 0)
        fail_msg("mint: %s", e.msg);
    json_decref(claims);
    return tok;
}

static wsp_jwt_status judge(unsigned unsafe, const char *aud, const char *tok, char *sub)
{
    wsp_serve_policy pol = {.path = "/ws",
                            .key = g_key,
                            .alg = WSP_JWT_ALG_HS256,
                            .aud = aud,
                            .leeway_s = 5,
                            .unsafe = unsafe};
    bool has_exp;
    int64_t exp;
    char *copy = exact_copy(tok, strlen(tok));
    wsp_jwt_status st = wsp_serve_check_token(&pol, copy, strlen(tok), NOW, sub, &has_exp, &exp);
    free(copy);
    return st;
}

static void test_check_token_hardened_and_unsafe(void **state)
{
    (void)state;
    char sub[WSP_SERVE_SUB_MAX + 1];
    char *good = token(g_key, "{\"sub\":\"alice\"}", 300, NULL);
    char *other = token(g_other, "{\"sub\":\"alice\"}", 300, NULL);
    char *expired = token(g_key, "{\"sub\":\"old\"}", -3600, NULL);
    char *noexp = token(g_key, "{\"sub\":\"forever\"}", 0, NULL);
    char *aud = token(g_key, "{\"sub\":\"x\",\"aud\":\"other\"}", 300, NULL);
    char *none = token(NULL, "{\"sub\":\"mallory\"}", 300, "none");
    char *none_mixed = token(NULL, "{\"sub\":\"mallory\"}", 300, "nOnE");
    char *none_expired = token(NULL, "{\"sub\":\"mallory\"}", -3600, "none");

    assert_int_equal(judge(0, NULL, good, sub), WSP_JWT_OK);
    assert_string_equal(sub, "alice");
    assert_int_equal(judge(0, NULL, other, sub), WSP_JWT_BAD_SIGNATURE);
    assert_int_equal(judge(0, NULL, expired, sub), WSP_JWT_EXPIRED);
    assert_int_equal(judge(0, NULL, noexp, sub), WSP_JWT_MISSING_EXP);
    assert_int_equal(judge(0, NULL, aud, sub), WSP_JWT_WRONG_AUD);
    assert_int_equal(judge(0, "chat", good, sub), WSP_JWT_WRONG_AUD);
    assert_int_not_equal(judge(0, NULL, none, sub), WSP_JWT_OK);
    assert_int_not_equal(judge(0, NULL, none_mixed, sub), WSP_JWT_OK);
    assert_int_equal(judge(0, NULL, "", sub), WSP_JWT_MALFORMED);

    /* --unsafe-accept-alg-none: unsigned accepted, its claims still checked, signed unchanged */
    unsigned an = WSP_SERVE_UNSAFE_ACCEPT_ALG_NONE;
    assert_int_equal(judge(an, NULL, none, sub), WSP_JWT_OK);
    assert_string_equal(sub, "mallory");
    assert_int_equal(judge(an, NULL, none_mixed, sub), WSP_JWT_OK);
    assert_int_equal(judge(an, NULL, none_expired, sub), WSP_JWT_EXPIRED);
    assert_int_equal(judge(an, NULL, other, sub), WSP_JWT_BAD_SIGNATURE);
    assert_int_equal(judge(an, NULL, expired, sub), WSP_JWT_EXPIRED);

    /* --unsafe-skip-claims: claims ignored, signature and algorithm still checked */
    unsigned sc = WSP_SERVE_UNSAFE_SKIP_CLAIMS;
    assert_int_equal(judge(sc, NULL, expired, sub), WSP_JWT_OK);
    assert_string_equal(sub, "old");
    assert_int_equal(judge(sc, NULL, noexp, sub), WSP_JWT_OK);
    assert_int_equal(judge(sc, NULL, aud, sub), WSP_JWT_OK);
    assert_int_equal(judge(sc, NULL, other, sub), WSP_JWT_BAD_SIGNATURE);
    assert_int_not_equal(judge(sc, NULL, none, sub), WSP_JWT_OK);
    /* both: an expired unsigned token */
    assert_int_equal(judge(an | sc, NULL, none_expired, sub), WSP_JWT_OK);

    free(good);
    free(other);
    free(expired);
    free(noexp);
    free(aud);
    free(none);
    free(none_mixed);
    free(none_expired);
}

static void test_check_token_sub_is_capped_on_utf8(void **state)
{
    (void)state;
    char claims[256];
    char longsub[100];
    /* 63 ASCII bytes then a 2-byte character crossing the 64-byte cap */
    memset(longsub, 'a', 63);
    memcpy(longsub + 63, "\xc3\xa9zz", 5);
    snprintf(claims, sizeof claims, "{\"sub\":\"%s\"}", longsub);
    char *tok = token(g_key, claims, 300, NULL);
    char sub[WSP_SERVE_SUB_MAX + 1];
    assert_int_equal(judge(0, NULL, tok, sub), WSP_JWT_OK);
    assert_int_equal(strlen(sub), 63);
    free(tok);
}

/* ---- the decision ---- */

static wsp_serve_policy policy(unsigned unsafe)
{
    wsp_serve_policy pol = {
        .path = "/ws", .key = g_key, .alg = WSP_JWT_ALG_HS256, .leeway_s = 5, .unsafe = unsafe};
    return pol;
}

#define UPGRADE_HEAD(extra)                                                                        \
    "GET /ws" extra " HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\n"                  \
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"           \
    "Sec-WebSocket-Version: 13\r\n"

static int decide(const wsp_serve_policy *pol, const char *head, bool tls, wsp_serve_decision *d)
{
    char *copy = exact_copy(head, strlen(head));
    int r = wsp_serve_decide(pol, copy, strlen(head), tls, NOW, d);
    /* pointers into the buffer are checked before it goes */
    static char proto[WSP_SERVE_HEAD_MAX];
    snprintf(proto, sizeof proto, "%.*s", (int)d->subprotocol_len,
             d->subprotocol ? d->subprotocol : "");
    d->subprotocol = d->subprotocol ? proto : NULL;
    free(copy);
    return r;
}

static void test_decide_table(void **state)
{
    (void)state;
    char *tok = token(g_key, "{\"sub\":\"bob\"}", 300, NULL);
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", tok);
    char req[4096];
    wsp_serve_decision d;
    wsp_serve_policy pol = policy(0);

    /* the accepted upgrade: RFC 6455 1.3's key and accept */
    snprintf(req, sizeof req, UPGRADE_HEAD("?room=lobby") "%s\r\n", hdr);
    assert_int_equal(decide(&pol, req, false, &d), 0);
    assert_int_equal(d.status, 101);
    assert_int_equal(d.route, WSP_SERVE_ROUTE_UPGRADE);
    assert_string_equal(d.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_string_equal(d.sub, "bob");
    assert_string_equal(d.room, "lobby");
    assert_true(d.has_exp);
    assert_int_equal(d.exp, NOW + 300);
    assert_int_equal(d.head_len, strlen(req));
    assert_int_equal(d.token_source, WSP_SERVE_TOKEN_HEADER);

    struct {
        const char *head;
        int status;
    } cases[] = {
        {"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 200},
        {"GET /health?x=1 HTTP/1.1\r\n\r\n", 200},
        {"POST /health HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"GET /ws/ HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"GET /WS HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426},
        {"PUT /ws HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"get /ws HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"GET /ws HTTP/1.0\r\nHost: x\r\n\r\n", 400},
        {"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET /ws HTTP/1.1\r\n\r\n", 400},
        {"\x16\x03\x01\x02garbage\r\n\r\n", 400},
        {UPGRADE_HEAD("") "\r\n", 401},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 1337\r\n\r\n",
         426},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
         426},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         426},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         426},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400}, /* non-zero padding bits: not 16 bytes exactly */
        {UPGRADE_HEAD("") "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 400},
        {UPGRADE_HEAD("") "Origin: https://cswsh.example\r\n\r\n", 403},
        {UPGRADE_HEAD("") "Origin: http://127.0.0.1:8765\r\nOrigin: http://127.0.0.1:8765\r\n\r\n",
         403},
        {UPGRADE_HEAD("?room=") "\r\n", 400},
        {UPGRADE_HEAD("?room=%ff") "\r\n", 400},
        {UPGRADE_HEAD(
             "?room=0123456789012345678901234567890123456789012345678901234567890123X") "\r\n",
         400},
        {UPGRADE_HEAD("?token=%zz") "\r\n", 400},
        {UPGRADE_HEAD("") "Authorization: Bearer not.a.token\r\n\r\n", 401},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int r = decide(&pol, cases[i].head, false, &d);
        if (r != 0 || d.status != cases[i].status)
            fail_msg("case %zu: got r=%d status %d (%s), want %d", i, r, d.status,
                     d.reason ? d.reason : "", cases[i].status);
        assert_non_null(d.reason);
    }

    /* the origin check comes before the token: a foreign origin is 403 even with a token */
    snprintf(req, sizeof req, UPGRADE_HEAD("") "Origin: https://cswsh.example\r\n%s\r\n", hdr);
    decide(&pol, req, false, &d);
    assert_int_equal(d.status, 403);
    snprintf(req, sizeof req, UPGRADE_HEAD("") "Origin: http://127.0.0.1:8765\r\n%s\r\n", hdr);
    decide(&pol, req, false, &d);
    assert_int_equal(d.status, 101);
    decide(&pol, req, true, &d); /* http origin on the TLS listener */
    assert_int_equal(d.status, 403);

    /* the switches */
    wsp_serve_policy open = policy(WSP_SERVE_UNSAFE_NO_AUTH);
    decide(&open, UPGRADE_HEAD("") "\r\n", false, &d);
    assert_int_equal(d.status, 101);
    assert_string_equal(d.sub, "anonymous");
    decide(&open, UPGRADE_HEAD("") "Origin: https://cswsh.example\r\n\r\n", false, &d);
    assert_int_equal(d.status, 403);
    wsp_serve_policy any = policy(WSP_SERVE_UNSAFE_ANY_ORIGIN);
    snprintf(req, sizeof req, UPGRADE_HEAD("") "Origin: https://cswsh.example\r\n%s\r\n", hdr);
    decide(&any, req, false, &d);
    assert_int_equal(d.status, 101);
    decide(&any, UPGRADE_HEAD("") "Origin: https://cswsh.example\r\n\r\n", false, &d);
    assert_int_equal(d.status, 401);
    /* no key configured and auth on: refused, never open */
    wsp_serve_policy nokey = policy(0);
    nokey.key = NULL;
    snprintf(req, sizeof req, UPGRADE_HEAD("") "%s\r\n", hdr);
    decide(&nokey, req, false, &d);
    assert_int_equal(d.status, 401);
    /* another path */
    wsp_serve_policy other = policy(0);
    other.path = "/chat";
    decide(&other, req, false, &d);
    assert_int_equal(d.status, 404);
    free(tok);
}

static void test_decide_at_every_cut(void **state)
{
    (void)state;
    char *tok = token(g_key, "{\"sub\":\"cut\"}", 300, NULL);
    char req[4096];
    snprintf(req, sizeof req,
             UPGRADE_HEAD("?room=r") "Sec-WebSocket-Protocol: chat, bearer.%s\r\n\r\n", tok);
    wsp_serve_policy pol = policy(0);
    wsp_serve_decision whole, d;
    assert_int_equal(decide(&pol, req, false, &whole), 0);
    assert_int_equal(whole.status, 101);
    assert_int_equal(whole.token_source, WSP_SERVE_TOKEN_SUBPROTOCOL);
    char proto[2048];
    snprintf(proto, sizeof proto, "bearer.%s", tok);
    assert_string_equal(whole.subprotocol, proto);
    size_t len = strlen(req);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = exact_copy(req, cut);
        int r = wsp_serve_decide(&pol, copy, cut, false, NOW, &d);
        free(copy);
        if (r != WSP_HTTP_PARTIAL)
            fail_msg("cut at %zu: got %d (status %d), want PARTIAL", cut, r, d.status);
    }
    free(tok);
}

static void test_decide_caps(void **state)
{
    (void)state;
    wsp_serve_policy pol = policy(0);
    wsp_serve_decision d;
    /* an endless head at the cap: 431 without waiting for its end */
    size_t n = WSP_SERVE_HEAD_MAX;
    char *big = malloc(n);
    assert_non_null(big);
    memcpy(big, "GET /ws HTTP/1.1\r\n", 18);
    for (size_t i = 18; i < n; i++)
        big[i] = (i % 4000 == 3999) ? '\n' : 'a';
    for (size_t i = 18; i < n; i += 4000)
        memcpy(big + i, "X-A: ", 5);
    assert_int_equal(wsp_serve_decide(&pol, big, n - 1, false, NOW, &d), WSP_HTTP_PARTIAL);
    assert_int_equal(wsp_serve_decide(&pol, big, n, false, NOW, &d), 0);
    assert_int_equal(d.status, 431);
    /* too many header lines */
    char flood[8192];
    size_t off = (size_t)snprintf(flood, sizeof flood, "GET /ws HTTP/1.1\r\n");
    for (int i = 0; i < WSP_SERVE_HEADERS_MAX + 5; i++)
        off += (size_t)snprintf(flood + off, sizeof flood - off, "X-%d: y\r\n", i);
    off += (size_t)snprintf(flood + off, sizeof flood - off, "\r\n");
    assert_int_equal(decide(&pol, flood, false, &d), 0);
    assert_int_equal(d.status, 431);
    /* a request line over the line cap */
    size_t ll = WSP_HTTP_LINE_MAX + 100;
    char *line = malloc(ll + 1);
    assert_non_null(line);
    memcpy(line, "GET /", 5);
    memset(line + 5, 'q', ll - 5);
    line[ll] = '\0';
    assert_int_equal(decide(&pol, line, false, &d), 0);
    assert_int_equal(d.status, 414);
    free(line);
    free(big);
}

/* ---- responses ---- */

static void test_render(void **state)
{
    (void)state;
    wsp_serve_decision d;
    memset(&d, 0, sizeof d);
    d.status = 101;
    snprintf(d.accept, sizeof d.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    d.subprotocol = "bearer.a.b.c";
    d.subprotocol_len = 12;
    char out[2048];
    long n = wsp_serve_render(&d, 0, NULL, false, NULL, out, sizeof out);
    assert_true(n > 0);
    assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                             "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: "
                             "bearer.a.b.c\r\n\r\n");
    d.subprotocol = NULL;
    n = wsp_serve_render(&d, 0, NULL, true, NULL, out, sizeof out);
    assert_non_null(strstr(out, "Strict-Transport-Security: max-age=31536000\r\n"));
    assert_null(strstr(out, "Sec-WebSocket-Protocol"));

    d.status = 401;
    d.reason = "token required";
    n = wsp_serve_render(&d, 0, NULL, false, NULL, out, sizeof out);
    assert_true(n > 0);
    assert_memory_equal(out, "HTTP/1.1 401 Unauthorized\r\n", 27);
    assert_non_null(strstr(out, "WWW-Authenticate: Bearer"));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    assert_null(strstr(out, "Strict-Transport-Security"));
    const char *body = strstr(out, "\r\n\r\n") + 4;
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 401);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "token required");
    json_decref(j);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(out, cl));

    n = wsp_serve_render(&d, 426, "upgrade required", false, NULL, out, sizeof out);
    assert_non_null(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
    n = wsp_serve_render(&d, 503, NULL, true, NULL, out, sizeof out);
    assert_non_null(strstr(out, "Retry-After: "));
    assert_non_null(strstr(out, "Strict-Transport-Security"));
    assert_int_equal(wsp_serve_render(&d, 0, NULL, false, NULL, out, 20), -1);
}

/* ---- chat ---- */

static json_t *chat(const char *msg, bool sanitize, json_t **broadcast, bool *error)
{
    wsp_serve_chat_result r;
    char *copy = exact_copy(msg, strlen(msg));
    assert_int_equal(wsp_serve_chat_handle(copy, strlen(msg), "al<i>ce", "r&d", sanitize, &r), 0);
    free(copy);
    json_t *reply = r.reply ? json_loads(r.reply, 0, NULL) : NULL;
    *broadcast = r.broadcast ? json_loads(r.broadcast, 0, NULL) : NULL;
    *error = r.error;
    wsp_serve_chat_result_cleanup(&r);
    wsp_serve_chat_result_cleanup(&r); /* idempotent */
    return reply;
}

static void test_chat_protocol(void **state)
{
    (void)state;
    json_t *b;
    bool err;
    json_t *r =
        chat("{\"type\":\"chat_message\",\"content\":\"<b>hi</b>\",\"id\":\"m1\"}", true, &b, &err);
    assert_false(err);
    assert_string_equal(json_string_value(json_object_get(r, "type")), "ack");
    assert_string_equal(json_string_value(json_object_get(r, "id")), "m1");
    assert_string_equal(json_string_value(json_object_get(b, "type")), "chat_message");
    assert_string_equal(json_string_value(json_object_get(b, "content")),
                        "&lt;b&gt;hi&lt;&#47;b&gt;");
    assert_string_equal(json_string_value(json_object_get(b, "sub")), "al&lt;i&gt;ce");
    assert_string_equal(json_string_value(json_object_get(b, "room")), "r&amp;d");
    assert_string_equal(json_string_value(json_object_get(b, "id")), "m1");
    json_decref(r);
    json_decref(b);

    /* a markup id: the sender's ack keeps it (correlation), the room's broadcast escapes it */
    r = chat("{\"type\":\"chat_message\",\"content\":\"x\",\"id\":\"<img src=x onerror=a()>\"}",
             true, &b, &err);
    assert_false(err);
    assert_string_equal(json_string_value(json_object_get(r, "id")), "<img src=x onerror=a()>");
    assert_null(strchr(json_string_value(json_object_get(b, "id")), '<'));
    json_decref(r);
    json_decref(b);

    /* unsanitized: as sent */
    r = chat("{\"type\":\"chat_message\",\"content\":\"<b>hi</b>\",\"id\":42}", false, &b, &err);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 42);
    assert_string_equal(json_string_value(json_object_get(b, "content")), "<b>hi</b>");
    assert_string_equal(json_string_value(json_object_get(b, "sub")), "al<i>ce");
    json_decref(r);
    json_decref(b);

    /* no id: null */
    r = chat("{\"type\":\"chat_message\",\"content\":\"a b\"}", true, &b, &err);
    assert_true(json_is_null(json_object_get(r, "id")));
    assert_true(json_is_null(json_object_get(b, "id")));
    assert_string_equal(json_string_value(json_object_get(b, "content")), "a b");
    json_decref(r);
    json_decref(b);

    r = chat("{\"type\":\"ping\"}", true, &b, &err);
    assert_false(err);
    assert_null(b);
    assert_string_equal(json_string_value(json_object_get(r, "type")), "pong");
    json_decref(r);

    const char *bad[] = {
        "not json",
        "[1,2,3]",
        "\"a string\"",
        "{}",
        "{\"type\":1}",
        "{\"type\":\"unknown\"}",
        "{\"type\":\"chat_message\"}",
        "{\"type\":\"chat_message\",\"content\":5}",
        "{\"type\":\"chat_message\",\"content\":\"x\",\"id\":{\"a\":1}}",
        "{\"type\":\"chat_message\",\"content\":\"x\",\"id\":1.5}",
        "{\"type\":\"ping\",\"type\":\"chat_message\"}", /* duplicate keys */
        "{\"__proto__\":{\"admin\":true},\"type\":\"nope\"}",
        "{\"type\":\"ping\"} trailing",
        "{\"type\":\"chat_message\",\"content\":\"a\\u0000b\"}", /* NUL refused */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = chat(bad[i], true, &b, &err);
        if (!err || b || !r || strcmp(json_string_value(json_object_get(r, "type")), "error") != 0)
            fail_msg("case %zu (%s) was not an error", i, bad[i]);
        assert_non_null(json_string_value(json_object_get(r, "error")));
        json_decref(r);
    }
    /* deep nesting: refused as an error, not a crash */
    char deep[20001];
    for (int i = 0; i < 10000; i++) {
        deep[i] = '[';
        deep[19999 - i] = ']';
    }
    deep[20000] = '\0';
    r = chat(deep, true, &b, &err);
    assert_true(err);
    json_decref(r);
}

static void test_names(void **state)
{
    (void)state;
    for (unsigned bit = 1; bit <= WSP_SERVE_UNSAFE_NO_LIMITS; bit <<= 1) {
        assert_string_not_equal(wsp_serve_unsafe_name((wsp_serve_unsafe)bit), "unknown");
        assert_string_not_equal(wsp_serve_unsafe_describe((wsp_serve_unsafe)bit), "unknown");
    }
    assert_string_equal(wsp_serve_token_source_name(WSP_SERVE_TOKEN_COOKIE), "cookie");
    wsp_serve_config cfg;
    wsp_serve_config_init(&cfg);
    /* hardened defaults: every limit on */
    assert_true(cfg.max_message > 0 && cfg.max_message <= 64 * 1024);
    assert_true(cfg.rate > 0 && cfg.max_conns_per_ip > 0 && cfg.handshake_timeout_us > 0 &&
                cfg.idle_timeout_us > 0 && cfg.write_queue_max > 0 && cfg.max_errors > 0);
    assert_int_equal(cfg.policy.unsafe, 0);
    assert_string_equal(cfg.policy.path, "/ws");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escape_table),
        cmocka_unit_test(test_html_escape_truncates_like_snprintf),
        cmocka_unit_test(test_origin_allow_list_exact),
        cmocka_unit_test(test_origin_same_origin_rule),
        cmocka_unit_test(test_query_param),
        cmocka_unit_test(test_find_token_sources_and_precedence),
        cmocka_unit_test(test_check_token_hardened_and_unsafe),
        cmocka_unit_test(test_check_token_sub_is_capped_on_utf8),
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test(test_decide_at_every_cut),
        cmocka_unit_test(test_decide_caps),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_chat_protocol),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
