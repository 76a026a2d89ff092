/* test_template.c - placeholders, durations and JSON pointers (the small pure helpers the
 * conversation steps stand on). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/dns.h"
#include "util/duration.h"
#include "codec/jsonptr.h"
#include "util/rand.h"
#include "codec/template.h"
#include "probe/probe.h"

static int counting_rng(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)i;
    return 0;
}

static void test_uuid_is_v4_and_from_the_rng(void **state)
{
    (void)state;
    wsp_rand_set_hook(counting_rng, NULL);
    size_t len;
    wsp_err e;
    char *s = wsp_tmpl_expand("id={{uuid}}!", NULL, &len, &e);
    wsp_rand_set_hook(NULL, NULL);
    assert_non_null(s);
    /* bytes 00..0f with the version and variant bits set (RFC 4122 4.4) */
    assert_string_equal(s, "id=00010203-0405-4607-8809-0a0b0c0d0e0f!");
    assert_int_equal(len, strlen(s));
    free(s);
}

/* The per-thread pool hands out each byte once: many small draws are all different, and large
 * ones bypass it. */
static void test_rand_pool(void **state)
{
    (void)state;
    enum { N = 3000 }; /* more than one pool's worth of 4-byte masks */
    static uint32_t seen[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(wsp_rand_bytes((uint8_t *)&seen[i], 4), 0);
        for (int j = i - 8 < 0 ? 0 : i - 8; j < i; j++)
            assert_int_not_equal(seen[i], seen[j]);
    }
    uint8_t big1[100], big2[100];
    assert_int_equal(wsp_rand_bytes(big1, sizeof big1), 0);
    assert_int_equal(wsp_rand_bytes(big2, sizeof big2), 0);
    assert_memory_not_equal(big1, big2, sizeof big1);
}

static char *fake_env(const char *name)
{
    static char alice[] = "alice";
    return strcmp(name, "WSP_T_NAME") == 0 ? alice : NULL;
}

static int64_t fake_clock(void)
{
    return 1700000000123LL;
}

static void test_env_and_now(void **state)
{
    (void)state;
    /* the clock and the environment come from the context: the codec reads neither */
    wsp_tmpl_ctx ctx = {NULL, 0, fake_clock, fake_env};
    wsp_err e;
    size_t len = 0;
    char *s = wsp_tmpl_expand("{\"u\":\"{{env.WSP_T_NAME}}\",\"t\":{{now}},\"m\":{{now_ms}}}", &ctx,
                              &len, &e);
    assert_non_null(s);
    assert_string_equal(s, "{\"u\":\"alice\",\"t\":1700000000,\"m\":1700000000123}");
    assert_int_equal(len, strlen(s));
    free(s);
    /* an unset variable, and no clock or environment at all, are errors, never guesses */
    assert_null(wsp_tmpl_expand("{{env.WSP_T_OTHER}}", &ctx, NULL, &e));
    assert_null(wsp_tmpl_expand("{{now}}", NULL, NULL, &e));
    assert_null(wsp_tmpl_expand("{{env.WSP_T_NAME}}", NULL, NULL, &e));
    /* the live context of the probe layer is a real clock */
    setenv("WSP_T_NAME", "bob", 1);
    wsp_tmpl_ctx live = wsp_probe_tmpl_ctx(NULL, 0);
    s = wsp_tmpl_expand("{{env.WSP_T_NAME}} {{now}}", &live, NULL, &e);
    assert_non_null(s);
    long long t = 0;
    char name[8];
    assert_int_equal(sscanf(s, "%3s %lld", name, &t), 2);
    assert_string_equal(name, "bob");
    assert_true(t > 1600000000LL);
    free(s);
}

static void test_check_rejects_unknown_and_unset(void **state)
{
    (void)state;
    wsp_err e;
    unsetenv("WSP_T_UNSET");
    assert_int_equal(wsp_tmpl_check("{{nope}}", false, "--send", getenv, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_non_null(strstr(e.msg, "--send"));
    assert_int_equal(wsp_tmpl_check("{{env.WSP_T_UNSET}}", false, "--send", getenv, &e), -1);
    assert_int_equal(wsp_tmpl_check("{{sent./id}}", false, "--send", getenv, &e), -1);
    assert_int_equal(wsp_tmpl_check("{{sent./id}}", true, "--expect-json", getenv, &e), 0);
    assert_int_equal(wsp_tmpl_check("{{sent.id}}", true, "--expect-json", getenv, &e), -1);
    assert_int_equal(wsp_tmpl_check("plain {{uuid}} {{now}} {{now_ms}}", false, "x", getenv, &e),
                     0);
    assert_int_equal(wsp_tmpl_check("no vars at all", false, "x", getenv, &e), 0);
}

static void test_sent_correlation(void **state)
{
    (void)state;
    const char *sent = "{\"type\":\"chat\",\"id\":\"abc-1\",\"n\":5,\"o\":{\"a~b\":[1,2]}}";
    wsp_tmpl_ctx ctx = {sent, strlen(sent)};
    wsp_err e;
    char *s = wsp_tmpl_expand("{{sent./id}}", &ctx, NULL, &e);
    assert_string_equal(s, "abc-1");
    free(s);
    s = wsp_tmpl_expand("{{sent./n}}", &ctx, NULL, &e);
    assert_string_equal(s, "5");
    free(s);
    s = wsp_tmpl_expand("{{sent./o/a~0b/1}}", &ctx, NULL, &e);
    assert_string_equal(s, "2");
    free(s);
    assert_null(wsp_tmpl_expand("{{sent./missing}}", &ctx, NULL, &e));
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    assert_null(wsp_tmpl_expand("{{sent./id}}", NULL, NULL, &e));
}

static void test_unterminated_is_literal(void **state)
{
    (void)state;
    wsp_err e;
    char *s = wsp_tmpl_expand("a {{ b", NULL, NULL, &e);
    assert_string_equal(s, "a {{ b");
    free(s);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        uint64_t us;
    } cases[] = {
        {"250ms", 0, 250000}, {"2s", 0, 2000000},       {"2", 0, 2000000},  {"1.5s", 0, 1500000},
        {"5m", 0, 300000000}, {"1h", 0, 3600000000ull}, {"100us", 0, 100},  {"0.001s", 0, 1000},
        {"", -1, 0},          {"-1s", -1, 0},           {"5 s", -1, 0},     {"5x", -1, 0},
        {"ms", -1, 0},        {"99999999999h", -1, 0},  {".5s", 0, 500000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t us = 0;
        assert_int_equal(wsp_duration_parse(cases[i].in, &us), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(us, cases[i].us);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t max;
        int rc;
        uint64_t v;
    } cases[] = {
        {"123", 1000, 0, 123},
        {"64K", 1u << 20, 0, 65536},
        {"64KiB", 1u << 20, 0, 65536},
        {"16M", 1ull << 40, 0, 16u << 20},
        {"2GB", 1ull << 40, 0, 2ull << 30},
        {"1T", 1ull << 40, 0, 1ull << 40},
        {"0", 100, -1, 0},
        {"", 100, -1, 0},
        {"-1", 100, -1, 0},
        {"1X", 100, -1, 0},
        {"65K", 64u << 10, -1, 0},
        {"99999999999999999999", UINT64_MAX, -1, 0},
        {"1 K", 1u << 20, -1, 0},
        {"1iB", 100, -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 0;
        assert_int_equal(wsp_size_parse(cases[i].in, cases[i].max, &v), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(v, cases[i].v);
    }
}

static void test_resolve_pins(void **state)
{
    (void)state;
    wsp_dns_pin pin;
    assert_int_equal(wsp_dns_pin_parse("api.example.com:443:10.0.0.7,[::1],::2", &pin), 0);
    assert_string_equal(pin.host, "api.example.com");
    assert_int_equal(pin.port, 443);
    assert_int_equal(pin.num, 3);
    assert_int_equal(pin.addrs[0].ss_family, AF_INET);
    assert_int_equal(pin.addrs[1].ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in *)&pin.addrs[0])->sin_port), 443);
    static const char *const bad[] = {
        "host:443",      ":443:1.2.3.4", "h:0:1.2.3.4",     "h:70000:1.2.3.4",
        "h:44x:1.2.3.4", "h:443:",       "h:443:not-an-ip", "h:443:1.2.3.4,,1.2.3.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wsp_dns_pin_parse(bad[i], &pin), -1);
}

/* RFC 6901 section 5's examples */
static void test_jsonptr_rfc6901(void **state)
{
    (void)state;
    json_error_t je;
    json_t *doc = json_loads("{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,"
                             "\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,\" \":7,\"m~n\":8}",
                             0, &je);
    assert_non_null(doc);
    assert_ptr_equal(wsp_jsonptr_get(doc, ""), doc);
    assert_string_equal(json_string_value(wsp_jsonptr_get(doc, "/foo/0")), "bar");
    static const struct {
        const char *p;
        int v;
    } ints[] = {{"/", 0},     {"/a~1b", 1}, {"/c%d", 2}, {"/e^f", 3}, {"/g|h", 4},
                {"/i\\j", 5}, {"/k\"l", 6}, {"/ ", 7},   {"/m~0n", 8}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        assert_int_equal(json_integer_value(wsp_jsonptr_get(doc, ints[i].p)), ints[i].v);
    assert_null(wsp_jsonptr_get(doc, "/foo/2"));
    assert_null(wsp_jsonptr_get(doc, "/foo/01"));
    assert_null(wsp_jsonptr_get(doc, "/foo/-"));
    assert_null(wsp_jsonptr_get(doc, "foo"));
    assert_null(wsp_jsonptr_get(doc, "/m~2n"));
    assert_false(wsp_jsonptr_valid("/a~"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_is_v4_and_from_the_rng),
        cmocka_unit_test(test_rand_pool),
        cmocka_unit_test(test_env_and_now),
        cmocka_unit_test(test_check_rejects_unknown_and_unset),
        cmocka_unit_test(test_sent_correlation),
        cmocka_unit_test(test_unterminated_is_literal),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_resolve_pins),
        cmocka_unit_test(test_jsonptr_rfc6901),
    };
    return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}
