/* test_opt.c - typed options (util/opt.h) and the probe's builder that reads them
 * (probe/setup.h): one message per type naming the option, bounds, lookups by name, short
 * name and plan key, and the help layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "probe/setup.h"
#include "util/opt.h"

static const char *const colours[] = {"red", "green", NULL};

static const wsp_opt table[] = {
    {"Things:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"wait", 'w', WSP_OPT_DURATION, 1, "DUR", "how long", 0, 0, NULL, "wait", 0},
    {"size", 0, WSP_OPT_SIZE, 2, "SIZE", "how big", 16, 1024, NULL, NULL, 0},
    {"count", 0, WSP_OPT_COUNT, 3, "N", "how many\nsecond line", 1, 10, NULL, "limits.count", 0},
    {"rate", 0, WSP_OPT_NUMBER, 4, "R", "how often", 0, 0, NULL, NULL, 0},
    {"colour", 0, WSP_OPT_ENUM, 5, "C", "which", 0, 0, colours, NULL, 0},
    {"var", 0, WSP_OPT_ENV, 6, "VAR", "where", 0, 0, NULL, NULL, 0},
    {"flag", 0, WSP_OPT_FLAG, 7, NULL, "on", 0, 0, NULL, NULL, 0},
    {"text", 0, WSP_OPT_TEXT, 8, "T", NULL, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};
static const wsp_opt *const tables[] = {table, NULL};

static const wsp_opt *opt(const char *name)
{
    const wsp_opt *o = wsp_opt_by_name(tables, name);
    assert_non_null(o);
    return o;
}

static void test_values(void **state)
{
    (void)state;
    wsp_opt_value v;
    wsp_err e;
    assert_int_equal(wsp_opt_parse(opt("wait"), NULL, "250ms", &v, &e), 0);
    assert_int_equal(v.u, 250000);
    assert_int_equal(wsp_opt_parse(opt("size"), NULL, "1K", &v, &e), 0);
    assert_int_equal(v.u, 1024);
    assert_int_equal(wsp_opt_parse(opt("count"), NULL, "10", &v, &e), 0);
    assert_int_equal(v.u, 10);
    assert_int_equal(wsp_opt_parse(opt("rate"), NULL, "2.5", &v, &e), 0);
    assert_true(v.d == 2.5);
    assert_int_equal(wsp_opt_parse(opt("colour"), NULL, "green", &v, &e), 0);
    assert_int_equal(v.u, 1);
    assert_int_equal(wsp_opt_parse(opt("flag"), NULL, NULL, &v, &e), 0);
    assert_int_equal(wsp_opt_parse(opt("var"), NULL, "API_TOKEN", &v, &e), 0);
}

static void expect_fail(const char *name, const char *label, const char *arg, const char *needle)
{
    wsp_opt_value v;
    wsp_err e;
    assert_int_equal(wsp_opt_parse(opt(name), label, arg, &v, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_USAGE);
    if (!strstr(e.msg, needle))
        fail_msg("%s: '%s' not in '%s'", name, needle, e.msg);
}

static void test_refusals_name_the_option(void **state)
{
    (void)state;
    expect_fail("wait", NULL, "soon", "--wait 'soon': expected a duration like");
    expect_fail("wait", NULL, "0s", "--wait '0s'");
    expect_fail("wait", "environments.prod.wait", "x", "environments.prod.wait 'x': expected");
    expect_fail("size", NULL, "8", "--size '8': expected a size"); /* below min 16 */
    expect_fail("size", NULL, "2K", "--size '2K'");                /* above max 1024 */
    expect_fail("count", NULL, "0", "expected a whole number from 1 to 10");
    expect_fail("count", NULL, "11", "from 1 to 10");
    expect_fail("count", NULL, "-1", "from 1 to 10");
    expect_fail("count", NULL, "3x", "from 1 to 10");
    expect_fail("rate", NULL, "0", "a number above 0");
    expect_fail("rate", NULL, "nan", "a number above 0");
    expect_fail("colour", NULL, "blue", "expected one of red, green");
    expect_fail("flag", NULL, "yes", "--flag takes no value");
    expect_fail("wait", NULL, NULL, "--wait needs a value");
    expect_fail("text", NULL, "a\nb", "--text: expected one line"); /* not repeated raw */
}

/* The value of a variable-name option is never repeated: it may be the secret itself. */
static void test_env_value_not_repeated(void **state)
{
    (void)state;
    wsp_opt_value v;
    wsp_err e;
    assert_int_equal(wsp_opt_parse(opt("var"), NULL, "s3cr3t-value!", &v, &e), -1);
    assert_null(strstr(e.msg, "s3cr3t"));
}

static void test_lookups(void **state)
{
    (void)state;
    assert_string_equal(wsp_opt_by_short(tables, 'w')->name, "wait");
    assert_int_equal(wsp_opt_by_id(tables, 5)->type, WSP_OPT_ENUM);
    assert_string_equal(wsp_opt_by_plan_key(tables, "limits.count")->name, "count");
    assert_null(wsp_opt_by_name(tables, "Things:")); /* a heading is not an option */
    assert_null(wsp_opt_by_plan_key(tables, "nope"));
}

static void test_help_layout(void **state)
{
    (void)state;
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    assert_non_null(f);
    const char *const omit[] = {"rate", NULL};
    wsp_opt_help(f, tables, omit);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(text, "Things:\n  -w, --wait DUR               how long\n"));
    assert_non_null(strstr(text, "      --count N                how many\n"
                                 "                               second line\n"));
    assert_null(strstr(text, "--rate")); /* omitted */
    assert_null(strstr(text, "--text")); /* no help: hidden */
    free(text);
    /* a heading whose every option is left out is left out too */
    f = open_memstream(&text, &n);
    assert_non_null(f);
    const char *const all[] = {"wait", "size", "count", "rate", "colour", "var", "flag", NULL};
    wsp_opt_help(f, tables, all);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(text, "");
    free(text);
    /* an option of the same name earlier in the tables shadows a later one */
    static const wsp_opt own[] = {
        {"wait", 0, WSP_OPT_DURATION, 99, "DUR", "the whole wait", 0, 0, NULL, NULL, 0},
        {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    };
    const wsp_opt *const both[] = {own, table, NULL};
    assert_int_equal(wsp_opt_by_name(both, "wait")->id, 99);
    assert_true(wsp_opt_shadowed(both, &table[1]));
    assert_false(wsp_opt_shadowed(both, &own[0]));
}

/* The probe's builder: the same option gives the same configuration from any source, and
 * finish finds what the combination gets wrong before any connection. */
static void test_probe_setup(void **state)
{
    (void)state;
    wsp_probe_setup s;
    wsp_probe_setup_init(&s);
    wsp_err e;
    const wsp_opt *t = wsp_opt_by_plan_key(wsp_probe_opt_tables, "timeout");
    assert_non_null(t);
    assert_int_equal(s.cfg.conn.timeout_us, WSP_PROBE_DEFAULT_TIMEOUT_US);
    assert_int_equal(wsp_probe_setup_set(&s, t, NULL, "2s", &e), 0);
    assert_int_equal(s.cfg.conn.timeout_us, 2000000);
    const wsp_opt *h = wsp_opt_by_short(wsp_probe_opt_tables, 'H');
    assert_int_equal(wsp_probe_setup_set(&s, h, NULL, "Sec-WebSocket-Key: x", &e), -1);
    assert_non_null(strstr(e.msg, "writes this header itself"));
    assert_int_equal(wsp_probe_setup_set(&s, h, NULL, "X-Trace: 1", &e), 0);
    const wsp_opt *key = wsp_opt_by_plan_key(wsp_probe_opt_tables, "tls.key_file");
    assert_int_equal(wsp_probe_setup_set(&s, key, NULL, "/k.pem", &e), 0);
    assert_int_equal(wsp_probe_setup_finish(&s, "ws://127.0.0.1:9/", false, &e), -1);
    assert_non_null(strstr(e.msg, "--key needs --cert"));
    wsp_probe_setup_cleanup(&s);

    wsp_probe_setup_init(&s);
    assert_int_equal(wsp_probe_setup_finish(&s, "http://x/", false, &e), -1);
    assert_int_equal(e.cls, WSP_CLASS_URL_INVALID);
    wsp_probe_setup_cleanup(&s);

    /* the pong wait defaults to the phase timeout; the timeout never outlasts the deadline */
    wsp_probe_setup_init(&s);
    const wsp_opt *dl = wsp_opt_by_name(wsp_probe_opt_tables, "deadline");
    assert_int_equal(wsp_probe_setup_set(&s, dl, NULL, "1s", &e), 0);
    assert_int_equal(wsp_probe_setup_finish(&s, "ws://127.0.0.1:9/", true, &e), 0);
    assert_int_equal(s.cfg.conn.timeout_us, 1000000);
    assert_int_equal(s.cfg.pong_timeout_us, 1000000);
    wsp_probe_setup_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_refusals_name_the_option),
        cmocka_unit_test(test_env_value_not_repeated),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_help_layout),
        cmocka_unit_test(test_probe_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
