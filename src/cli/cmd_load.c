/* cmd_load.c - `wsprobe load URL` and `wsprobe load-merge A.json B.json ...` (issue 7). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "cli.h"
#include "util/files.h"
#include "report/xmlw.h"
#include "util/duration.h"
#include "load/load.h"
#include "probeopts.h"
#include "util/redact.h"
#include "report/report.h"
#include "codec/template.h"

static const char load_usage[] =
    "usage: wsprobe load URL [options]\n"
    "\n"
    "Open many connections to a ws:// or wss:// URL and send messages on a schedule (an open\n"
    "model: sends follow the clock, not the replies). Latency is measured from the intended send\n"
    "time (corrected for coordinated omission) and from the actual send time; every connection's\n"
    "resolve, connect, TLS and upgrade are timed; failures are counted by class (the probe's).\n"
    "Exit 0, 1 when a --threshold or the --baseline comparison fails, 2 on bad usage, or the\n"
    "most common failure class's code when no connection could be opened, or when every one\n"
    "failed and no threshold did (docs/load.md).\n"
    "\n"
    "load:\n"
    "      --connections N          connections to hold open (default 1)\n"
    "      --connect-rate R         new connections per second (default: as fast as a bounded\n"
    "                               number of handshakes in progress allows)\n"
    "      --duration DUR           measured time after the warm-up (default 10s)\n"
    "      --warmup DUR             run, but do not measure, this long first (default 0)\n"
    "      --rate M                 messages per second in total, spread over the connections\n"
    "                               (default: none, connections only)\n"
    "      --message TEXT|@FILE     what to send; {{uuid}}, {{now}}, {{now_ms}}, {{env.NAME}}\n"
    "                               are filled per message\n"
    "      --echo                   a reply must equal the message it answers\n"
    "      --expect-json PTR=VALUE  the reply whose JSON at PTR equals VALUE answers the message\n"
    "                               (VALUE may be {{sent./id}}: correlation by id)\n"
    "      --expect-text TEXT       the next reply must equal TEXT\n"
    "                               (none of these: the next message answers the oldest)\n"
    "      --pipeline K             messages in flight per connection (default 1; a message\n"
    "                               due while K are in flight waits, its latency counted from\n"
    "                               when it was due)\n"
    "      --reply-timeout DUR      a reply later than this is WS_MSG_TIMEOUT (default --timeout)\n"
    "      --threads T              event loops, one per thread (default: the number of cores)\n"
    "      --source-ip ADDR         bind connections to this local address, round robin\n"
    "                               (repeatable: each adds about 28,000 ports)\n"
    "      --timer-slack DUR        wake for sends on a grid of DUR (default 0: at each\n"
    "                               send's time); 1ms costs less CPU and sends up to 1ms late,\n"
    "                               which the corrected latency shows (at most 100ms)\n"
    "reports:\n"
    "      --json                   the report as JSON (exact histograms included, for\n"
    "                               load-merge and --baseline)\n"
    "      --hdr-out FILE           corrected latency in HdrHistogram's percentile format (ms)\n"
    "      --threshold EXPR         p99<50ms, errors<0.1%, connect_p95<20ms, rate>=1000 ...\n"
    "                               (repeatable; exit 1 when one breaks)\n"
    "      --junit FILE             each threshold (and the baseline) as a JUnit test case\n"
    "      --baseline FILE          compare p50, p99 and the error rate with a stored --json\n"
    "                               report; exit 1 on a regression\n"
    "      --tolerance PCT          allowed latency increase over the baseline (default 20%)\n"
    "      --tolerance-floor DUR    latency changes below this are noise (default 500us)\n"
    "      --error-tolerance PCT    allowed error-rate increase in points (default 0.1%)\n"
    "\n";

static const char merge_usage[] =
    "usage: wsprobe load-merge A.json B.json ... [options]\n"
    "\n"
    "Merge `wsprobe load --json` reports from several agents: counters add, histograms merge\n"
    "exactly (combined percentiles are exact, not averages), the series adds up by second.\n"
    "Options: --json, --hdr-out FILE, --threshold EXPR, --junit FILE, --baseline FILE,\n"
    "--tolerance PCT, --tolerance-floor DUR, --error-tolerance PCT, -q.\n";

enum {
    OPT_CONNECT_RATE = WSP_PROBEOPTS_OWN,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_RATE,
    OPT_MESSAGE,
    OPT_ECHO,
    OPT_PIPELINE,
    OPT_REPLY_TIMEOUT,
    OPT_THREADS,
    OPT_SOURCE_IP,
    OPT_TIMER_SLACK,
    OPT_HDR_OUT,
    OPT_THRESHOLD,
    OPT_JUNIT,
    OPT_BASELINE,
    OPT_TOLERANCE,
    OPT_TOLERANCE_FLOOR,
    OPT_ERROR_TOLERANCE,
    OPT_HELP,
};

#define REPORT_OPTS                                                                                \
    {"hdr-out", required_argument, NULL, OPT_HDR_OUT},                                             \
        {"threshold", required_argument, NULL, OPT_THRESHOLD},                                     \
        {"junit", required_argument, NULL, OPT_JUNIT},                                             \
        {"baseline", required_argument, NULL, OPT_BASELINE},                                       \
        {"tolerance", required_argument, NULL, OPT_TOLERANCE},                                     \
        {"tolerance-floor", required_argument, NULL, OPT_TOLERANCE_FLOOR},                         \
        {"error-tolerance", required_argument, NULL, OPT_ERROR_TOLERANCE},                         \
    {                                                                                              \
        "help", no_argument, NULL, OPT_HELP                                                        \
    }

static const struct option load_opts[] = {
    {"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"rate", required_argument, NULL, OPT_RATE},
    {"message", required_argument, NULL, OPT_MESSAGE},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"reply-timeout", required_argument, NULL, OPT_REPLY_TIMEOUT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"source-ip", required_argument, NULL, OPT_SOURCE_IP},
    {"timer-slack", required_argument, NULL, OPT_TIMER_SLACK},
    REPORT_OPTS,
    {NULL, 0, NULL, 0},
};

static const struct option merge_opts[] = {
    {"json", no_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    REPORT_OPTS,
    {NULL, 0, NULL, 0},
};

/* What both commands judge and print. */
typedef struct judging {
    const char *cmd;
    wsp_load_threshold th[WSP_LOAD_MAX_THRESHOLDS];
    size_t nth;
    const char *hdr_out, *junit, *baseline_path;
    wsp_load_result *baseline;
    wsp_load_tolerance tol;
    bool json, quiet;
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

static json_t *load_json_file(const char *cmd, const char *path)
{
    size_t len = 0;
    wsp_err e;
    char *text = wsp_file_read(NULL, path, 512u << 20, 0, &len, &e);
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

static wsp_load_result *load_report_file(const char *cmd, const char *path)
{
    json_t *j = load_json_file(cmd, path);
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

/* Returns 1 when the option was a report option and was applied, 0 when not, -1 when bad. */
static int take_report_opt(judging *j, int code, const char *arg)
{
    wsp_err e;
    uint64_t us;
    switch (code) {
    case OPT_HDR_OUT:
        j->hdr_out = arg;
        return 1;
    case OPT_JUNIT:
        j->junit = arg;
        return 1;
    case OPT_BASELINE:
        j->baseline_path = arg;
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
    case OPT_ERROR_TOLERANCE: {
        double v;
        if (parse_pct(arg, &v) != 0) {
            wsp_cli_usage_error(j->cmd, "%s '%s': expected a percentage like 20%%",
                                code == OPT_TOLERANCE ? "--tolerance" : "--error-tolerance", arg);
            return -1;
        }
        if (code == OPT_TOLERANCE)
            j->tol.latency_rel = v;
        else
            j->tol.error_rate_abs = v;
        return 1;
    }
    case OPT_TOLERANCE_FLOOR:
        if (wsp_duration_parse(arg, &us) != 0) {
            wsp_cli_usage_error(j->cmd, "--tolerance-floor '%s': expected a duration like 1ms",
                                arg);
            return -1;
        }
        j->tol.latency_abs = us * 1000;
        return 1;
    default:
        return 0;
    }
}

typedef struct verdicts {
    bool ok[WSP_LOAD_MAX_THRESHOLDS];
    double value[WSP_LOAD_MAX_THRESHOLDS];
    bool have_cmp;
    wsp_load_compare cmp;
    int failures;
} verdicts;

static void fmt_cmp(const wsp_load_compare_item *it, double v, char *buf, size_t cap)
{
    if (strcmp(it->name, "error_rate") == 0)
        snprintf(buf, cap, "%.4g%%", v * 100);
    else
        snprintf(buf, cap, "%.3fms", v / 1e6);
}

static void prop(wsp_xmlw *w, const char *name, const char *value)
{
    wsp_xmlw_start(w, "property");
    wsp_xmlw_attr(w, "name", name);
    wsp_xmlw_attr(w, "value", value);
    wsp_xmlw_end(w);
}

static int write_junit(const judging *j, const verdicts *v, const wsp_load_result *r)
{
    FILE *f = fopen(j->junit, "w");
    if (!f)
        return -1;
    size_t n = j->nth + (v->have_cmp ? 1 : 0);
    char num[32];
    wsp_xmlw w;
    wsp_xmlw_begin(&w, f);
    size_t failures = (size_t)v->failures;
    wsp_xmlw_start(&w, "testsuites");
    wsp_xmlw_attr(&w, "name", "wsprobe load");
    wsp_xmlw_attrf(&w, "tests", "%zu", n);
    wsp_xmlw_attrf(&w, "failures", "%zu", failures);
    wsp_xmlw_suite(&w, "testsuite", "wsprobe load", n, failures, 0);
    wsp_xmlw_attrf(&w, "time", "%.3f", r->elapsed_s);
    wsp_xmlw_start(&w, "properties");
    prop(&w, "url", r->url);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->conn_opened);
    prop(&w, "connections_opened", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->msg_matched);
    prop(&w, "messages_matched", num);
    wsp_xmlw_end(&w);
    for (size_t i = 0; i < j->nth; i++) {
        char val[48], m[400];
        wsp_load_threshold_format(&j->th[i], v->value[i], val, sizeof val);
        wsp_xmlw_start(&w, "testcase");
        wsp_xmlw_attr(&w, "classname", "wsprobe.load.threshold");
        wsp_xmlw_attr(&w, "name", j->th[i].text);
        wsp_xmlw_attrf(&w, "time", "%.3f", r->measured_s);
        if (!v->ok[i]) {
            snprintf(m, sizeof m, "%s broke: measured %s", j->th[i].text, val);
            wsp_xmlw_start(&w, "failure");
            wsp_xmlw_attr(&w, "message", m);
            wsp_xmlw_attr(&w, "type", "threshold");
            wsp_xmlw_end(&w);
        }
        snprintf(m, sizeof m, "measured %s", val);
        wsp_xmlw_start(&w, "system-out");
        wsp_xmlw_text(&w, m);
        wsp_xmlw_end(&w);
        wsp_xmlw_end(&w);
    }
    if (v->have_cmp) {
        wsp_xmlw_start(&w, "testcase");
        wsp_xmlw_attr(&w, "classname", "wsprobe.load.baseline");
        wsp_xmlw_attr(&w, "name", "baseline");
        wsp_xmlw_attrf(&w, "time", "%.3f", r->measured_s);
        if (v->cmp.regressed) {
            char m[600] = "regression against the baseline:";
            for (int i = 0; i < 3; i++) {
                const wsp_load_compare_item *it = &v->cmp.items[i];
                if (!it->regressed)
                    continue;
                char a[32], b[32], c[32];
                fmt_cmp(it, it->baseline, a, sizeof a);
                fmt_cmp(it, it->current, b, sizeof b);
                fmt_cmp(it, it->limit, c, sizeof c);
                size_t l = strlen(m);
                snprintf(m + l, sizeof m - l, " %s %s -> %s (limit %s)", it->name, a, b, c);
            }
            wsp_xmlw_start(&w, "failure");
            wsp_xmlw_attr(&w, "message", m);
            wsp_xmlw_attr(&w, "type", "baseline");
            wsp_xmlw_end(&w);
        }
        wsp_xmlw_end(&w);
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

/* Judge, write the files and print. Returns the exit code. */
static int judge_and_report(const judging *j, wsp_load_result *r)
{
    verdicts v;
    memset(&v, 0, sizeof v);
    for (size_t i = 0; i < j->nth; i++) {
        v.ok[i] = wsp_load_threshold_eval(&j->th[i], r, &v.value[i]);
        if (!v.ok[i])
            v.failures++;
    }
    if (j->baseline) {
        v.have_cmp = true;
        wsp_load_compare_results(j->baseline, r, &j->tol, &v.cmp);
        if (v.cmp.regressed)
            v.failures++;
    }
    int rc = v.failures ? 1 : 0;
    /* A run in which no connection opened measured nothing: its exit is the class most of
     * them failed with, whatever the thresholds say. One in which every connection failed
     * is never a pass: when no threshold failed, the exit is that class too. */
    wsp_class none_open = WSP_CLASS_OK;
    if (r->conn_attempted > 0 &&
        (r->conn_opened == 0 || (rc == 0 && r->conn_failed >= r->conn_attempted))) {
        none_open = most_common_class(r);
        if (none_open != WSP_CLASS_OK)
            rc = wsp_class_exit_code(none_open);
    }
    if (j->hdr_out) {
        FILE *f = fopen(j->hdr_out, "w");
        if (!f || wsp_hist_write_hdr(&r->latency, f, 1e6) != 0) {
            char eb[128];
            strerror_r(errno, eb, sizeof eb);
            fprintf(stderr, "wsprobe: %s: cannot write %s: %s\n", j->cmd, j->hdr_out, eb);
            rc = rc ? rc : 2;
        }
        if (f)
            fclose(f);
    }
    if (j->junit && write_junit(j, &v, r) != 0) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        fprintf(stderr, "wsprobe: %s: cannot write %s: %s\n", j->cmd, j->junit, eb);
        rc = rc ? rc : 2;
    }
    if (j->json) {
        json_t *o = wsp_load_result_to_json(r);
        if (!o) {
            fprintf(stderr, "wsprobe: %s: out of memory\n", j->cmd);
            return 70;
        }
        json_object_set_new(o, "ok", json_boolean(rc == 0));
        json_object_set_new(o, "exit_code", json_integer(rc));
        if (none_open != WSP_CLASS_OK)
            json_object_set_new(o, "class", json_string(wsp_class_name(none_open)));
        json_t *ta = json_array();
        for (size_t i = 0; i < j->nth; i++) {
            char val[48];
            wsp_load_threshold_format(&j->th[i], v.value[i], val, sizeof val);
            json_t *val_j = isnan(v.value[i]) ? json_null() : json_real(v.value[i]);
            json_array_append_new(ta, json_pack("{s:s, s:b, s:o, s:s, s:f}", "expr", j->th[i].text,
                                                "ok", v.ok[i], "value", val_j, "measured", val,
                                                "limit", j->th[i].limit));
        }
        json_object_set_new(o, "thresholds", ta);
        if (v.have_cmp) {
            json_t *b = json_object();
            json_object_set_new(b, "file", json_string(j->baseline_path));
            json_object_set_new(b, "regressed", json_boolean(v.cmp.regressed));
            for (int i = 0; i < 3; i++) {
                const wsp_load_compare_item *it = &v.cmp.items[i];
                bool ms = strcmp(it->name, "error_rate") != 0;
                double k = ms ? 1e6 : 1.0;
                json_object_set_new(b, it->name,
                                    json_pack("{s:f, s:f, s:f, s:b, s:s}", "baseline",
                                              it->baseline / k, "current", it->current / k, "limit",
                                              it->limit / k, "regressed", it->regressed, "unit",
                                              ms ? "ms" : "fraction"));
            }
            json_object_set_new(o, "baseline", b);
        }
        wsp_probeopts_print_json(j->cmd, o);
        return rc;
    }
    FILE *out = j->quiet ? stderr : stdout;
    if (j->quiet && rc == 0)
        return rc;
    bool color = wsp_cli_color(out);
    char *buf = NULL;
    size_t blen = 0;
    FILE *mf = open_memstream(&buf, &blen);
    if (mf) {
        wsp_load_result_human(mf, r, color);
        if (j->nth)
            fprintf(mf, "\nthresholds\n");
        for (size_t i = 0; i < j->nth; i++) {
            char val[48];
            wsp_load_threshold_format(&j->th[i], v.value[i], val, sizeof val);
            fprintf(mf, "  %s %-24s measured %s\n", v.ok[i] ? "pass" : "FAIL", j->th[i].text, val);
        }
        if (v.have_cmp) {
            fprintf(mf, "\nbaseline %s: %s\n", j->baseline_path,
                    v.cmp.regressed ? "REGRESSION" : "within tolerance");
            for (int i = 0; i < 3; i++) {
                const wsp_load_compare_item *it = &v.cmp.items[i];
                char a[32], b[32], c[32];
                fmt_cmp(it, it->baseline, a, sizeof a);
                fmt_cmp(it, it->current, b, sizeof b);
                fmt_cmp(it, it->limit, c, sizeof c);
                fprintf(mf, "  %s %-10s baseline %-10s now %-10s limit %s\n",
                        it->regressed ? "FAIL" : "pass", it->name, a, b, c);
            }
        }
        if (none_open != WSP_CLASS_OK)
            fprintf(mf, "\nno connection opened: %s (exit %d)\n  hint: %s\n",
                    wsp_class_name(none_open), rc, wsp_class_default_hint(none_open));
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
        j->baseline = load_report_file(j->cmd, j->baseline_path);
        if (!j->baseline)
            return 2;
    }
    return 0;
}

/* ---- load ---- */

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

static int parse_count(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int wsp_cmd_load(int argc, char **argv)
{
    static const char cmd[] = "load";
    wsp_probeopts o;
    wsp_probeopts_init(&o, cmd);
    judging j;
    judging_init(&j, cmd);
    wsp_load_config cfg;
    wsp_load_config_init(&cfg);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.threads =
        ncpu > 0 ? (unsigned)(ncpu < WSP_LOAD_MAX_THREADS ? ncpu : WSP_LOAD_MAX_THREADS) : 1;
    struct sockaddr_storage sources[WSP_LOAD_MAX_SOURCES];
    size_t nsrc = 0;
    char *message = NULL;
    size_t message_len = 0;
    bool rate_given = false, echo = false;
    wsp_load_result *res = NULL;
    struct option *table = wsp_probeopts_merge(load_opts);
    int rc = 2;
    if (!table)
        goto out;
    wsp_cli_require_full_options(cmd, argc, argv, table);
    optind = 1;
    opterr = 0;
    int ch, li;
    long lv;
    uint64_t us;
    while ((li = -1, ch = getopt_long(argc, argv, ":" WSP_PROBEOPTS_SHORT, table, &li)) != -1) {
        const char *name = li >= 0 ? table[li].name : NULL;
        if (ch == OPT_HELP) {
            fputs(load_usage, stdout);
            /* load defines --connections itself and refuses the probe-only options */
            static const char *const omit[] = {"connections",
                                               "health",
                                               "ping",
                                               "deadline",
                                               "expect-regex",
                                               "pong-timeout",
                                               "expect-auth-required",
                                               "send",
                                               "expect-text",
                                               "expect-json",
                                               "expect-close",
                                               NULL};
            wsp_probeopts_help_print(stdout, omit);
            rc = 0;
            goto out;
        }
        if (ch == ':') {
            rc = wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            goto out;
        }
        if (ch == '?') {
            rc = wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe load --help)",
                                     argv[optind - 1]);
            goto out;
        }
        int t = take_report_opt(&j, ch, optarg);
        if (t < 0)
            goto out;
        if (t > 0)
            continue;
        switch (ch) {
        case OPT_CONNECT_RATE:
        case OPT_RATE: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !isfinite(v) || v <= 0 || v > 1e9) {
                rc = wsp_cli_usage_error(cmd, "--%s '%s': expected a positive number per second%s",
                                         name, optarg,
                                         ch == OPT_RATE ? " (a rate of 0 sends nothing: leave "
                                                          "--rate out for idle connections)"
                                                        : "");
                goto out;
            }
            if (ch == OPT_RATE) {
                cfg.rate = v;
                rate_given = true;
            } else {
                cfg.connect_rate = v;
            }
            continue;
        }
        case OPT_DURATION:
        case OPT_WARMUP:
        case OPT_REPLY_TIMEOUT:
        case OPT_TIMER_SLACK:
            if (wsp_duration_parse(optarg, &us) != 0 ||
                (ch != OPT_WARMUP && ch != OPT_TIMER_SLACK && us == 0) ||
                (ch == OPT_TIMER_SLACK && us > 100000)) {
                rc = wsp_cli_usage_error(cmd, "--%s '%s': expected a duration like 500ms, 10s, 5m",
                                         name, optarg);
                goto out;
            }
            if (ch == OPT_DURATION)
                cfg.duration_us = us;
            else if (ch == OPT_WARMUP)
                cfg.warmup_us = us;
            else if (ch == OPT_TIMER_SLACK)
                cfg.timer_slack_us = us;
            else
                cfg.reply_timeout_us = us;
            continue;
        case OPT_MESSAGE: {
            free(message);
            message = wsp_cli_text_or_file(cmd, "--message", optarg, &message_len);
            if (!message)
                goto out;
            wsp_err e;
            wsp_err_clear(&e);
            if (wsp_tmpl_check(message, false, "--message", getenv, &e) != 0) {
                rc = wsp_cli_usage_error(cmd, "%s", e.msg);
                goto out;
            }
            continue;
        }
        case OPT_ECHO:
            echo = true;
            continue;
        case OPT_PIPELINE:
            if (parse_count(optarg, 1, WSP_LOAD_MAX_PIPELINE, &lv) != 0) {
                rc = wsp_cli_usage_error(cmd, "--pipeline '%s': expected 1 to %d", optarg,
                                         WSP_LOAD_MAX_PIPELINE);
                goto out;
            }
            cfg.pipeline = (unsigned)lv;
            continue;
        case OPT_THREADS:
            if (parse_count(optarg, 1, WSP_LOAD_MAX_THREADS, &lv) != 0) {
                rc = wsp_cli_usage_error(cmd, "--threads '%s': expected 1 to %d", optarg,
                                         WSP_LOAD_MAX_THREADS);
                goto out;
            }
            cfg.threads = (unsigned)lv;
            continue;
        case OPT_SOURCE_IP: {
            if (nsrc >= WSP_LOAD_MAX_SOURCES) {
                rc = wsp_cli_usage_error(cmd, "at most %d --source-ip addresses",
                                         WSP_LOAD_MAX_SOURCES);
                goto out;
            }
            struct sockaddr_storage *ss = &sources[nsrc];
            memset(ss, 0, sizeof *ss);
            if (uv_ip4_addr(optarg, 0, (struct sockaddr_in *)ss) != 0 &&
                uv_ip6_addr(optarg, 0, (struct sockaddr_in6 *)ss) != 0) {
                rc = wsp_cli_usage_error(cmd, "--source-ip '%s': expected an IPv4 or IPv6 address",
                                         optarg);
                goto out;
            }
            nsrc++;
            continue;
        }
        default:
            break;
        }
        if (name && strcmp(name, "connections") == 0) {
            /* the shared option caps probes at 10,000; load goes further */
            if (parse_count(optarg, 1, WSP_LOAD_MAX_CONNECTIONS, &lv) != 0) {
                rc = wsp_cli_usage_error(cmd, "--connections '%s': expected 1 to %d", optarg,
                                         WSP_LOAD_MAX_CONNECTIONS);
                goto out;
            }
            cfg.connections = (size_t)lv;
            continue;
        }
        if (name &&
            (strcmp(name, "health") == 0 || strcmp(name, "ping") == 0 ||
             strcmp(name, "deadline") == 0 || strcmp(name, "expect-regex") == 0 ||
             strcmp(name, "pong-timeout") == 0 || strcmp(name, "expect-auth-required") == 0 ||
             strcmp(name, "expect-close") == 0)) {
            rc = wsp_cli_usage_error(cmd, "--%s is a probe option; load does not take it", name);
            goto out;
        }
        t = wsp_probeopts_take(&o, ch, optarg, name);
        if (t < 0)
            goto out;
        if (t == 0) {
            rc = wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe load --help)",
                                     argv[optind - 1]);
            goto out;
        }
    }
    j.json = o.json;
    j.quiet = o.quiet;
    if (optind != argc - 1) {
        rc = wsp_cli_usage_error(cmd, optind >= argc ? "give one URL, like ws://host:port/path"
                                                     : "give exactly one URL");
        goto out;
    }
    const char *url = argv[optind];

    /* the conversation: --message (or one --send), and how replies are matched */
    size_t nsend = 0, nexpect = 0;
    const wsp_step *expect = NULL;
    bool message_opt = message != NULL;
    for (size_t i = 0; i < o.s.cfg.num_steps; i++) {
        const wsp_step *s = &o.s.cfg.steps[i];
        if (s->kind == WSP_STEP_SEND || s->kind == WSP_STEP_SEND_BINARY) {
            nsend++;
            if (!message) {
                message = malloc(s->len + 1);
                if (!message)
                    goto out;
                memcpy(message, s->text, s->len);
                message[s->len] = '\0';
                message_len = s->len;
            }
        } else {
            nexpect++;
            expect = s;
        }
    }
    if (nsend > 1 || (nsend && message_opt)) {
        rc = wsp_cli_usage_error(cmd, "load sends one message shape: give one --message");
        goto out;
    }
    if (nexpect > 1 || (expect && echo)) {
        rc = wsp_cli_usage_error(cmd, "give one way to match replies: --echo, --expect-json or "
                                      "--expect-text");
        goto out;
    }
    if (echo)
        cfg.match = WSP_LOAD_MATCH_ECHO;
    else if (expect && expect->kind == WSP_STEP_EXPECT_JSON) {
        cfg.match = WSP_LOAD_MATCH_JSON;
        cfg.expect_pointer = expect->pointer;
        cfg.expect_value = expect->value_json;
    } else if (expect && expect->kind == WSP_STEP_EXPECT_TEXT) {
        cfg.match = WSP_LOAD_MATCH_TEXT;
        cfg.expect_text = expect->text;
    }
    if (rate_given && !message) {
        rc = wsp_cli_usage_error(cmd, "--rate needs --message (what to send)");
        goto out;
    }
    if (!rate_given && (message || echo || expect)) {
        rc = wsp_cli_usage_error(cmd, "--message, --echo and --expect-* need --rate (messages "
                                      "per second in total)");
        goto out;
    }
    if (message && echo && wsp_tmpl_has_vars(message) && strlen(message) != message_len) {
        rc = wsp_cli_usage_error(cmd, "--message: a message with a NUL byte cannot hold "
                                      "placeholders");
        goto out;
    }
    if (cfg.rate > 0 && cfg.rate / (double)cfg.connections > 1e6) {
        rc = wsp_cli_usage_error(cmd,
                                 "--rate %.0f over %zu connection(s) is more than a "
                                 "million messages per second per connection",
                                 cfg.rate, cfg.connections);
        goto out;
    }

    /* ports and file descriptors: impossible runs stop here */
    long ports = ports_per_source();
    long usable = ports * (long)(nsrc ? nsrc : 1);
    if ((long)cfg.connections > usable) {
        rc = wsp_cli_usage_error(cmd,
                                 "%zu connections need more local ports than %zu source "
                                 "address(es) have (%ld each, ip_local_port_range)",
                                 cfg.connections, nsrc ? nsrc : 1, ports);
        fprintf(stderr,
                "  hint: add --source-ip addresses (on loopback 127.0.0.2, 127.0.0.3, "
                "...: one per %ld connections)\n",
                ports);
        goto out;
    }
    struct rlimit rl;
    rlim_t need = (rlim_t)cfg.connections + 64 + 8 * (rlim_t)cfg.threads;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
            rc = wsp_cli_usage_error(cmd,
                                     "%zu connections need %llu file descriptors; the hard limit "
                                     "is %llu",
                                     cfg.connections, (unsigned long long)need,
                                     (unsigned long long)rl.rlim_max);
            fprintf(stderr, "  hint: raise it (ulimit -Hn as root, LimitNOFILE= in systemd, "
                            "securityContext/ulimits in containers) or use fewer connections\n");
            goto out;
        }
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rc = wsp_cli_usage_error(cmd, "cannot raise the file descriptor limit to %llu",
                                     (unsigned long long)need);
            goto out;
        }
    }
    if ((rc = finish_judging(&j)) != 0)
        goto out;
    if ((rc = wsp_probeopts_finish(&o, url)) != 0)
        goto out;
    for (size_t i = 0; i < nsrc; i++) {
        int fam = sources[i].ss_family;
        if (o.s.cfg.url.host_is_ip && (fam == AF_INET6) != o.s.cfg.url.host_is_ipv6) {
            rc = wsp_cli_usage_error(cmd, "--source-ip: the address family differs from the "
                                          "URL's host");
            goto out;
        }
    }
    o.s.cfg.conn.trace = NULL; /* -v would print every handshake */
    /* a probe's overall deadline would end every connection 30 s into the run: a load
     * connection lives as long as the run; --timeout still bounds each handshake phase */
    o.s.cfg.conn.deadline_us = 0;
    cfg.conn = &o.s.cfg.conn;
    cfg.auth = o.s.cfg.auth;
    cfg.strict_order = o.s.cfg.strict_order;
    char red_url[1024];
    wsp_report_redact_url(url, red_url, sizeof red_url);
    cfg.url_text = red_url;
    cfg.message = message;
    cfg.message_len = message_len;
    cfg.sources = nsrc ? sources : NULL;
    cfg.num_sources = nsrc;
    cfg.handle_sigint = true;
    if (isatty(STDERR_FILENO) && !o.quiet) {
        cfg.on_tick = live_line;
    }
    res = wsp_load_result_new();
    if (!res) {
        rc = 70;
        goto out;
    }
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_load_run(&cfg, res, &e) != 0) {
        fprintf(stderr, "wsprobe: load: %s\n", e.msg);
        rc = e.cls == WSP_CLASS_USAGE ? 2 : 70;
        goto out;
    }
    if (tick_tty)
        fputc('\n', stderr);
    rc = judge_and_report(&j, res);
out:
    wsp_load_result_free(res);
    wsp_load_result_free(j.baseline);
    free(message);
    free(table);
    wsp_probeopts_cleanup(&o);
    fflush(stdout);
    return rc;
}

/* ---- load-merge ---- */

int wsp_cmd_load_merge(int argc, char **argv)
{
    static const char cmd[] = "load-merge";
    judging j;
    judging_init(&j, cmd);
    wsp_load_result *acc = NULL;
    int rc = 2;
    wsp_cli_require_full_options(cmd, argc, argv, merge_opts);
    optind = 1;
    opterr = 0;
    int ch, li;
    while ((li = -1, ch = getopt_long(argc, argv, ":q", merge_opts, &li)) != -1) {
        if (ch == OPT_HELP) {
            fputs(merge_usage, stdout);
            return 0;
        }
        if (ch == ':')
            return wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        if (ch == 'j') {
            j.json = true;
            continue;
        }
        if (ch == 'q') {
            j.quiet = true;
            continue;
        }
        int t = ch == '?' ? 0 : take_report_opt(&j, ch, optarg);
        if (t < 0)
            return 2;
        if (t == 0)
            return wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe load-merge --help)",
                                       argv[optind - 1]);
    }
    if (optind >= argc)
        return wsp_cli_usage_error(cmd, "give the --json reports of `wsprobe load` to merge");
    for (int i = optind; i < argc; i++) {
        wsp_load_result *r = load_report_file(cmd, argv[i]);
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
    if ((rc = finish_judging(&j)) != 0)
        goto out;
    rc = judge_and_report(&j, acc);
out:
    wsp_load_result_free(acc);
    wsp_load_result_free(j.baseline);
    fflush(stdout);
    return rc;
}
