/* test_exposition.c - the Prometheus text and OpenMetrics writer (report/exposition.h):
 * numbers, escaping, family names of counters and infos in each format, histograms, and the
 * Accept negotiation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "report/exposition.h"

static void test_numbers(void **state)
{
    (void)state;
    char b[40];
    wsp_expo_number(101, b, sizeof b);
    assert_string_equal(b, "101");
    wsp_expo_number(0.25, b, sizeof b);
    assert_string_equal(b, "0.25");
    wsp_expo_number(1.5e-6, b, sizeof b);
    assert_string_equal(b, "1.5e-06");
    wsp_expo_number(1798761600, b, sizeof b);
    assert_string_equal(b, "1798761600");
    wsp_expo_number(INFINITY, b, sizeof b);
    assert_string_equal(b, "+Inf");
    wsp_expo_number(NAN, b, sizeof b);
    assert_string_equal(b, "NaN");
    wsp_expo_number(0.1 + 0.2, b, sizeof b); /* the shortest form that reads back */
    assert_true(strtod(b, NULL) == 0.1 + 0.2);
}

static void test_text_and_openmetrics(void **state)
{
    (void)state;
    for (int om = 0; om < 2; om++) {
        wsp_buf b = {0};
        wsp_expo x;
        wsp_expo_init(&x, &b, om);
        wsp_expo_family(&x, "t_probes", WSP_EXPO_COUNTER, NULL, "Probes \\ run\nby \"m\".");
        wsp_expo_sample(&x, 3, "module", "a\"b\\c\nd", NULL);
        wsp_expo_family(&x, "t_tls_version", WSP_EXPO_INFO, NULL, "TLS.");
        wsp_expo_sample(&x, 1, "version", "TLSv1.3", NULL);
        wsp_expo_family(&x, "t_duration_seconds", WSP_EXPO_HISTOGRAM, "seconds", "D.");
        const double bounds[] = {0.1, 1};
        const unsigned long long counts[] = {2, 1};
        wsp_expo_histogram(&x, "module", "m", bounds, counts, 2, 4, 9.5);
        wsp_expo_end(&x);
        assert_false(x.failed);
        const char *want_text = "# HELP t_probes_total Probes \\\\ run\\nby \"m\".\n"
                                "# TYPE t_probes_total counter\n"
                                "t_probes_total{module=\"a\\\"b\\\\c\\nd\"} 3\n"
                                "# HELP t_tls_version_info TLS.\n"
                                "# TYPE t_tls_version_info gauge\n"
                                "t_tls_version_info{version=\"TLSv1.3\"} 1\n"
                                "# HELP t_duration_seconds D.\n"
                                "# TYPE t_duration_seconds histogram\n"
                                "t_duration_seconds_bucket{module=\"m\",le=\"0.1\"} 2\n"
                                "t_duration_seconds_bucket{module=\"m\",le=\"1\"} 3\n"
                                "t_duration_seconds_bucket{module=\"m\",le=\"+Inf\"} 7\n"
                                "t_duration_seconds_sum{module=\"m\"} 9.5\n"
                                "t_duration_seconds_count{module=\"m\"} 7\n";
        const char *want_om = "# HELP t_probes Probes \\\\ run\\nby \\\"m\\\".\n"
                              "# TYPE t_probes counter\n"
                              "t_probes_total{module=\"a\\\"b\\\\c\\nd\"} 3\n"
                              "# HELP t_tls_version TLS.\n"
                              "# TYPE t_tls_version info\n"
                              "t_tls_version_info{version=\"TLSv1.3\"} 1\n"
                              "# HELP t_duration_seconds D.\n"
                              "# TYPE t_duration_seconds histogram\n"
                              "# UNIT t_duration_seconds seconds\n"
                              "t_duration_seconds_bucket{module=\"m\",le=\"0.1\"} 2\n"
                              "t_duration_seconds_bucket{module=\"m\",le=\"1.0\"} 3\n"
                              "t_duration_seconds_bucket{module=\"m\",le=\"+Inf\"} 7\n"
                              "t_duration_seconds_sum{module=\"m\"} 9.5\n"
                              "t_duration_seconds_count{module=\"m\"} 7\n"
                              "# EOF\n";
        assert_string_equal(b.p, om ? want_om : want_text);
        wsp_buf_free(&b);
    }
}

static void test_accept(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        bool om;
    } cases[] = {
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         true}, /* what Prometheus 2.42 sends */
        {"text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5", false},
        {"text/plain", false},
        {"", false},
        {"*/*", false},
        {"application/openmetrics-text; q=0", false},
        {"Application/OpenMetrics-Text", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(wsp_expo_wants_openmetrics(cases[i].accept, strlen(cases[i].accept)),
                         cases[i].om);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_text_and_openmetrics),
        cmocka_unit_test(test_accept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
