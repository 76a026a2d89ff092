/* cmd_load.c - `wsprobe load URL` and `wsprobe load-merge A.json B.json ...` (issue 7). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "args.h"
#include "cli.h"
#include "codec/template.h"
#include "load/load.h"
#include "probeopts.h"
#include "report/report.h"
#include "report/xmlw.h"
#include "util/duration.h"
#include "util/files.h"
#include "util/redact.h"

static const char load_usage[] =
    "usage: wsprobe load URL [options]\n"
    "\n"
    "Open many connections to a ws:// or wss:// URL and send messages on a schedule (an open\n"
    "model: sends follow the clock, not the replies). Latency is measured from the intended send\n"
    "time (corrected for coordinated omission) and from the actual send time; every connection's\n"
    "resolve, connect, TLS and upgrade are timed; failures are counted by class (the probe's).\n"
    "Exit 0; 1 when a connection failed or never opened, a message was lost or unanswered, the\n"
    "offered --rate was missed by more than 5 % (each gate replaced by a --threshold of its\n"
    "kind), or a --threshold or the --baseline comparison failed; 2 on bad usage; the most\n"
    "common failure class's code when no connection could be opened, or when every one\n"
    "failed and no threshold did (docs/load.md).\n"
    "\n";

static const char merge_usage[] =
    "usage: wsprobe load-merge A.json B.json ... [options]\n"
    "\n"
    "Merge `wsprobe load --json` reports from several agents: counters add, histograms merge\n"
    "exactly (combined percentiles are exact, not averages), the series adds up by second.\n"
    "The merged run is judged as `load` judges one (the gates, --threshold, --baseline).\n"
    "\n";

enum {
    OPT_CONNECTIONS = WSP_PROBEOPTS_OWN,
    OPT_CONNECT_RATE,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_RATE,
    OPT_THREADS,
    OPT_PROCESSES,
    OPT_SOURCE_IP,
    OPT_TIMER_SLACK,
    OPT_MESSAGE,
    OPT_SEND_BINARY,
    OPT_ECHO,
    OPT_PROBE_STEP, /* --send, --expect-json, --expect-text, --strict-order: the probe's */
    OPT_PIPELINE,
    OPT_REPLY_TIMEOUT,
    OPT_PING_INTERVAL,
    OPT_HDR_OUT,
    OPT_THRESHOLD,
    OPT_JUNIT,
    OPT_BASELINE,
    OPT_TOLERANCE,
    OPT_TOLERANCE_FLOOR,
    OPT_ERROR_TOLERANCE,
    OPT_QUIET,
};

#define END                                                                                        \
    {                                                                                              \
        NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0                                             \
    }
#define HEAD(text)                                                                                 \
    {                                                                                              \
        text, 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0                               \
    }

static const wsp_opt load_opts[] = {
    HEAD("load:"),
    {"connections", 0, WSP_OPT_COUNT, OPT_CONNECTIONS, "N", "connections to hold open (default 1)",
     1, WSP_LOAD_MAX_CONNECTIONS, NULL, NULL, 0},
    {"connect-rate", 0, WSP_OPT_NUMBER, OPT_CONNECT_RATE, "R",
     "new connections per second (default: as fast as a bounded\nnumber of handshakes in "
     "progress allows)",
     0, 0, NULL, NULL, 0},
    {"duration", 0, WSP_OPT_DURATION, OPT_DURATION, "DUR",
     "measured time after the warm-up (default 10s)", 0, 0, NULL, NULL, 0},
    {"warmup", 0, WSP_OPT_TEXT, OPT_WARMUP, "DUR",
     "run, but do not measure, this long first (default 0)", 0, 0, NULL, NULL, 0},
    {"rate", 0, WSP_OPT_NUMBER, OPT_RATE, "M",
     "messages per second in total, spread over the connections\n(default: none, connections "
     "only)",
     0, 0, NULL, NULL, 0},
    {"threads", 0, WSP_OPT_COUNT, OPT_THREADS, "T",
     "event loops, one per thread, in all (default: the number of\ncores)", 1, WSP_LOAD_MAX_THREADS,
     NULL, NULL, 0},
    {"processes", 0, WSP_OPT_COUNT, OPT_PROCESSES, "N",
     "run N agent processes, each with its share of the\nconnections, rates and threads, "
     "merged as load-merge\nmerges (default 1; more when --connections needs more\nfiles than "
     "one process may open)",
     1, WSP_LOAD_MAX_PROCESSES, NULL, NULL, 0},
    {"source-ip", 0, WSP_OPT_TEXT, OPT_SOURCE_IP, "ADDR",
     "bind connections to this local address, round robin\n(repeatable: each adds about 28,000 "
     "ports)",
     0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"timer-slack", 0, WSP_OPT_TEXT, OPT_TIMER_SLACK, "DUR",
     "wake for sends on a grid of DUR (0: at each send's\ntime; default: 500us from 2,000 sends "
     "per second and\nthread, widened to a twentieth of a slow server's\nlatency up to 5ms; else "
     "0); more costs less CPU and\nsends up to DUR late, which the send lateness and the\n"
     "corrected latency show (at most 100ms)",
     0, 0, NULL, NULL, 0},
    HEAD("conversation:"),
    {"message", 0, WSP_OPT_TEXT, OPT_MESSAGE, "TEXT|@FILE",
     "what to send; {{uuid}}, {{now}}, {{now_ms}}, {{env.NAME}}\nare filled per message", 0, 0,
     NULL, NULL, 0},
    {"send-binary", 0, WSP_OPT_TEXT, OPT_SEND_BINARY, "BYTES",
     "what to send, as binary frames: @FILE, hex:..., base64:...\n(instead of --message; no "
     "placeholders)",
     0, 0, NULL, NULL, 0},
    {"send", 0, WSP_OPT_TEXT, OPT_PROBE_STEP, "TEXT|@FILE", "another spelling of --message", 0, 0,
     NULL, NULL, 0},
    {"echo", 0, WSP_OPT_FLAG, OPT_ECHO, NULL, "a reply must equal the message it answers", 0, 0,
     NULL, NULL, 0},
    {"expect-json", 0, WSP_OPT_TEXT, OPT_PROBE_STEP, "PTR=VALUE",
     "the reply whose JSON at PTR equals VALUE answers the message\n(VALUE may be "
     "{{sent./id}}: correlation by id)",
     0, 0, NULL, NULL, 0},
    {"expect-text", 0, WSP_OPT_TEXT, OPT_PROBE_STEP, "TEXT",
     "the next reply must equal TEXT\n(none of these: the next message answers the oldest)", 0, 0,
     NULL, NULL, 0},
    {"strict-order", 0, WSP_OPT_FLAG, OPT_PROBE_STEP, NULL,
     "a reply that matches nothing in flight is a mismatch\n(default: skipped, counted as "
     "unexpected)",
     0, 0, NULL, NULL, 0},
    {"pipeline", 0, WSP_OPT_COUNT, OPT_PIPELINE, "K",
     "messages in flight per connection (default 1; a message\ndue while K are in flight waits, "
     "its latency counted from\nwhen it was due)",
     1, WSP_LOAD_MAX_PIPELINE, NULL, NULL, 0},
    {"reply-timeout", 0, WSP_OPT_DURATION, OPT_REPLY_TIMEOUT, "DUR",
     "a reply later than this is WS_MSG_TIMEOUT (default --timeout)", 0, 0, NULL, NULL, 0},
    {"ping-interval", 0, WSP_OPT_DURATION, OPT_PING_INTERVAL, "DUR",
     "also ping every connection this often; pong round trips\nare reported apart "
     "(pings.pong_ms, threshold pong_p99<...);\na pong later than --reply-timeout is "
     "WS_PONG_TIMEOUT",
     0, 0, NULL, NULL, 0},
    END,
};

/* What both commands judge and print by. */
static const wsp_opt report_opts[] = {
    HEAD("reports (--json: exact histograms included, for load-merge and --baseline):"),
    {"hdr-out", 0, WSP_OPT_PATH, OPT_HDR_OUT, "FILE",
     "corrected latency in HdrHistogram's percentile format (ms)", 0, 0, NULL, NULL, 0},
    {"threshold", 0, WSP_OPT_TEXT, OPT_THRESHOLD, "EXPR",
     "p99<50ms, errors<0.1%, connect_p95<20ms, rate>=1000 ...\n(repeatable; exit 1 when one "
     "breaks; one of errors, rate or\nconnections replaces the default gate of its kind)",
     0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"junit", 0, WSP_OPT_PATH, OPT_JUNIT, "FILE",
     "each gate, threshold (and the baseline) as a JUnit test case", 0, 0, NULL, NULL, 0},
    {"baseline", 0, WSP_OPT_PATH, OPT_BASELINE, "FILE",
     "compare p50, p99 and the error rates with a stored --json\nreport; exit 1 on a regression", 0,
     0, NULL, NULL, 0},
    {"tolerance", 0, WSP_OPT_TEXT, OPT_TOLERANCE, "PCT",
     "allowed latency increase over the baseline (default 20%)", 0, 0, NULL, NULL, 0},
    {"tolerance-floor", 0, WSP_OPT_TEXT, OPT_TOLERANCE_FLOOR, "DUR",
     "latency changes below this are noise (default 500us)", 0, 0, NULL, NULL, 0},
    {"error-tolerance", 0, WSP_OPT_TEXT, OPT_ERROR_TOLERANCE, "PCT",
     "allowed increase of each error rate in points (default 0.1%)", 0, 0, NULL, NULL, 0},
    END,
};

static const wsp_opt merge_out_opts[] = {
    HEAD("output:"),
    {"quiet", 'q', WSP_OPT_FLAG, OPT_QUIET, NULL, "print nothing but a failure", 0, 0, NULL, NULL,
     0},
    END,
};

/* The probe's options load refuses: they have no meaning for many connections on a schedule. */
/* (--expect-binary too: replies are matched by echo, JSON or text) */
static const char *const load_refuses[] = {
    "health", "ping", "deadline", "expect-regex", "pong-timeout", "expect-auth-required",
    "expect-close", "expect-binary", "each-address",
    /* a GraphQL load holds connections (handshake, pings): subscriptions are probe's */
    "subscribe", "variables", "expect-complete", NULL};
/* The probe's options load declares itself (load_opts), with load's meaning and bounds. */
static const char *const load_redeclares[] = {
    "connections", "send", "expect-json", "expect-text", "strict-order", "send-binary", NULL};

static bool listed(const char *const *names, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* The probe's tables as one, less the options load refuses or declares itself, and less every
 * heading whose section has nothing left to show (a section runs from its heading to the next
 * one, across tables). Built once. */
static const wsp_opt *load_probe_table(void)
{
    static wsp_opt t[256];
    if (t[0].name)
        return t;
    wsp_opt all[256];
    size_t n = 0;
    const wsp_opt *const *pt = wsp_probeopts_tables();
    for (size_t k = 0; pt[k]; k++)
        for (const wsp_opt *o = pt[k]; o->name && n < 255; o++)
            if (o->type == WSP_OPT_HEADING ||
                (!listed(load_refuses, o->name) && !listed(load_redeclares, o->name)))
                all[n++] = *o;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (all[i].type == WSP_OPT_HEADING) {
            bool shown = false;
            for (size_t j = i + 1; j < n && all[j].type != WSP_OPT_HEADING && !shown; j++)
                shown = all[j].help != NULL;
            if (!shown)
                continue;
        }
        t[m++] = all[i];
    }
    t[m] = (wsp_opt)END;
    return t;
}

/* What both commands judge and print. */
typedef struct judging {
    const char *cmd;
    wsp_load_threshold th[WSP_LOAD_MAX_THRESHOLDS];
    size_t nth;
    const char *hdr_out, *junit, *baseline_path;
    wsp_load_result *baseline;
    wsp_load_tolerance tol;
    bool quiet;
    const wsp_cli_out *out; /* --json, --json=FILE */
} judging;

static void judging_init(judging *j, const char *cmd)
{
    memset(j, 0, sizeof *j);
    j->cmd = cmd;
    j->tol.latency_rel = 0.20;
    j->tol.latency_abs = 500000;
    j->tol.error_rate_abs = 0.001;
}

static int parse_pct(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    if (*end == '%')
        end++, v /= 100.0;
    else if (v > 1)
        return -1; /* a bare number is a fraction */
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* A duration that may be 0 (--warmup, --timer-slack, --tolerance-floor), at most `max` us. */
static int parse_dur0(const char *cmd, const wsp_opt *o, const char *arg, uint64_t max,
                      uint64_t *us)
{
    if (wsp_duration_parse(arg, us) == 0 && *us <= max)
        return 0;
    wsp_cli_usage_error(cmd, "--%s '%s': expected a duration like 500ms, 10s, 5m", o->name, arg);
    return -1;
}

/* `what`: the option that named the file (--baseline), or NULL for an operand. */
static json_t *load_json_file(const char *cmd, const char *what, const char *path)
{
    size_t len = 0;
    wsp_err e;
    char *text = wsp_file_read(what, path, 512u << 20, 0, &len, &e);
    if (!text) {
        wsp_cli_usage_error(cmd, "%s", e.msg);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    if (!j)
        wsp_cli_usage_error(cmd, "%s: not JSON (line %d: %s)", path, je.line, je.text);
    return j;
}

static wsp_load_result *load_report_file(const char *cmd, const char *what, const char *path)
{
    json_t *j = load_json_file(cmd, what, path);
    if (!j)
        return NULL;
    wsp_load_result *r = wsp_load_result_new();
    wsp_err e;
    wsp_err_clear(&e);
    if (!r || wsp_load_result_from_json(r, j, &e) != 0) {
        wsp_cli_usage_error(cmd, "%s: %s", path, r ? e.msg : "out of memory");
        wsp_load_result_free(r);
        r = NULL;
    }
    json_decref(j);
    return r;
}

/* A report option (report_opts, -q): 1 when applied, 0 when not one, -1 when bad (printed). */
static int take_report_opt(judging *j, const wsp_opt *o, const char *arg)
{
    wsp_err e;
    uint64_t us;
    double v;
    switch (o->id) {
    case OPT_HDR_OUT:
        j->hdr_out = arg;
        return 1;
    case OPT_JUNIT:
        j->junit = arg;
        return 1;
    case OPT_BASELINE:
        j->baseline_path = arg;
        return 1;
    case OPT_QUIET:
        j->quiet = true;
        return 1;
    case OPT_THRESHOLD:
        if (j->nth >= WSP_LOAD_MAX_THRESHOLDS) {
            wsp_cli_usage_error(j->cmd, "at most %d thresholds", WSP_LOAD_MAX_THRESHOLDS);
            return -1;
        }
        wsp_err_clear(&e);
        if (wsp_load_threshold_parse(arg, &j->th[j->nth], &e) != 0) {
            wsp_cli_usage_error(j->cmd, "%s", e.msg);
            return -1;
        }
        j->nth++;
        return 1;
    case OPT_TOLERANCE:
    case OPT_ERROR_TOLERANCE:
        if (parse_pct(arg, &v) != 0) {
            wsp_cli_usage_error(j->cmd, "--%s '%s': expected a percentage like 20%%", o->name, arg);
            return -1;
        }
        *(o->id == OPT_TOLERANCE ? &j->tol.latency_rel : &j->tol.error_rate_abs) = v;
        return 1;
    case OPT_TOLERANCE_FLOOR:
        if (parse_dur0(j->cmd, o, arg, UINT64_MAX / 1000, &us) != 0)
            return -1;
        j->tol.latency_abs = us * 1000;
        return 1;
    default:
        return 0;
    }
}

typedef struct verdicts {
    bool ok[WSP_LOAD_MAX_THRESHOLDS];
    double value[WSP_LOAD_MAX_THRESHOLDS];
    wsp_load_gate gate[WSP_LOAD_GATES];
    bool have_cmp;
    wsp_load_compare cmp;
    int failures;      /* thresholds and the baseline */
    int gate_failures; /* gates */
} verdicts;

static bool is_rate_item(const wsp_load_compare_item *it)
{
    return strstr(it->name, "error_rate") != NULL;
}

static void fmt_cmp(const wsp_load_compare_item *it, double v, char *buf, size_t cap)
{
    if (is_rate_item(it))
        snprintf(buf, cap, "%.4g%%", v * 100);
    else
        snprintf(buf, cap, "%.3fms", v / 1e6);
}

static size_t gates_applying(const verdicts *v)
{
    size_t n = 0;
    for (int g = 0; g < WSP_LOAD_GATES; g++)
        n += v->gate[g].applies;
    return n;
}

static void baseline_failure(const verdicts *v, char *m, size_t cap)
{
    snprintf(m, cap, "regression against the baseline:");
    for (int i = 0; i < WSP_LOAD_COMPARE_ITEMS; i++) {
        const wsp_load_compare_item *it = &v->cmp.items[i];
        if (!it->regressed)
            continue;
        char a[32], b[32], c[32];
        fmt_cmp(it, it->baseline, a, sizeof a);
        fmt_cmp(it, it->current, b, sizeof b);
        fmt_cmp(it, it->limit, c, sizeof c);
        size_t l = strlen(m);
        snprintf(m + l, cap - l, " %s %s -> %s (limit %s)", it->name, a, b, c);
    }
}

static int write_junit(const judging *j, const verdicts *v, const wsp_load_result *r)
{
    FILE *f = fopen(j->junit, "w");
    if (!f)
        return -1;
    size_t n = gates_applying(v) + j->nth + (v->have_cmp ? 1 : 0);
    size_t failures = (size_t)(v->failures + v->gate_failures);
    char num[32], m[600], val[160];
    wsp_xmlw w;
    wsp_xmlw_junit_open(&w, f, "wsprobe load", n, failures, r->elapsed_s);
    wsp_xmlw_start(&w, "properties");
    wsp_xmlw_property(&w, "url", r->url);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->conn_opened);
    wsp_xmlw_property(&w, "connections_opened", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->msg_matched);
    wsp_xmlw_property(&w, "messages_matched", num);
    wsp_xmlw_end(&w);
    for (int g = 0; g < WSP_LOAD_GATES; g++) {
        const wsp_load_gate *gt = &v->gate[g];
        if (!gt->applies)
            continue;
        wsp_load_gate_format(gt, val, sizeof val);
        snprintf(m, sizeof m, "%s: %s", gt->name, val);
        char out[300];
        if (gt->replaced_by)
            snprintf(out, sizeof out, "%s; replaced by --threshold %s", val, gt->replaced_by);
        else
            snprintf(out, sizeof out, "%s", val);
        wsp_xmlw_testcase(&w, "wsprobe.load.gate", gt->name, r->measured_s, "gate",
                          gt->ok ? NULL : m, out);
    }
    for (size_t i = 0; i < j->nth; i++) {
        wsp_load_threshold_format(&j->th[i], v->value[i], val, sizeof val);
        snprintf(m, sizeof m, "%s broke: measured %s", j->th[i].text, val);
        char out[200];
        snprintf(out, sizeof out, "measured %s", val);
        wsp_xmlw_testcase(&w, "wsprobe.load.threshold", j->th[i].text, r->measured_s, "threshold",
                          v->ok[i] ? NULL : m, out);
    }
    if (v->have_cmp) {
        baseline_failure(v, m, sizeof m);
        wsp_xmlw_testcase(&w, "wsprobe.load.baseline", "baseline", r->measured_s, "baseline",
                          v->cmp.regressed ? m : NULL, NULL);
    }
    int rc = wsp_xmlw_finish(&w);
    return fclose(f) == 0 ? rc : -1;
}

static wsp_class most_common_class(const wsp_load_result *r)
{
    wsp_class best = WSP_CLASS_OK;
    uint64_t bn = 0;
    for (int c = 1; c < WSP_CLASS_COUNT; c++) {
        uint64_t n = r->by_class[c];
        if (n > bn ||
            (n == bn && n > 0 && wsp_class_exit_code((wsp_class)c) > wsp_class_exit_code(best))) {
            best = (wsp_class)c;
            bn = n;
        }
    }
    return best;
}

static json_t *gates_json(const verdicts *v)
{
    json_t *a = json_array();
    for (int g = 0; g < WSP_LOAD_GATES; g++) {
        const wsp_load_gate *gt = &v->gate[g];
        if (!gt->applies)
            continue;
        char val[160];
        wsp_load_gate_format(gt, val, sizeof val);
        json_array_append_new(
            a, json_pack("{s:s, s:b, s:b, s:f, s:f, s:f, s:s, s:o}", "name", gt->name, "ok", gt->ok,
                         "held", gt->held, "value", gt->value, "limit", gt->limit, "of", gt->of,
                         "measured", val, "replaced_by_threshold",
                         gt->replaced_by ? json_string(gt->replaced_by) : json_null()));
    }
    return a;
}

static json_t *baseline_json(const judging *j, const verdicts *v)
{
    json_t *b = json_object();
    json_object_set_new(b, "file", json_string(j->baseline_path));
    json_object_set_new(b, "regressed", json_boolean(v->cmp.regressed));
    for (int i = 0; i < WSP_LOAD_COMPARE_ITEMS; i++) {
        const wsp_load_compare_item *it = &v->cmp.items[i];
        bool ms = !is_rate_item(it);
        double k = ms ? 1e6 : 1.0;
        json_object_set_new(b, it->name,
                            json_pack("{s:f, s:f, s:f, s:b, s:s}", "baseline", it->baseline / k,
                                      "current", it->current / k, "limit", it->limit / k,
                                      "regressed", it->regressed, "unit", ms ? "ms" : "fraction"));
    }
    return b;
}

static int write_json(const judging *j, const verdicts *v, const wsp_load_result *r, int rc,
                      wsp_class none_open)
{
    json_t *o = wsp_load_result_to_json(r);
    if (!o) {
        fprintf(stderr, "wsprobe: %s: out of memory\n", j->cmd);
        return -1;
    }
    json_object_set_new(o, "ok", json_boolean(rc == 0));
    json_object_set_new(o, "exit_code", json_integer(rc));
    if (none_open != WSP_CLASS_OK)
        json_object_set_new(o, "class", json_string(wsp_class_name(none_open)));
    json_object_set_new(o, "gates", gates_json(v));
    json_t *ta = json_array();
    for (size_t i = 0; i < j->nth; i++) {
        char val[48];
        wsp_load_threshold_format(&j->th[i], v->value[i], val, sizeof val);
        json_t *val_j = isnan(v->value[i]) ? json_null() : json_real(v->value[i]);
        json_array_append_new(ta, json_pack("{s:s, s:b, s:o, s:s, s:f}", "expr", j->th[i].text,
                                            "ok", v->ok[i], "value", val_j, "measured", val,
                                            "limit", j->th[i].limit));
    }
    json_object_set_new(o, "thresholds", ta);
    if (v->have_cmp)
        json_object_set_new(o, "baseline", baseline_json(j, v));
    return wsp_cli_report(j->cmd, o, j->out);
}

static void print_human(FILE *mf, const judging *j, const verdicts *v, const wsp_load_result *r,
                        int rc, wsp_class none_open, bool color)
{
    wsp_load_result_human(mf, r, color);
    if (v->gate_failures)
        fprintf(mf, "\ngates (exit 1 without a --threshold of their kind)\n");
    for (int g = 0; g < WSP_LOAD_GATES; g++) {
        char val[160];
        if (v->gate[g].ok)
            continue;
        wsp_load_gate_format(&v->gate[g], val, sizeof val);
        fprintf(mf, "  FAIL %-22s %s\n", v->gate[g].name, val);
    }
    if (j->nth)
        fprintf(mf, "\nthresholds\n");
    for (size_t i = 0; i < j->nth; i++) {
        char val[48];
        wsp_load_threshold_format(&j->th[i], v->value[i], val, sizeof val);
        fprintf(mf, "  %s %-22s measured %s\n", v->ok[i] ? "pass" : "FAIL", j->th[i].text, val);
    }
    if (v->have_cmp) {
        fprintf(mf, "\nbaseline %s: %s\n", j->baseline_path,
                v->cmp.regressed ? "REGRESSION" : "within tolerance");
        for (int i = 0; i < WSP_LOAD_COMPARE_ITEMS; i++) {
            const wsp_load_compare_item *it = &v->cmp.items[i];
            char a[32], b[32], c[32];
            fmt_cmp(it, it->baseline, a, sizeof a);
            fmt_cmp(it, it->current, b, sizeof b);
            fmt_cmp(it, it->limit, c, sizeof c);
            fprintf(mf, "  %s %-22s baseline %-10s now %-10s limit %s\n",
                    it->regressed ? "FAIL" : "pass", it->name, a, b, c);
        }
    }
    if (none_open != WSP_CLASS_OK)
        fprintf(mf, "\nno connection opened: %s (exit %d)\n  hint: %s\n", wsp_class_name(none_open),
                rc, wsp_class_default_hint(none_open));
}

static void judge(const judging *j, const wsp_load_result *r, verdicts *v)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < j->nth; i++) {
        v->ok[i] = wsp_load_threshold_eval(&j->th[i], r, &v->value[i]);
        v->failures += !v->ok[i];
    }
    if (j->baseline) {
        v->have_cmp = true;
        wsp_load_compare_results(j->baseline, r, &j->tol, &v->cmp);
        v->failures += v->cmp.regressed;
    }
    wsp_load_gates_eval(r, j->th, j->nth, v->gate);
    for (int g = 0; g < WSP_LOAD_GATES; g++)
        v->gate_failures += !v->gate[g].ok;
}

static void write_failed(const judging *j, const char *path, int *rc)
{
    char eb[128];
    strerror_r(errno, eb, sizeof eb);
    fprintf(stderr, "wsprobe: %s: OUTPUT_FAILED: cannot write %s: %s\n", j->cmd, path, eb);
    *rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED); /* the evidence is lost: this wins */
}

/* Judge, write the files and print. Returns the exit code. */
static int judge_and_report(const judging *j, wsp_load_result *r)
{
    verdicts v;
    judge(j, r, &v);
    int rc = v.failures || v.gate_failures ? 1 : 0;
    /* A run in which no connection opened measured nothing: its exit is the class most of
     * them failed with, whatever the thresholds say. One in which every connection failed
     * is never a pass: when no threshold failed, the exit is that class too. */
    wsp_class none_open = WSP_CLASS_OK;
    if (r->conn_attempted > 0 &&
        (r->conn_opened == 0 || (v.failures == 0 && r->conn_failed >= r->conn_attempted))) {
        none_open = most_common_class(r);
        if (none_open != WSP_CLASS_OK)
            rc = wsp_class_exit_code(none_open);
    }
    if (j->hdr_out) {
        FILE *f = fopen(j->hdr_out, "w");
        bool bad = !f || wsp_hist_write_hdr(&r->latency, f, 1e6) != 0;
        if ((f && fclose(f) != 0) || bad)
            write_failed(j, j->hdr_out, &rc);
    }
    if (j->junit && write_junit(j, &v, r) != 0)
        write_failed(j, j->junit, &rc);
    if ((j->out->json || j->out->html_file) && write_json(j, &v, r, rc, none_open) != 0)
        rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED); /* said on stderr */
    if (!wsp_cli_human(j->out) || (j->quiet && rc == 0))
        return rc;
    FILE *out = j->quiet ? stderr : stdout;
    char *buf = NULL;
    size_t blen = 0;
    FILE *mf = open_memstream(&buf, &blen);
    if (mf) {
        print_human(mf, j, &v, r, rc, none_open, wsp_cli_color(out));
        fclose(mf);
        char *clean = wsp_redact(buf, blen, NULL);
        fputs(clean ? clean : "", out);
        free(clean);
        free(buf);
    }
    return rc;
}

static int finish_judging(judging *j)
{
    if (j->baseline_path) {
        j->baseline = load_report_file(j->cmd, "--baseline", j->baseline_path);
        if (!j->baseline)
            return 2;
    }
    return 0;
}
static bool tick_tty;

static void live_line(const wsp_load_tick *t, void *ud)
{
    (void)ud;
    char a[24] = "-", b[24] = "-";
    if (t->p50_ns)
        snprintf(a, sizeof a, "%.3fms", (double)t->p50_ns / 1e6);
    if (t->p99_ns)
        snprintf(b, sizeof b, "%.3fms", (double)t->p99_ns / 1e6);
    fprintf(stderr,
            "\r\033[K%6.0fs%s  conns %llu open / %llu failed  %.0f msg/s  p50 %s  p99 %s  "
            "errors %llu",
            t->elapsed_s, t->warmup ? " (warm-up)" : "", (unsigned long long)t->open,
            (unsigned long long)t->failed, t->matched_per_s, a, b, (unsigned long long)t->errors);
    fflush(stderr);
    tick_tty = true;
}

static long ports_per_source(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    long lo = 32768, hi = 60999;
    if (f) {
        if (fscanf(f, "%ld %ld", &lo, &hi) != 2) {
            lo = 32768;
            hi = 60999;
        }
        fclose(f);
    }
    return hi >= lo ? hi - lo + 1 : 1;
}

/* What `load` gathers from its command line. */
typedef struct load_args {
    wsp_probeopts po;
    judging j;
    wsp_load_config cfg;
    struct sockaddr_storage sources[WSP_LOAD_MAX_SOURCES];
    size_t nsrc;
    char *message;
    size_t message_len;
    bool message_binary; /* --send-binary: the message is bytes, sent as binary frames */
    bool rate_given, echo;
    unsigned processes;      /* 0: not given (1, or what the file limit needs) */
    unsigned processes_used; /* check_capacity's choice */
} load_args;

static int take_rate(load_args *a, const wsp_opt *o, double v)
{
    if (v > 1e9) {
        wsp_cli_usage_error(a->po.cmd,
                            "--%s '%g': expected a positive number per second, at "
                            "most 1e9",
                            o->name, v);
        return -1;
    }
    if (o->id == OPT_RATE) {
        a->cfg.rate = v;
        a->rate_given = true;
    } else {
        a->cfg.connect_rate = v;
    }
    return 0;
}

static int take_source(load_args *a, const char *arg)
{
    if (a->nsrc >= WSP_LOAD_MAX_SOURCES) {
        wsp_cli_usage_error(a->po.cmd, "at most %d --source-ip addresses", WSP_LOAD_MAX_SOURCES);
        return -1;
    }
    struct sockaddr_storage *ss = &a->sources[a->nsrc];
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(arg, 0, (struct sockaddr_in *)ss) != 0 &&
        uv_ip6_addr(arg, 0, (struct sockaddr_in6 *)ss) != 0) {
        wsp_cli_usage_error(a->po.cmd, "--source-ip '%s': expected an IPv4 or IPv6 address", arg);
        return -1;
    }
    a->nsrc++;
    return 0;
}

static int take_message(load_args *a, const char *arg)
{
    free(a->message);
    a->message = wsp_cli_text_or_file(a->po.cmd, "--message", arg, &a->message_len);
    if (!a->message)
        return -1;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_tmpl_check(a->message, false, "--message", getenv, &e) != 0) {
        wsp_cli_usage_error(a->po.cmd, "%s", e.msg);
        return -1;
    }
    return 0;
}

static int take_load(void *ud, const wsp_opt *o, const char *arg, const wsp_opt_value *v)
{
    load_args *a = ud;
    uint64_t us;
    int t = take_report_opt(&a->j, o, arg);
    if (t != 0)
        return t > 0 ? 0 : -1;
    switch (o->id) {
    case OPT_CONNECTIONS:
        a->cfg.connections = (size_t)v->u;
        return 0;
    case OPT_CONNECT_RATE:
    case OPT_RATE:
        return take_rate(a, o, v->d);
    case OPT_DURATION:
        a->cfg.duration_us = v->u;
        return 0;
    case OPT_REPLY_TIMEOUT:
        a->cfg.reply_timeout_us = v->u;
        return 0;
    case OPT_PING_INTERVAL:
        if (v->u < 10000)
            return wsp_cli_usage_error(a->po.cmd, "--ping-interval %s: at least 10ms", arg);
        a->cfg.ping_interval_us = v->u;
        return 0;
    case OPT_WARMUP:
        if (parse_dur0(a->po.cmd, o, arg, UINT64_MAX / 1000, &us) != 0)
            return -1;
        a->cfg.warmup_us = us;
        return 0;
    case OPT_TIMER_SLACK:
        if (parse_dur0(a->po.cmd, o, arg, 100000, &us) != 0)
            return -1;
        a->cfg.timer_slack_us = us;
        return 0;
    case OPT_THREADS:
        a->cfg.threads = (unsigned)v->u;
        return 0;
    case OPT_PROCESSES:
        a->processes = (unsigned)v->u;
        return 0;
    case OPT_PIPELINE:
        a->cfg.pipeline = (unsigned)v->u;
        return 0;
    case OPT_SOURCE_IP:
        return take_source(a, arg);
    case OPT_MESSAGE:
        if (a->message_binary) {
            wsp_cli_usage_error(a->po.cmd, "give --message or --send-binary, not both");
            return -1;
        }
        return take_message(a, arg);
    case OPT_SEND_BINARY: {
        if (a->message) {
            wsp_cli_usage_error(a->po.cmd, "give --message or --send-binary, not both");
            return -1;
        }
        bool dig;
        uint8_t md[32];
        wsp_err e;
        if (wsp_probe_binary_spec("--send-binary", arg, false, &a->message, &a->message_len, &dig,
                                  md, &e) != 0) {
            wsp_cli_usage_error(a->po.cmd, "%s", e.msg);
            return -1;
        }
        a->message_binary = true;
        return 0;
    }
    case OPT_ECHO:
        a->echo = true;
        return 0;
    case OPT_PROBE_STEP:
        /* the probe's own option of that name builds the step */
        return wsp_probeopts_apply(&a->po, wsp_opt_by_name(wsp_probeopts_tables(), o->name), arg) ==
                       1
                   ? 0
                   : -1;
    default:
        return wsp_probeopts_apply(&a->po, o, arg) == 1 ? 0 : -1;
    }
}

/* The conversation: --message (or one --send), and how replies are matched. Returns 0 or 2. */
static int conversation(load_args *a)
{
    const char *cmd = a->po.cmd;
    wsp_load_config *cfg = &a->cfg;
    size_t nsend = 0, nexpect = 0;
    const wsp_step *expect = NULL;
    bool message_opt = a->message != NULL;
    bool proto = a->po.s.cfg.proto.kind != WSP_PROTO_NONE;
    if (proto && (a->message || a->echo))
        return wsp_cli_usage_error(cmd, "under --protocol a message is an emit: --emit or "
                                        "--emit-ack 'EVENT JSON', not --message or --echo");
    for (size_t i = 0; i < a->po.s.cfg.num_steps; i++) {
        const wsp_step *s = &a->po.s.cfg.steps[i];
        if (proto && (s->kind == WSP_STEP_SEND || s->kind == WSP_STEP_SEND_BINARY))
            return wsp_cli_usage_error(cmd, "under --protocol a message is an emit: --emit or "
                                            "--emit-ack 'EVENT JSON', not --send");
        if (s->kind == WSP_STEP_EMIT || s->kind == WSP_STEP_EMIT_ACK) {
            if (nsend++)
                break;
            const char *args = s->value_json ? s->value_json : "";
            a->message = strdup(args);
            if (!a->message)
                return wsp_cli_usage_error(cmd, "out of memory");
            a->message_len = strlen(args);
            cfg->event = s->text;
            if (s->kind == WSP_STEP_EMIT_ACK)
                cfg->match = WSP_LOAD_MATCH_ACK;
        } else if (s->kind == WSP_STEP_EXPECT_EVENT) {
            if (cfg->reply_event)
                nexpect++;
            cfg->reply_event = s->text;
        } else if (s->kind == WSP_STEP_SEND || s->kind == WSP_STEP_SEND_BINARY) {
            nsend++;
            if (!a->message) {
                a->message_binary = s->kind == WSP_STEP_SEND_BINARY;
                a->message = malloc(s->len + 1);
                if (!a->message)
                    return wsp_cli_usage_error(cmd, "out of memory");
                memcpy(a->message, s->text, s->len);
                a->message[s->len] = '\0';
                a->message_len = s->len;
            }
        } else {
            nexpect++;
            expect = s;
        }
    }
    if (nsend > 1 || (nsend && message_opt))
        return wsp_cli_usage_error(cmd, "load sends one message shape: give one --message%s",
                                   proto ? " (one --emit or --emit-ack)" : "");
    if (cfg->match == WSP_LOAD_MATCH_ACK && (cfg->reply_event || expect))
        return wsp_cli_usage_error(cmd, "--emit-ack: the ack is the reply (its id correlates "
                                        "it); --expect-event and --expect-json go with --emit");
    if (cfg->reply_event && !nsend)
        return wsp_cli_usage_error(cmd, "--expect-event needs the --emit it answers");
    if (proto && nsend && cfg->match != WSP_LOAD_MATCH_ACK && !cfg->reply_event)
        return wsp_cli_usage_error(cmd, "--emit: say what answers it: --expect-event EVENT "
                                        "(and --expect-json on its arguments), or emit with "
                                        "--emit-ack (the ack answers)");
    if (nexpect > 1 || (expect && a->echo))
        return wsp_cli_usage_error(cmd, "give one way to match replies: --echo, --expect-json or "
                                        "--expect-text");
    if (a->echo) /* (with --emit-ack the match is MATCH_ACK already: neither of these is given) */
        cfg->match = WSP_LOAD_MATCH_ECHO;
    else if (expect && expect->kind == WSP_STEP_EXPECT_JSON) {
        cfg->match = WSP_LOAD_MATCH_JSON;
        cfg->expect_pointer = expect->pointer;
        cfg->expect_value = expect->value_json;
    } else if (expect && expect->kind == WSP_STEP_EXPECT_TEXT) {
        cfg->match = WSP_LOAD_MATCH_TEXT;
        cfg->expect_text = expect->text;
    }
    if (a->rate_given && !a->message)
        return wsp_cli_usage_error(cmd, "--rate needs --message (what to send)");
    if (!a->rate_given && (a->message || a->echo || expect))
        return wsp_cli_usage_error(cmd, "--message, --echo and --expect-* need --rate (messages "
                                        "per second in total)");
    if (a->message && a->echo && !a->message_binary && wsp_tmpl_has_vars(a->message) &&
        strlen(a->message) != a->message_len)
        return wsp_cli_usage_error(cmd, "--message: a message with a NUL byte cannot hold "
                                        "placeholders");
    if (cfg->rate > 0 && cfg->rate / (double)cfg->connections > 1e6)
        return wsp_cli_usage_error(cmd,
                                   "--rate %.0f over %zu connection(s) is more than a "
                                   "million messages per second per connection",
                                   cfg->rate, cfg->connections);
    return 0;
}

/* The files one of p agents needs: its connections, its threads' loops, a reserve. */
static rlim_t files_needed(const wsp_load_config *cfg, unsigned p)
{
    size_t conns = (cfg->connections + p - 1) / p;
    unsigned threads = (cfg->threads + p - 1) / p;
    return (rlim_t)conns + 64 + 8 * (rlim_t)threads;
}

/* Ports and file descriptors: impossible runs stop here; the processes are chosen here.
 * Returns 0 or 2. */
static int check_capacity(load_args *a)
{
    const char *cmd = a->po.cmd;
    const wsp_load_config *cfg = &a->cfg;
    long ports = ports_per_source();
    size_t nsrc = a->nsrc ? a->nsrc : 1;
    if ((long)cfg->connections > ports * (long)nsrc) {
        wsp_cli_usage_error(cmd,
                            "%zu connections need more local ports than %zu source "
                            "address(es) have (%ld each, ip_local_port_range)",
                            cfg->connections, nsrc, ports);
        fprintf(stderr,
                "  hint: add --source-ip addresses (on loopback 127.0.0.2, 127.0.0.3, "
                "...: one per %ld connections)\n",
                ports);
        return 2;
    }
    if (a->processes > cfg->connections)
        return wsp_cli_usage_error(cmd, "--processes %u: more processes than --connections (%zu)",
                                   a->processes, cfg->connections);
    struct rlimit rl;
    unsigned p = a->processes ? a->processes : 1;
    a->processes_used = p;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0; /* (no limit to go by: as asked) */
    rlim_t need = files_needed(cfg, p);
    if (!a->processes && rl.rlim_max != RLIM_INFINITY && need > rl.rlim_max) {
        /* one process may not open them all: as many agents as it takes */
        while (p < WSP_LOAD_MAX_PROCESSES && p < cfg->connections &&
               files_needed(cfg, p) > rl.rlim_max)
            p++;
        need = files_needed(cfg, p);
        if (need <= rl.rlim_max && !a->po.quiet)
            fprintf(stderr,
                    "wsprobe: load: %zu connections need more files than one process may open "
                    "(hard limit %llu): running %u processes (--processes %u)\n",
                    cfg->connections, (unsigned long long)rl.rlim_max, p, p);
    }
    a->processes_used = p;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        wsp_cli_usage_error(cmd,
                            "%zu connections need %llu file descriptors per process (%u "
                            "process%s); the hard limit is %llu",
                            cfg->connections, (unsigned long long)need, p, p == 1 ? "" : "es",
                            (unsigned long long)rl.rlim_max);
        fprintf(stderr, "  hint: raise it (ulimit -Hn as root, LimitNOFILE= in systemd, "
                        "securityContext/ulimits in containers), use more --processes or fewer "
                        "connections\n");
        return 2;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return wsp_cli_usage_error(cmd, "cannot raise the file descriptor limit to %llu",
                                   (unsigned long long)need);
    return 0;
}

/* After the URL was parsed: the sources' family, and what load takes from the probe's setup. */
static int connect_setup(load_args *a, char *red_url, size_t cap)
{
    wsp_probeopts *o = &a->po;
    for (size_t i = 0; i < a->nsrc; i++) {
        int fam = a->sources[i].ss_family;
        if (o->s.cfg.url.host_is_ip && (fam == AF_INET6) != o->s.cfg.url.host_is_ipv6)
            return wsp_cli_usage_error(o->cmd, "--source-ip: the address family differs from "
                                               "the URL's host");
    }
    o->s.cfg.conn.trace = NULL; /* -v would print every handshake */
    /* a probe's overall deadline would end every connection 30 s into the run: a load
     * connection lives as long as the run; --timeout still bounds each handshake phase */
    o->s.cfg.conn.deadline_us = 0;
    wsp_load_config *cfg = &a->cfg;
    cfg->conn = &o->s.cfg.conn;
    cfg->auth = o->s.cfg.auth;
    cfg->strict_order = o->s.cfg.strict_order;
    cfg->proto = o->s.cfg.proto.kind != WSP_PROTO_NONE ? &o->s.cfg.proto : NULL;
    wsp_report_redact_url(o->url, red_url, cap);
    cfg->url_text = red_url;
    cfg->message = a->message;
    cfg->message_len = a->message_len;
    cfg->message_binary = a->message_binary;
    cfg->sources = a->nsrc ? a->sources : NULL;
    cfg->num_sources = a->nsrc;
    cfg->handle_sigint = true;
    if (isatty(STDERR_FILENO) && !o->quiet)
        cfg->on_tick = live_line;
    return 0;
}

static int run_load(load_args *a)
{
    wsp_load_result *res = wsp_load_result_new();
    if (!res)
        return 70;
    wsp_err e;
    wsp_err_clear(&e);
    int rc;
    int r = a->processes_used > 1 ? wsp_load_run_processes(&a->cfg, a->processes_used, res, &e)
                                  : wsp_load_run(&a->cfg, res, &e);
    if (r != 0) {
        fprintf(stderr, "wsprobe: load: %s\n", e.msg);
        rc = e.cls == WSP_CLASS_USAGE ? 2 : 70;
    } else {
        if (tick_tty)
            fputc('\n', stderr);
        rc = judge_and_report(&a->j, res);
    }
    wsp_load_result_free(res);
    return rc;
}

int wsp_cmd_load(int argc, char **argv)
{
    static const char cmd[] = "load";
    static const wsp_opt *tables[4];
    tables[0] = load_opts;
    tables[1] = report_opts;
    tables[2] = load_probe_table();
    const wsp_cli_spec spec = {.cmd = cmd,
                               .usage = load_usage,
                               .tables = tables,
                               .omit = load_refuses,
                               .flags = WSP_CLI_JSON | WSP_CLI_HTML};
    load_args *a = calloc(1, sizeof *a);
    if (!a)
        return 70;
    wsp_probeopts_init(&a->po, cmd);
    judging_init(&a->j, cmd);
    wsp_load_config_init(&a->cfg);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a->cfg.threads =
        ncpu > 0 ? (unsigned)(ncpu < WSP_LOAD_MAX_THREADS ? ncpu : WSP_LOAD_MAX_THREADS) : 1;
    wsp_cli_out out;
    char red_url[1024];
    int rc = wsp_cli_parse(&spec, argc, argv, take_load, a, &out);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto out;
    }
    a->j.out = &out;
    a->j.quiet = a->po.quiet;
    if ((rc = conversation(a)) != 0 || (rc = check_capacity(a)) != 0 ||
        (rc = finish_judging(&a->j)) != 0 || (rc = wsp_probeopts_finish_cli(&a->po, &out)) != 0 ||
        (rc = connect_setup(a, red_url, sizeof red_url)) != 0)
        goto out;
    rc = run_load(a);
out:
    wsp_load_result_free(a->j.baseline);
    free(a->message);
    wsp_probeopts_cleanup(&a->po);
    free(a);
    fflush(stdout);
    return rc;
}

/* ---- load-merge ---- */

static int take_merge(void *ud, const wsp_opt *o, const char *arg, const wsp_opt_value *v)
{
    (void)v;
    return take_report_opt(ud, o, arg) > 0 ? 0 : -1;
}

int wsp_cmd_load_merge(int argc, char **argv)
{
    static const char cmd[] = "load-merge";
    static const wsp_opt *const tables[] = {report_opts, merge_out_opts, NULL};
    const wsp_cli_spec spec = {
        .cmd = cmd, .usage = merge_usage, .tables = tables, .flags = WSP_CLI_JSON | WSP_CLI_HTML};
    judging j;
    judging_init(&j, cmd);
    wsp_cli_out out;
    int rc = wsp_cli_parse(&spec, argc, argv, take_merge, &j, &out);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    j.out = &out;
    if (out.noperands == 0)
        return wsp_cli_usage_error(cmd, "give the --json reports of `wsprobe load` to merge");
    wsp_load_result *acc = NULL;
    rc = 2;
    for (int i = 0; i < out.noperands; i++) {
        wsp_load_result *r = load_report_file(cmd, NULL, out.operands[i]);
        if (!r)
            goto out;
        if (!acc) {
            acc = r;
            continue;
        }
        int m = wsp_load_result_merge(acc, r);
        wsp_load_result_free(r);
        if (m != 0) {
            fprintf(stderr, "wsprobe: %s: out of memory\n", cmd);
            rc = 70;
            goto out;
        }
    }
    if ((rc = finish_judging(&j)) == 0)
        rc = judge_and_report(&j, acc);
out:
    wsp_load_result_free(acc);
    wsp_load_result_free(j.baseline);
    fflush(stdout);
    return rc;
}
