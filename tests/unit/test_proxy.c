/* test_proxy.c - codec/proxy: proxy URLs, the choice from flags and the environment, no_proxy,
 * CONNECT and SOCKS5 (RFC 1928, RFC 1929), byte by byte where the wire allows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/proxy.h"

static wsp_url url(const char *s)
{
    wsp_url u;
    wsp_err e;
    assert_int_equal(wsp_url_parse(s, &u, WSP_URL_ALLOW_HTTP, &e), 0);
    return u;
}

static void test_parse(void **state)
{
    (void)state;
    wsp_proxy p;
    wsp_err e;
    assert_int_equal(wsp_proxy_parse("http://proxy.corp:3128", "--proxy", false, &p, &e), 0);
    assert_int_equal(p.kind, WSP_PROXY_HTTP);
    assert_string_equal(p.host, "proxy.corp");
    assert_int_equal(p.port, 3128);
    assert_string_equal(p.shown, "http://proxy.corp:3128");
    /* no scheme: http, as curl; default ports 1080, 443 for https */
    assert_int_equal(wsp_proxy_parse("10.0.0.1", "--proxy", false, &p, &e), 0);
    assert_int_equal(p.kind, WSP_PROXY_HTTP);
    assert_int_equal(p.port, 1080);
    assert_true(p.host_is_ip);
    assert_int_equal(wsp_proxy_parse("HTTPS://p.example/", "--proxy", false, &p, &e), 0);
    assert_int_equal(p.kind, WSP_PROXY_HTTPS);
    assert_int_equal(p.port, 443);
    assert_int_equal(wsp_proxy_parse("socks5h://[::1]:1080", "--proxy", false, &p, &e), 0);
    assert_int_equal(p.kind, WSP_PROXY_SOCKS5H);
    assert_string_equal(p.host, "::1");
    assert_string_equal(p.shown, "socks5h://[::1]:1080");
    /* refused: another scheme, a path, no host, a bad port */
    assert_int_equal(wsp_proxy_parse("socks4://h:1", "--proxy", false, &p, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_int_equal(wsp_proxy_parse("http://h:1/path", "--proxy", false, &p, &e), -1);
    assert_int_equal(wsp_proxy_parse("http://:1", "--proxy", false, &p, &e), -1);
    assert_int_equal(wsp_proxy_parse("http://h:99999", "--proxy", false, &p, &e), -1);
    assert_int_equal(wsp_proxy_parse("http://h h:1", "--proxy", false, &p, &e), -1);
}

static void test_credentials(void **state)
{
    (void)state;
    wsp_proxy p;
    wsp_err e;
    /* on a command line: refused, and the message does not repeat the password */
    assert_int_equal(wsp_proxy_parse("http://al:pw-secret@h:1", "--proxy", false, &p, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_null(strstr(e.msg, "pw-secret"));
    assert_non_null(strstr(e.msg, "--proxy-user-env"));
    /* from the environment: percent-decoded, the last '@' ends them */
    assert_int_equal(wsp_proxy_parse("http://a%40b:p%3Aw@x@h:8", "HTTPS_PROXY", true, &p, &e), 0);
    assert_true(p.has_credentials);
    assert_string_equal(p.user, "a@b");
    assert_string_equal(p.pass, "p:w@x");
    assert_string_equal(p.host, "h");
    assert_null(strstr(p.shown, "p:w"));
    assert_int_equal(wsp_proxy_parse("http://u:%zz@h:8", "HTTPS_PROXY", true, &p, &e), -1);
    assert_int_equal(wsp_proxy_parse("http://u:%00@h:8", "HTTPS_PROXY", true, &p, &e), -1);
}

/* A fake environment: NAME, VALUE pairs. */
static const char *const *fake_vars;

static const char *fake_env(const char *name, void *ud)
{
    (void)ud;
    const char *const *kv = fake_vars;
    for (size_t i = 0; kv[i]; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static wsp_proxy choose(const char *target, const char *flag, const char *noproxy,
                        const char *const *env, int want)
{
    wsp_url u = url(target);
    fake_vars = env;
    wsp_proxy_settings s = {
        .flag = flag, .flag_source = "--proxy", .noproxy = noproxy, .env = fake_env};
    wsp_proxy p;
    wsp_err e;
    assert_int_equal(wsp_proxy_select(&u, &s, &p, &e), want);
    return p;
}

static void test_select_env(void **state)
{
    (void)state;
    /* lowercase first, then uppercase, each name in turn; empty values skipped */
    const char *env1[] = {"HTTPS_PROXY", "http://upper:1", "https_proxy", "http://lower:1",
                          "all_proxy",   "socks5://all:1", NULL};
    wsp_proxy p = choose("wss://svc.example/ws", NULL, NULL, env1, 0);
    assert_string_equal(p.host, "lower");
    assert_string_equal(p.variable, "https_proxy");
    assert_string_equal(p.source, "environment");
    const char *env2[] = {"wss_proxy", "", "HTTPS_PROXY", "http://upper:1", NULL};
    p = choose("wss://svc.example/ws", NULL, NULL, env2, 0);
    assert_string_equal(p.host, "upper");
    assert_string_equal(p.variable, "HTTPS_PROXY");
    /* wss_proxy before https_proxy; ws:// reads ws_proxy, http_proxy, all_proxy */
    const char *env3[] = {"wss_proxy",      "http://wss:1",    "https_proxy",
                          "http://https:1", "http_proxy",      "http://plain:1",
                          "ALL_PROXY",      "socks5h://all:9", NULL};
    assert_string_equal(choose("wss://a.b/", NULL, NULL, env3, 0).host, "wss");
    assert_string_equal(choose("ws://a.b/", NULL, NULL, env3, 0).host, "plain");
    assert_string_equal(choose("https://a.b/", NULL, NULL, env3, 0).host, "wss");
    const char *env4[] = {"https_proxy", "http://https:1", "ALL_PROXY", "socks5h://all:9", NULL};
    p = choose("ws://a.b/", NULL, NULL, env4, 0);
    assert_int_equal(p.kind, WSP_PROXY_SOCKS5H);
    assert_string_equal(p.variable, "ALL_PROXY");
    /* nothing set: direct, and nothing to report */
    const char *none[] = {NULL};
    p = choose("ws://a.b/", NULL, NULL, none, 0);
    assert_int_equal(p.kind, WSP_PROXY_NONE);
    assert_string_equal(p.source, "");
    /* credentials in a variable's URL are allowed, and the error for a bad one names the
     * variable, not the value */
    const char *env5[] = {"http_proxy", "http://u:topsecret@h:1", NULL};
    p = choose("ws://a.b/", NULL, NULL, env5, 0);
    assert_true(p.has_credentials);
    assert_string_equal(p.cred_source, "http_proxy");
    const char *env6[] = {"http_proxy", "gopher://u:topsecret@h:1", NULL};
    wsp_url u = url("ws://a.b/");
    fake_vars = env6;
    wsp_proxy_settings s = {.env = fake_env};
    wsp_err e;
    assert_int_equal(wsp_proxy_select(&u, &s, &p, &e), -1);
    assert_non_null(strstr(e.msg, "http_proxy"));
    assert_null(strstr(e.msg, "topsecret"));
}

static void test_select_flag(void **state)
{
    (void)state;
    const char *env[] = {"http_proxy", "http://env:1", "no_proxy", "a.b", NULL};
    /* the flag wins over the environment; "" means direct */
    wsp_proxy p = choose("ws://x.y/", "socks5://flag:2", NULL, env, 0);
    assert_string_equal(p.host, "flag");
    assert_string_equal(p.source, "--proxy");
    assert_string_equal(p.variable, "");
    p = choose("ws://x.y/", "", NULL, env, 0);
    assert_int_equal(p.kind, WSP_PROXY_NONE);
    assert_string_equal(p.source, "--proxy");
    /* no_proxy applies to the flag's proxy too; --noproxy replaces the environment's list */
    p = choose("ws://a.b/", "socks5://flag:2", NULL, env, 0);
    assert_int_equal(p.kind, WSP_PROXY_NONE);
    assert_string_equal(p.bypass, "a.b");
    assert_string_equal(p.bypass_variable, "no_proxy");
    p = choose("ws://a.b/", NULL, "other.host", env, 0);
    assert_int_equal(p.kind, WSP_PROXY_HTTP);
    p = choose("ws://a.b/", NULL, "*", env, 0);
    assert_int_equal(p.kind, WSP_PROXY_NONE);
    assert_string_equal(p.bypass_variable, "--noproxy");
    choose("ws://a.b/", "http://u:p@h:1", NULL, env, -1);
}

static bool np(const char *list, const char *target)
{
    wsp_url u = url(target);
    char entry[64];
    return wsp_noproxy_match(list, &u, entry, sizeof entry);
}

static void test_noproxy(void **state)
{
    (void)state;
    /* names: the name and its subdomains, never a mere suffix of the text */
    assert_true(np("example.com", "ws://example.com/"));
    assert_true(np("example.com", "ws://api.EXAMPLE.com/"));
    assert_true(np(".example.com", "ws://api.example.com/"));
    assert_true(np("*.example.com", "ws://api.example.com/"));
    assert_false(np("ample.com", "ws://example.com/"));
    assert_false(np("example.com", "ws://example.com.evil/"));
    /* lists: commas and spaces, empty entries ignored */
    assert_true(np(" , foo.bar  localhost,", "ws://localhost:8080/"));
    assert_false(np("", "ws://localhost/"));
    assert_true(np("*", "wss://anything.at.all/"));
    /* addresses and CIDRs, IPv4 and IPv6 */
    assert_true(np("127.0.0.1", "ws://127.0.0.1:9/"));
    assert_false(np("127.0.0.1", "ws://127.0.0.2/"));
    assert_true(np("10.0.0.0/8", "ws://10.200.3.4/"));
    assert_false(np("10.0.0.0/8", "ws://11.0.0.1/"));
    assert_true(np("192.168.1.128/25", "ws://192.168.1.200/"));
    assert_false(np("192.168.1.128/25", "ws://192.168.1.100/"));
    assert_true(np("::1", "ws://[::1]/"));
    assert_true(np("[::1]", "ws://[::1]/"));
    assert_true(np("fd00::/8", "ws://[fd12::5]/"));
    assert_false(np("fd00::/8", "ws://[fe80::1]/"));
    assert_false(np("10.0.0.0/8", "ws://ten.example/")); /* a CIDR never matches a name */
    assert_false(np("10.0.0.0/99", "ws://10.0.0.1/"));
    /* ports */
    assert_true(np("host.a:8080", "ws://host.a:8080/"));
    assert_false(np("host.a:8080", "ws://host.a:8081/"));
    assert_true(np("[::1]:443", "wss://[::1]/"));
    assert_false(np("host.a:x", "ws://host.a/"));
}

static void test_connect_request(void **state)
{
    (void)state;
    wsp_proxy p;
    wsp_err e;
    char buf[1024];
    assert_int_equal(wsp_proxy_parse("http://h:1", "--proxy", false, &p, &e), 0);
    int n = wsp_proxy_connect_request(buf, sizeof buf, &p, "svc.example", 443);
    assert_true(n > 0);
    assert_string_equal(buf, "CONNECT svc.example:443 HTTP/1.1\r\nHost: svc.example:443\r\n"
                             "User-Agent: wsprobe\r\n\r\n");
    n = wsp_proxy_connect_request(buf, sizeof buf, &p, "::1", 8443);
    assert_non_null(strstr(buf, "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n"));
    assert_int_equal(wsp_proxy_parse("http://Aladdin:open%20sesame@h:1", "E", true, &p, &e), 0);
    n = wsp_proxy_connect_request(buf, sizeof buf, &p, "a.b", 80);
    /* RFC 7617 2's example */
    assert_non_null(strstr(buf, "\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"));
    assert_int_equal(wsp_proxy_connect_request(buf, 20, &p, "a.b", 80), -1);
}

static int judge(const char *head, wsp_err *e)
{
    wsp_http_header h[16];
    wsp_http_response r = {.headers = h, .num_headers = 16};
    assert_true(wsp_http_parse_response(head, strlen(head), &r, NULL) > 0);
    wsp_proxy p;
    assert_int_equal(wsp_proxy_parse("http://h:1", "--proxy", false, &p, e), 0);
    return wsp_proxy_connect_judge(&p, &r, "a.b:443", e);
}

static void test_connect_judge(void **state)
{
    (void)state;
    wsp_err e;
    assert_int_equal(judge("HTTP/1.0 200 Connection established\r\n\r\n", &e), 0);
    assert_int_equal(judge("HTTP/1.1 204 No Content\r\n\r\n", &e), 0);
    assert_int_equal(
        judge("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"
              "Proxy-Authenticate: Basic realm=\"corp\"\r\n\r\n",
              &e),
        -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_AUTH);
    assert_non_null(strstr(e.msg, "Negotiate"));
    assert_int_equal(judge("HTTP/1.1 401 Unauthorized\r\n\r\n", &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_AUTH);
    assert_int_equal(judge("HTTP/1.1 403 Forbidden\r\n\r\n", &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_TUNNEL_FAILED);
    assert_non_null(strstr(e.msg, "403"));
    assert_int_equal(judge("HTTP/1.1 502 Bad Gateway\r\n\r\n", &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_TUNNEL_FAILED);
    assert_non_null(strstr(e.hint, "retries"));
    assert_int_equal(judge("HTTP/1.1 101 Switching Protocols\r\n\r\n", &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_TUNNEL_FAILED);
}

/* Run a SOCKS5 exchange against scripted answers, fed `chunk` bytes at a time. Returns the
 * final result; `sent` gets every byte the client wrote. */
static int socks(const wsp_proxy *p, const char *host, const uint8_t *answers, size_t alen,
                 size_t chunk, uint8_t *sent, size_t *sent_len, size_t *left, wsp_err *e)
{
    wsp_socks5 s;
    uint8_t out[WSP_SOCKS5_OUT_MAX];
    size_t n;
    assert_int_equal(wsp_socks5_begin(&s, p, host, 443, out, &n, e), 0);
    memcpy(sent, out, n);
    *sent_len = n;
    size_t off = 0;
    int r = 0;
    while (off < alen) {
        size_t avail = alen - off < chunk ? alen - off : chunk;
        size_t used;
        r = wsp_socks5_feed(&s, answers + off, avail, &used, out, &n, e);
        assert_true(used <= avail);
        off += used;
        memcpy(sent + *sent_len, out, n);
        *sent_len += n;
        if (r != 0)
            break;
    }
    *left = alen - off;
    return r;
}

static void test_socks5(void **state)
{
    (void)state;
    wsp_proxy p, pa;
    wsp_err e;
    uint8_t sent[2048];
    size_t sl, left;
    assert_int_equal(wsp_proxy_parse("socks5h://h:1", "--proxy", false, &p, &e), 0);
    assert_int_equal(wsp_proxy_parse("socks5://bob:hunter2@h:1", "E", true, &pa, &e), 0);
    /* no authentication, a name, a success with an IPv4 bound address, then tunnel bytes */
    static const uint8_t ok4[] = {5, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90, 'H', 'T'};
    for (size_t chunk = 1; chunk <= sizeof ok4; chunk++) {
        assert_int_equal(socks(&p, "svc.example", ok4, sizeof ok4, chunk, sent, &sl, &left, &e), 1);
        assert_int_equal(left, 2); /* "HT" belongs to the tunnel */
        static const uint8_t want[] = {5,   1,   0,   5,   1,   0,   3,   11,  's', 'v', 'c',
                                       '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 1,   187};
        assert_int_equal(sl, sizeof want);
        assert_memory_equal(sent, want, sizeof want);
    }
    /* an IPv6 literal travels as an address; a domain-name bound address is skipped whole */
    static const uint8_t okd[] = {5, 0, 5, 0, 0, 3, 3, 'a', '.', 'b', 0, 80};
    assert_int_equal(socks(&p, "::1", okd, sizeof okd, 1, sent, &sl, &left, &e), 1);
    assert_int_equal(left, 0);
    assert_int_equal(sent[3 + 3], 4);
    assert_int_equal(sl, 3 + 4 + 16 + 2);
    /* username/password (RFC 1929) */
    static const uint8_t auth_ok[] = {5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    assert_int_equal(socks(&pa, "1.2.3.4", auth_ok, sizeof auth_ok, 3, sent, &sl, &left, &e), 1);
    static const uint8_t want_auth[] = {5, 2,   0,   2,   1,   3,   'b', 'o', 'b',
                                        7, 'h', 'u', 'n', 't', 'e', 'r', '2'};
    assert_memory_equal(sent, want_auth, sizeof want_auth);
    assert_int_equal(sent[sizeof want_auth + 3], 1); /* then CONNECT to an IPv4 address */
    static const uint8_t auth_bad[] = {5, 2, 1, 1};
    assert_int_equal(socks(&pa, "a.b", auth_bad, sizeof auth_bad, 1, sent, &sl, &left, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_AUTH);
    assert_null(strstr(e.msg, "hunter2"));
    /* no acceptable method */
    static const uint8_t nomethod[] = {5, 0xff};
    assert_int_equal(socks(&p, "a.b", nomethod, 2, 1, sent, &sl, &left, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_AUTH);
    /* a method not offered; not SOCKS5 at all */
    static const uint8_t wrongm[] = {5, 2};
    assert_int_equal(socks(&p, "a.b", wrongm, 2, 1, sent, &sl, &left, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_PROTOCOL);
    static const uint8_t http[] = "HTTP/1.1 400 Bad Request\r\n";
    assert_int_equal(socks(&p, "a.b", http, sizeof http - 1, 64, sent, &sl, &left, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_PROTOCOL);
    /* refusals: named by their reply code, judged at once */
    static const uint8_t refused[] = {5, 0, 5, 5};
    assert_int_equal(socks(&p, "a.b", refused, sizeof refused, 1, sent, &sl, &left, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_TUNNEL_FAILED);
    assert_non_null(strstr(e.msg, "connection refused"));
    static const uint8_t badtype[] = {5, 0, 5, 0, 0, 9};
    assert_int_equal(socks(&p, "a.b", badtype, sizeof badtype, 1, sent, &sl, &left, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_PROXY_PROTOCOL);
    assert_string_equal(wsp_socks5_reply_name(2), "connection not allowed by ruleset");
    assert_string_equal(wsp_socks5_reply_name(200), "unassigned");
    /* a name SOCKS5 cannot carry */
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    wsp_socks5 s;
    uint8_t out[WSP_SOCKS5_OUT_MAX];
    size_t n;
    assert_int_equal(wsp_socks5_begin(&s, &p, longname, 1, out, &n, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),         cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_select_env),    cmocka_unit_test(test_select_flag),
        cmocka_unit_test(test_noproxy),       cmocka_unit_test(test_connect_request),
        cmocka_unit_test(test_connect_judge), cmocka_unit_test(test_socks5),
    };
    return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
