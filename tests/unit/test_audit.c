/* test_audit.c - the JUnit reader on tricky documents (both roots, nesting, times, statuses,
 * output, properties, hostile input) and every audit rule's exact findings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <zlib.h>

#include "audit/audit.h"
#include "audit/junit.h"

/* ---- helpers ------------------------------------------------------------------------- */

#define MAXC 64

typedef struct got {
    int ncases, nsuites;
    char id[MAXC][256];
    char suite_path[MAXC][256];
    int64_t time_us[MAXC];
    wsp_junit_outcome outcome[MAXC];
    long assertions[MAXC];
    int pattern[MAXC];
    char excerpt[MAXC][256];
    char message[MAXC][256];
    char props[MAXC][512]; /* "name=value;..." */
    unsigned long line[MAXC];
    /* suites */
    char sname[MAXC][256];
    long scases[MAXC], stests[MAXC], sdirect[MAXC], schild[MAXC];
    int sdepth[MAXC];
    int64_t stime[MAXC];
} got;

static int collect_case(void *ctx, const wsp_junit_case *c)
{
    got *g = ctx;
    if (g->ncases >= MAXC)
        return 0;
    int i = g->ncases++;
    snprintf(g->id[i], sizeof g->id[i], "%s", c->id);
    snprintf(g->suite_path[i], sizeof g->suite_path[i], "%s", c->suite_path);
    g->time_us[i] = c->time_us;
    g->outcome[i] = c->outcome;
    g->assertions[i] = c->assertions;
    g->pattern[i] = c->pattern;
    g->line[i] = c->line;
    snprintf(g->excerpt[i], sizeof g->excerpt[i], "%s", c->excerpt);
    snprintf(g->message[i], sizeof g->message[i], "%s", c->message);
    g->props[i][0] = '\0';
    for (size_t k = 0; k < c->nprops; k++) {
        size_t l = strlen(g->props[i]);
        snprintf(g->props[i] + l, sizeof g->props[i] - l, "%s=%s;", c->props[k].name,
                 c->props[k].value);
    }
    return 0;
}

static int collect_suite(void *ctx, const wsp_junit_suite *s)
{
    got *g = ctx;
    if (g->nsuites >= MAXC)
        return 0;
    int i = g->nsuites++;
    snprintf(g->sname[i], sizeof g->sname[i], "%s",
             s->kind == WSP_JUNIT_SUITES ? "<suites>" : s->path);
    g->scases[i] = s->cases;
    g->stests[i] = s->tests_attr;
    g->sdirect[i] = s->direct_cases;
    g->schild[i] = s->child_suites;
    g->sdepth[i] = s->depth;
    g->stime[i] = s->time_us;
    return 0;
}

static const char *const test_patterns[] = {"Traceback (most recent call last)",
                                            "ConnectionRefusedError", "timed out"};

static wsp_junit_rc read_doc(const char *doc, got *g, wsp_junit_error *err)
{
    memset(g, 0, sizeof *g);
    wsp_junit_options o;
    memset(&o, 0, sizeof o);
    o.patterns = test_patterns;
    o.npatterns = 3;
    o.ctx = g;
    o.on_case = collect_case;
    o.on_suite = collect_suite;
    return wsp_junit_read_memory(doc, strlen(doc), "doc.xml", &o, NULL, err);
}

/* Findings as "rule test" lines, in report order. */
typedef struct flist {
    int n;
    char item[128][300];
} flist;

static int audit_docs(wsp_audit_config *cfg, flist *out, const char *doc, ...)
{
    wsp_audit *a = wsp_audit_new(cfg);
    assert_non_null(a);
    wsp_junit_error e;
    assert_int_equal(wsp_audit_load_baselines(a, &e), 0);
    va_list ap;
    va_start(ap, doc);
    int k = 0;
    for (const char *d = doc; d; d = va_arg(ap, const char *)) {
        char name[32];
        snprintf(name, sizeof name, "r%d.xml", k++);
        wsp_audit_add_memory(a, name, d, strlen(d));
    }
    va_end(ap);
    wsp_audit_finish(a);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < wsp_audit_finding_count(a) && out->n < 128; i++) {
        const wsp_audit_finding *f = wsp_audit_finding_at(a, i);
        snprintf(out->item[out->n++], 300, "%s %s", wsp_audit_rule_name(f->rule), f->test);
    }
    int code = wsp_audit_exit_code(a);
    wsp_audit_free(a);
    return code;
}

/* The findings are exactly these, in this order (NULL-terminated). */
static void expect(const flist *got_, ...)
{
    va_list ap;
    va_start(ap, got_);
    int i = 0;
    for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *), i++) {
        if (i >= got_->n)
            fail_msg("missing finding '%s' (got %d findings)", w, got_->n);
        if (strcmp(got_->item[i], w) != 0)
            fail_msg("finding %d: got '%s', want '%s'", i, got_->item[i], w);
    }
    va_end(ap);
    if (i != got_->n)
        fail_msg("unexpected finding '%s' (want %d findings, got %d)", got_->item[i], i, got_->n);
}

static void cfg_default(wsp_audit_config *cfg)
{
    wsp_audit_config_init(cfg);
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/wsp-audit-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void write_file(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* ---- times --------------------------------------------------------------------------- */

static void test_parse_time(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t us; /* -1: rejected */
    } v[] = {
        {"0", 0},
        {"0.000", 0},
        {"1.5", 1500000},
        {"0.001", 1000},
        {" 0.25 ", 250000},
        {"1,234.5", 1234500000},        /* Surefire with grouping */
        {"12,345,678", 12345678000000}, /* grouping only */
        {"1,234", 1234000000},          /* grouping: three digits after the comma */
        {"0,25", 250000},               /* decimal comma */
        {"12,34", 12340000},            /* decimal comma: two digits */
        {"0,123", 123000},              /* a leading 0 is not grouped */
        {"1.234,5", 1234500000},        /* grouping dots, decimal comma */
        {"2e-3", 2000},
        {"1E2", 100000000},
        {"0.0000005", 1}, /* rounds to the microsecond */
        {"0.0000004", 0},
        {"3.0000019", 3000002},
        {"", -1},
        {"   ", -1},
        {"-1", -1},
        {"-0.5", -1},
        {"abc", -1},
        {"1.2.3", -1},
        {"1s", -1},
        {"NaN", -1},
        {"inf", -1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int64_t us = -7;
        int rc = wsp_junit_parse_time(v[i].in, &us);
        if (v[i].us < 0) {
            if (rc != -1)
                fail_msg("'%s' should be rejected, got %lld", v[i].in, (long long)us);
        } else {
            if (rc != 0 || us != v[i].us)
                fail_msg("'%s': got rc %d, %lld us; want %lld", v[i].in, rc, (long long)us,
                         (long long)v[i].us);
        }
    }
    assert_int_equal(wsp_junit_parse_time(NULL, NULL), -1);
}

/* ---- the reader ---------------------------------------------------------------------- */

static void test_reader_roots_and_nesting(void **state)
{
    (void)state;
    got g;
    wsp_junit_error e;
    /* <testsuite> root */
    assert_int_equal(read_doc("<testsuite name=\"s\" tests=\"2\" time=\"1.5\">"
                              "<testcase classname=\"pkg.C\" name=\"a\" time=\"0.5\"/>"
                              "<testcase classname=\"pkg.C\" name=\"b\"/></testsuite>",
                              &g, &e),
                     WSP_JUNIT_OK);
    assert_int_equal(g.ncases, 2);
    assert_string_equal(g.id[0], "pkg.C.a");
    assert_int_equal(g.time_us[0], 500000);
    assert_int_equal(g.time_us[1], -1); /* missing: unknown, not zero */
    assert_string_equal(g.suite_path[0], "s");
    assert_int_equal(g.nsuites, 1);
    assert_int_equal(g.scases[0], 2);
    assert_int_equal(g.stests[0], 2);
    assert_int_equal(g.stime[0], 1500000);

    /* <testsuites> root, PHPUnit-style nesting, names equal to classnames (ctest) */
    assert_int_equal(
        read_doc("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"all\">\n"
                 " <testsuite name=\"Unit\" tests=\"3\">\n"
                 "  <testsuite name=\"FooTest\" tests=\"2\">\n"
                 "   <testcase name=\"testA\" class=\"FooTest\" classname=\"FooTest\" "
                 "assertions=\"4\" time=\"0.01\"/>\n"
                 "   <testcase name=\"testB\" classname=\"FooTest\" assertions=\"0\"/>\n"
                 "  </testsuite>\n"
                 "  <testsuite name=\"BarTest\" tests=\"1\">\n"
                 "   <testcase name=\"same\" classname=\"same\"/>\n"
                 "  </testsuite>\n"
                 " </testsuite>\n</testsuites>\n",
                 &g, &e),
        WSP_JUNIT_OK);
    assert_int_equal(g.ncases, 3);
    assert_string_equal(g.id[0], "FooTest.testA");
    assert_string_equal(g.suite_path[0], "Unit / FooTest");
    assert_int_equal(g.assertions[0], 4);
    assert_int_equal(g.assertions[1], 0);
    assert_string_equal(g.id[2], "same"); /* classname equal to name: the name alone */
    assert_int_equal(g.line[0], 5);
    assert_int_equal(g.nsuites, 4);
    assert_string_equal(g.sname[0], "Unit / FooTest");
    assert_int_equal(g.scases[0], 2);
    assert_string_equal(g.sname[2], "Unit");
    assert_int_equal(g.scases[2], 3);
    assert_int_equal(g.sdirect[2], 0);
    assert_int_equal(g.schild[2], 2);
    assert_int_equal(g.sdepth[2], 1);
    assert_string_equal(g.sname[3], "<suites>");
    assert_int_equal(g.scases[3], 3);

    /* names missing */
    assert_int_equal(
        read_doc("<testsuite><testcase classname=\"C\"/><testcase/></testsuite>", &g, &e),
        WSP_JUNIT_OK);
    assert_string_equal(g.id[0], "C");
    assert_string_equal(g.id[1], "(unnamed)");
    assert_string_equal(g.suite_path[0], "");
}

static void test_reader_outcomes(void **state)
{
    (void)state;
    got g;
    wsp_junit_error e;
    assert_int_equal(
        read_doc("<testsuite name=\"s\">"
                 "<testcase name=\"pass\" time=\"1\"/>"
                 "<testcase name=\"fail\"><failure message=\"boom\">trace</failure></testcase>"
                 "<testcase name=\"err\"><error>first line\nsecond</error></testcase>"
                 "<testcase name=\"skip\"><skipped/></testcase>"
                 "<testcase name=\"disabled\" status=\"disabled\"/>"
                 "<testcase name=\"gtest\" status=\"notrun\" result=\"suppressed\"/>"
                 "<testcase name=\"gtest-run\" status=\"run\" result=\"completed\"/>"
                 "<testcase name=\"flaky\"><flakyFailure message=\"x\"><system-out>timed out"
                 "</system-out></flakyFailure><flakyError/></testcase>"
                 "<testcase name=\"rerun-failed\"><failure/><rerunFailure/></testcase>"
                 "<testcase name=\"rerun-passed\"><rerunError/></testcase>"
                 "</testsuite>",
                 &g, &e),
        WSP_JUNIT_OK);
    assert_int_equal(g.ncases, 10);
    assert_int_equal(g.outcome[0], WSP_JUNIT_PASSED);
    assert_int_equal(g.outcome[1], WSP_JUNIT_FAILED);
    assert_string_equal(g.message[1], "boom");
    assert_int_equal(g.outcome[2], WSP_JUNIT_ERRORED);
    assert_string_equal(g.message[2], "first line");
    assert_int_equal(g.outcome[3], WSP_JUNIT_SKIPPED);
    assert_int_equal(g.outcome[4], WSP_JUNIT_SKIPPED);
    assert_int_equal(g.outcome[5], WSP_JUNIT_SKIPPED);
    assert_int_equal(g.outcome[6], WSP_JUNIT_PASSED);
    assert_int_equal(g.outcome[7], WSP_JUNIT_FLAKY);
    assert_int_equal(g.pattern[7], -1); /* the failed attempt's output is not the pass's */
    assert_int_equal(g.outcome[8], WSP_JUNIT_FAILED);
    assert_int_equal(g.outcome[9], WSP_JUNIT_FLAKY);
    assert_string_equal(wsp_junit_outcome_name(WSP_JUNIT_FLAKY), "flaky");
}

static void test_reader_output_and_properties(void **state)
{
    (void)state;
    got g;
    wsp_junit_error e;
    assert_int_equal(
        read_doc("<testsuite name=\"s\"><system-out>Traceback (most recent call last) of the "
                 "suite</system-out><properties><property name=\"suite.p\" value=\"1\"/>"
                 "</properties>"
                 "<testcase name=\"cdata\"><system-out><![CDATA[line 1\n  try: connect()\n"
                 "ConnectionRefusedError: [Errno 111] <refused> \t\n]]></system-out></testcase>"
                 "<testcase name=\"escaped\"><system-err>x &lt;TIMED OUT&gt; after 3s"
                 "</system-err></testcase>"
                 "<testcase name=\"clean\"><system-out>all good</system-out>"
                 "<properties><property name=\"ws.bytes_rx\" value=\"42\"/>"
                 "<property name=\"text\">v<b>x</b>y</property><property name=\"empty\"/>"
                 "</properties></testcase>"
                 "<testcase name=\"markup\"><system-out><span>timed</span> out</system-out>"
                 "</testcase>"
                 "</testsuite>",
                 &g, &e),
        WSP_JUNIT_OK);
    assert_int_equal(g.ncases, 4);
    assert_int_equal(g.pattern[0], 1);
    assert_string_equal(g.excerpt[0], "ConnectionRefusedError: [Errno 111] <refused>");
    assert_int_equal(g.pattern[1], 2); /* case-insensitive, after entity decoding */
    assert_string_equal(g.excerpt[1], "x <TIMED OUT> after 3s");
    assert_int_equal(g.pattern[2], -1); /* the suite's own output is nobody's */
    assert_string_equal(g.props[2], "ws.bytes_rx=42;text=vxy;empty=;");
    assert_int_equal(g.pattern[3], -1); /* split by markup: two text nodes, no match */
}

static void test_reader_many_properties_capped(void **state)
{
    (void)state;
    char doc[8192] = "<testsuite><testcase name=\"p\"><properties>";
    for (int i = 0; i < 40; i++) {
        size_t l = strlen(doc);
        snprintf(doc + l, sizeof doc - l, "<property name=\"p%d\" value=\"%d\"/>", i, i);
    }
    strcat(doc, "</properties></testcase></testsuite>");
    got g;
    wsp_junit_error e;
    assert_int_equal(read_doc(doc, &g, &e), WSP_JUNIT_OK);
    int n = 0;
    for (const char *p = g.props[0]; *p; p++)
        n += *p == ';';
    assert_int_equal(n, WSP_JUNIT_MAX_PROPS); /* the rest are counted, not kept */
}

static void expect_error(const char *doc, wsp_junit_rc rc, unsigned long line, const char *needle)
{
    got g;
    wsp_junit_error e;
    wsp_junit_rc got_rc = read_doc(doc, &g, &e);
    if (got_rc != rc)
        fail_msg("want %s, got %s (%s)", wsp_junit_rc_name(rc), wsp_junit_rc_name(got_rc), e.msg);
    assert_int_equal(e.rc, rc);
    assert_string_equal(e.file, "doc.xml");
    if (line)
        assert_int_equal(e.line, line);
    if (needle && !strstr(e.msg, needle))
        fail_msg("message '%s' lacks '%s'", e.msg, needle);
}

static void test_reader_bad_input(void **state)
{
    (void)state;
    expect_error("", WSP_JUNIT_EMALFORMED, 0, "empty document");
    expect_error("<testsuite name=\"x\">\n<testcase name=\"a\">\n", WSP_JUNIT_EMALFORMED, 0,
                 "truncated");
    expect_error("<testsuite>\n<testcase name=\"a\"></testsuite>", WSP_JUNIT_EMALFORMED, 2,
                 "mismatch");
    expect_error("<testsuite><testcase name=\"a\" name=\"b\"/></testsuite>", WSP_JUNIT_EMALFORMED,
                 1, NULL);
    expect_error("<?xml version=\"1.0\"?>\n<html><body/></html>", WSP_JUNIT_EROOT, 2, "<html>");
    expect_error("<testcase name=\"a\"/>", WSP_JUNIT_EROOT, 1, "expected <testsuites>");
    expect_error("<testsuite>&undeclared;</testsuite>", WSP_JUNIT_EDTD, 1, NULL);
    /* XXE: an external entity is refused at the DOCTYPE, never read */
    expect_error("<?xml version=\"1.0\"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                 "<testsuite><testcase name=\"a\"><system-out>&x;</system-out></testcase>"
                 "</testsuite>",
                 WSP_JUNIT_EDTD, 0, NULL);
    /* a bare DOCTYPE without declarations is harmless */
    got g;
    wsp_junit_error e;
    assert_int_equal(
        read_doc("<!DOCTYPE testsuite><testsuite><testcase name=\"a\"/></testsuite>", &g, &e),
        WSP_JUNIT_OK);
    /* invalid UTF-8 */
    expect_error("<testsuite name=\"\xff\xfe\"/>", WSP_JUNIT_EMALFORMED, 1, NULL);
}

static void test_reader_billion_laughs(void **state)
{
    (void)state;
    char doc[4096] = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY l0 \"lol\">\n";
    for (int i = 1; i < 10; i++) {
        size_t l = strlen(doc);
        snprintf(doc + l, sizeof doc - l, "<!ENTITY l%d \"", i);
        for (int k = 0; k < 10; k++) {
            l = strlen(doc);
            snprintf(doc + l, sizeof doc - l, "&l%d;", i - 1);
        }
        strcat(doc, "\">\n");
    }
    strcat(doc, "]>\n<testsuite name=\"&l9;\"><testcase name=\"&l9;\"><system-out>&l9;"
                "</system-out></testcase></testsuite>\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    got g;
    wsp_junit_error e;
    wsp_junit_rc rc = read_doc(doc, &g, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* refused one way or the other, before expanding anything */
    assert_true(rc == WSP_JUNIT_EDTD || rc == WSP_JUNIT_ELIMIT);
    assert_int_equal(g.ncases, 0);
    (void)t0;
    (void)t1;
}

static void test_reader_limits(void **state)
{
    (void)state;
    /* elements deeper than libxml2's 256 levels, inside a case's output */
    size_t cap = 64 * 1024;
    char *doc = malloc(cap);
    assert_non_null(doc);
    strcpy(doc, "<testsuite><testcase name=\"d\"><system-out>");
    for (int i = 0; i < 400; i++)
        strcat(doc, "<a>");
    for (int i = 0; i < 400; i++)
        strcat(doc, "</a>");
    strcat(doc, "</system-out></testcase></testsuite>");
    got g;
    wsp_junit_error e;
    wsp_junit_rc rc = read_doc(doc, &g, &e);
    assert_true(rc == WSP_JUNIT_ELIMIT || rc == WSP_JUNIT_EMALFORMED);
    /* suites nested deeper than the reader's own limit */
    doc[0] = '\0';
    for (int i = 0; i < WSP_JUNIT_MAX_SUITE_DEPTH + 2; i++)
        strcat(doc, "<testsuite name=\"n\">");
    for (int i = 0; i < WSP_JUNIT_MAX_SUITE_DEPTH + 2; i++)
        strcat(doc, "</testsuite>");
    assert_int_equal(read_doc(doc, &g, &e), WSP_JUNIT_ELIMIT);
    assert_non_null(strstr(e.msg, "nested deeper"));
    /* the byte cap */
    wsp_junit_options o;
    memset(&o, 0, sizeof o);
    o.max_bytes = 10;
    const char *small = "<testsuite><testcase name=\"a\"/></testsuite>";
    assert_int_equal(wsp_junit_read_memory(small, strlen(small), "m", &o, NULL, &e),
                     WSP_JUNIT_ELIMIT);
    free(doc);
}

static int abort_case(void *ctx, const wsp_junit_case *c)
{
    (void)c;
    return ++*(int *)ctx >= 2;
}

static void test_reader_files_gzip_and_abort(void **state)
{
    (void)state;
    make_tmpdir();
    const char *doc = "<testsuite name=\"f\">\n<testcase name=\"a\" time=\"0.1\"/>\n"
                      "<testcase name=\"b\" time=\"0.2\"/>\n<testcase name=\"c\"/>\n</testsuite>\n";
    write_file("r.xml", doc);
    char p[256];
    snprintf(p, sizeof p, "%s/r.xml.gz", tmpdir);
    gzFile gz = gzopen(p, "wb");
    assert_non_null(gz);
    gzputs(gz, doc);
    gzclose(gz);
    got g;
    wsp_junit_options o;
    memset(&o, 0, sizeof o);
    o.ctx = &g;
    o.on_case = collect_case;
    wsp_junit_stats st;
    wsp_junit_error e;
    memset(&g, 0, sizeof g);
    snprintf(p, sizeof p, "%s/r.xml", tmpdir);
    assert_int_equal(wsp_junit_read_file(p, NULL, &o, &st, &e), WSP_JUNIT_OK);
    assert_int_equal(g.ncases, 3);
    assert_int_equal(st.cases, 3);
    assert_int_equal(st.bytes, strlen(doc));
    assert_int_equal(g.line[2], 4);
    memset(&g, 0, sizeof g);
    snprintf(p, sizeof p, "%s/r.xml.gz", tmpdir);
    assert_int_equal(wsp_junit_read_file(p, "named.xml.gz", &o, &st, &e), WSP_JUNIT_OK);
    assert_int_equal(g.ncases, 3);
    assert_string_equal(g.id[1], "b");
    /* a cap counts the decompressed bytes */
    o.max_bytes = 20;
    assert_int_equal(wsp_junit_read_file(p, NULL, &o, &st, &e), WSP_JUNIT_ELIMIT);
    o.max_bytes = 0;
    /* errors name the file */
    snprintf(p, sizeof p, "%s/nope.xml", tmpdir);
    assert_int_equal(wsp_junit_read_file(p, NULL, &o, &st, &e), WSP_JUNIT_EIO);
    assert_string_equal(e.file, p);
    assert_non_null(strstr(e.msg, "No such file"));
    assert_int_equal(wsp_junit_read_file(tmpdir, NULL, &o, &st, &e), WSP_JUNIT_EIO);
    /* a callback can stop the reading */
    int calls = 0;
    o.ctx = &calls;
    o.on_case = abort_case;
    snprintf(p, sizeof p, "%s/r.xml", tmpdir);
    assert_int_equal(wsp_junit_read_file(p, NULL, &o, &st, &e), WSP_JUNIT_EABORTED);
    assert_int_equal(calls, 2);
    rm_tmpdir();
}

/* ---- the rules ----------------------------------------------------------------------- */

static void test_rule_floor_and_zero_time(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_err err;
    assert_int_equal(wsp_audit_config_add_floor(&cfg, "net.*=20ms", "--floor", &err), 0);
    assert_int_equal(wsp_audit_config_add_floor(&cfg, "slow_*=2s", "--floor", &err), 0);
    assert_int_equal(wsp_audit_config_add_network(&cfg, "net.*"), 0);
    flist f;
    int code = audit_docs(&cfg, &f,
                          "<testsuite name=\"s\">"
                          "<testcase classname=\"net\" name=\"fast\" time=\"0.005\"/>"
                          "<testcase classname=\"net\" name=\"real\" time=\"0.030\"/>"
                          "<testcase classname=\"net\" name=\"zero\" time=\"0\"/>"
                          "<testcase classname=\"net\" name=\"zero3\" time=\"0.000\"/>"
                          "<testcase classname=\"net\" name=\"untimed\"/>"
                          "<testcase classname=\"net\" name=\"failed\" time=\"0.001\"><failure/>"
                          "</testcase>"
                          "<testcase classname=\"net\" name=\"skipped\" time=\"0\"><skipped/>"
                          "</testcase>"
                          "<testcase classname=\"unit\" name=\"quick\" time=\"0\"/>"
                          "<testcase classname=\"other\" name=\"slow_one\" time=\"1,000.5\"/>"
                          "<testcase classname=\"net\" name=\"slow_net\" time=\"0.5\"/>"
                          "<testcase classname=\"net\" name=\"faster\" time=\"0.001\"/>"
                          "</testsuite>",
                          NULL);
    assert_int_equal(code, 1);
    /* floor findings worst first (time / floor), zero-time in document order */
    expect(&f, "floor net.faster", "floor net.fast", "floor net.slow_net", "zero-time net.zero",
           "zero-time net.zero3", NULL);

    /* the numbers, and which floor: the strictest matching one */
    wsp_audit *a = wsp_audit_new(&cfg);
    const char *doc = "<testsuite><testcase classname=\"net\" name=\"slow_net\" time=\"0.5\"/>"
                      "<testcase classname=\"net\" name=\"untimed\"/></testsuite>";
    wsp_audit_add_memory(a, "r.xml", doc, strlen(doc));
    wsp_audit_finish(a);
    assert_int_equal(wsp_audit_finding_count(a), 1);
    const wsp_audit_finding *fd = wsp_audit_finding_at(a, 0);
    assert_int_equal(fd->rule, WSP_AUDIT_FLOOR);
    assert_int_equal(fd->time_us, 500000);
    assert_int_equal(fd->limit_us, 2000000);
    assert_string_equal(fd->glob, "slow_*"); /* matched on the bare name */
    assert_string_equal(fd->source, "--floor");
    assert_string_equal(fd->file, "r.xml");
    assert_int_equal(fd->line, 1);
    assert_string_equal(fd->message, "passed in 500 ms, under the 2 s floor of 'slow_*' "
                                     "(--floor): a real exchange with the endpoint takes longer");
    assert_int_equal(wsp_audit_get_summary(a)->unknown_time, 1);
    assert_int_equal(wsp_audit_get_summary(a)->network, 2);
    wsp_audit_free(a);

    /* malformed floors */
    assert_int_equal(wsp_audit_config_add_floor(&cfg, "net.*", "--floor", &err), -1);
    assert_non_null(strstr(err.msg, "GLOB=DURATION"));
    assert_int_equal(wsp_audit_config_add_floor(&cfg, "x=fast", "--floor", &err), -1);
    assert_int_equal(wsp_audit_config_add_floor(&cfg, "=1s", "--floor", &err), -1);
    wsp_audit_config_cleanup(&cfg);
}

static void test_globs(void **state)
{
    (void)state;
    static const struct {
        const char *glob, *classname, *name;
        bool match;
    } v[] = {
        {"net.*", "net", "a", true},
        {"*", "x", "y", true},
        {"tests.e2e.*", "tests.e2e.test_chat", "test_send", true},
        {"*e2e*send", "tests.e2e.test_chat", "test_send", true},
        {"*e2e*send", "tests.e2e.test_chat", "test_sends", false},
        {"a*b*c", "a", "bxc", true}, /* "a.bxc" */
        {"a*b*c", "a", "cxb", false},
        {"*b*b*", "a", "b", false}, /* "a.b": one b only */
        {"*b*b*", "ab", "b", true},
        {"test_send", "tests.e2e.test_chat", "test_send", true}, /* the bare name */
        {"test_?end", "c", "test_send", true},                   /* fnmatch path */
        {"test_[st]end", "c", "test_send", true},
        {"test_[!s]end", "c", "test_send", false},
        {"pkg/sub*", "github.com/x/pkg/sub", "TestA", false},
        {"*pkg/sub*", "github.com/x/pkg/sub", "TestA", true}, /* '*' crosses '/' */
        {"t\\[1\\]", "c", "t[1]", true},
        {"**", "a", "b", true},
        {"", "a", "b", false},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        wsp_audit_config cfg;
        cfg_default(&cfg);
        wsp_audit_config_add_network(&cfg, v[i].glob);
        char doc[512];
        snprintf(doc, sizeof doc,
                 "<testsuite><testcase classname=\"%s\" name=\"%s\" time=\"0\"/></testsuite>",
                 v[i].classname, v[i].name);
        flist f;
        audit_docs(&cfg, &f, doc, NULL);
        bool matched = f.n == 1;
        if (matched != v[i].match)
            fail_msg("glob '%s' on '%s.%s': got %d, want %d", v[i].glob, v[i].classname, v[i].name,
                     matched, v[i].match);
        wsp_audit_config_cleanup(&cfg);
    }
}

static void test_rule_swallowed_error(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_audit_config_add_pattern(&cfg, "MyClientGaveUp");
    flist f;
    const char *doc =
        "<testsuites><testsuite name=\"s\">"
        "<testcase classname=\"t\" name=\"swallow\" time=\"0.001\"><system-out>connect failed: "
        "ConnectionRefusedError(111, 'Connection refused')</system-out></testcase>"
        "<testcase classname=\"t\" name=\"tb\" time=\"0.002\"><system-err>Traceback (most recent "
        "call last):\n  File \"x.py\"</system-err></testcase>"
        "<testcase classname=\"t\" name=\"mine\"><system-out>MYCLIENTGAVEUP</system-out>"
        "</testcase>"
        "<testcase classname=\"t\" name=\"ws403\"><system-out>websockets.exceptions.InvalidStatus: "
        "server rejected WebSocket connection: HTTP 403</system-out></testcase>"
        "<testcase classname=\"t\" name=\"failed\"><failure/><system-out>Connection refused"
        "</system-out></testcase>"
        "<testcase classname=\"t\" name=\"clean\"><system-out>sent 5 bytes, got 5</system-out>"
        "</testcase>"
        "</testsuite></testsuites>";
    assert_int_equal(audit_docs(&cfg, &f, doc, NULL), 1);
    expect(&f, "swallowed-error t.swallow", "swallowed-error t.tb", "swallowed-error t.mine",
           "swallowed-error t.ws403", NULL);

    wsp_audit *a = wsp_audit_new(&cfg);
    wsp_audit_add_memory(a, "r.xml", doc, strlen(doc));
    wsp_audit_finish(a);
    const wsp_audit_finding *fd = wsp_audit_finding_at(a, 0);
    assert_string_equal(fd->pattern, "ConnectionRefusedError");
    assert_string_equal(fd->excerpt,
                        "connect failed: ConnectionRefusedError(111, 'Connection refused')");
    assert_string_equal(wsp_audit_finding_at(a, 2)->pattern, "MyClientGaveUp");
    assert_string_equal(wsp_audit_finding_at(a, 3)->pattern, "InvalidStatus");
    wsp_audit_free(a);
    wsp_audit_config_cleanup(&cfg);
}

static void test_rule_skips_in_disguise(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    flist f;
    assert_int_equal(
        audit_docs(&cfg, &f,
                   "<testsuite name=\"s\" tests=\"9\">"
                   "<testcase name=\"disabled\" classname=\"disabled\" status=\"disabled\" "
                   "time=\"0\"/>"
                   "<testcase name=\"notrun-skipped\" status=\"notrun\"><skipped/></testcase>"
                   "<testcase name=\"gtest\" classname=\"G\" status=\"notrun\" "
                   "result=\"suppressed\"/>"
                   "<testcase name=\"testNothing\" classname=\"P\" assertions=\"0\"/>"
                   "<testcase name=\"testSome\" classname=\"P\" assertions=\"2\"/>"
                   "<testcase name=\"testFailNone\" classname=\"P\" assertions=\"0\"><failure/>"
                   "</testcase>"
                   "<testcase name=\"flaky\" classname=\"J\"><flakyFailure/><flakyFailure/>"
                   "</testcase>"
                   "<testcase name=\"retried\" classname=\"J\"><failure/></testcase>"
                   "<testcase name=\"retried\" classname=\"J\"/>"
                   "</testsuite>",
                   "<testsuite name=\"s2\">"
                   "<testcase name=\"Test suite failed to run\" classname=\"chat.test.js\">"
                   "<failure>Cannot find module ws</failure></testcase>"
                   "<testcase name=\"[build failed]\" classname=\"example.com/pkg\"><failure/>"
                   "</testcase>"
                   "<testcase name=\"initializationError\" classname=\"com.x.ChatIT\"><error/>"
                   "</testcase>"
                   "<testcase name=\"tests.test_chat\" classname=\"\"><error message=\"collection "
                   "failure\"/></testcase>"
                   "<testcase name=\"missing\" status=\"notrun\"><skipped message=\"Unable to "
                   "find executable\"/></testcase>"
                   "<testcase name=\"J.retried\" classname=\"\"/>" /* other file: no retry */
                   "</testsuite>",
                   NULL),
        1);
    expect(&f, "synthetic-case chat.test.js.Test suite failed to run",
           "synthetic-case example.com/pkg.[build failed]",
           "synthetic-case com.x.ChatIT.initializationError", "synthetic-case tests.test_chat",
           "synthetic-case missing", "passed-on-retry J.flaky", "passed-on-retry J.retried",
           "not-run disabled", "not-run G.gtest", "no-assertions P.testNothing", NULL);
    const wsp_audit_summary *s;
    wsp_audit *a = wsp_audit_new(&cfg);
    const char *doc = "<testsuite><testcase name=\"r\"><failure/></testcase>"
                      "<testcase name=\"r\" time=\"1\"/>"
                      "<testcase name=\"f\"><rerunFailure/><rerunError/></testcase></testsuite>";
    wsp_audit_add_memory(a, "r.xml", doc, strlen(doc));
    wsp_audit_finish(a);
    s = wsp_audit_get_summary(a);
    assert_int_equal(s->failed, 1);
    assert_int_equal(s->flaky, 2); /* never counted as passed */
    assert_int_equal(s->passed, 0);
    assert_string_equal(wsp_audit_finding_at(a, 0)->message,
                        "failed at line 1 of this report, then passed when run again: flaky, not "
                        "green");
    assert_string_equal(wsp_audit_finding_at(a, 1)->message,
                        "passed only after 2 failed attempts (rerunFailure/rerunError): flaky, "
                        "not green");
    wsp_audit_free(a);
    wsp_audit_config_cleanup(&cfg);
}

/* A rerun is recognised within the last 2048 to 4096 failures of the file, then forgotten. */
static void test_retry_window(void **state)
{
    (void)state;
    size_t cap = 600 * 1024;
    char *doc = malloc(cap);
    assert_non_null(doc);
    strcpy(doc, "<testsuite><testcase name=\"early\"><failure/></testcase>"
                "<testcase name=\"late\"><failure/></testcase>");
    for (int i = 0; i < 3000; i++) {
        size_t l = strlen(doc);
        snprintf(doc + l, cap - l, "<testcase name=\"f%d\"><failure/></testcase>", i);
    }
    strcat(doc, "<testcase name=\"late\"/>"); /* 3000 failures later: still remembered */
    for (int i = 3000; i < 9000; i++) {
        size_t l = strlen(doc);
        snprintf(doc + l, cap - l, "<testcase name=\"f%d\"><failure/></testcase>", i);
    }
    strcat(doc, "<testcase name=\"early\"/></testsuite>"); /* 9000 later: forgotten */
    wsp_audit_config cfg;
    cfg_default(&cfg);
    flist f;
    assert_int_equal(audit_docs(&cfg, &f, doc, NULL), 1);
    expect(&f, "passed-on-retry late", NULL);
    wsp_audit_config_cleanup(&cfg);
    free(doc);
}

static void test_rule_vacuous(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    flist f;
    assert_int_equal(
        audit_docs(&cfg, &f, "<testsuites/>",
                   "<testsuites tests=\"0\"><testsuite name=\"pkg/none\" tests=\"0\"/>"
                   "<testsuite name=\"pkg/some\" tests=\"3\"><testcase name=\"a\"/>"
                   "<testcase name=\"b\"/></testsuite></testsuites>",
                   "<testsuite name=\"outer\" tests=\"2\"><testsuite name=\"inner\" tests=\"2\">"
                   "<testcase name=\"a\"/><testcase name=\"b\"/></testsuite></testsuite>",
                   NULL),
        1);
    /* count-mismatch: the bigger gap first */
    expect(&f, "no-tests r0.xml", "no-tests pkg/none", "count-mismatch (testsuites)",
           "count-mismatch pkg/some", NULL);
    wsp_audit_config_cleanup(&cfg);
}

static void test_rule_evidence(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_err err;
    assert_int_equal(wsp_audit_config_add_requirement(&cfg, "ws.bytes_rx>0", &err), 0);
    assert_int_equal(wsp_audit_config_add_requirement(&cfg, "ws.close_code = 1000", &err), 0);
    assert_int_equal(wsp_audit_config_add_requirement(&cfg, ">0", &err), -1);
    assert_int_equal(wsp_audit_config_add_requirement(&cfg, "x>=", &err), -1);
    assert_int_equal(wsp_audit_config_add_network(&cfg, "e2e.*"), 0);
    flist f;
    assert_int_equal(
        audit_docs(&cfg, &f,
                   "<testsuite>"
                   "<testcase classname=\"e2e\" name=\"good\" time=\"1\"><properties>"
                   "<property name=\"ws.bytes_rx\" value=\"120\"/>"
                   "<property name=\"ws.close_code\" value=\"1000\"/></properties></testcase>"
                   "<testcase classname=\"e2e\" name=\"zero\" time=\"1\"><properties>"
                   "<property name=\"ws.bytes_rx\" value=\"0\"/>"
                   "<property name=\"ws.close_code\" value=\"1000\"/></properties></testcase>"
                   "<testcase classname=\"e2e\" name=\"none\" time=\"1\"/>"
                   "<testcase classname=\"e2e\" name=\"text\" time=\"1\"><properties>"
                   "<property name=\"ws.bytes_rx\">lots</property>"
                   "<property name=\"ws.close_code\">1006</property></properties></testcase>"
                   "<testcase classname=\"e2e\" name=\"failed\"><failure/></testcase>"
                   "<testcase classname=\"unit\" name=\"other\"/>"
                   "</testsuite>",
                   NULL),
        1);
    expect(&f, "missing-evidence e2e.zero", "missing-evidence e2e.none",
           "missing-evidence e2e.none", "missing-evidence e2e.text", "missing-evidence e2e.text",
           NULL);
    wsp_audit_config_cleanup(&cfg);
}

static void write_run(const char *rel, double a_s, double b_s, const char *extra)
{
    char doc[1024];
    snprintf(doc, sizeof doc,
             "<testsuites><testsuite name=\"Chat\" time=\"%.3f\">"
             "<testcase classname=\"c\" name=\"a\" time=\"%.3f\"/>"
             "<testcase classname=\"c\" name=\"b\" time=\"%.3f\"/>%s"
             "</testsuite></testsuites>",
             a_s + b_s, a_s, b_s, extra);
    write_file(rel, doc);
}

static void test_rule_collapse_and_vanished(void **state)
{
    (void)state;
    make_tmpdir();
    char p[256];
    snprintf(p, sizeof p, "%s/base", tmpdir);
    assert_int_equal(mkdir(p, 0700), 0);
    /* five earlier runs: c.a ~0.2 s, c.b ~1 s; c.gone and c.tiny only there */
    write_run("base/1.xml", 0.20, 1.0, "<testcase classname=\"c\" name=\"gone\" time=\"0.1\"/>");
    write_run("base/2.xml", 0.21, 1.1, "<testcase classname=\"c\" name=\"tiny\" time=\"0.0005\"/>");
    write_run("base/3.xml", 0.19, 0.9, "");
    write_run("base/4.xml", 0.22, 1.0, "");
    write_run("base/5.xml", 0.20, 1.0, "");
    write_file("base/notes.txt", "ignored");

    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_audit_config_add_baseline(&cfg, p);
    flist f;
    /* c.a collapsed (0.005 < 0.02); c.b at 0.5 s is fine; suite Chat total 0.505 is fine */
    assert_int_equal(audit_docs(&cfg, &f,
                                "<testsuite name=\"Chat\"><testcase classname=\"c\" name=\"a\" "
                                "time=\"0.005\"/><testcase classname=\"c\" name=\"b\" "
                                "time=\"0.5\"/><testcase classname=\"c\" name=\"new\" "
                                "time=\"0\"/></testsuite>",
                                NULL),
                     1);
    expect(&f, "collapse c.a", "vanished c.gone", "vanished c.tiny", NULL);

    /* the numbers */
    wsp_audit *a = wsp_audit_new(&cfg);
    wsp_junit_error e;
    assert_int_equal(wsp_audit_load_baselines(a, &e), 0);
    const char *doc = "<testsuite name=\"Chat\"><testcase classname=\"c\" name=\"a\" "
                      "time=\"0.001\"/><testcase classname=\"c\" name=\"b\" time=\"0.002\"/>"
                      "</testsuite>";
    wsp_audit_add_memory(a, "now.xml", doc, strlen(doc));
    wsp_audit_finish(a);
    assert_int_equal(wsp_audit_get_summary(a)->baseline_files, 5);
    assert_int_equal(wsp_audit_get_summary(a)->baseline_tests, 4);
    /* worst first: c.b (0.002/1.0) before c.a (0.001/0.2) */
    const wsp_audit_finding *fd = wsp_audit_finding_at(a, 0);
    assert_int_equal(fd->rule, WSP_AUDIT_COLLAPSE);
    assert_string_equal(fd->test, "c.b");
    assert_int_equal(fd->median_us, 1000000);
    assert_int_equal(fd->runs, 5);
    assert_int_equal(fd->limit_us, 100000);
    assert_string_equal(
        fd->message, "passed in 2 ms, under 100 ms (0.1 x its median 1 s over 5 earlier passes)");
    assert_string_equal(wsp_audit_finding_at(a, 1)->test, "c.a");
    fd = wsp_audit_finding_at(a, 2);
    assert_int_equal(fd->rule, WSP_AUDIT_SUITE_COLLAPSE);
    assert_string_equal(fd->test, "Chat");
    assert_int_equal(fd->time_us, 3000);
    assert_int_equal(fd->median_us, 1200000);
    assert_int_equal(fd->runs, 3); /* the runs with the same two tests */
    assert_string_equal(wsp_audit_finding_at(a, 3)->test, "c.gone");
    assert_int_equal(wsp_audit_finding_count(a), 5);

    /* save the baseline, read it back as a store: the same collapse */
    char store[256];
    snprintf(store, sizeof store, "%s/store.json", tmpdir);
    wsp_audit_config cfg2;
    cfg_default(&cfg2);
    wsp_audit_config_add_baseline(&cfg2, p);
    cfg2.save_baseline = strdup(store);
    wsp_audit *a2 = wsp_audit_new(&cfg2);
    assert_int_equal(wsp_audit_load_baselines(a2, &e), 0);
    const char *ok = "<testsuite name=\"Chat\"><testcase classname=\"c\" name=\"a\" "
                     "time=\"0.2\"/><testcase classname=\"c\" name=\"b\" time=\"1\"/>"
                     "<testcase classname=\"c\" name=\"gone\" time=\"0.1\"/>"
                     "<testcase classname=\"c\" name=\"tiny\"/></testsuite>";
    wsp_audit_add_memory(a2, "ok.xml", ok, strlen(ok));
    wsp_audit_finish(a2);
    assert_int_equal(wsp_audit_finding_count(a2), 0);
    wsp_err err;
    assert_int_equal(wsp_audit_save_baseline(a2, store, &err), 0);
    wsp_audit_free(a2);
    wsp_audit_config_cleanup(&cfg2);
    json_error_t je;
    json_t *root = json_load_file(store, 0, &je);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "format")),
                        "wsprobe-audit-baseline");
    json_t *ta = json_object_get(json_object_get(root, "tests"), "c.a");
    assert_int_equal(json_array_size(json_object_get(ta, "passes_us")), 6);
    assert_string_equal(json_string_value(json_object_get(ta, "name")), "a");
    json_decref(root);

    wsp_audit_config cfg3;
    cfg_default(&cfg3);
    wsp_audit_config_add_baseline(&cfg3, store);
    wsp_audit_config_add_exclude(&cfg3, "gone");
    assert_int_equal(audit_docs(&cfg3, &f, doc, NULL), 1);
    expect(&f, "collapse c.b", "collapse c.a", "suite-collapse Chat", "vanished c.tiny", NULL);
    wsp_audit_config_cleanup(&cfg3);

    /* fewer than min_history passes: no collapse */
    cfg.min_history = 6;
    assert_int_equal(audit_docs(&cfg, &f,
                                "<testsuite name=\"Other\"><testcase classname=\"c\" name=\"a\" "
                                "time=\"0.001\"/></testsuite>",
                                NULL),
                     1);
    expect(&f, "vanished c.b", "vanished c.gone", "vanished c.tiny", NULL);
    wsp_audit_free(a);

    /* a baseline that cannot be read stops the run */
    wsp_audit_config_add_baseline(&cfg, "/nonexistent/base");
    a = wsp_audit_new(&cfg);
    assert_int_equal(wsp_audit_load_baselines(a, &e), -1);
    assert_string_equal(e.file, "/nonexistent/base");
    wsp_audit_free(a);
    wsp_audit_config_cleanup(&cfg);
    rm_tmpdir();
}

static void test_exclude_and_disable(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_err err;
    wsp_audit_config_add_network(&cfg, "*");
    wsp_audit_config_add_exclude(&cfg, "legacy.*");
    assert_int_equal(wsp_audit_config_disable(&cfg, "no-assertions", &err), 0);
    assert_int_equal(wsp_audit_config_disable(&cfg, "nonsense", &err), -1);
    assert_non_null(strstr(err.msg, "zero-time"));
    flist f;
    assert_int_equal(audit_docs(&cfg, &f,
                                "<testsuite><testcase classname=\"legacy\" name=\"a\" time=\"0\"/>"
                                "<testcase classname=\"x\" name=\"b\" time=\"0\" "
                                "assertions=\"0\"/></testsuite>",
                                NULL),
                     1);
    expect(&f, "zero-time x.b", NULL);
    cfg.disabled[WSP_AUDIT_ZERO_TIME] = true;
    assert_int_equal(audit_docs(&cfg, &f,
                                "<testsuite><testcase classname=\"x\" name=\"b\" time=\"0\" "
                                "assertions=\"0\"/></testsuite>",
                                NULL),
                     0);
    expect(&f, NULL);
    wsp_audit_config_cleanup(&cfg);
}

static void test_bad_input_exit_code_and_outputs(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_audit_config_add_network(&cfg, "net.*");
    wsp_audit *a = wsp_audit_new(&cfg);
    const char *good = "<testsuite name=\"s\"><testcase classname=\"net\" name=\"z&amp;&quot;\" "
                       "time=\"0\"/></testsuite>";
    const char *bad = "<testsuite>\n<testcase>\n</testsuite>";
    assert_int_equal(wsp_audit_add_memory(a, "good.xml", good, strlen(good)), 0);
    assert_int_equal(wsp_audit_add_memory(a, "bad.xml", bad, strlen(bad)), 1);
    wsp_audit_finish(a);
    assert_int_equal(wsp_audit_exit_code(a), 2);
    assert_int_equal(wsp_audit_error_count(a), 1);
    assert_string_equal(wsp_audit_error_at(a, 0)->file, "bad.xml");
    assert_int_equal(wsp_audit_error_at(a, 0)->line, 3);

    /* JSON */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(wsp_audit_write_json(a, f), 0);
    fclose(f);
    json_error_t je;
    json_t *root = json_loads(buf, 0, &je);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "exit_code")), 2);
    json_t *fd = json_array_get(json_object_get(root, "findings"), 0);
    assert_string_equal(json_string_value(json_object_get(fd, "rule")), "zero-time");
    assert_string_equal(json_string_value(json_object_get(fd, "test")), "net.z&\"");
    assert_true(json_real_value(json_object_get(fd, "time_ms")) == 0.0);
    json_t *er = json_array_get(json_object_get(root, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(er, "error")), "malformed");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(root, "summary"), "bad_reports")), 1);
    json_decref(root);
    free(buf);

    /* JUnit: our own reader reads it back, one failure per finding, one error per bad input */
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_int_equal(wsp_audit_write_junit(a, f), 0);
    fclose(f);
    got g;
    wsp_junit_error e;
    assert_int_equal(read_doc(buf, &g, &e), WSP_JUNIT_OK);
    int failed = 0, errored = 0, passed = 0;
    for (int i = 0; i < g.ncases; i++) {
        failed += g.outcome[i] == WSP_JUNIT_FAILED;
        errored += g.outcome[i] == WSP_JUNIT_ERRORED;
        passed += g.outcome[i] == WSP_JUNIT_PASSED;
    }
    assert_int_equal(failed, 1);
    assert_int_equal(errored, 1);
    assert_int_equal(passed, WSP_AUDIT_RULE_COUNT - 1);
    assert_string_equal(g.id[0], "wsprobe.audit.zero-time.net.z&\"");
    free(buf);

    /* human */
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_int_equal(wsp_audit_write_human(a, f, false), 0);
    fclose(f);
    assert_non_null(strstr(buf, "zero-time (rule 2): 1 finding"));
    assert_non_null(strstr(buf, "bad.xml:3: malformed"));
    assert_non_null(strstr(buf, "verdict: bad input"));
    assert_null(strstr(buf, "\033["));
    free(buf);
    wsp_audit_free(a);

    /* clean */
    a = wsp_audit_new(&cfg);
    const char *clean = "<testsuite><testcase classname=\"net\" name=\"a\" time=\"0.1\"/>"
                        "</testsuite>";
    wsp_audit_add_memory(a, "c.xml", clean, strlen(clean));
    wsp_audit_finish(a);
    assert_int_equal(wsp_audit_exit_code(a), 0);
    buf = NULL;
    f = open_memstream(&buf, &len);
    wsp_audit_write_human(a, f, true);
    fclose(f);
    assert_non_null(strstr(buf, "verdict: clean"));
    assert_non_null(strstr(buf, "\033["));
    free(buf);
    wsp_audit_free(a);
    wsp_audit_config_cleanup(&cfg);
}

static void test_paths_and_folders(void **state)
{
    (void)state;
    make_tmpdir();
    char p[256];
    snprintf(p, sizeof p, "%s/sub", tmpdir);
    mkdir(p, 0700);
    write_file("a.xml", "<testsuite><testcase name=\"a\" time=\"1\"/></testsuite>");
    write_file("sub/b.XML", "<testsuite><testcase name=\"b\" time=\"1\"/></testsuite>");
    write_file("sub/c.txt", "not a report");
    write_file("sub/broken.xml", "<testsuite>");
    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_audit *a = wsp_audit_new(&cfg);
    assert_int_equal(wsp_audit_add_path(a, tmpdir), 1);
    wsp_audit_finish(a);
    assert_int_equal(wsp_audit_get_summary(a)->files, 2);
    assert_int_equal(wsp_audit_get_summary(a)->cases, 2);
    assert_int_equal(wsp_audit_get_summary(a)->bad_files, 1);
    assert_non_null(strstr(wsp_audit_error_at(a, 0)->file, "sub/broken.xml"));
    wsp_audit_free(a);
    /* an empty folder is bad input */
    snprintf(p, sizeof p, "%s/empty", tmpdir);
    mkdir(p, 0700);
    a = wsp_audit_new(&cfg);
    assert_int_equal(wsp_audit_add_path(a, p), 1);
    wsp_audit_finish(a);
    assert_int_equal(wsp_audit_exit_code(a), 2);
    wsp_audit_free(a);
    wsp_audit_config_cleanup(&cfg);
    rm_tmpdir();
}

static void test_config_yaml(void **state)
{
    (void)state;
    make_tmpdir();
    write_file("ok.yaml", "# audit settings\n"
                          "network_tests: ['tests.e2e.*', '*Integration*']\n"
                          "floor:\n  'tests.e2e.*': 20ms\n  '*slow*': 1s\n"
                          "floor-from-probe: ws://127.0.0.1:9/ws\n"
                          "require_property: ws.bytes_rx>0\n"
                          "baseline: [reports/a, reports/b]\n"
                          "min_history: 3\ncollapse_ratio: 0.2\ncollapse_min: 5ms\n"
                          "swallowed_pattern: [GaveUp]\nexclude: legacy.*\n"
                          "disable: [no-tests, count-mismatch]\n"
                          "json: out.json\njunit: out.xml\nsave_baseline: b.json\n"
                          "max_findings: 7\nmax_report_size: 64M\nshow: 3\nquiet: true\n");
    wsp_audit_config cfg;
    cfg_default(&cfg);
    wsp_err err;
    char p[256];
    snprintf(p, sizeof p, "%s/ok.yaml", tmpdir);
    if (wsp_audit_config_load_yaml(&cfg, p, &err) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.nnetwork, 2);
    assert_string_equal(cfg.network[1], "*Integration*");
    assert_int_equal(cfg.nfloors, 2);
    assert_string_equal(cfg.floors[1].glob, "*slow*");
    assert_int_equal(cfg.floors[1].us, 1000000);
    assert_string_equal(cfg.floors[1].source, "config");
    assert_int_equal(cfg.nprobes, 1);
    assert_null(cfg.probes[0].glob);
    assert_string_equal(cfg.probes[0].url, "ws://127.0.0.1:9/ws");
    assert_int_equal(cfg.nreqs, 1);
    assert_int_equal(cfg.reqs[0].op, WSP_AUDIT_OP_GT);
    assert_int_equal(cfg.nbaselines, 2);
    assert_int_equal(cfg.min_history, 3);
    assert_true(cfg.collapse_ratio > 0.19 && cfg.collapse_ratio < 0.21);
    assert_int_equal(cfg.collapse_min_us, 5000);
    assert_string_equal(cfg.patterns[0], "GaveUp");
    assert_string_equal(cfg.exclude[0], "legacy.*");
    assert_true(cfg.disabled[WSP_AUDIT_NO_TESTS]);
    assert_true(cfg.disabled[WSP_AUDIT_COUNT_MISMATCH]);
    assert_false(cfg.disabled[WSP_AUDIT_FLOOR]);
    assert_string_equal(cfg.json_path, "out.json");
    assert_string_equal(cfg.junit_path, "out.xml");
    assert_string_equal(cfg.save_baseline, "b.json");
    assert_int_equal(cfg.max_findings, 7);
    assert_int_equal(cfg.max_report_bytes, 64ull << 20);
    assert_int_equal(cfg.show, 3);
    assert_true(cfg.quiet);
    wsp_audit_config_cleanup(&cfg);

    /* errors name the file and the line */
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"network_tests: x\nfloorz: 1s\n", "bad.yaml:2: unknown setting 'floorz'"},
        {"floor: 'x=soon'\n", "bad.yaml:1: --floor 'x=soon'"},
        {"min_history: [1, 2]\n", "takes one value"},
        {"min_history: 0\n", "--min-history"},
        {"- a\n- b\n", "must be a mapping"},
        {"floor: {a: [1]}\n", "maps a glob"},
        {"key: [unclosed\n", "YAML error"},
        {"disable: nonsense\n", "unknown rule 'nonsense'"},
        {"floor_from_probe: http://x\n", "ws:// or wss://"},
        {"quiet: true\n---\nflor: 1\n",
         "bad.yaml:2: an audit configuration holds one YAML document; a second starts at 2:1"},
        {"quiet: true\n---\n", "a second starts at 2:1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("bad.yaml", bad[i].text);
        snprintf(p, sizeof p, "%s/bad.yaml", tmpdir);
        cfg_default(&cfg);
        wsp_err_clear(&err);
        assert_int_equal(wsp_audit_config_load_yaml(&cfg, p, &err), -1);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err.msg, bad[i].want);
        wsp_audit_config_cleanup(&cfg);
    }
    /* 1 MiB of nesting (the size cap) is refused at the depth cap, not parsed for minutes */
    static const char *const deep[] = {"[", "{a: ", "- "};
    for (size_t d = 0; d < sizeof deep / sizeof deep[0]; d++) {
        snprintf(p, sizeof p, "%s/deep.yaml", tmpdir);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("floor: ", f);
        if (deep[d][0] == '-')
            fputs("\n", f);
        size_t u = strlen(deep[d]);
        for (size_t o = 8; o + u <= (1u << 20); o += u)
            fputs(deep[d], f);
        assert_int_equal(fclose(f), 0);
        cfg_default(&cfg);
        wsp_err_clear(&err);
        assert_int_equal(wsp_audit_config_load_yaml(&cfg, p, &err), -1);
        if (!strstr(err.msg, "deep.yaml:") || !strstr(err.msg, "nested deeper than 64 levels"))
            fail_msg("'%s' nesting: error '%s'", deep[d], err.msg);
        wsp_audit_config_cleanup(&cfg);
    }
    cfg_default(&cfg);
    assert_int_equal(wsp_audit_config_load_yaml(&cfg, "/nonexistent.yaml", &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    /* flags share the setters */
    assert_int_equal(wsp_audit_config_set(&cfg, "max-report-size", "2G", &err), 0);
    assert_int_equal(cfg.max_report_bytes, 2ull << 30);
    assert_int_equal(wsp_audit_config_set(&cfg, "collapse-ratio", "1.5", &err), -1);
    assert_int_equal(wsp_audit_config_set(&cfg, "show", "-1", &err), -1);
    assert_int_equal(wsp_audit_config_add_probe(&cfg, "e2e.*=wss://h/ws", &err), 0);
    assert_string_equal(cfg.probes[0].glob, "e2e.*");
    assert_string_equal(cfg.probes[0].url, "wss://h/ws");
    wsp_audit_config_cleanup(&cfg);
    rm_tmpdir();
}

static void test_findings_cap(void **state)
{
    (void)state;
    wsp_audit_config cfg;
    cfg_default(&cfg);
    cfg.max_findings = 3;
    wsp_audit_config_add_network(&cfg, "*");
    char doc[4096] = "<testsuite>";
    for (int i = 0; i < 10; i++) {
        size_t l = strlen(doc);
        snprintf(doc + l, sizeof doc - l, "<testcase name=\"t%d\" time=\"0\"/>", i);
    }
    strcat(doc, "</testsuite>");
    wsp_audit *a = wsp_audit_new(&cfg);
    wsp_audit_add_memory(a, "r.xml", doc, strlen(doc));
    wsp_audit_finish(a);
    assert_int_equal(wsp_audit_finding_count(a), 3);
    assert_int_equal(wsp_audit_get_summary(a)->findings, 10);
    assert_int_equal(wsp_audit_get_summary(a)->per_rule[WSP_AUDIT_ZERO_TIME], 10);
    wsp_audit_free(a);
    wsp_audit_config_cleanup(&cfg);
}

static void test_rule_names(void **state)
{
    (void)state;
    for (int r = 0; r < WSP_AUDIT_RULE_COUNT; r++) {
        const char *n = wsp_audit_rule_name((wsp_audit_rule)r);
        assert_int_equal(wsp_audit_rule_from_name(n), r);
        assert_true(wsp_audit_rule_group((wsp_audit_rule)r) >= 1);
        assert_true(wsp_audit_rule_group((wsp_audit_rule)r) <= 6);
        assert_true(strlen(wsp_audit_rule_why((wsp_audit_rule)r)) > 10);
    }
    assert_int_equal(wsp_audit_rule_from_name("nope"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_reader_roots_and_nesting),
        cmocka_unit_test(test_reader_outcomes),
        cmocka_unit_test(test_reader_output_and_properties),
        cmocka_unit_test(test_reader_many_properties_capped),
        cmocka_unit_test(test_reader_bad_input),
        cmocka_unit_test(test_reader_billion_laughs),
        cmocka_unit_test(test_reader_limits),
        cmocka_unit_test(test_reader_files_gzip_and_abort),
        cmocka_unit_test(test_rule_floor_and_zero_time),
        cmocka_unit_test(test_globs),
        cmocka_unit_test(test_rule_swallowed_error),
        cmocka_unit_test(test_rule_skips_in_disguise),
        cmocka_unit_test(test_retry_window),
        cmocka_unit_test(test_rule_vacuous),
        cmocka_unit_test(test_rule_evidence),
        cmocka_unit_test(test_rule_collapse_and_vanished),
        cmocka_unit_test(test_exclude_and_disable),
        cmocka_unit_test(test_bad_input_exit_code_and_outputs),
        cmocka_unit_test(test_paths_and_folders),
        cmocka_unit_test(test_config_yaml),
        cmocka_unit_test(test_findings_cap),
        cmocka_unit_test(test_rule_names),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
