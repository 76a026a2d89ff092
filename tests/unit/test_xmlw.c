/* test_xmlw.c - the one JUnit (XML) writer (report/xmlw.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report/xmlw.h"
#include "util/redact.h"

static char *write_doc(void (*body)(wsp_xmlw *), int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    wsp_xmlw w;
    wsp_xmlw_begin(&w, f);
    body(&w);
    *rc = wsp_xmlw_finish(&w);
    fclose(f);
    return buf;
}

static void doc_escapes(wsp_xmlw *w)
{
    wsp_xmlw_start(w, "testsuite");
    wsp_xmlw_attr(w, "name", "a<b>&\"c\"");
    wsp_xmlw_start(w, "testcase");
    wsp_xmlw_attrf(w, "time", "%.3f", 1.5);
    wsp_xmlw_end(w);
    wsp_xmlw_start(w, "system-out");
    wsp_xmlw_text(w, "x < y && \x01 bad \xff utf8 \xef\xbf\xbe end");
    wsp_xmlw_end(w);
    /* testsuite left open: finish closes it */
}

static void test_escaping_and_structure(void **state)
{
    (void)state;
    int rc;
    char *doc = write_doc(doc_escapes, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<testsuite name=\"a&lt;b&gt;&amp;&quot;c&quot;\">\n"
                             "  <testcase time=\"1.500\"/>\n"
                             "  <system-out>x &lt; y &amp;&amp; ? bad ? utf8 ??? end</system-out>\n"
                             "</testsuite>\n");
    free(doc);
}

static void doc_secret(wsp_xmlw *w)
{
    wsp_xmlw_start(w, "failure");
    wsp_xmlw_attr(w, "message", "token tok-xmlw-5e3c1a9 refused");
    wsp_xmlw_text(w, "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
    wsp_xmlw_end(w);
}

static void test_everything_is_redacted(void **state)
{
    (void)state;
    wsp_redact_register("tok-xmlw-5e3c1a9", 16);
    int rc;
    char *doc = write_doc(doc_secret, &rc);
    assert_int_equal(rc, 0);
    assert_null(strstr(doc, "tok-xmlw"));
    assert_null(strstr(doc, "eyJhbGci"));
    assert_non_null(strstr(doc, "[redacted]"));
    free(doc);
    wsp_redact_clear();
}

static void test_a_failed_write_is_reported(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        skip();
    wsp_xmlw w;
    wsp_xmlw_begin(&w, f);
    wsp_xmlw_start(&w, "testsuites");
    for (int i = 0; i < 2000; i++)
        wsp_xmlw_attr(&w, "padding", "enough text to pass the stdio buffer");
    assert_int_equal(wsp_xmlw_finish(&w), -1);
    fclose(f);
}

static void test_misuse_fails(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    wsp_xmlw w;
    wsp_xmlw_begin(&w, f);
    wsp_xmlw_start(&w, "a");
    wsp_xmlw_text(&w, "x");
    wsp_xmlw_attr(&w, "late", "1"); /* an attribute after content */
    assert_int_equal(wsp_xmlw_finish(&w), -1);
    fclose(f);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping_and_structure),
        cmocka_unit_test(test_everything_is_redacted),
        cmocka_unit_test(test_a_failed_write_is_reported),
        cmocka_unit_test(test_misuse_fails),
    };
    return cmocka_run_group_tests_name("xmlw", tests, NULL, NULL);
}
