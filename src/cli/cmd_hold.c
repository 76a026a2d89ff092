/* cmd_hold.c - `wsprobe hold URL`: connections that must live (docs/hold.md). Strategies side
 * by side (silent, pings on a ladder of intervals, messages every M), for a duration; each end
 * said with when, how and by whom, and read for what it means (hold/hold.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "args.h"
#include "cli.h"
#include "hold/hold.h"
#include "probeopts.h"
#include "report/report.h"
#include "report/xmlw.h"
#include "util/redact.h"

static const char hold_usage[] =
    "usage: wsprobe hold URL [options]\n"
    "\n"
    "Open connections and keep them for --duration, each strategy on its own connections:\n"
    "silent (no frames at all), pings every P for each P of --ping-ladder, and, with --send\n"
    "and --message-every M, those messages every M. Report when, how (the server's close\n"
    "frame, a TCP FIN or reset without one, an unanswered ping) and after how long each one\n"
    "ended, and what that means: an intermediary's idle timeout, a lifetime cap, or nothing.\n"
    "hold observes, where load measures: its default duration is 10 minutes.\n"
    "\n"
    "Exit: 0; 1 when a gate fails (a connection that never opened, --expect-lifetime,\n"
    "--expect-silent-lifetime); 2 on bad usage; the most common class's code when no\n"
    "connection opened at all.\n"
    "\n";

enum {
    OPT_DURATION = WSP_PROBE_OPT_OWN,
    OPT_PER_STRATEGY,
    OPT_LADDER,
    OPT_MESSAGE_EVERY,
    OPT_NO_SILENT,
    OPT_EXPECT_LIFETIME,
    OPT_EXPECT_SILENT_LIFETIME,
    OPT_RECONNECT,
    OPT_THRESHOLD,
    OPT_JUNIT,
};

static const wsp_opt own_opts[] = {
    {"hold:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"duration", 0, WSP_OPT_DURATION, OPT_DURATION, "DUR",
     "how long to hold the connections (default 10m)", 0, 0, NULL, NULL, 0},
    {"per-strategy", 0, WSP_OPT_COUNT, OPT_PER_STRATEGY, "N",
     "connections of each strategy (default 2)", 1, 100000, NULL, NULL, 0},
    {"ping-ladder", 0, WSP_OPT_TEXT, OPT_LADDER, "LIST",
     "one strategy per interval: pings every P (default 30s;\ne.g. 15s,30s,45s,90s)", 0, 0, NULL,
     NULL, 0},
    {"message-every", 0, WSP_OPT_DURATION, OPT_MESSAGE_EVERY, "DUR",
     "a strategy that sends the --send messages every DUR", 0, 0, NULL, NULL, 0},
    {"no-silent", 0, WSP_OPT_FLAG, OPT_NO_SILENT, NULL, "leave out the silent strategy", 0, 0, NULL,
     NULL, 0},
    {"expect-lifetime", 0, WSP_OPT_DURATION, OPT_EXPECT_LIFETIME, "DUR",
     "exit 1 when a kept-alive connection (pings, messages)\nends before DUR", 0, 0, NULL, NULL, 0},
    {"expect-silent-lifetime", 0, WSP_OPT_DURATION, OPT_EXPECT_SILENT_LIFETIME, "DUR",
     "exit 1 when a silent connection ends before DUR", 0, 0, NULL, NULL, 0},
    {"reconnect", 0, WSP_OPT_FLAG, OPT_RECONNECT, NULL,
     "reconnect each dropped connection (backoff with jitter)\nand send the first --send "
     "message once it is back:\nrolling-deploy resilience (1001/1012 are graceful)",
     0, 0, NULL, NULL, 0},
    {"threshold", 0, WSP_OPT_TEXT, OPT_THRESHOLD, "EXPR",
     "reconnect_p99<2s, ungraceful<1, lost<1, gap<5s, drops<N\n(repeatable; exit 1 when one "
     "breaks)",
     0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"junit", 0, WSP_OPT_PATH, OPT_JUNIT, "FILE",
     "JUnit XML: a testcase per strategy, gate and threshold", 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

/* The probe's options hold has no use for: it judges lifetimes, not replies. */
static const char *const hold_omits[] = {
    "connections",          "deadline",      "health",       "expect-text", "expect-json",
    "expect-regex",         "expect-binary", "send-binary",  "ping",        "expect-close",
    "expect-auth-required", "strict-order",  "each-address", NULL};

typedef struct hold_opts {
    wsp_probeopts po;
    wsp_hold_config cfg;
    const char *ladder;
    const char *junit;
    uint64_t message_every;
    bool no_silent;
} hold_opts;

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    hold_opts *h = ud;
    switch (opt->id) {
    case OPT_DURATION:
        h->cfg.duration_us = v->u;
        return 0;
    case OPT_PER_STRATEGY:
        h->cfg.per_strategy = (unsigned)v->u;
        return 0;
    case OPT_LADDER:
        h->ladder = arg;
        return 0;
    case OPT_MESSAGE_EVERY:
        h->message_every = v->u;
        return 0;
    case OPT_NO_SILENT:
        h->no_silent = true;
        return 0;
    case OPT_EXPECT_LIFETIME:
        h->cfg.expect_lifetime_us = v->u;
        return 0;
    case OPT_EXPECT_SILENT_LIFETIME:
        h->cfg.expect_silent_lifetime_us = v->u;
        return 0;
    case OPT_RECONNECT:
        h->cfg.reconnect = true;
        return 0;
    case OPT_JUNIT:
        h->junit = arg;
        return 0;
    case OPT_THRESHOLD: {
        wsp_err e;
        if (h->cfg.nthresholds >= WSP_HOLD_MAX_THRESHOLDS)
            return wsp_cli_usage_error("hold", "at most %d --threshold", WSP_HOLD_MAX_THRESHOLDS);
        if (wsp_hold_threshold_check(arg, &e) != 0)
            return wsp_cli_usage_error("hold", "%s", e.msg);
        h->cfg.thresholds[h->cfg.nthresholds++] = arg;
        return 0;
    }
    default:
        return wsp_probeopts_apply(&h->po, opt, arg) == 1 ? 0 : -1;
    }
}

static void add_strategy(wsp_hold_config *c, wsp_hold_kind kind, uint64_t every_us)
{
    wsp_hold_strategy *s = &c->strategies[c->nstrategies++];
    s->kind = kind;
    s->every_us = every_us;
    char d[24];
    if (every_us % 1000000 == 0)
        snprintf(d, sizeof d, "%llus", (unsigned long long)(every_us / 1000000));
    else
        snprintf(d, sizeof d, "%llums", (unsigned long long)(every_us / 1000));
    snprintf(s->name, sizeof s->name, "%s%s",
             kind == WSP_HOLD_SILENT  ? "silent"
             : kind == WSP_HOLD_PINGS ? "ping-"
                                      : "message-",
             kind == WSP_HOLD_SILENT ? "" : d);
}

/* Strategies and every check that needs no network. 0, or the exit code. */
static int configure(hold_opts *h, const char **messages, size_t *nmessages)
{
    static const char cmd[] = "hold";
    wsp_hold_config *c = &h->cfg;
    wsp_err e;
    uint64_t ladder[WSP_HOLD_MAX_LADDER];
    size_t nl = 0;
    if (wsp_hold_ladder_parse(h->ladder ? h->ladder : "30s", ladder, WSP_HOLD_MAX_LADDER, &nl,
                              &e) != 0)
        return wsp_cli_usage_error(cmd, "%s", e.msg);
    if (!h->no_silent)
        add_strategy(c, WSP_HOLD_SILENT, 0);
    for (size_t i = 0; i < nl; i++) {
        if (ladder[i] >= c->duration_us)
            return wsp_cli_usage_error(cmd,
                                       "--ping-ladder: %.3g s is not shorter than --duration "
                                       "%.3g s: no ping would be sent; shorten the interval or "
                                       "hold longer",
                                       (double)ladder[i] / 1e6, (double)c->duration_us / 1e6);
        add_strategy(c, WSP_HOLD_PINGS, ladder[i]);
    }
    /* the messages strategy: the --send texts */
    const wsp_probe_config *pc = &h->po.s.cfg;
    for (size_t i = 0; i < pc->num_steps && *nmessages < 16; i++)
        if (pc->steps[i].kind == WSP_STEP_SEND)
            messages[(*nmessages)++] = pc->steps[i].text;
    if (h->message_every && !*nmessages)
        return wsp_cli_usage_error(cmd, "--message-every needs --send (the messages to send)");
    if (*nmessages && !h->message_every && !c->reconnect)
        return wsp_cli_usage_error(cmd, "--send needs --message-every (how often to send it) or "
                                        "--reconnect (the conversation after each reconnect)");
    if (c->reconnect && *nmessages)
        c->conversation = messages[0];
    if (h->message_every) {
        if (h->message_every >= c->duration_us)
            return wsp_cli_usage_error(cmd, "--message-every is not shorter than --duration");
        add_strategy(c, WSP_HOLD_MESSAGES, h->message_every);
    }
    c->messages = messages;
    c->nmessages = *nmessages;
    size_t n = c->nstrategies * c->per_strategy;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && n + 64 > rl.rlim_cur)
        return wsp_cli_usage_error(cmd,
                                   "%zu connections (%zu strategies x %u) need more file "
                                   "descriptors than the limit of %llu allows: raise it "
                                   "(ulimit -n %zu) or hold fewer (--per-strategy)",
                                   n, c->nstrategies, c->per_strategy,
                                   (unsigned long long)rl.rlim_cur, n + 64);
    return 0;
}

static json_t *num_or_null(double v)
{
    return v < 0 ? json_null() : json_real(round(v * 1000.0) / 1000.0);
}

static int cmp_end(const void *a, const void *b)
{
    const wsp_hold_end *x = *(wsp_hold_end *const *)a, *y = *(wsp_hold_end *const *)b;
    double tx = x->opened_at < 0 ? -1 : x->opened_at + x->lifetime;
    double ty = y->opened_at < 0 ? -1 : y->opened_at + y->lifetime;
    return tx < ty ? -1 : tx > ty;
}

/* The ends in the order they happened (never-opened ones first). NULL when out of memory. */
static const wsp_hold_end **timeline(const wsp_hold_result *r)
{
    const wsp_hold_end **t = calloc(r->nends ? r->nends : 1, sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < r->nends; i++)
        t[i] = &r->ends[i];
    qsort(t, r->nends, sizeof *t, cmp_end);
    return t;
}

static json_t *report_json(const hold_opts *h, const wsp_hold_result *r, const wsp_hold_analysis *a,
                           int rc)
{
    const wsp_hold_config *c = &h->cfg;
    json_t *o = json_object();
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(h->po.url, url, sizeof url);
    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "ok", json_boolean(rc == 0));
    json_object_set_new(o, "exit_code", json_integer(rc));
    if (!a->opened)
        json_object_set_new(o, "class", json_string(wsp_class_name(a->common_cls)));
    json_t *cfg = json_object(), *sts = json_array();
    json_object_set_new(cfg, "duration_s", json_real((double)c->duration_us / 1e6));
    json_object_set_new(cfg, "per_strategy", json_integer(c->per_strategy));
    json_object_set_new(cfg, "expect_lifetime_s",
                        c->expect_lifetime_us ? json_real((double)c->expect_lifetime_us / 1e6)
                                              : json_null());
    json_object_set_new(cfg, "expect_silent_lifetime_s",
                        c->expect_silent_lifetime_us
                            ? json_real((double)c->expect_silent_lifetime_us / 1e6)
                            : json_null());
    json_object_set_new(o, "config", cfg);
    json_object_set_new(o, "elapsed_s", num_or_null(r->elapsed_s));
    static const char *const kinds[] = {"silent", "pings", "messages"};
    for (size_t s = 0; s < c->nstrategies; s++) {
        const wsp_hold_summary *p = &a->per[s];
        json_t *j = json_object(), *how = json_object();
        json_object_set_new(j, "name", json_string(c->strategies[s].name));
        json_object_set_new(j, "kind", json_string(kinds[c->strategies[s].kind]));
        json_object_set_new(j, "every_s",
                            c->strategies[s].every_us
                                ? json_real((double)c->strategies[s].every_us / 1e6)
                                : json_null());
        json_object_set_new(j, "connections", json_integer((json_int_t)p->connections));
        json_object_set_new(j, "opened", json_integer((json_int_t)p->opened));
        json_object_set_new(j, "held", json_integer((json_int_t)p->held));
        json_object_set_new(j, "ended", json_integer((json_int_t)p->ended));
        for (int k = 0; k <= WSP_HOLD_OTHER; k++)
            if (p->how[k])
                json_object_set_new(how, wsp_hold_how_name((wsp_hold_how)k),
                                    json_integer((json_int_t)p->how[k]));
        json_object_set_new(j, "ends", how);
        json_object_set_new(j, "lifetime_s",
                            p->ended
                                ? json_pack("{s:o, s:o, s:o}", "min", num_or_null(p->min), "median",
                                            num_or_null(p->median), "max", num_or_null(p->max))
                                : json_null());
        json_object_set_new(j, "close_code",
                            p->close_code >= 0 ? json_integer(p->close_code) : json_null());
        json_array_append_new(sts, j);
    }
    json_object_set_new(o, "strategies", sts);
    json_t *f = json_array();
    for (size_t i = 0; i < a->nfindings; i++)
        json_array_append_new(f, json_string(a->findings[i]));
    json_object_set_new(o, "findings", f);
    json_object_set_new(o, "lifetime_cap", json_boolean(a->lifetime_cap));
    json_object_set_new(o, "idle_timeout_s",
                        a->idle_timeout_s > 0 ? num_or_null(a->idle_timeout_s) : json_null());
    json_t *gs = json_array();
    for (int i = 0; i < 3; i++) {
        const wsp_hold_gate *g = &a->gates[i];
        json_array_append_new(
            gs, json_pack("{s:s, s:b, s:b, s:I, s:I, s:o}", "name", g->name, "applies", g->applies,
                          "ok", g->ok, "failed", (json_int_t)g->failed, "of", (json_int_t)g->of,
                          "limit_s", g->limit_s > 0 ? json_real(g->limit_s) : json_null()));
    }
    json_object_set_new(o, "gates", gs);
    json_t *ths = json_array();
    for (size_t i = 0; i < a->nthresholds; i++)
        json_array_append_new(ths, json_pack("{s:s, s:b, s:o}", "text", a->thresholds[i].text, "ok",
                                             a->thresholds[i].ok, "value",
                                             isnan(a->thresholds[i].value)
                                                 ? json_null()
                                                 : json_real(a->thresholds[i].value)));
    json_object_set_new(o, "thresholds", ths);
    if (c->reconnect) {
        json_t *rj = json_object(), *dj = json_array();
        json_object_set_new(rj, "drops", json_integer((json_int_t)a->drops));
        json_object_set_new(rj, "graceful", json_integer((json_int_t)a->graceful));
        json_object_set_new(rj, "ungraceful", json_integer((json_int_t)a->ungraceful));
        json_object_set_new(rj, "reconnected", json_integer((json_int_t)a->reopened));
        json_object_set_new(
            rj, "reconnect_s",
            a->reopened
                ? json_pack("{s:o, s:o, s:o, s:o}", "p50", num_or_null(a->reconnect_p50), "p90",
                            num_or_null(a->reconnect_p90), "p99", num_or_null(a->reconnect_p99),
                            "max", num_or_null(a->reconnect_max))
                : json_null());
        json_object_set_new(rj, "longest_gap_s", num_or_null(a->longest_gap));
        json_object_set_new(rj, "conversations",
                            json_pack("{s:I, s:I, s:I, s:I}", "sent", (json_int_t)a->conv_sent,
                                      "ok", (json_int_t)a->conv_ok, "lost",
                                      (json_int_t)a->conv_lost, "pending",
                                      (json_int_t)a->conv_pending));
        static const char *const convs[] = {"none", "pending", "ok", "lost", "not_sent"};
        for (size_t i = 0; i < r->ndrops; i++) {
            const wsp_hold_drop *d = &r->drops[i];
            json_t *j = json_object();
            json_object_set_new(j, "strategy", json_string(c->strategies[d->strategy].name));
            json_object_set_new(j, "index", json_integer(d->index));
            json_object_set_new(j, "at_s", num_or_null(d->at));
            json_object_set_new(j, "how", json_string(wsp_hold_how_name(d->how)));
            json_object_set_new(j, "close_code",
                                d->close_code >= 0 ? json_integer(d->close_code) : json_null());
            json_object_set_new(j, "close_reason",
                                d->close_code >= 0 ? json_string(d->close_reason) : json_null());
            json_object_set_new(j, "graceful", json_boolean(d->graceful));
            json_object_set_new(j, "reconnect_s", num_or_null(d->reconnect));
            json_object_set_new(j, "failed_attempts", json_integer(d->attempts));
            json_object_set_new(j, "conversation", json_string(convs[d->conversation]));
            json_array_append_new(dj, j);
        }
        json_object_set_new(rj, "drops_list", dj);
        json_object_set_new(o, "reconnect", rj);
    }
    json_t *tl = json_array();
    const wsp_hold_end **t = timeline(r);
    for (size_t i = 0; t && i < r->nends; i++) {
        const wsp_hold_end *e = t[i];
        json_t *j = json_object();
        json_object_set_new(j, "strategy", json_string(c->strategies[e->strategy].name));
        json_object_set_new(j, "index", json_integer(e->index));
        json_object_set_new(j, "how", json_string(wsp_hold_how_name(e->how)));
        json_object_set_new(j, "opened_at_s", num_or_null(e->opened_at));
        bool op = e->how != WSP_HOLD_NEVER_OPENED;
        json_object_set_new(j, "lifetime_s", op ? num_or_null(e->lifetime) : json_null());
        json_object_set_new(j, "since_in_s", op ? num_or_null(e->since_in) : json_null());
        json_object_set_new(j, "since_out_s", op ? num_or_null(e->since_out) : json_null());
        json_object_set_new(j, "close_code",
                            e->close_code >= 0 ? json_integer(e->close_code) : json_null());
        json_object_set_new(j, "close_reason",
                            e->close_code >= 0 ? json_string(e->close_reason) : json_null());
        json_object_set_new(j, "class", json_string(wsp_class_name(e->cls)));
        json_object_set_new(j, "message", json_string(e->message));
        json_array_append_new(tl, j);
    }
    free(t);
    json_object_set_new(o, "timeline", tl);
    wsp_redact_json(o);
    return o;
}

/* Why a strategy failed, or NULL: a connection that never opened, or one that ended before
 * the lifetime its kind is held to. */
static const char *strategy_failure(const hold_opts *h, const wsp_hold_result *r, size_t s,
                                    char *buf, size_t cap)
{
    const wsp_hold_config *c = &h->cfg;
    bool silent = c->strategies[s].kind == WSP_HOLD_SILENT;
    uint64_t limit = silent ? c->expect_silent_lifetime_us : c->expect_lifetime_us;
    size_t never = 0, short_lived = 0;
    for (size_t i = 0; i < r->nends; i++) {
        const wsp_hold_end *e = &r->ends[i];
        if (e->strategy != s)
            continue;
        never += e->how == WSP_HOLD_NEVER_OPENED;
        short_lived += limit && e->how != WSP_HOLD_NEVER_OPENED && e->how != WSP_HOLD_HELD &&
                       e->lifetime < (double)limit / 1e6;
    }
    if (!never && !short_lived)
        return NULL;
    snprintf(buf, cap, "%zu never opened, %zu ended before %.3g s", never, short_lived,
             (double)limit / 1e6);
    return buf;
}

static int write_junit(const hold_opts *h, const wsp_hold_result *r, const wsp_hold_analysis *a)
{
    const wsp_hold_config *c = &h->cfg;
    FILE *f = fopen(h->junit, "w");
    if (!f)
        return -1;
    size_t gates = 0, failures = 0;
    char why[200], out[600];
    for (int i = 0; i < 3; i++) {
        gates += a->gates[i].applies;
        failures += a->gates[i].applies && !a->gates[i].ok;
    }
    for (size_t s = 0; s < c->nstrategies; s++)
        failures += strategy_failure(h, r, s, why, sizeof why) != NULL;
    for (size_t i = 0; i < a->nthresholds; i++)
        failures += !a->thresholds[i].ok;
    size_t n = c->nstrategies + gates + a->nthresholds;
    wsp_xmlw w;
    wsp_xmlw_junit_open(&w, f, "wsprobe hold", n, failures, r->elapsed_s);
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(h->po.url, url, sizeof url);
    wsp_xmlw_start(&w, "properties");
    wsp_xmlw_property(&w, "url", url);
    for (size_t i = 0; i < a->nfindings; i++) {
        char k[40];
        snprintf(k, sizeof k, "finding.%zu", i + 1);
        wsp_xmlw_property(&w, k, a->findings[i]);
    }
    wsp_xmlw_end(&w);
    double dur = (double)c->duration_us / 1e6;
    for (size_t s = 0; s < c->nstrategies; s++) {
        const wsp_hold_summary *p = &a->per[s];
        snprintf(out, sizeof out, "%zu opened, %zu lived to the end, %zu ended", p->opened, p->held,
                 p->ended);
        if (p->ended)
            snprintf(out + strlen(out), sizeof out - strlen(out),
                     " after %.3f s (min %.3f, max %.3f): %s", p->median, p->min, p->max,
                     wsp_hold_how_name(p->dominant));
        wsp_xmlw_testcase(&w, "wsprobe.hold.strategy", c->strategies[s].name, dur, "strategy",
                          strategy_failure(h, r, s, why, sizeof why), out);
    }
    for (int i = 0; i < 3; i++) {
        const wsp_hold_gate *g = &a->gates[i];
        if (!g->applies)
            continue;
        snprintf(why, sizeof why, "%s: %zu of %zu connections failed it", g->name, g->failed,
                 g->of);
        wsp_xmlw_testcase(&w, "wsprobe.hold.gate", g->name, dur, "gate", g->ok ? NULL : why, why);
    }
    for (size_t i = 0; i < a->nthresholds; i++) {
        snprintf(why, sizeof why, "%s: measured %.4g", a->thresholds[i].text,
                 a->thresholds[i].value);
        wsp_xmlw_testcase(&w, "wsprobe.hold.threshold", a->thresholds[i].text, dur, "threshold",
                          a->thresholds[i].ok ? NULL : why, why);
    }
    int rc = wsp_xmlw_finish(&w);
    return fclose(f) == 0 ? rc : -1;
}

static void human(FILE *f, const hold_opts *h, const wsp_hold_result *r, const wsp_hold_analysis *a,
                  int rc)
{
    const wsp_hold_config *c = &h->cfg;
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(h->po.url, url, sizeof url);
    fprintf(f, "wsprobe hold %s\n  %zu strategies x %u connections, held for %.3g s\n\n", url,
            c->nstrategies, c->per_strategy, (double)c->duration_us / 1e6);
    for (size_t s = 0; s < c->nstrategies; s++) {
        const wsp_hold_summary *p = &a->per[s];
        fprintf(f, "  %-14s %zu opened, %zu lived to the end, %zu ended", c->strategies[s].name,
                p->opened, p->held, p->ended);
        if (p->ended)
            fprintf(f, " after %.3f s (min %.3f, max %.3f): %s", p->median, p->min, p->max,
                    wsp_hold_how_name(p->dominant));
        fputc('\n', f);
    }
    fprintf(f, "\nfindings\n");
    for (size_t i = 0; i < a->nfindings; i++)
        fprintf(f, "  %s\n", a->findings[i]);
    fprintf(f, "\ntimeline (one line per end)\n");
    const wsp_hold_end **t = timeline(r);
    for (size_t i = 0; t && i < r->nends; i++) {
        const wsp_hold_end *e = t[i];
        const char *name = c->strategies[e->strategy].name;
        if (e->how == WSP_HOLD_NEVER_OPENED) {
            char msg[sizeof e->message];
            snprintf(msg, sizeof msg, "%s", e->message);
            wsp_redact_buf(msg, sizeof msg);
            fprintf(f, "  %9s  %s#%u never opened: %s %s\n", "-", name, e->index,
                    wsp_class_name(e->cls), msg);
            continue;
        }
        char in[24] = "none", out[24] = "none", code[160] = "";
        if (e->since_in >= 0)
            snprintf(in, sizeof in, "%.3f s", e->since_in);
        if (e->since_out >= 0)
            snprintf(out, sizeof out, "%.3f s", e->since_out);
        if (e->close_code >= 0)
            snprintf(code, sizeof code, " %d \"%.100s\"", e->close_code, e->close_reason);
        fprintf(f, "  %8.3fs  %s#%u %s%s after %.3f s (last frame in %s before, out %s)\n",
                e->opened_at + e->lifetime, name, e->index, wsp_hold_how_name(e->how), code,
                e->lifetime, in, out);
    }
    free(t);
    if (c->reconnect) {
        fprintf(f, "\ndrops (--reconnect)\n");
        for (size_t i = 0; i < r->ndrops; i++) {
            const wsp_hold_drop *d = &r->drops[i];
            char back[48] = "not back by the end";
            if (d->reconnect >= 0)
                snprintf(back, sizeof back, "back after %.3f s", d->reconnect);
            char code[16] = "";
            if (d->close_code >= 0)
                snprintf(code, sizeof code, " %d", d->close_code);
            fprintf(f, "  %8.3fs  %s#%u %s%s (%s), %s (%u failed attempts)\n", d->at,
                    c->strategies[d->strategy].name, d->index, wsp_hold_how_name(d->how), code,
                    d->graceful ? "graceful" : "ungraceful", back, d->attempts);
        }
    }
    fprintf(f, "\n");
    for (size_t i = 0; i < a->nthresholds; i++)
        fprintf(f, "  %s %-22s %.4g\n", a->thresholds[i].ok ? "pass" : "FAIL",
                a->thresholds[i].text, a->thresholds[i].value);
    for (int i = 0; i < 3; i++) {
        const wsp_hold_gate *g = &a->gates[i];
        if (!g->applies)
            continue;
        fprintf(f, "  %s %-16s %zu of %zu below %s\n", g->ok ? "pass" : "FAIL", g->name, g->failed,
                g->of, g->limit_s > 0 ? "the limit" : "opening");
    }
    fprintf(f, "%s\n", rc == 0 ? "OK" : "FAIL");
}

int wsp_cmd_hold(int argc, char **argv)
{
    static const char cmd[] = "hold";
    hold_opts h;
    memset(&h, 0, sizeof h);
    h.cfg.duration_us = 600ull * 1000000u;
    h.cfg.per_strategy = 2;
    wsp_probeopts_init(&h.po, cmd);
    const wsp_opt *tables[12] = {own_opts};
    const wsp_opt *const *shared = wsp_probeopts_tables();
    for (size_t i = 0; shared[i] && i < 10; i++)
        tables[i + 1] = shared[i];
    const wsp_cli_spec spec = {.cmd = cmd,
                               .usage = hold_usage,
                               .tables = tables,
                               .omit = hold_omits,
                               .flags = WSP_CLI_JSON};
    wsp_cli_out out;
    const char *messages[16];
    size_t nmessages = 0;
    wsp_hold_result r = {0};
    int rc = wsp_cli_parse(&spec, argc, argv, take, &h, &out);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto done;
    }
    if ((rc = wsp_probeopts_finish_cli(&h.po, &out)) != 0)
        goto done;
    if ((rc = configure(&h, messages, &nmessages)) != 0)
        goto done;
    h.cfg.conn = &h.po.s.cfg.conn;
    h.cfg.auth = h.po.s.cfg.auth;
    h.cfg.pong_timeout_us = h.po.s.cfg.pong_timeout_us;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_hold_run(&h.cfg, &r, &e) != 0) {
        rc = wsp_cli_usage_error(cmd, "%s", e.msg);
        goto done;
    }
    wsp_hold_analysis a;
    wsp_hold_analyse(&h.cfg, &r, &a);
    rc = !a.opened ? wsp_class_exit_code(a.common_cls) : a.ok ? 0 : 1;
    bool lost =
        out.json && wsp_cli_json_write(cmd, report_json(&h, &r, &a, rc), out.json_file) != 0;
    if (wsp_cli_human(&out) && !h.po.quiet)
        human(stdout, &h, &r, &a, rc);
    if (h.junit && write_junit(&h, &r, &a) != 0) {
        fprintf(stderr, "wsprobe: hold: OUTPUT_FAILED: cannot write %s\n", h.junit);
        lost = true;
    }
    if (lost)
        rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
done:
    wsp_hold_result_cleanup(&r);
    wsp_probeopts_cleanup(&h.po);
    fflush(stdout);
    return rc;
}
