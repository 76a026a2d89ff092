/* holdreport.c - see holdreport.h. */
#include "report/holdreport.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "report/report.h"
#include "report/xmlw.h"
#include "util/redact.h"

static json_t *num_or_null(double v)
{
    return v < 0 || isnan(v) ? json_null() : json_real(round(v * 1000.0) / 1000.0);
}

static const char *addr_of(const wsp_hold_config *c, unsigned a)
{
    return c->naddresses ? c->addresses[a].text : NULL;
}

static int cmp_end(const void *a, const void *b)
{
    double tx = wsp_hold_end_at(*(wsp_hold_end *const *)a);
    double ty = wsp_hold_end_at(*(wsp_hold_end *const *)b);
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

static json_t *strategies_json(const wsp_hold_config *c, const wsp_hold_analysis *a)
{
    static const char *const kinds[] = {"silent", "pings", "messages"};
    json_t *sts = json_array();
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
    return sts;
}

static json_t *reconnect_json(const wsp_hold_config *c, const wsp_hold_result *r,
                              const wsp_hold_analysis *a)
{
    json_t *rj = json_object(), *dj = json_array();
    json_object_set_new(rj, "drops", json_integer((json_int_t)a->drops));
    json_object_set_new(rj, "graceful", json_integer((json_int_t)a->graceful));
    json_object_set_new(rj, "ungraceful", json_integer((json_int_t)a->ungraceful));
    json_object_set_new(rj, "reconnected", json_integer((json_int_t)a->reopened));
    json_object_set_new(
        rj, "reconnect_s",
        a->reopened ? json_pack("{s:o, s:o, s:o, s:o}", "p50", num_or_null(a->reconnect_p50), "p90",
                                num_or_null(a->reconnect_p90), "p99", num_or_null(a->reconnect_p99),
                                "max", num_or_null(a->reconnect_max))
                    : json_null());
    json_object_set_new(rj, "longest_gap_s", num_or_null(a->longest_gap));
    json_object_set_new(rj, "conversations",
                        json_pack("{s:I, s:I, s:I, s:I}", "sent", (json_int_t)a->conv_sent, "ok",
                                  (json_int_t)a->conv_ok, "lost", (json_int_t)a->conv_lost,
                                  "pending", (json_int_t)a->conv_pending));
    static const char *const convs[] = {"none", "pending", "ok", "lost", "not_sent"};
    for (size_t i = 0; i < r->ndrops; i++) {
        const wsp_hold_drop *d = &r->drops[i];
        json_t *j = json_object();
        if (c->naddresses)
            json_object_set_new(j, "address", json_string(addr_of(c, d->address)));
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
    return rj;
}

/* What one analysis says: strategies, findings, the cap and idle timeout, gates, thresholds and
 * with --reconnect the drops. The whole and each address share the shape. */
static void analysis_json(json_t *o, const wsp_hold_config *c, const wsp_hold_result *r,
                          const wsp_hold_analysis *a)
{
    json_object_set_new(o, "strategies", strategies_json(c, a));
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
                                             num_or_null(a->thresholds[i].value)));
    json_object_set_new(o, "thresholds", ths);
    if (c->reconnect)
        json_object_set_new(o, "reconnect", reconnect_json(c, r, a));
}

static json_t *timeline_json(const wsp_hold_config *c, const wsp_hold_result *r)
{
    json_t *tl = json_array();
    const wsp_hold_end **t = timeline(r);
    for (size_t i = 0; t && i < r->nends; i++) {
        const wsp_hold_end *e = t[i];
        json_t *j = json_object();
        if (c->naddresses)
            json_object_set_new(j, "address", json_string(addr_of(c, e->address)));
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
    return tl;
}

/* --each-address: one entry per address, in resolution order, and the whole's findings, cap
 * and idle timeout read from them (a cap when every address has one; the shortest idle timeout
 * found, the one a client must beat). */
static void addresses_json(json_t *o, const wsp_hold_config *c, const wsp_hold_result *r,
                           const wsp_hold_verdict *v)
{
    json_t *arr = json_array(), *f = json_array();
    json_array_append_new(f, json_string(v->summary));
    bool cap = true;
    double idle = 0;
    for (size_t i = 0; i < v->naddresses; i++) {
        const wsp_hold_analysis *a = &v->per[i];
        int rc = wsp_hold_analysis_exit_code(a);
        json_t *j = json_object();
        json_object_set_new(j, "address", json_string(c->addresses[i].text));
        json_object_set_new(
            j, "family", json_string(c->addresses[i].ss.ss_family == AF_INET6 ? "ipv6" : "ipv4"));
        json_object_set_new(j, "ok", json_boolean(rc == 0));
        json_object_set_new(j, "exit_code", json_integer(rc));
        if (!a->opened)
            json_object_set_new(j, "class", json_string(wsp_class_name(a->common_cls)));
        wsp_hold_result view;
        if (wsp_hold_address_view(c, r, i, &view) == 0) {
            analysis_json(j, c, &view, a);
            free(view.drops);
        }
        json_array_append_new(arr, j);
        for (size_t k = 0; k < a->nfindings; k++)
            json_array_append_new(f, json_pack("s++", c->addresses[i].text, ": ", a->findings[k]));
        cap &= a->lifetime_cap;
        if (a->idle_timeout_s > 0 && (idle == 0 || a->idle_timeout_s < idle))
            idle = a->idle_timeout_s;
    }
    json_object_set_new(o, "findings", f);
    json_object_set_new(o, "lifetime_cap", json_boolean(cap && v->naddresses));
    json_object_set_new(o, "idle_timeout_s", idle > 0 ? num_or_null(idle) : json_null());
    json_object_set_new(o, "addresses", arr);
}

json_t *wsp_hold_report_json(const wsp_hold_config *c, const wsp_hold_result *r,
                             const wsp_hold_verdict *v, const char *url)
{
    json_t *o = json_object();
    char u[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url, u, sizeof u);
    json_object_set_new(o, "url", json_string(u));
    json_object_set_new(o, "ok", json_boolean(v->ok));
    json_object_set_new(o, "exit_code", json_integer(v->exit_code));
    if (!v->all.opened)
        json_object_set_new(o, "class", json_string(wsp_class_name(v->all.common_cls)));
    json_object_set_new(o, "summary", json_string(v->summary));
    json_t *cfg = json_object();
    json_object_set_new(cfg, "duration_s", json_real((double)c->duration_us / 1e6));
    json_object_set_new(cfg, "per_strategy", json_integer(c->per_strategy));
    json_object_set_new(cfg, "expect_lifetime_s",
                        c->expect_lifetime_us ? json_real((double)c->expect_lifetime_us / 1e6)
                                              : json_null());
    json_object_set_new(cfg, "expect_silent_lifetime_s",
                        c->expect_silent_lifetime_us
                            ? json_real((double)c->expect_silent_lifetime_us / 1e6)
                            : json_null());
    json_object_set_new(cfg, "each_address", json_boolean(c->naddresses > 0));
    json_object_set_new(o, "config", cfg);
    json_object_set_new(o, "elapsed_s", num_or_null(r->elapsed_s));
    analysis_json(o, c, r, &v->all);
    if (c->naddresses)
        addresses_json(o, c, r, v);
    json_object_set_new(o, "timeline", timeline_json(c, r));
    wsp_redact_json(o);
    return o;
}

/* ---- JUnit ---- */

/* Why a strategy failed at one address (its view), or NULL: a connection that never opened, or
 * one that ended before the lifetime its kind is held to. */
static const char *strategy_failure(const wsp_hold_config *c, const wsp_hold_result *r, size_t s,
                                    char *buf, size_t cap)
{
    size_t never = 0, short_lived = 0;
    double limit = 0;
    for (size_t i = 0; i < r->nends; i++) {
        const wsp_hold_end *e = &r->ends[i];
        if (e->strategy != s)
            continue;
        never += e->how == WSP_HOLD_NEVER_OPENED;
        short_lived += wsp_hold_end_short(c, e);
        limit = wsp_hold_limit_s(c, e);
    }
    if (!never && !short_lived)
        return NULL;
    snprintf(buf, cap, "%zu never opened, %zu ended before %.3g s", never, short_lived, limit);
    return buf;
}

static void add_case(json_t *cases, const char *kind, const char *name, const char *addr,
                     const char *failure, const char *detail)
{
    char n[160];
    snprintf(n, sizeof n, "%.100s%s%s", name, addr ? "@" : "", addr ? addr : "");
    json_array_append_new(cases, json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", n, "kind", kind,
                                           "ok", failure == NULL, "failure",
                                           failure ? json_string(failure) : json_null(), "detail",
                                           detail));
}

/* The cases of one analysis: a strategy each, the gates that apply, the thresholds; the names
 * suffixed "@ADDRESS" with --each-address. */
static void analysis_cases(json_t *cases, const wsp_hold_config *c, const wsp_hold_result *r,
                           const wsp_hold_analysis *a, const char *addr)
{
    char why[200], out[600];
    for (size_t s = 0; s < c->nstrategies; s++) {
        const wsp_hold_summary *p = &a->per[s];
        snprintf(out, sizeof out, "%zu opened, %zu lived to the end, %zu ended", p->opened, p->held,
                 p->ended);
        if (p->ended)
            snprintf(out + strlen(out), sizeof out - strlen(out),
                     " after %.3f s (min %.3f, max %.3f): %s", p->median, p->min, p->max,
                     wsp_hold_how_name(p->dominant));
        add_case(cases, "strategy", c->strategies[s].name, addr,
                 strategy_failure(c, r, s, why, sizeof why), out);
    }
    for (int i = 0; i < 3; i++) {
        const wsp_hold_gate *g = &a->gates[i];
        if (!g->applies)
            continue;
        snprintf(why, sizeof why, "%s: %zu of %zu connections failed it", g->name, g->failed,
                 g->of);
        add_case(cases, "gate", g->name, addr, g->ok ? NULL : why, why);
    }
    for (size_t i = 0; i < a->nthresholds; i++) {
        snprintf(why, sizeof why, "%s: measured %.4g", a->thresholds[i].text,
                 a->thresholds[i].value);
        add_case(cases, "threshold", a->thresholds[i].text, addr, a->thresholds[i].ok ? NULL : why,
                 why);
    }
}

json_t *wsp_hold_report_cases(const wsp_hold_config *c, const wsp_hold_result *r,
                              const wsp_hold_verdict *v)
{
    json_t *cases = json_array();
    if (!c->naddresses) {
        analysis_cases(cases, c, r, &v->all, NULL);
        return cases;
    }
    for (size_t i = 0; i < v->naddresses; i++) {
        wsp_hold_result view;
        if (wsp_hold_address_view(c, r, i, &view) != 0)
            continue;
        analysis_cases(cases, c, &view, &v->per[i], c->addresses[i].text);
        free(view.drops);
    }
    for (size_t i = 0; i < v->all.nthresholds; i++) {
        char why[200];
        snprintf(why, sizeof why, "%s across every address: measured %.4g",
                 v->all.thresholds[i].text, v->all.thresholds[i].value);
        add_case(cases, "threshold", v->all.thresholds[i].text, NULL,
                 v->all.thresholds[i].ok ? NULL : why, why);
    }
    return cases;
}

int wsp_hold_report_junit(const char *path, const wsp_hold_config *c, const wsp_hold_result *r,
                          const wsp_hold_verdict *v, const char *url)
{
    json_t *cases = wsp_hold_report_cases(c, r, v);
    FILE *f = cases ? fopen(path, "w") : NULL;
    if (!f) {
        json_decref(cases);
        return -1;
    }
    size_t failures = 0, i;
    json_t *k;
    json_array_foreach(cases, i, k) failures += !json_is_true(json_object_get(k, "ok"));
    wsp_xmlw w;
    wsp_xmlw_junit_open(&w, f, "wsprobe hold", json_array_size(cases), failures, r->elapsed_s);
    char u[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url, u, sizeof u);
    wsp_xmlw_start(&w, "properties");
    wsp_xmlw_property(&w, "url", u);
    char sum[sizeof v->summary];
    snprintf(sum, sizeof sum, "%s", v->summary);
    wsp_redact_buf(sum, sizeof sum);
    wsp_xmlw_property(&w, "summary", sum);
    const wsp_hold_analysis *fa = &v->all;
    for (size_t n = 0; !c->naddresses && n < fa->nfindings; n++) {
        char key[40];
        snprintf(key, sizeof key, "finding.%zu", n + 1);
        wsp_xmlw_property(&w, key, fa->findings[n]);
    }
    for (size_t a = 0, n = 0; a < v->naddresses; a++)
        for (size_t j = 0; j < v->per[a].nfindings; j++) {
            char key[40], t[480];
            snprintf(key, sizeof key, "finding.%zu", ++n);
            snprintf(t, sizeof t, "%s: %s", c->addresses[a].text, v->per[a].findings[j]);
            wsp_xmlw_property(&w, key, t);
        }
    wsp_xmlw_end(&w);
    double dur = (double)c->duration_us / 1e6;
    json_array_foreach(cases, i, k)
    {
        char cls[48];
        const char *kind = json_string_value(json_object_get(k, "kind"));
        snprintf(cls, sizeof cls, "wsprobe.hold.%s", kind);
        wsp_xmlw_testcase(&w, cls, json_string_value(json_object_get(k, "name")), dur, kind,
                          json_string_value(json_object_get(k, "failure")),
                          json_string_value(json_object_get(k, "detail")));
    }
    json_decref(cases);
    int rc = wsp_xmlw_finish(&w);
    return fclose(f) == 0 ? rc : -1;
}

/* ---- the human view ---- */

static void strategy_lines(FILE *f, const wsp_hold_config *c, const wsp_hold_analysis *a,
                           const char *indent)
{
    for (size_t s = 0; s < c->nstrategies; s++) {
        const wsp_hold_summary *p = &a->per[s];
        fprintf(f, "%s%-14s %zu opened, %zu lived to the end, %zu ended", indent,
                c->strategies[s].name, p->opened, p->held, p->ended);
        if (p->ended)
            fprintf(f, " after %.3f s (min %.3f, max %.3f): %s", p->median, p->min, p->max,
                    wsp_hold_how_name(p->dominant));
        fputc('\n', f);
    }
}

static void gate_lines(FILE *f, const wsp_hold_analysis *a, bool thresholds, const char *indent)
{
    for (size_t i = 0; thresholds && i < a->nthresholds; i++)
        fprintf(f, "%s%s %-22s %.4g\n", indent, a->thresholds[i].ok ? "pass" : "FAIL",
                a->thresholds[i].text, a->thresholds[i].value);
    for (int i = 0; i < 3; i++) {
        const wsp_hold_gate *g = &a->gates[i];
        if (!g->applies)
            continue;
        fprintf(f, "%s%s %-16s %zu of %zu below %s\n", indent, g->ok ? "pass" : "FAIL", g->name,
                g->failed, g->of, g->limit_s > 0 ? "the limit" : "opening");
    }
}

static void timeline_lines(FILE *f, const wsp_hold_config *c, const wsp_hold_result *r)
{
    fprintf(f, "\ntimeline (one line per end)\n");
    const wsp_hold_end **t = timeline(r);
    for (size_t i = 0; t && i < r->nends; i++) {
        const wsp_hold_end *e = t[i];
        char who[96];
        snprintf(who, sizeof who, "%s%s%s#%u", c->naddresses ? addr_of(c, e->address) : "",
                 c->naddresses ? " " : "", c->strategies[e->strategy].name, e->index);
        if (e->how == WSP_HOLD_NEVER_OPENED) {
            char msg[sizeof e->message];
            snprintf(msg, sizeof msg, "%s", e->message);
            wsp_redact_buf(msg, sizeof msg);
            fprintf(f, "  %9s  %s never opened: %s %s\n", "-", who, wsp_class_name(e->cls), msg);
            continue;
        }
        char in[24] = "none", out[24] = "none", code[160] = "";
        if (e->since_in >= 0)
            snprintf(in, sizeof in, "%.3f s", e->since_in);
        if (e->since_out >= 0)
            snprintf(out, sizeof out, "%.3f s", e->since_out);
        if (e->close_code >= 0)
            snprintf(code, sizeof code, " %d \"%.100s\"", e->close_code, e->close_reason);
        fprintf(f, "  %8.3fs  %s %s%s after %.3f s (last frame in %s before, out %s)\n",
                e->opened_at + e->lifetime, who, wsp_hold_how_name(e->how), code, e->lifetime, in,
                out);
    }
    free(t);
}

static void drop_lines(FILE *f, const wsp_hold_config *c, const wsp_hold_result *r)
{
    fprintf(f, "\ndrops (--reconnect)\n");
    for (size_t i = 0; i < r->ndrops; i++) {
        const wsp_hold_drop *d = &r->drops[i];
        char back[48] = "not back by the end";
        if (d->reconnect >= 0)
            snprintf(back, sizeof back, "back after %.3f s", d->reconnect);
        char code[16] = "";
        if (d->close_code >= 0)
            snprintf(code, sizeof code, " %d", d->close_code);
        fprintf(f, "  %8.3fs  %s%s%s#%u %s%s (%s), %s (%u failed attempts)\n", d->at,
                c->naddresses ? addr_of(c, d->address) : "", c->naddresses ? " " : "",
                c->strategies[d->strategy].name, d->index, wsp_hold_how_name(d->how), code,
                d->graceful ? "graceful" : "ungraceful", back, d->attempts);
    }
}

void wsp_hold_report_human(FILE *f, const wsp_hold_config *c, const wsp_hold_result *r,
                           const wsp_hold_verdict *v, const char *url)
{
    char u[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(url, u, sizeof u);
    fprintf(f, "wsprobe hold %s\n  %zu strategies x %u connections%s, held for %.3g s\n\n", u,
            c->nstrategies, c->per_strategy, c->naddresses ? " at each address" : "",
            (double)c->duration_us / 1e6);
    if (!c->naddresses) {
        strategy_lines(f, c, &v->all, "  ");
        fprintf(f, "\nfindings\n");
        for (size_t i = 0; i < v->all.nfindings; i++)
            fprintf(f, "  %s\n", v->all.findings[i]);
    }
    for (size_t a = 0; a < v->naddresses; a++) {
        const wsp_hold_analysis *pa = &v->per[a];
        bool ok = wsp_hold_analysis_exit_code(pa) == 0;
        fprintf(f, "%s %s (%s)\n", ok ? "ok  " : "FAIL", c->addresses[a].text,
                c->addresses[a].ss.ss_family == AF_INET6 ? "ipv6" : "ipv4");
        strategy_lines(f, c, pa, "    ");
        for (size_t i = 0; i < pa->nfindings; i++)
            fprintf(f, "    - %s\n", pa->findings[i]);
        gate_lines(f, pa, true, "    ");
        fputc('\n', f);
    }
    timeline_lines(f, c, r);
    if (c->reconnect)
        drop_lines(f, c, r);
    fprintf(f, "\n");
    gate_lines(f, &v->all, true, "  ");
    char sum[sizeof v->summary];
    snprintf(sum, sizeof sum, "%s", v->summary);
    wsp_redact_buf(sum, sizeof sum);
    fprintf(f, "%s: %s\n", v->ok ? "OK" : "FAIL", sum);
}
