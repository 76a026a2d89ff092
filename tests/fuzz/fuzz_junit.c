/* fuzz_junit.c - the JUnit reader and the audit rules on arbitrary bytes. Checks, beyond "no
 * crash, no leak, no hang" (libFuzzer's -timeout catches runaway entity expansion):
 *   - every case handed over has a non-empty id, a known outcome, a time that is unknown (-1)
 *     or non-negative, and strings the reader promised (NUL-terminated, bounded);
 *   - a document that is refused names the reason (rc and message);
 *   - the audit of the same bytes agrees with the reader on how many cases there were, and its
 *     JSON and JUnit reports are produced; the JUnit report reads back with our own reader, one
 *     failure per finding kept.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/junit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct counts {
    uint64_t cases, failed;
} counts;

static const char *const patterns[] = {"Traceback", "refused", "timed out", "x"};

static int on_case(void *ctx, const wsp_junit_case *c)
{
    counts *n = ctx;
    n->cases++;
    if (!c->id || !c->id[0] || !c->name || !c->classname || !c->suite || !c->suite_path ||
        !c->message || !c->excerpt || !c->status || !c->result)
        abort();
    if (c->time_us < -1)
        abort();
    if (c->outcome > WSP_JUNIT_FLAKY)
        abort();
    if (strlen(c->message) > WSP_JUNIT_MSG_MAX || strlen(c->excerpt) > WSP_JUNIT_EXCERPT_MAX)
        abort();
    if (c->pattern >= 4 || (c->pattern < 0 && c->excerpt[0]))
        abort();
    if (c->nprops > WSP_JUNIT_MAX_PROPS)
        abort();
    for (size_t i = 0; i < c->nprops; i++)
        if (!c->props[i].name || !c->props[i].value)
            abort();
    if (c->outcome == WSP_JUNIT_FAILED || c->outcome == WSP_JUNIT_ERRORED)
        n->failed++;
    return 0;
}

static int on_suite(void *ctx, const wsp_junit_suite *s)
{
    (void)ctx;
    if (!s->name || !s->path || s->cases < 0 || s->direct_cases > s->cases || s->depth < 0 ||
        s->depth >= WSP_JUNIT_MAX_SUITE_DEPTH)
        abort();
    return 0;
}

static int count_case(void *ctx, const wsp_junit_case *c)
{
    counts *n = ctx;
    n->cases++;
    if (c->outcome == WSP_JUNIT_FAILED)
        n->failed++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    const char *buf = (const char *)data;

    /* the reader alone */
    counts n = {0, 0};
    wsp_junit_options o;
    memset(&o, 0, sizeof o);
    o.patterns = patterns;
    o.npatterns = 4;
    o.ctx = &n;
    o.on_case = on_case;
    o.on_suite = on_suite;
    wsp_junit_error e;
    wsp_junit_rc rc = wsp_junit_read_memory(buf, size, "fuzz.xml", &o, NULL, &e);
    if (rc != WSP_JUNIT_OK && (e.rc != rc || e.msg[0] == '\0' || strcmp(e.file, "fuzz.xml") != 0))
        abort();

    /* the audit, with every rule that needs no baseline switched on */
    wsp_audit_config cfg;
    wsp_audit_config_init(&cfg);
    wsp_err err;
    wsp_audit_config_add_network(&cfg, "*a*");
    wsp_audit_config_add_network(&cfg, "t[0-9]?");
    wsp_audit_config_add_floor(&cfg, "*=5ms", "fuzz", &err);
    wsp_audit_config_add_requirement(&cfg, "p>1", &err);
    wsp_audit_config_add_exclude(&cfg, "ex*");
    wsp_audit_config_add_pattern(&cfg, "boom");
    cfg.max_findings = 50;
    wsp_audit *a = wsp_audit_new(&cfg);
    if (!a)
        abort();
    int bad = wsp_audit_add_memory(a, "fuzz.xml", buf, size);
    wsp_audit_finish(a);
    const wsp_audit_summary *s = wsp_audit_get_summary(a);
    if ((bad != 0) != (rc != WSP_JUNIT_OK))
        abort();
    if (s->cases + s->excluded != n.cases)
        abort();
    int code = wsp_audit_exit_code(a);
    if (code != (rc != WSP_JUNIT_OK ? 2 : s->findings ? 1 : 0))
        abort();
    for (size_t i = 0; i < wsp_audit_finding_count(a); i++) {
        const wsp_audit_finding *f = wsp_audit_finding_at(a, i);
        if (!f->message || !f->test || f->rule >= WSP_AUDIT_RULE_COUNT)
            abort();
    }

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (f) {
        wsp_audit_write_json(a, f);
        wsp_audit_write_human(a, f, true);
        fclose(f);
        free(out);
    }
    out = NULL;
    f = open_memstream(&out, &len);
    if (f) {
        if (wsp_audit_write_junit(a, f) != 0)
            abort();
        fclose(f);
        /* our own report reads back: one failure per finding kept */
        counts back = {0, 0};
        wsp_junit_options o2;
        memset(&o2, 0, sizeof o2);
        o2.ctx = &back;
        o2.on_case = count_case;
        if (wsp_junit_read_memory(out, len, "report.xml", &o2, NULL, &e) != WSP_JUNIT_OK)
            abort();
        if (back.failed != wsp_audit_finding_count(a))
            abort();
        free(out);
    }
    wsp_audit_free(a);
    wsp_audit_config_cleanup(&cfg);
    return 0;
}
