/* test_load.c - the pure parts of `wsprobe load`: threshold parsing and evaluation, the send
 * schedule, the baseline comparison, and the JSON round trip and merge of reports (exact
 * combined percentiles). The engine itself is tested end to end (tests/e2e/test_load.py). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "load/load.h"

#define MS 1000000ull

/* ---- thresholds ---- */

typedef struct th_case {
    const char *text;
    wsp_load_metric_kind kind;
    wsp_load_hist_sel hist;
    wsp_load_phase phase;
    double percentile;
    wsp_load_op op;
    double limit;
} th_case;

static void test_threshold_parse_valid(void **state)
{
    (void)state;
    static const th_case cases[] = {
        {"p99<50ms", WSP_LOAD_M_LATENCY, WSP_LOAD_H_LATENCY, 0, 99, WSP_LOAD_LT, 50e6},
        {"p50<=2s", WSP_LOAD_M_LATENCY, WSP_LOAD_H_LATENCY, 0, 50, WSP_LOAD_LE, 2e9},
        {"p99.9 < 100us", WSP_LOAD_M_LATENCY, WSP_LOAD_H_LATENCY, 0, 99.9, WSP_LOAD_LT, 100e3},
        {"p999<1ms", WSP_LOAD_M_LATENCY, WSP_LOAD_H_LATENCY, 0, 99.9, WSP_LOAD_LT, 1e6},
        {"p9999<1ms", WSP_LOAD_M_LATENCY, WSP_LOAD_H_LATENCY, 0, 99.99, WSP_LOAD_LT, 1e6},
        {"max<1s", WSP_LOAD_M_LATENCY, WSP_LOAD_H_LATENCY, 0, 100, WSP_LOAD_LT, 1e9},
        {"mean<5ms", WSP_LOAD_M_LATENCY, WSP_LOAD_H_LATENCY, 0, -1, WSP_LOAD_LT, 5e6},
        {"connect_p95<20ms", WSP_LOAD_M_LATENCY, WSP_LOAD_H_PHASE, WSP_LOAD_PH_CONNECT, 95,
         WSP_LOAD_LT, 20e6},
        {"tls_p99<30ms", WSP_LOAD_M_LATENCY, WSP_LOAD_H_PHASE, WSP_LOAD_PH_TLS, 99, WSP_LOAD_LT,
         30e6},
        {"handshake_max<1s", WSP_LOAD_M_LATENCY, WSP_LOAD_H_PHASE, WSP_LOAD_PH_HANDSHAKE, 100,
         WSP_LOAD_LT, 1e9},
        {"uncorrected_p99<10ms", WSP_LOAD_M_LATENCY, WSP_LOAD_H_UNCORRECTED, 0, 99, WSP_LOAD_LT,
         10e6},
        {"errors<0.1%", WSP_LOAD_M_ERROR_RATE, 0, 0, 0, WSP_LOAD_LT, 0.001},
        {"error_rate<=0.01", WSP_LOAD_M_ERROR_RATE, 0, 0, 0, WSP_LOAD_LE, 0.01},
        {"errors<5", WSP_LOAD_M_ERRORS, 0, 0, 0, WSP_LOAD_LT, 5},
        {"rate>=1000", WSP_LOAD_M_RATE, 0, 0, 0, WSP_LOAD_GE, 1000},
        {"rate>900/s", WSP_LOAD_M_RATE, 0, 0, 0, WSP_LOAD_GT, 900},
        {"connections>=1000", WSP_LOAD_M_CONNECTIONS, 0, 0, 0, WSP_LOAD_GE, 1000},
        {"connection_errors<1%", WSP_LOAD_M_ERROR_RATE, 0, 0, 0, WSP_LOAD_LT, 0.01},
        {"message_errors<=3", WSP_LOAD_M_ERRORS, 0, 0, 0, WSP_LOAD_LE, 3},
        {"message_error_rate<0.5", WSP_LOAD_M_ERROR_RATE, 0, 0, 0, WSP_LOAD_LT, 0.5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const th_case *c = &cases[i];
        wsp_load_threshold t;
        wsp_err e;
        wsp_err_clear(&e);
        int rc = wsp_load_threshold_parse(c->text, &t, &e);
        if (rc != 0)
            fail_msg("'%s' did not parse: %s", c->text, e.msg);
        assert_int_equal(t.kind, c->kind);
        assert_int_equal(t.op, c->op);
        assert_true(fabs(t.limit - c->limit) <= 1e-9 * (c->limit + 1));
        assert_string_equal(t.text, c->text);
        if (c->kind == WSP_LOAD_M_LATENCY) {
            assert_int_equal(t.hist, c->hist);
            if (c->hist == WSP_LOAD_H_PHASE)
                assert_int_equal(t.phase, c->phase);
            assert_true(fabs(t.percentile - c->percentile) < 1e-9);
        }
    }
}

static void test_threshold_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "p99",
        "p99<",
        "<5ms",
        "p99<50",
        "p99<50xs",
        "p99=50ms",
        "p0<5ms",
        "p101<5ms",
        "p9x<5ms",
        "pp<5ms",
        "bogus<5ms",
        "p99<-1ms",
        "errors<5ms",
        "rate<5ms",
        "connections<1%",
        "p99<abc",
        "error_rate<2",
        "connection_rate<5",
        "message_p99<5ms",
        "connect_p95<20",
        "tls_<5ms",
        "latency_p99 5ms",
        "p99<50ms extra words that make this far longer than sixty-four bytes of text",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsp_load_threshold t;
        wsp_err e;
        wsp_err_clear(&e);
        if (wsp_load_threshold_parse(bad[i], &t, &e) == 0)
            fail_msg("'%s' parsed but must not", bad[i]);
        assert_int_equal(e.cls, WSP_CLASS_USAGE);
        assert_true(e.msg[0] != '\0');
    }
}

static wsp_load_result *result_with(const uint64_t *lat, size_t n)
{
    wsp_load_result *r = wsp_load_result_new();
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        wsp_hist_record(&r->latency, lat[i]);
        wsp_hist_record(&r->latency_uncorrected, lat[i] / 2);
    }
    r->msg_sent = r->msg_matched = n;
    r->conn_attempted = r->conn_opened = 10;
    r->measured_s = 2.0;
    return r;
}

static bool holds(const char *text, const wsp_load_result *r, double *v)
{
    wsp_load_threshold t;
    assert_int_equal(wsp_load_threshold_parse(text, &t, NULL), 0);
    return wsp_load_threshold_eval(&t, r, v);
}

static void test_threshold_eval(void **state)
{
    (void)state;
    uint64_t lat[100];
    for (int i = 0; i < 100; i++)
        lat[i] = (uint64_t)(i + 1) * MS; /* 1..100 ms */
    wsp_load_result *r = result_with(lat, 100);
    double v;
    assert_true(holds("p50<51ms", r, &v));
    assert_true(v >= 50e6 * 0.99 && v <= 50e6 * 1.01);
    assert_false(holds("p50<49ms", r, &v));
    assert_true(holds("p99<=100ms", r, &v));
    assert_false(holds("p99<98ms", r, &v));
    assert_true(holds("max<=100ms", r, &v));
    assert_true(v == 100e6);
    assert_true(holds("uncorrected_p99<51ms", r, &v));
    assert_true(holds("errors<0.1%", r, &v));
    assert_true(v == 0);
    assert_true(holds("rate>=50", r, &v));
    assert_true(v == 50);
    assert_true(holds("connections>=10", r, &v));
    assert_false(holds("connections>10", r, &v));
    /* 1 message of 100 timed out: rates per kind, never over connections and messages at once */
    r->by_class[WSP_CLASS_WS_MSG_TIMEOUT] = 1;
    r->msg_timeout = 1;
    assert_false(holds("errors<0.1%", r, &v));
    assert_true(fabs(v - 1.0 / 100) < 1e-12);
    assert_true(holds("errors<2%", r, &v));
    assert_false(holds("message_errors<1%", r, &v));
    assert_true(holds("connection_errors<0.1%", r, &v));
    assert_true(v == 0);
    assert_false(holds("errors<1", r, &v));
    assert_true(holds("errors<=1", r, &v));
    assert_true(holds("message_errors<=1", r, &v));
    assert_true(holds("connection_errors<1", r, &v));
    /* no samples: a latency threshold cannot hold */
    assert_false(holds("connect_p95<1s", r, &v));
    assert_true(isnan(v));
    char buf[32];
    wsp_load_threshold t;
    assert_int_equal(wsp_load_threshold_parse("p99<1s", &t, NULL), 0);
    wsp_load_threshold_format(&t, 12.5e6, buf, sizeof buf);
    assert_string_equal(buf, "12.5ms");
    assert_int_equal(wsp_load_threshold_parse("errors<1%", &t, NULL), 0);
    wsp_load_threshold_format(&t, 0.0005, buf, sizeof buf);
    assert_string_equal(buf, "0.05%");
    wsp_load_result_free(r);
}

/* ---- the default gates ---- */

static void test_gates(void **state)
{
    (void)state;
    uint64_t lat[100];
    for (int i = 0; i < 100; i++)
        lat[i] = MS;
    wsp_load_result *r = result_with(lat, 100); /* 10 connections, 100 messages in 2 s */
    wsp_load_gate g[WSP_LOAD_GATES];
    wsp_load_gates_eval(r, NULL, 0, g);
    assert_true(g[WSP_LOAD_GATE_CONNECTIONS].applies && g[WSP_LOAD_GATE_CONNECTIONS].ok);
    assert_false(g[WSP_LOAD_GATE_RATE].applies); /* no --rate: nothing offered */
    assert_false(g[WSP_LOAD_GATE_MESSAGES].applies);
    r->rate = 50; /* 50/s matched of 50/s offered */
    r->conn_failed = 1;
    r->msg_lost = 1;
    wsp_load_gates_eval(r, NULL, 0, g);
    assert_false(g[WSP_LOAD_GATE_CONNECTIONS].ok);
    assert_false(g[WSP_LOAD_GATE_MESSAGES].ok);
    assert_true(g[WSP_LOAD_GATE_RATE].ok);
    r->rate = 53; /* 50 >= 95 % of 53 less one slot per connection in 2 s (10 / 2 = 5/s) */
    wsp_load_gates_eval(r, NULL, 0, g);
    assert_true(g[WSP_LOAD_GATE_RATE].ok);
    assert_true(fabs(g[WSP_LOAD_GATE_RATE].limit - (53 * 0.95 - 10 / 2.0)) < 1e-9);
    r->rate = 60; /* 50 < 57 - 5 */
    wsp_load_gates_eval(r, NULL, 0, g);
    assert_false(g[WSP_LOAD_GATE_RATE].ok);
    /* a threshold of a kind replaces that kind's gate only */
    wsp_load_threshold th[2];
    assert_int_equal(wsp_load_threshold_parse("message_errors<5%", &th[0], NULL), 0);
    assert_int_equal(wsp_load_threshold_parse("p99<1s", &th[1], NULL), 0);
    wsp_load_gates_eval(r, th, 2, g);
    assert_true(g[WSP_LOAD_GATE_MESSAGES].ok && !g[WSP_LOAD_GATE_MESSAGES].held);
    assert_string_equal(g[WSP_LOAD_GATE_MESSAGES].replaced_by, "message_errors<5%");
    assert_false(g[WSP_LOAD_GATE_CONNECTIONS].ok);
    assert_null(g[WSP_LOAD_GATE_CONNECTIONS].replaced_by);
    assert_false(g[WSP_LOAD_GATE_RATE].ok);
    assert_int_equal(wsp_load_threshold_parse("errors<1%", &th[0], NULL), 0);
    assert_int_equal(wsp_load_threshold_parse("rate>=10", &th[1], NULL), 0);
    wsp_load_gates_eval(r, th, 2, g);
    for (int i = 0; i < WSP_LOAD_GATE_PINGS; i++)
        assert_true(g[i].ok && g[i].replaced_by);
    /* pings: only with --ping-interval; a pong timeout fails it; errors<N (a count over
     * every kind) replaces it, an error rate (connections and messages) does not */
    assert_false(g[WSP_LOAD_GATE_PINGS].applies);
    r->ping_interval_s = 1;
    r->ping_sent = 10;
    r->ping_timeout = 1;
    wsp_load_gates_eval(r, th, 2, g);
    assert_true(g[WSP_LOAD_GATE_PINGS].applies && !g[WSP_LOAD_GATE_PINGS].ok);
    assert_int_equal(wsp_load_threshold_parse("errors<5", &th[0], NULL), 0);
    wsp_load_gates_eval(r, th, 2, g);
    assert_true(g[WSP_LOAD_GATE_PINGS].ok && !g[WSP_LOAD_GATE_PINGS].held);
    assert_string_equal(g[WSP_LOAD_GATE_PINGS].replaced_by, "errors<5");
    r->ping_timeout = 0;
    wsp_load_gates_eval(r, NULL, 0, g);
    assert_true(g[WSP_LOAD_GATE_PINGS].ok && g[WSP_LOAD_GATE_PINGS].held);
    wsp_load_result_free(r);
}

/* ---- the schedule ---- */

/* The default window: by the rate per thread, widened by a slow server's latency, capped. */
static void test_auto_slack(void **state)
{
    (void)state;
    assert_int_equal(wsp_load_auto_slack(1000, 1, 0), 0);        /* a wake-up per send is cheap */
    assert_int_equal(wsp_load_auto_slack(3999, 2, 50000000), 0); /* under 2,000/s per thread */
    assert_int_equal(wsp_load_auto_slack(20000, 2, 0), WSP_LOAD_SLACK_AUTO_US);
    assert_int_equal(wsp_load_auto_slack(20000, 2, 80000), WSP_LOAD_SLACK_AUTO_US);    /* 80 us */
    assert_int_equal(wsp_load_auto_slack(20000, 2, 10000000), WSP_LOAD_SLACK_AUTO_US); /* 10ms */
    assert_int_equal(wsp_load_auto_slack(20000, 2, 24000000), 1200); /* a twentieth of 24 ms */
    assert_int_equal(wsp_load_auto_slack(20000, 2, 900000000), WSP_LOAD_SLACK_AUTO_MAX_US);
}

static void test_interval_and_offsets(void **state)
{
    (void)state;
    /* 1,000 connections at 20,000/s: each sends every 50 ms */
    assert_int_equal(wsp_load_interval_ns(1000, 20000), 50 * MS);
    assert_int_equal(wsp_load_interval_ns(1, 1), 1000 * MS);
    assert_int_equal(wsp_load_interval_ns(10, 0), 0);
    assert_int_equal(wsp_load_interval_ns(1, 1e12), 1); /* never 0: that means "no schedule" */
    /* offsets stay inside the interval and spread: no two of the first 1,000 in the same
     * 1/1000th of the interval more than a few times */
    uint64_t iv = 50 * MS;
    unsigned slots[1000] = {0};
    for (size_t i = 0; i < 1000; i++) {
        uint64_t o = wsp_load_phase_offset(i, iv);
        assert_true(o < iv);
        slots[o / (iv / 1000)]++;
    }
    for (int s = 0; s < 1000; s++)
        assert_true(slots[s] <= 3);
}

static void test_schedule_due_and_take(void **state)
{
    (void)state;
    wsp_load_sched s = {.t0 = 1000, .interval_ns = 100, .end = 1500, .next = 0};
    assert_int_equal(wsp_load_sched_due(&s, 999), 0);
    assert_int_equal(wsp_load_sched_next(&s), 1000);
    assert_int_equal(wsp_load_sched_due(&s, 1000), 1);
    assert_int_equal(wsp_load_sched_due(&s, 1099), 1);
    assert_int_equal(wsp_load_sched_due(&s, 1100), 2);
    /* a stall: at 1350 four are due; taking them keeps their intended times */
    assert_int_equal(wsp_load_sched_due(&s, 1350), 4);
    assert_int_equal(wsp_load_sched_take(&s), 1000);
    assert_int_equal(wsp_load_sched_take(&s), 1100);
    assert_int_equal(wsp_load_sched_due(&s, 1350), 2);
    assert_int_equal(wsp_load_sched_take(&s), 1200);
    assert_int_equal(wsp_load_sched_take(&s), 1300);
    assert_int_equal(wsp_load_sched_due(&s, 1350), 0);
    assert_int_equal(wsp_load_sched_next(&s), 1400);
    /* the end: nothing is intended at or after it */
    assert_int_equal(wsp_load_sched_due(&s, 99999), 1);
    assert_int_equal(wsp_load_sched_take(&s), 1400);
    assert_int_equal(wsp_load_sched_next(&s), UINT64_MAX);
    assert_int_equal(wsp_load_sched_due(&s, 99999), 0);
    /* no schedule (idle connections) */
    wsp_load_sched idle = {0};
    assert_int_equal(wsp_load_sched_next(&idle), UINT64_MAX);
    assert_int_equal(wsp_load_sched_due(&idle, 1ull << 60), 0);
    /* without an end, the count grows with time */
    wsp_load_sched open = {.t0 = 0, .interval_ns = 10, .end = 0, .next = 0};
    assert_int_equal(wsp_load_sched_due(&open, 1000), 101);
}

/* ---- baseline ---- */

static void test_baseline_comparison(void **state)
{
    (void)state;
    uint64_t base_lat[100], slow_lat[100];
    for (int i = 0; i < 100; i++) {
        base_lat[i] = (uint64_t)(10 + i % 5) * MS;
        slow_lat[i] = base_lat[i] * 2;
    }
    wsp_load_result *base = result_with(base_lat, 100);
    wsp_load_result *same = result_with(base_lat, 100);
    wsp_load_result *slow = result_with(slow_lat, 100);
    wsp_load_tolerance tol = {.latency_rel = 0.2, .latency_abs = 500000, .error_rate_abs = 0.001};
    wsp_load_compare c;
    wsp_load_compare_results(base, same, &tol, &c);
    assert_false(c.regressed);
    wsp_load_compare_results(base, slow, &tol, &c);
    assert_true(c.regressed);
    assert_string_equal(c.items[0].name, "p50");
    assert_true(c.items[0].regressed && c.items[1].regressed);
    assert_false(c.items[2].regressed);
    /* faster is never a regression */
    wsp_load_compare_results(slow, base, &tol, &c);
    assert_false(c.regressed);
    /* a generous floor absorbs the change */
    wsp_load_tolerance wide = tol;
    wide.latency_abs = 50 * MS;
    wsp_load_compare_results(base, slow, &wide, &c);
    assert_false(c.regressed);
    /* errors: 0 -> 1 failed connection of 10 breaks 0.1 points; the message rate holds */
    same->by_class[WSP_CLASS_UPGRADE_SERVER_ERROR] = 1;
    same->conn_failed = 1;
    wsp_load_compare_results(base, same, &tol, &c);
    assert_true(c.regressed);
    assert_string_equal(c.items[2].name, "connection_error_rate");
    assert_true(c.items[2].regressed);
    assert_false(c.items[3].regressed);
    assert_false(c.items[0].regressed);
    /* a run that measured nothing cannot pass against one that did */
    wsp_load_result *empty = wsp_load_result_new();
    wsp_load_compare_results(base, empty, &tol, &c);
    assert_true(c.regressed);
    wsp_load_result_free(empty);
    wsp_load_result_free(base);
    wsp_load_result_free(same);
    wsp_load_result_free(slow);
}

/* ---- reports: JSON round trip and merge ---- */

static wsp_load_result *roundtrip(const wsp_load_result *r)
{
    json_t *j = wsp_load_result_to_json(r);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    free(text);
    assert_non_null(back);
    wsp_load_result *out = wsp_load_result_new();
    wsp_err e;
    wsp_err_clear(&e);
    assert_int_equal(wsp_load_result_from_json(out, back, &e), 0);
    json_decref(back);
    return out;
}

static void fill(wsp_load_result *r, uint64_t seed, uint64_t scale)
{
    uint64_t x = seed;
    for (int i = 0; i < 5000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        wsp_hist_record(&r->latency, (x >> 40) % (scale * MS) + 1000);
        wsp_hist_record(&r->latency_uncorrected, (x >> 42) % MS + 500);
        wsp_hist_record(&r->phase[WSP_LOAD_PH_CONNECT], (x >> 44) % MS + 100);
    }
    r->conn_attempted = 100;
    r->conn_opened = 95;
    r->conn_failed = 5;
    r->msg_sent = r->msg_matched = 5000;
    r->by_class[WSP_CLASS_UPGRADE_SERVER_ERROR] = 5;
    snprintf(r->first_error[WSP_CLASS_UPGRADE_SERVER_ERROR], 160, "HTTP 503");
    r->http_status[503] = 5;
    r->close_codes[1001] = 2;
    r->measured_s = 10;
    r->series = calloc(3, sizeof *r->series);
    assert_non_null(r->series);
    r->nseries = 3;
    for (size_t s = 0; s < 3; s++) {
        r->series[s].sent = 1000 + s;
        r->series[s].p99_ns = (s + 1) * scale * MS;
    }
    snprintf(r->url, sizeof r->url, "ws://127.0.0.1:1/ws");
}

static void test_json_roundtrip_is_exact(void **state)
{
    (void)state;
    wsp_load_result *r = wsp_load_result_new();
    fill(r, 1, 10);
    wsp_load_result *b = roundtrip(r);
    assert_memory_equal(b->latency.counts, r->latency.counts, sizeof r->latency.counts);
    assert_int_equal(b->latency.total, r->latency.total);
    assert_int_equal(b->latency.max, r->latency.max);
    for (double p = 0; p <= 100; p += 0.5)
        assert_int_equal(wsp_hist_percentile(&b->latency, p), wsp_hist_percentile(&r->latency, p));
    assert_int_equal(b->phase[WSP_LOAD_PH_CONNECT].total, 5000);
    assert_int_equal(b->conn_failed, 5);
    assert_int_equal(b->by_class[WSP_CLASS_UPGRADE_SERVER_ERROR], 5);
    assert_string_equal(b->first_error[WSP_CLASS_UPGRADE_SERVER_ERROR], "HTTP 503");
    assert_int_equal(b->http_status[503], 5);
    assert_int_equal(b->close_codes[1001], 2);
    assert_int_equal(b->nseries, 3);
    assert_int_equal(b->series[2].sent, 1002);
    assert_string_equal(b->url, r->url);
    wsp_load_result_free(b);
    wsp_load_result_free(r);
}

static void test_merge_is_exact(void **state)
{
    (void)state;
    wsp_load_result *a = wsp_load_result_new(), *b = wsp_load_result_new();
    fill(a, 1, 10);
    fill(b, 2, 100);
    /* what recording everything into one histogram gives */
    wsp_hist *all = malloc(sizeof *all);
    assert_non_null(all);
    wsp_hist_init(all);
    wsp_hist_merge(all, &a->latency);
    wsp_hist_merge(all, &b->latency);

    wsp_load_result *ra = roundtrip(a), *rb = roundtrip(b);
    assert_int_equal(wsp_load_result_merge(ra, rb), 0);
    assert_int_equal(ra->agents, 2);
    assert_int_equal(ra->conn_attempted, 200);
    assert_int_equal(ra->msg_matched, 10000);
    assert_int_equal(ra->by_class[WSP_CLASS_UPGRADE_SERVER_ERROR], 10);
    assert_int_equal(ra->http_status[503], 10);
    assert_int_equal(ra->close_codes[1001], 4);
    assert_int_equal(ra->latency.total, 10000);
    assert_memory_equal(ra->latency.counts, all->counts, sizeof all->counts);
    for (double p = 1; p <= 100; p += 1)
        assert_int_equal(wsp_hist_percentile(&ra->latency, p), wsp_hist_percentile(all, p));
    /* the merged p99 comes from the slow agent, not an average of the two p99s */
    uint64_t p99a = wsp_hist_percentile(&a->latency, 99),
             p99b = wsp_hist_percentile(&b->latency, 99);
    uint64_t p99m = wsp_hist_percentile(&ra->latency, 99);
    assert_true(p99m > (p99a + p99b) / 2);
    /* error rates per kind over both: 10 failed of 200 connections, none of 10,000 messages */
    assert_true(fabs(wsp_load_result_conn_error_rate(ra) - 10.0 / 200) < 1e-12);
    assert_true(wsp_load_result_msg_error_rate(ra) == 0);
    /* the series adds counts by second; percentiles become the maximum over agents */
    assert_int_equal(ra->series[1].sent, 2002);
    assert_int_equal(ra->series[1].p99_ns, 2 * 100 * MS);
    assert_true(ra->series_merged);
    /* a merged report reads back and merges again */
    wsp_load_result *again = roundtrip(ra);
    assert_int_equal(again->agents, 2);
    assert_memory_equal(again->latency.counts, all->counts, sizeof all->counts);
    wsp_load_result_free(again);
    free(all);
    wsp_load_result_free(ra);
    wsp_load_result_free(rb);
    wsp_load_result_free(a);
    wsp_load_result_free(b);
}

static void test_from_json_refuses_other_documents(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "[]",
        "{\"url\":\"x\",\"ok\":true,\"class\":\"OK\"}",
        "{\"histograms\":{},\"connections\":{},\"messages\":{},\"errors\":{}}",
        "{\"histograms\":{\"latency\":{\"buckets\":[[99999,1]],\"sub_buckets\":128,"
        "\"max_exp\":44,\"total\":1,\"min\":1,\"max\":1}},\"connections\":{},\"messages\":{},"
        "\"errors\":{}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(docs[i], 0, &je);
        assert_non_null(j);
        wsp_load_result *r = wsp_load_result_new();
        wsp_err e;
        wsp_err_clear(&e);
        assert_int_equal(wsp_load_result_from_json(r, j, &e), -1);
        assert_int_equal(e.cls, WSP_CLASS_USAGE);
        wsp_load_result_free(r);
        json_decref(j);
    }
    /* an unknown class name in by_class */
    wsp_load_result *r = wsp_load_result_new();
    json_t *j = wsp_load_result_to_json(r);
    json_object_set_new(json_object_get(json_object_get(j, "errors"), "by_class"), "NOT_A_CLASS",
                        json_integer(1));
    wsp_load_result *back = wsp_load_result_new();
    assert_int_equal(wsp_load_result_from_json(back, j, NULL), -1);
    json_decref(j);
    wsp_load_result_free(back);
    wsp_load_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_slack),
        cmocka_unit_test(test_threshold_parse_valid),
        cmocka_unit_test(test_threshold_parse_invalid),
        cmocka_unit_test(test_threshold_eval),
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_interval_and_offsets),
        cmocka_unit_test(test_schedule_due_and_take),
        cmocka_unit_test(test_baseline_comparison),
        cmocka_unit_test(test_json_roundtrip_is_exact),
        cmocka_unit_test(test_merge_is_exact),
        cmocka_unit_test(test_from_json_refuses_other_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
