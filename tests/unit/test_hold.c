/* test_hold.c - hold/hold.h's pure parts: the ping ladder, and the reading of the ends (an
 * idle timeout, a lifetime cap, connections that lived, the gates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "probe/hold.h"

static void test_ladder(void **state)
{
    (void)state;
    uint64_t v[WSP_HOLD_MAX_LADDER];
    size_t n;
    wsp_err e;
    assert_int_equal(wsp_hold_ladder_parse("15s,30s,45s,90s", v, WSP_HOLD_MAX_LADDER, &n, &e), 0);
    assert_int_equal(n, 4);
    assert_true(v[0] == 15000000 && v[3] == 90000000);
    assert_int_equal(wsp_hold_ladder_parse("500ms", v, WSP_HOLD_MAX_LADDER, &n, &e), 0);
    assert_int_equal(n, 1);
    const char *bad[] = {"", "30s,15s", "10s,10s", "x", "15s,,30s", "50ms", "1s,", NULL};
    for (int i = 0; bad[i]; i++) {
        assert_int_equal(wsp_hold_ladder_parse(bad[i], v, WSP_HOLD_MAX_LADDER, &n, &e), -1);
        assert_int_equal(e.cls, WSP_CLASS_USAGE);
    }
    assert_int_equal(wsp_hold_ladder_parse("1s,2s,3s", v, 2, &n, &e), -1);
}

/* Three strategies (silent, pings 1 s, pings 20 s), two connections each, all held. */
typedef struct fixture {
    wsp_hold_config c;
    wsp_hold_result r;
    wsp_hold_end e[6];
    wsp_hold_analysis a;
} fixture;

static void setup(wsp_hold_config *c, wsp_hold_result *r, wsp_hold_end *ends)
{
    memset(c, 0, sizeof *c);
    c->nstrategies = 3;
    c->per_strategy = 2;
    c->duration_us = 60000000;
    c->strategies[0] = (wsp_hold_strategy){.kind = WSP_HOLD_SILENT, .name = "silent"};
    c->strategies[1] = (wsp_hold_strategy){WSP_HOLD_PINGS, 1000000, "ping-1s"};
    c->strategies[2] = (wsp_hold_strategy){WSP_HOLD_PINGS, 20000000, "ping-20s"};
    memset(ends, 0, 6 * sizeof *ends);
    for (unsigned i = 0; i < 6; i++) {
        ends[i].strategy = i / 2;
        ends[i].index = i % 2 + 1;
        ends[i].how = WSP_HOLD_HELD;
        ends[i].opened_at = 0.01;
        ends[i].lifetime = 59.99;
        ends[i].close_code = -1;
    }
    r->ends = ends;
    r->nends = 6;
}

static fixture *fresh(void)
{
    static fixture f;
    setup(&f.c, &f.r, f.e);
    return &f;
}

static const wsp_hold_analysis *analyse(fixture *f)
{
    wsp_hold_analyse(&f->c, &f->r, &f->a);
    return &f->a;
}

static bool said(const wsp_hold_analysis *a, const char *words)
{
    for (size_t i = 0; i < a->nfindings; i++)
        if (strstr(a->findings[i], words))
            return true;
    return false;
}

static void test_idle_timeout(void **state)
{
    (void)state;
    fixture *f = fresh();
    f->e[0].how = f->e[1].how = WSP_HOLD_FIN; /* silent: cut at 10 s */
    f->e[0].lifetime = 10.0;
    f->e[1].lifetime = 10.1;
    f->e[4].how = f->e[5].how = WSP_HOLD_FIN; /* pings every 20 s do not beat it */
    f->e[4].lifetime = f->e[5].lifetime = 10.05;
    const wsp_hold_analysis *a = analyse(f);
    assert_false(a->lifetime_cap);
    assert_true(a->idle_timeout_s > 10.0 && a->idle_timeout_s < 10.1);
    assert_int_equal(a->per[0].ended, 2);
    assert_int_equal(a->per[1].held, 2);
    assert_int_equal(a->per[0].dominant, WSP_HOLD_FIN);
    assert_true(said(a, "idle timeout"));
    assert_true(said(a, "stay alive for the whole"));
    assert_true(a->ok); /* no gate given: hold observes */
    /* the gates */
    f->c.expect_lifetime_us = 30000000;
    analyse(f);
    assert_false(a->ok);
    assert_false(a->gates[1].ok);
    assert_int_equal(a->gates[1].failed, 2); /* the 20 s rung */
    assert_int_equal(a->gates[1].of, 4);
    assert_true(a->gates[2].ok && !a->gates[2].applies);
    f->c.expect_lifetime_us = 0;
    f->c.expect_silent_lifetime_us = 5000000; /* silent lived 10 s: enough */
    analyse(f);
    assert_true(a->ok && a->gates[2].applies && a->gates[2].of == 2);
}

static void test_lifetime_cap(void **state)
{
    (void)state;
    fixture *f = fresh();
    for (int i = 0; i < 6; i++) {
        f->e[i].how = WSP_HOLD_FIN;
        f->e[i].lifetime = 30.0 + 0.05 * i;
    }
    const wsp_hold_analysis *a = analyse(f);
    assert_true(a->lifetime_cap);
    assert_true(a->idle_timeout_s == 0);
    assert_true(said(a, "lifetime cap"));
    /* the same ages with one strategy alive: not a cap */
    f->e[2].how = f->e[3].how = WSP_HOLD_HELD;
    analyse(f);
    assert_false(a->lifetime_cap);
}

static void test_never_opened(void **state)
{
    (void)state;
    fixture *f = fresh();
    for (int i = 0; i < 6; i++) {
        f->e[i].how = WSP_HOLD_NEVER_OPENED;
        f->e[i].cls = i == 0 ? WSP_CLASS_HS_TIMEOUT : WSP_CLASS_TCP_REFUSED;
    }
    const wsp_hold_analysis *a = analyse(f);
    assert_int_equal(a->opened, 0);
    assert_int_equal(a->common_cls, WSP_CLASS_TCP_REFUSED);
    assert_false(a->gates[0].ok);
    assert_int_equal(a->gates[0].failed, 6);
    assert_true(said(a, "never opened"));
}

/* --each-address: three addresses, one strategy, two connections each (the ends laid out
 * address by address). The first failing address in order decides the exit code. */
static void test_each_address_verdict(void **state)
{
    (void)state;
    wsp_hold_config c;
    wsp_hold_result r;
    wsp_hold_end e[6];
    wsp_hold_verdict v;
    setup(&c, &r, e);
    c.nstrategies = 1;
    c.naddresses = 3;
    for (unsigned i = 0; i < 6; i++) {
        e[i].address = i / 2;
        e[i].strategy = 0;
        snprintf(c.addresses[i / 2].text, sizeof c.addresses[0].text, "10.0.0.%u", i / 2 + 1);
    }
    assert_int_equal(wsp_hold_judge(&c, &r, &v), 0);
    assert_true(v.ok && v.addresses_ok == 3 && v.first_failed == 3 && v.exit_code == 0);
    assert_string_equal(v.summary, "3 of 3 addresses held");
    wsp_hold_verdict_cleanup(&v);
    /* the second dies below the silent gate, the third never opens: the second decides */
    c.expect_silent_lifetime_us = 30000000;
    e[2].how = WSP_HOLD_FIN;
    e[2].lifetime = 10.0;
    e[2].cls = WSP_CLASS_WS_DROPPED;
    e[4].how = e[5].how = WSP_HOLD_NEVER_OPENED;
    e[4].opened_at = e[5].opened_at = -1;
    e[4].cls = e[5].cls = WSP_CLASS_UPGRADE_SERVER_ERROR;
    assert_int_equal(wsp_hold_judge(&c, &r, &v), 0);
    assert_false(v.ok);
    assert_int_equal(v.first_failed, 1);
    assert_int_equal(v.exit_code, 1);
    assert_int_equal(v.cls, WSP_CLASS_WS_DROPPED);
    assert_non_null(strstr(v.summary, "1 of 3 addresses held; 10.0.0.2: 1 of 2 connections"));
    assert_int_equal(wsp_hold_analysis_exit_code(&v.per[2]),
                     wsp_class_exit_code(WSP_CLASS_UPGRADE_SERVER_ERROR));
    assert_true(v.per[0].ok && v.per[0].gates[2].of == 2);
    wsp_hold_verdict_cleanup(&v);
    /* the second healed: the third's class is the exit code */
    e[2].how = WSP_HOLD_HELD;
    assert_int_equal(wsp_hold_judge(&c, &r, &v), 0);
    assert_int_equal(v.first_failed, 2);
    assert_int_equal(v.exit_code, wsp_class_exit_code(WSP_CLASS_UPGRADE_SERVER_ERROR));
    assert_int_equal(v.cls, WSP_CLASS_UPGRADE_SERVER_ERROR);
    wsp_hold_verdict_cleanup(&v);
}

static void test_close_frames(void **state)
{
    (void)state;
    fixture *f = fresh();
    for (int i = 0; i < 6; i++) {
        f->e[i].how = WSP_HOLD_CLOSE_FRAME;
        f->e[i].close_code = i < 5 ? 1001 : 1012;
        f->e[i].lifetime = 5;
    }
    const wsp_hold_analysis *a = analyse(f);
    assert_false(a->lifetime_cap); /* a server that closes politely is not a cap */
    assert_int_equal(a->per[0].close_code, 1001);
    assert_true(said(a, "close frame, code 1001"));
    assert_string_equal(wsp_hold_how_name(WSP_HOLD_CLOSE_FRAME), "close_frame");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder),       cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_lifetime_cap), cmocka_unit_test(test_never_opened),
        cmocka_unit_test(test_close_frames), cmocka_unit_test(test_each_address_verdict),
    };
    return cmocka_run_group_tests_name("hold", tests, NULL, NULL);
}
