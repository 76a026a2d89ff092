/* runreport.c - run and parity reports: human, JSON, JUnit XML. See runreport.h. */
#include "report/runreport.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/redact.h"
#include "report/report.h"
#include "report/xmlw.h"

/* ---- secrets ---- */

/* A copy of s through the one redactor (util/redact.h). Heap; NULL on OOM. */
static char *scrub(const char *s)
{
    return s ? wsp_redact(s, strlen(s), NULL) : NULL;
}

/* A scrubbed JSON string (or null) */
static json_t *jscrub(const char *s)
{
    if (!s)
        return json_null();
    char *c = scrub(s);
    json_t *j = c ? json_string(c) : NULL;
    if (!j && c) { /* not UTF-8: keep printable ASCII */
        for (char *p = c; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        j = json_string(c);
    }
    free(c);
    return j ? j : json_null();
}

/* Scrub every string in a JSON value, recursively (a new value). */
static json_t *scrub_json(const json_t *v, int depth)
{
    if (!v || depth > 32)
        return json_null();
    if (json_is_string(v))
        return jscrub(json_string_value(v));
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)(uintptr_t)v, k, x)
            json_object_set_new(o, k, scrub_json(x, depth + 1));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, scrub_json(x, depth + 1));
        return a;
    }
    return json_deep_copy(v);
}

/* ---- verdicts ---- */

bool wsp_runreport_verdict_fails(wsp_verdict v, bool strict)
{
    switch (v) {
    case WSP_VERDICT_PASS:
        return false;
    case WSP_VERDICT_FAIL:
    case WSP_VERDICT_INCONCLUSIVE:
        return true;
    case WSP_VERDICT_WARN:
    case WSP_VERDICT_SKIP:
    case WSP_VERDICT_NOT_APPLICABLE:
        return strict;
    }
    return true;
}

int wsp_runreport_exit_code(const wsp_check_result *results, size_t n, bool strict)
{
    for (size_t i = 0; i < n; i++)
        if (wsp_runreport_verdict_fails(results[i].verdict, strict))
            return 1;
    return 0;
}

static const char *id_of(const wsp_runreport *rr, size_t i)
{
    return rr->ids && rr->ids[i] ? rr->ids[i] : rr->results[i].id;
}

static const char *group_of(const wsp_runreport *rr, size_t i)
{
    return rr->groups && rr->groups[i] ? rr->groups[i] : "basic";
}

static json_t *summary_json(const wsp_check_result *res, size_t n)
{
    wsp_check_summary s;
    wsp_check_summarize(res, n, &s);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "checks", (json_int_t)n, "performed",
                     (json_int_t)s.performed, "not_started", (json_int_t)s.not_started, "passed",
                     (json_int_t)s.counts[WSP_VERDICT_PASS], "failed",
                     (json_int_t)s.counts[WSP_VERDICT_FAIL], "warned",
                     (json_int_t)s.counts[WSP_VERDICT_WARN], "inconclusive",
                     (json_int_t)s.counts[WSP_VERDICT_INCONCLUSIVE], "skipped",
                     (json_int_t)s.counts[WSP_VERDICT_SKIP], "not_applicable",
                     (json_int_t)s.counts[WSP_VERDICT_NOT_APPLICABLE]);
}

static void redacted_url(const char *url, char *out, size_t cap)
{
    char tmp[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url ? url : "", tmp, sizeof tmp);
    char *s = scrub(tmp);
    snprintf(out, cap, "%s", s ? s : "");
    free(s);
}

json_t *wsp_runreport_json(const wsp_runreport *rr)
{
    char url[WSP_URL_TARGET_MAX + 512];
    redacted_url(rr->url_text, url, sizeof url);
    int rc = wsp_runreport_exit_code(rr->results, rr->n, rr->strict);
    json_t *o = json_pack("{s:o,s:o,s:o,s:b,s:i,s:f,s:b,s:o}", "plan", jscrub(rr->plan_file),
                          "environment", jscrub(rr->env_name), "url", jscrub(url), "ok", rc == 0,
                          "exit_code", rc, "duration_ms", rr->duration_ms, "strict", rr->strict,
                          "summary", summary_json(rr->results, rr->n));
    json_t *checks = json_array();
    if (!o || !checks) {
        json_decref(o);
        json_decref(checks);
        return NULL;
    }
    for (size_t i = 0; i < rr->n; i++) {
        const wsp_check_result *r = &rr->results[i];
        json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:f,s:b,s:o,s:o}", "id", id_of(rr, i),
                              "group", group_of(rr, i), "verdict", wsp_verdict_name(r->verdict),
                              "class", wsp_class_name(r->cls), "message", jscrub(r->message),
                              "hint", jscrub(r->hint), "duration_ms", r->duration_ms, "ran", r->ran,
                              "evidence", r->evidence ? scrub_json(r->evidence, 0) : json_object(),
                              "transcript", jscrub(r->transcript));
        if (c)
            json_array_append_new(checks, c);
    }
    json_object_set_new(o, "checks", checks);
    return o;
}

/* ---- human ---- */

static const char *verdict_color(wsp_verdict v)
{
    switch (v) {
    case WSP_VERDICT_PASS:
        return "\033[32m";
    case WSP_VERDICT_FAIL:
        return "\033[31m";
    case WSP_VERDICT_WARN:
    case WSP_VERDICT_INCONCLUSIVE:
        return "\033[33m";
    case WSP_VERDICT_SKIP:
    case WSP_VERDICT_NOT_APPLICABLE:
        return "\033[2m";
    }
    return "";
}

void wsp_runreport_human(FILE *f, const wsp_runreport *rr, bool color)
{
    char url[WSP_URL_TARGET_MAX + 512];
    redacted_url(rr->url_text, url, sizeof url);
    fprintf(f, "plan %s, environment %s (%s)\n\n", rr->plan_file, rr->env_name, url);
    fprintf(f, "  %-14s %-28s %9s  %s\n", "verdict", "check", "time", "what was seen");
    for (size_t i = 0; i < rr->n; i++) {
        const wsp_check_result *r = &rr->results[i];
        char *m = scrub(r->message);
        char cls[48] = "";
        if (r->cls != WSP_CLASS_OK)
            snprintf(cls, sizeof cls, "%s: ", wsp_class_name(r->cls));
        fprintf(f, "  %s%-14s%s %-28.28s %7.1fms  %s%s\n", color ? verdict_color(r->verdict) : "",
                wsp_verdict_name(r->verdict), color ? "\033[0m" : "", id_of(rr, i), r->duration_ms,
                cls, m ? m : "");
        free(m);
    }
    bool hints = false;
    for (size_t i = 0; i < rr->n; i++) {
        const wsp_check_result *r = &rr->results[i];
        if (!r->hint[0] || r->verdict == WSP_VERDICT_PASS)
            continue;
        if (!hints)
            fprintf(f, "\nhints:\n");
        hints = true;
        char *h = scrub(r->hint);
        fprintf(f, "  %s: %s\n", id_of(rr, i), h ? h : "");
        free(h);
    }
    int rc = wsp_runreport_exit_code(rr->results, rr->n, rr->strict);
    fputc('\n', f);
    wsp_runreport_summary_line(f, rr->results, rr->n);
    fprintf(f, " in %.0f ms -> %s%s%s\n", rr->duration_ms,
            color ? (rc ? "\033[31m" : "\033[32m") : "", rc ? "FAILED" : "OK",
            color ? "\033[0m" : "");
}

/* The summary line from a summary object of summary_json (run's view and parity's alike). */
static void print_summary(FILE *f, const json_t *s)
{
#define C(k) ((long long)json_integer_value(json_object_get(s, k)))
    fprintf(f,
            "%lld checks: %lld performed (%lld passed, %lld failed, %lld warned, %lld "
            "inconclusive), %lld not applicable, %lld skipped",
            C("checks"), C("performed"), C("passed"), C("failed"), C("warned"),
            C("inconclusive") - C("not_started"), C("not_applicable"), C("skipped"));
    if (C("not_started"))
        fprintf(f, ", %lld not started (the deadline passed first)", C("not_started"));
#undef C
}

void wsp_runreport_summary_line(FILE *f, const wsp_check_result *results, size_t n)
{
    json_t *s = summary_json(results, n);
    print_summary(f, s);
    json_decref(s);
}

/* ---- JUnit ---- */

static void wprop(wsp_xmlw *w, const char *name, const char *value)
{
    wsp_xmlw_start(w, "property");
    wsp_xmlw_attr(w, "name", name);
    wsp_xmlw_attr(w, "value", value);
    wsp_xmlw_end(w);
}

/* An evidence field: at the top of the evidence, else in the first nested probe object that has
 * it; "" when absent, "null" for JSON null. */
static void evidence_field(const json_t *ev, const char *key, char *out, size_t cap)
{
    const json_t *v = json_object_get(ev, key);
    if (!v) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)(uintptr_t)ev, k, x)
        {
            if (json_is_object(x) && (v = json_object_get(x, key)))
                break;
        }
    }
    out[0] = '\0';
    if (!v)
        return;
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.3f", json_real_value(v));
    else if (json_is_null(v))
        snprintf(out, cap, "null");
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
}

/* A check's parts (evidence.cases: a hold's strategies, gates and thresholds, each address of
 * each_address), a testcase each after the check's own, named "CHECK/PART". */
static size_t junit_parts(wsp_xmlw *w, const wsp_runreport *rr, size_t i, const char *classname,
                          unsigned *failures)
{
    const wsp_check_result *r = &rr->results[i];
    const json_t *cases = json_object_get(r->evidence, "cases");
    size_t n = 0, k;
    const json_t *c;
    json_array_foreach(cases, k, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!name)
            continue;
        n++;
        const char *failure = json_string_value(json_object_get(c, "failure"));
        *failures += failure != NULL;
        if (!w)
            continue;
        char full[300];
        snprintf(full, sizeof full, "%s/%s", id_of(rr, i), name);
        const char *kind = json_string_value(json_object_get(c, "kind"));
        wsp_xmlw_testcase(w, classname, full, r->duration_ms / 1000.0, kind ? kind : "part",
                          failure, json_string_value(json_object_get(c, "detail")));
    }
    return n;
}

typedef struct junit_counts {
    unsigned tests, failures, errors, skipped;
} junit_counts;

/* One environment's testcases (each check and its parts) by outcome, added to c. */
static void suite_counts(const wsp_runreport *rr, junit_counts *c)
{
    for (size_t i = 0; i < rr->n; i++) {
        c->tests += 1 + (unsigned)junit_parts(NULL, rr, i, NULL, &c->failures);
        wsp_verdict v = rr->results[i].verdict;
        if (v == WSP_VERDICT_FAIL || (rr->strict && v == WSP_VERDICT_WARN))
            c->failures++;
        else if (v == WSP_VERDICT_INCONCLUSIVE)
            c->errors++;
        else if (v == WSP_VERDICT_SKIP || v == WSP_VERDICT_NOT_APPLICABLE)
            c->skipped++;
    }
}

static void junit_suite(wsp_xmlw *w, const wsp_runreport *rr, const char *stamp)
{
    junit_counts c = {0};
    suite_counts(rr, &c);
    char name[256], url[WSP_URL_TARGET_MAX + 512];
    snprintf(name, sizeof name, "wsprobe %s [%s]", rr->plan_file ? rr->plan_file : "plan",
             rr->env_name ? rr->env_name : "");
    redacted_url(rr->url_text, url, sizeof url);
    wsp_xmlw_suite(w, "testsuite", name, c.tests, c.failures, c.errors);
    wsp_xmlw_attrf(w, "skipped", "%u", c.skipped);
    wsp_xmlw_attrf(w, "time", "%.3f", rr->duration_ms / 1000.0);
    wsp_xmlw_attr(w, "timestamp", stamp);
    wsp_xmlw_start(w, "properties");
    wprop(w, "environment", rr->env_name ? rr->env_name : "");
    wprop(w, "url", url);
    wprop(w, "plan", rr->plan_file ? rr->plan_file : "");
    wsp_xmlw_end(w);
    for (size_t i = 0; i < rr->n; i++) {
        const wsp_check_result *r = &rr->results[i];
        char classname[200];
        snprintf(classname, sizeof classname, "wsprobe.%s.%s", rr->env_name ? rr->env_name : "",
                 group_of(rr, i));
        wsp_xmlw_start(w, "testcase");
        wsp_xmlw_attr(w, "name", id_of(rr, i));
        wsp_xmlw_attr(w, "classname", classname);
        wsp_xmlw_attrf(w, "time", "%.3f", r->duration_ms / 1000.0);
        wsp_xmlw_start(w, "properties");
        wprop(w, "verdict", wsp_verdict_name(r->verdict));
        wprop(w, "class", wsp_class_name(r->cls));
        static const char *const keys[] = {"status", "close_code", "handshake_ms", "bytes_tx",
                                           "bytes_rx"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char v[128];
            evidence_field(r->evidence, keys[k], v, sizeof v);
            if (!v[0])
                snprintf(v, sizeof v, "%s", k >= 3 ? "0" : "null");
            wprop(w, keys[k], v);
        }
        wsp_xmlw_end(w);
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: %s", wsp_class_name(r->cls), r->message);
        char body[1200];
        snprintf(body, sizeof body, "%s\nhint: %s", r->message, r->hint[0] ? r->hint : "-");
        const char *el = NULL;
        if (r->verdict == WSP_VERDICT_FAIL || (rr->strict && r->verdict == WSP_VERDICT_WARN))
            el = "failure";
        else if (r->verdict == WSP_VERDICT_INCONCLUSIVE)
            el = "error";
        if (el) {
            wsp_xmlw_start(w, el);
            wsp_xmlw_attr(w, "message", msg);
            wsp_xmlw_attr(w, "type", wsp_class_name(r->cls));
            wsp_xmlw_text(w, body);
            wsp_xmlw_end(w);
        } else if (r->verdict == WSP_VERDICT_SKIP || r->verdict == WSP_VERDICT_NOT_APPLICABLE) {
            char sm[700];
            snprintf(sm, sizeof sm, "%s: %s", wsp_verdict_name(r->verdict), r->message);
            wsp_xmlw_start(w, "skipped");
            wsp_xmlw_attr(w, "message", sm);
            wsp_xmlw_end(w);
        }
        wsp_xmlw_start(w, "system-out");
        char head[800];
        snprintf(head, sizeof head, "%s %s: %s\n", wsp_verdict_name(r->verdict), id_of(rr, i),
                 r->message);
        wsp_xmlw_text(w, head);
        if (r->transcript)
            wsp_xmlw_text(w, r->transcript);
        wsp_xmlw_end(w);
        wsp_xmlw_end(w); /* testcase */
        unsigned ignored = 0;
        junit_parts(w, rr, i, classname, &ignored);
    }
    wsp_xmlw_end(w);
}

int wsp_runreport_junit_write(const wsp_runreport *runs, size_t nruns, const char *path,
                              wsp_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        return wsp_err_set(err, WSP_CLASS_USAGE, "--junit %s: cannot write the file: %s", path, eb);
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    junit_counts c = {0};
    double total = 0;
    for (size_t k = 0; k < nruns; k++) {
        suite_counts(&runs[k], &c);
        if (runs[k].duration_ms > total)
            total = runs[k].duration_ms; /* environments run concurrently */
    }
    wsp_xmlw w;
    wsp_xmlw_begin(&w, f);
    wsp_xmlw_suite(&w, "testsuites", "wsprobe", c.tests, c.failures, c.errors);
    wsp_xmlw_attrf(&w, "skipped", "%u", c.skipped);
    wsp_xmlw_attrf(&w, "time", "%.3f", total / 1000.0);
    for (size_t k = 0; k < nruns; k++)
        junit_suite(&w, &runs[k], stamp);
    int rc = wsp_xmlw_finish(&w);
    int saved = errno;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        char eb[128];
        strerror_r(saved, eb, sizeof eb);
        wsp_err_set(err, WSP_CLASS_USAGE, "--junit %s: could not write the report: %s", path, eb);
    }
    return rc;
}

/* ---- parity ---- */

static bool volatile_key(const char *k)
{
    static const char *const drop[] = {"message",
                                       "received_messages",
                                       "sent_messages",
                                       "compressed_bytes",
                                       "bytes_tx",
                                       "bytes_rx",
                                       "probes",
                                       "phases",
                                       "received_frames",
                                       "date",
                                       "time",
                                       "timestamp",
                                       "accept",
                                       "sec-websocket-accept",
                                       "serial",
                                       "id",
                                       "uuid",
                                       "nonce",
                                       "transcript",
                                       "duration",
                                       "elapsed",
                                       "days_left",
                                       NULL};
    size_t n = strlen(k);
    if (n > 3 && strcmp(k + n - 3, "_ms") == 0)
        return true;
    if (n > 3 && strcmp(k + n - 3, "_us") == 0)
        return true;
    for (size_t i = 0; drop[i]; i++)
        if (strcasecmp(k, drop[i]) == 0)
            return true;
    return false;
}

static json_t *normalize(const json_t *v, int depth)
{
    if (!v || depth > 16)
        return json_null();
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)(uintptr_t)v, k, x)
        {
            if (!volatile_key(k))
                json_object_set_new(o, k, normalize(x, depth + 1));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, normalize(x, depth + 1));
        return a;
    }
    if (json_is_string(v))
        return jscrub(json_string_value(v));
    return json_deep_copy(v);
}

json_t *wsp_parity_normalize(const wsp_check_result *r)
{
    json_t *o = normalize(r->evidence, 0);
    if (!o)
        return NULL;
    json_object_set_new(o, "verdict", json_string(wsp_verdict_name(r->verdict)));
    json_object_set_new(o, "class", json_string(wsp_class_name(r->cls)));
    return o;
}

typedef enum { CAT_HOLDS, CAT_FAILS, CAT_UNKNOWN, CAT_SKIPPED } category;

static category cat_of(const char *verdict)
{
    if (!verdict)
        return CAT_UNKNOWN;
    if (!strcmp(verdict, "pass") || !strcmp(verdict, "warn"))
        return CAT_HOLDS;
    if (!strcmp(verdict, "fail"))
        return CAT_FAILS;
    if (!strcmp(verdict, "skip") || !strcmp(verdict, "not_applicable"))
        return CAT_SKIPPED;
    return CAT_UNKNOWN;
}

/* The baseline verdict of (env, id): from a parity JSON ("results") or a run JSON. */
static const char *baseline_verdict(const json_t *base, const char *env, const char *id)
{
    const json_t *res = json_object_get(base, "results");
    if (res) {
        const json_t *e = json_object_get(json_object_get(res, env), id);
        return json_string_value(json_object_get(e, "verdict"));
    }
    const char *benv = json_string_value(json_object_get(base, "environment"));
    if (!benv || strcmp(benv, env) != 0)
        return NULL;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(base, "checks"), i, c)
    {
        const char *cid = json_string_value(json_object_get(c, "id"));
        if (cid && strcmp(cid, id) == 0)
            return json_string_value(json_object_get(c, "verdict"));
    }
    return NULL;
}

json_t *wsp_parity_json(const wsp_runreport *runs, size_t nruns, const json_t *baseline,
                        const char *baseline_file)
{
    json_t *o = json_object(), *envs = json_array(), *matrix = json_array(),
           *results = json_object(), *regs = json_array();
    if (!o || !envs || !matrix || !results || !regs) {
        json_decref(o);
        json_decref(envs);
        json_decref(matrix);
        json_decref(results);
        json_decref(regs);
        return NULL;
    }
    bool bad = false;
    unsigned drift = 0, unproven = 0;
    size_t n = nruns ? runs[0].n : 0;
    for (size_t k = 0; k < nruns; k++) {
        json_array_append_new(envs, jscrub(runs[k].env_name));
        json_t *er = json_object();
        for (size_t i = 0; i < runs[k].n; i++) {
            const wsp_check_result *r = &runs[k].results[i];
            json_t *c = json_pack("{s:s,s:s,s:o,s:o}", "verdict", wsp_verdict_name(r->verdict),
                                  "class", wsp_class_name(r->cls), "message", jscrub(r->message),
                                  "evidence", wsp_parity_normalize(r));
            if (c)
                json_object_set_new(er, id_of(&runs[k], i), c);
        }
        json_object_set_new(results, runs[k].env_name, er);
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = id_of(&runs[0], i);
        json_t *row = json_object(), *verdicts = json_object(), *diffs = json_array();
        bool cats[4] = {false, false, false, false};
        const json_t *first_ev = NULL;
        bool ev_differs = false;
        for (size_t k = 0; k < nruns; k++) {
            if (i >= runs[k].n)
                continue;
            const wsp_check_result *r = &runs[k].results[i];
            json_object_set_new(verdicts, runs[k].env_name,
                                json_string(wsp_verdict_name(r->verdict)));
            cats[cat_of(wsp_verdict_name(r->verdict))] = true;
            const json_t *ev = json_object_get(
                json_object_get(json_object_get(results, runs[k].env_name), id), "evidence");
            if (!first_ev) {
                first_ev = ev;
            } else if (ev && !json_equal((json_t *)(uintptr_t)first_ev, (json_t *)(uintptr_t)ev)) {
                ev_differs = true;
                const char *key;
                json_t *x;
                json_object_foreach((json_t *)(uintptr_t)ev, key, x)
                {
                    json_t *y = json_object_get(first_ev, key);
                    bool listed = false;
                    size_t di;
                    json_t *d;
                    json_array_foreach(diffs, di, d) listed |= !strcmp(json_string_value(d), key);
                    if ((!y || !json_equal(x, y)) && !listed)
                        json_array_append_new(diffs, json_string(key));
                }
            }
        }
        int ncats = cats[0] + cats[1] + cats[2] + cats[3];
        const char *status = "same";
        if (cats[CAT_HOLDS] && cats[CAT_FAILS]) {
            status = "drift";
            drift++;
        } else if (ncats > 1) {
            status = "unproven";
            unproven++;
        }
        if (ncats > 1)
            bad = true;
        json_object_set_new(row, "id", json_string(id));
        json_object_set_new(row, "verdicts", verdicts);
        json_object_set_new(row, "status", json_string(status));
        json_object_set_new(row, "evidence_differs", json_boolean(ev_differs));
        json_object_set_new(row, "differences", diffs);
        json_array_append_new(matrix, row);
        if (baseline) {
            for (size_t k = 0; k < nruns; k++) {
                if (i >= runs[k].n)
                    continue;
                const char *was = baseline_verdict(baseline, runs[k].env_name, id);
                const char *now = wsp_verdict_name(runs[k].results[i].verdict);
                if (was && cat_of(was) == CAT_HOLDS && cat_of(now) != CAT_HOLDS) {
                    json_array_append_new(regs, json_pack("{s:s,s:s,s:s,s:s}", "environment",
                                                          runs[k].env_name, "id", id, "was", was,
                                                          "now", now));
                    bad = true;
                }
            }
        }
    }
    json_object_set_new(o, "plan", jscrub(nruns ? runs[0].plan_file : ""));
    json_object_set_new(o, "environments", envs);
    json_object_set_new(o, "ok", json_boolean(!bad));
    json_object_set_new(o, "exit_code", json_integer(bad ? 1 : 0));
    json_object_set_new(o, "drift", json_integer(drift));
    json_object_set_new(o, "unproven", json_integer(unproven));
    json_object_set_new(o, "matrix", matrix);
    json_object_set_new(o, "results", results);
    json_t *sums = json_object();
    for (size_t k = 0; sums && k < nruns; k++)
        json_object_set_new(sums, runs[k].env_name, summary_json(runs[k].results, runs[k].n));
    json_object_set_new(o, "summaries", sums);
    if (baseline)
        json_object_set_new(
            o, "baseline",
            json_pack("{s:o,s:o}", "file", jscrub(baseline_file), "regressions", regs));
    else
        json_decref(regs);
    return o;
}

void wsp_parity_human(FILE *f, const json_t *parity, bool color)
{
    const json_t *envs = json_object_get(parity, "environments");
    size_t k, i;
    const json_t *e, *row;
    fprintf(f, "parity of %s\n\n  %-28s", json_string_value(json_object_get(parity, "plan")),
            "check");
    json_array_foreach(envs, k, e) fprintf(f, " %-14.14s", json_string_value(e));
    fprintf(f, " status\n");
    json_array_foreach(json_object_get(parity, "matrix"), i, row)
    {
        const char *st = json_string_value(json_object_get(row, "status"));
        bool same = st && !strcmp(st, "same");
        fprintf(f, "  %-28.28s", json_string_value(json_object_get(row, "id")));
        json_array_foreach(envs, k, e)
        {
            const char *v = json_string_value(
                json_object_get(json_object_get(row, "verdicts"), json_string_value(e)));
            fprintf(f, " %-14.14s", v ? v : "-");
        }
        const char *mark = same ? "" : "  <-- ";
        fprintf(f, " %s%s%s%s%s\n", color && !same ? "\033[31m" : "", mark, st ? st : "?",
                json_is_true(json_object_get(row, "evidence_differs")) && same
                    ? " (evidence differs)"
                    : "",
                color && !same ? "\033[0m" : "");
    }
    const json_t *regs = json_object_get(json_object_get(parity, "baseline"), "regressions");
    if (json_array_size(regs)) {
        fprintf(f, "\nweaker than the baseline:\n");
        json_array_foreach(regs, i, row) fprintf(
            f, "  %s %s: was %s, now %s\n", json_string_value(json_object_get(row, "environment")),
            json_string_value(json_object_get(row, "id")),
            json_string_value(json_object_get(row, "was")),
            json_string_value(json_object_get(row, "now")));
    }
    fputc('\n', f);
    json_array_foreach(envs, k, e)
    {
        const char *name = json_string_value(e);
        fprintf(f, "%s: ", name);
        print_summary(f, json_object_get(json_object_get(parity, "summaries"), name));
        fputc('\n', f);
    }
    bool ok = json_is_true(json_object_get(parity, "ok"));
    fprintf(f, "\n%lld drift, %lld unproven -> %s%s%s\n",
            (long long)json_integer_value(json_object_get(parity, "drift")),
            (long long)json_integer_value(json_object_get(parity, "unproven")),
            color ? (ok ? "\033[32m" : "\033[31m") : "", ok ? "OK" : "DRIFT",
            color ? "\033[0m" : "");
}
