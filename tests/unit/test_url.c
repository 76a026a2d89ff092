/* test_url.c - the URL parser against a table of good and bad URLs, and the Host header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/url.h"

typedef struct good_case {
    const char *in;
    unsigned flags;
    wsp_url_scheme scheme;
    const char *host;
    uint16_t port;
    bool port_explicit;
    bool is_ip, is_v6;
    const char *target;
    const char *host_header;
} good_case;

static const good_case goods[] = {
    {"ws://example.com", 0, WSP_URL_WS, "example.com", 80, false, false, false, "/", "example.com"},
    {"wss://example.com/", 0, WSP_URL_WSS, "example.com", 443, false, false, false, "/",
     "example.com"},
    {"ws://example.com/chat?room=1&x=%20y", 0, WSP_URL_WS, "example.com", 80, false, false, false,
     "/chat?room=1&x=%20y", "example.com"},
    {"WSS://API.Example.COM:8443/Ws/Path", 0, WSP_URL_WSS, "api.example.com", 8443, true, false,
     false, "/Ws/Path", "api.example.com:8443"},
    {"Ws://h", 0, WSP_URL_WS, "h", 80, false, false, false, "/", "h"},
    {"ws://example.com?token=abc", 0, WSP_URL_WS, "example.com", 80, false, false, false,
     "/?token=abc", "example.com"},
    {"ws://example.com:80/", 0, WSP_URL_WS, "example.com", 80, true, false, false, "/",
     "example.com"},
    {"wss://example.com:443", 0, WSP_URL_WSS, "example.com", 443, true, false, false, "/",
     "example.com"},
    {"wss://example.com:80", 0, WSP_URL_WSS, "example.com", 80, true, false, false, "/",
     "example.com:80"},
    {"ws://example.com:65535/", 0, WSP_URL_WS, "example.com", 65535, true, false, false, "/",
     "example.com:65535"},
    {"ws://example.com:1", 0, WSP_URL_WS, "example.com", 1, true, false, false, "/",
     "example.com:1"},
    {"ws://example.com:08080", 0, WSP_URL_WS, "example.com", 8080, true, false, false, "/",
     "example.com:8080"},
    {"ws://127.0.0.1:8080/ws", 0, WSP_URL_WS, "127.0.0.1", 8080, true, true, false, "/ws",
     "127.0.0.1:8080"},
    {"ws://[::1]:8080/ws", 0, WSP_URL_WS, "::1", 8080, true, true, true, "/ws", "[::1]:8080"},
    {"wss://[2001:DB8::A]/", 0, WSP_URL_WSS, "2001:db8::a", 443, false, true, true, "/",
     "[2001:db8::a]"},
    {"ws://[::ffff:192.0.2.1]", 0, WSP_URL_WS, "::ffff:192.0.2.1", 80, false, true, true, "/",
     "[::ffff:192.0.2.1]"},
    {"ws://my_host-1.internal/", 0, WSP_URL_WS, "my_host-1.internal", 80, false, false, false, "/",
     "my_host-1.internal"},
    {"ws://1.2.3.4x/", 0, WSP_URL_WS, "1.2.3.4x", 80, false, false, false, "/", "1.2.3.4x"},
    {"ws://h/a/../b//c;p=1?q=a/b?c", 0, WSP_URL_WS, "h", 80, false, false, false,
     "/a/../b//c;p=1?q=a/b?c", "h"},
    {"http://example.com/health", WSP_URL_ALLOW_HTTP, WSP_URL_HTTP, "example.com", 80, false, false,
     false, "/health", "example.com"},
    {"HTTPS://example.com:8443", WSP_URL_ALLOW_HTTP, WSP_URL_HTTPS, "example.com", 8443, true,
     false, false, "/", "example.com:8443"},
    {"ws://example.com", WSP_URL_ALLOW_HTTP, WSP_URL_WS, "example.com", 80, false, false, false,
     "/", "example.com"},
};

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        const good_case *c = &goods[i];
        wsp_url u;
        wsp_err e;
        wsp_err_clear(&e);
        memset(&u, 0xa5, sizeof u);
        int rc = wsp_url_parse(c->in, &u, c->flags, &e);
        if (rc != 0)
            fail_msg("%s: %s", c->in, e.msg);
        assert_int_equal(e.cls, WSP_CLASS_OK);
        assert_int_equal(u.scheme, c->scheme);
        assert_int_equal(u.tls, c->scheme == WSP_URL_WSS || c->scheme == WSP_URL_HTTPS);
        assert_string_equal(u.host, c->host);
        assert_int_equal(u.port, c->port);
        assert_int_equal(u.port_explicit, c->port_explicit);
        assert_int_equal(u.host_is_ip, c->is_ip);
        assert_int_equal(u.host_is_ipv6, c->is_v6);
        assert_string_equal(u.target, c->target);
        char hh[300];
        int n = wsp_url_host_header(&u, hh, sizeof hh);
        assert_int_equal(n, (int)strlen(c->host_header));
        assert_string_equal(hh, c->host_header);
    }
}

typedef struct bad_case {
    const char *in;
    unsigned flags;
    const char *msg; /* the exact message */
} bad_case;

static const bad_case bads[] = {
    {"", 0, "empty URL"},
    {"example.com/ws", 0, "URL has no scheme: write ws://HOST/PATH or wss://HOST/PATH"},
    {"localhost:8080", 0, "URL has no scheme: write ws://HOST/PATH or wss://HOST/PATH"},
    {"://h/", 0, "URL has no scheme: write ws://HOST/PATH or wss://HOST/PATH"},
    {"ws:/example.com/", 0, "URL has no '//' after 'ws:': write ws://HOST/PATH"},
    {"WSS:example.com", 0, "URL has no '//' after 'WSS:': write WSS://HOST/PATH"},
    {"wss:", 0, "URL has no '//' after 'wss:': write wss://HOST/PATH"},
    {"ftp://h/", 0, "unsupported scheme 'ftp': use ws:// or wss://"},
    {"http://h/", 0, "scheme 'http' is not a WebSocket scheme: use ws://"},
    {"HTTPS://h/", 0, "scheme 'HTTPS' is not a WebSocket scheme: use wss://"},
    {"ws://", 0, "URL has no host"},
    {"ws:///path", 0, "URL has no host"},
    {"ws://:8080/", 0, "URL has no host"},
    {"ws://user:secret@example.com/", 0,
     "URL contains credentials (user@host): pass them in a header or a token option, never in "
     "the URL"},
    {"ws://@example.com/", 0,
     "URL contains credentials (user@host): pass them in a header or a token option, never in "
     "the URL"},
    {"ws://example.com/chat#top", 0,
     "URL has a fragment ('#' at offset 21): RFC 6455 section 3 forbids fragments in WebSocket "
     "URLs; drop it or percent-encode '#' as %23"},
    {"ws://example.com#", 0,
     "URL has a fragment ('#' at offset 16): RFC 6455 section 3 forbids fragments in WebSocket "
     "URLs; drop it or percent-encode '#' as %23"},
    {"ws://h:0/", 0, "port 0 is out of range 1-65535"},
    {"ws://h:65536/", 0, "port 65536 is out of range 1-65535"},
    {"ws://h:99999999999999999999/", 0, "port 99999999999999999999 is out of range 1-65535"},
    {"ws://h:/", 0, "empty port after ':': write a port from 1 to 65535 or drop the colon"},
    {"ws://h:", 0, "empty port after ':': write a port from 1 to 65535 or drop the colon"},
    {"ws://h:80a/", 0, "port '80a' is not a number"},
    {"ws://h:-1/", 0, "port '-1' is not a number"},
    {"ws://h:+80/", 0, "port '+80' is not a number"},
    {"ws://[::1]:0/", 0, "port 0 is out of range 1-65535"},
    {"ws://[::1/", 0, "IPv6 literal is missing its closing ']'"},
    {"ws://[::1]x/", 0, "unexpected 'x' after the IPv6 literal: write [addr]:port"},
    {"ws://[]/", 0, "IPv6 literal '[]' is not a valid address"},
    {"ws://[::g]/", 0, "IPv6 literal '[::g]' is not a valid address"},
    {"ws://[fe80::1%25eth0]/", 0, "IPv6 literal '[fe80::1%25eth0]' is not a valid address"},
    {"ws://[127.0.0.1]/", 0, "IPv6 literal '[127.0.0.1]' is not a valid address"},
    {"ws://::1/", 0,
     "host has more than one ':': an IPv6 address goes in brackets, e.g. ws://[::1]:8080/"},
    {"ws://fe80::1:8080/", 0,
     "host has more than one ':': an IPv6 address goes in brackets, e.g. ws://[::1]:8080/"},
    {"ws://exa mple.com/", 0, "URL contains whitespace at offset 8: percent-encode it (%20)"},
    {"ws://example.com/a b", 0, "URL contains whitespace at offset 18: percent-encode it (%20)"},
    {"ws://example.com/\t", 0, "URL contains whitespace at offset 17: percent-encode it (%20)"},
    {"ws://example.com/\r\nX: y", 0, "URL contains control byte 0x0d at offset 17"},
    {"ws://example.com/\x7f", 0, "URL contains control byte 0x7f at offset 17"},
    {"ws://b\xc3\xbc"
     "cher.de/",
     0,
     "URL contains non-ASCII byte 0xc3 at offset 6: percent-encode the path, use the punycode "
     "(xn--) form of the host"},
    {"ws://exa%6dple.com/", 0,
     "host 'exa%6dple.com' contains '%', which is not allowed in a host name"},
    {"ws://a..b/", 0, "host 'a..b' has an empty label (a leading dot or \"..\")"},
    {"ws://.a/", 0, "host '.a' has an empty label (a leading dot or \"..\")"},
    {"ws://example.com./", 0, "host 'example.com.' ends with a dot: drop the final dot"},
    {"ws://999.1.1.1/", 0, "host '999.1.1.1' is neither a valid IPv4 address nor a host name"},
    {"ws://1.2.3/", 0, "host '1.2.3' is neither a valid IPv4 address nor a host name"},
    {"ws://01.2.3.4/", 0, "host '01.2.3.4' is neither a valid IPv4 address nor a host name"},
    {"ws://example.com\\evil/", 0,
     "host 'example.com\\evil' contains '\\', which is not allowed in a host name"},
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const bad_case *c = &bads[i];
        wsp_url u, before;
        memset(&u, 0xa5, sizeof u);
        memcpy(&before, &u, sizeof u);
        wsp_err e;
        wsp_err_clear(&e);
        int rc = wsp_url_parse(c->in, &u, c->flags, &e);
        if (rc != -1)
            fail_msg("accepted: %s", c->in);
        assert_int_equal(e.cls, WSP_CLASS_URL_INVALID);
        if (strcmp(e.msg, c->msg) != 0)
            fail_msg("%s:\n got  %s\n want %s", c->in, e.msg, c->msg);
        assert_string_equal(e.hint, wsp_class_default_hint(WSP_CLASS_URL_INVALID));
        assert_memory_equal(&u, &before, sizeof u); /* out untouched on failure */
    }
    assert_int_equal(wsp_url_parse(NULL, NULL, 0, NULL), -1); /* NULL-safe err */
}

/* The credentials must not leak into the message. */
static void test_userinfo_not_echoed(void **state)
{
    (void)state;
    wsp_url u;
    wsp_err e;
    assert_int_equal(wsp_url_parse("wss://bob:hunter2@h/", &u, 0, &e), -1);
    assert_null(strstr(e.msg, "hunter2"));
    assert_null(strstr(e.msg, "bob"));
}

/* Host name length limits: 63 per label, 253 in all. */
static void test_host_limits(void **state)
{
    (void)state;
    char url[600], label[70];
    wsp_url u;
    wsp_err e;
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(url, sizeof url, "ws://%s.com/", label);
    assert_int_equal(wsp_url_parse(url, &u, 0, &e), 0);
    snprintf(url, sizeof url, "ws://%sa.com/", label);
    assert_int_equal(wsp_url_parse(url, &u, 0, &e), -1);
    assert_non_null(strstr(e.msg, "has a label longer than 63 bytes"));

    /* 4 labels of 63 + 3 dots = 255; trim to exactly 253 and 254 */
    char host[300];
    snprintf(host, sizeof host, "%s.%s.%s.%s", label, label, label, label);
    host[253] = '\0';
    snprintf(url, sizeof url, "ws://%s/", host);
    assert_int_equal(wsp_url_parse(url, &u, 0, &e), 0);
    assert_string_equal(u.host, host);
    host[253] = 'a';
    host[254] = '\0';
    snprintf(url, sizeof url, "ws://%s/", host);
    assert_int_equal(wsp_url_parse(url, &u, 0, &e), -1);
    assert_string_equal(e.msg, "host name is 254 bytes long, more than the 253 DNS allows");
}

/* The target is capped at WSP_URL_TARGET_MAX, counting the '/' added before a bare query. */
static void test_target_limit(void **state)
{
    (void)state;
    size_t cap = WSP_URL_TARGET_MAX + 64;
    char *url = malloc(cap);
    assert_non_null(url);
    wsp_url u;
    wsp_err e;
    int p = snprintf(url, cap, "ws://h");
    memset(url + p, 'x', WSP_URL_TARGET_MAX);
    url[p] = '/';
    url[p + WSP_URL_TARGET_MAX] = '\0';
    assert_int_equal(wsp_url_parse(url, &u, 0, &e), 0);
    assert_int_equal(strlen(u.target), WSP_URL_TARGET_MAX);
    url[p] = '?'; /* becomes "/?xxx", one byte more */
    assert_int_equal(wsp_url_parse(url, &u, 0, &e), -1);
    assert_string_equal(e.msg, "path and query are 4097 bytes long, more than 4096");
    free(url);
}

static void test_host_header_cap(void **state)
{
    (void)state;
    wsp_url u;
    assert_int_equal(wsp_url_parse("ws://[::1]:8080/", &u, 0, NULL), 0);
    char buf[16];
    /* "[::1]:8080" is 10 bytes: needs 11 with the NUL */
    assert_int_equal(wsp_url_host_header(&u, buf, 11), 10);
    assert_string_equal(buf, "[::1]:8080");
    assert_int_equal(wsp_url_host_header(&u, buf, 10), -1);
    assert_int_equal(wsp_url_host_header(&u, buf, 0), -1);
}

static void test_scheme_names(void **state)
{
    (void)state;
    assert_string_equal(wsp_url_scheme_name(WSP_URL_WS), "ws");
    assert_string_equal(wsp_url_scheme_name(WSP_URL_WSS), "wss");
    assert_string_equal(wsp_url_scheme_name(WSP_URL_HTTP), "http");
    assert_string_equal(wsp_url_scheme_name(WSP_URL_HTTPS), "https");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_userinfo_not_echoed),
        cmocka_unit_test(test_host_limits),
        cmocka_unit_test(test_target_limit),
        cmocka_unit_test(test_host_header_cap),
        cmocka_unit_test(test_scheme_names),
    };
    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
