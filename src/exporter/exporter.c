/* exporter.c - see exporter.h. One loop: the listener, the clients (a request at a time each,
 * kept alive between scrapes), the probes, the signals. A scrape holds a reference to the
 * modules it was started with, so a reload never pulls a configuration from under a probe. */
#include "exporter/exporter.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "check/plan.h"
#include "check/plancheck.h"
#include "codec/http.h"
#include "codec/target.h"
#include "net/tls.h"
#include "probe/each.h"
#include "probe/setup.h"
#include "report/exposition.h"
#include "report/report.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/files.h"
#include "util/redact.h"
#include "wsp_config.h"

#define MAX_STAT_MODULES 256
#define MAX_PENDING_AUTH 16
#define MIN_PROBE_DEADLINE_US 100000 /* a scrape timeout below 0.6 s still gets 100 ms */

static const double duration_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,    2.5,   5,    10,  30};
#define NBOUNDS (sizeof duration_bounds / sizeof duration_bounds[0])

/* Why a request got no probe: the label values of wsprobe_exporter_requests_refused_total. */
typedef enum refusal {
    REF_BAD_REQUEST,
    REF_NOT_FOUND,
    REF_UNKNOWN_MODULE,
    REF_TARGET_NOT_ALLOWED,
    REF_TOO_MANY_PROBES,
    REF_UNAUTHORIZED,
    REF_TOO_LARGE,
    REF_TIMEOUT,
    REF_COUNT,
} refusal;
static const char *const refusal_names[REF_COUNT] = {
    "bad_request",     "not_found",    "unknown_module", "target_not_allowed",
    "too_many_probes", "unauthorized", "too_large",      "timeout"};

typedef struct module_stats {
    char name[65];
    unsigned long long ok, failed;
    unsigned long long by_class[WSP_CLASS_COUNT];
    unsigned long long buckets[NBOUNDS], over;
    double sum;
} module_stats;

typedef struct modset {
    wsp_plan *plan;
    int refs;
} modset;

typedef struct server server;
typedef struct client client;
typedef struct reload_job reload_job;

typedef struct scrape {
    server *s;
    client *c; /* NULL once the client went away: the probe ends, nobody hears */
    modset *ms;
    const wsp_module *mod;
    wsp_probe_target target;
    wsp_probe_config cfg;
    wsp_probe *probe;
    bool each;
    uint64_t deadline_us; /* the whole probe's, from t0 */
    uv_work_t work;
    wsp_probe_each ea;
    wsp_err each_err;
    int each_rc;
    uint64_t t0;
    bool openmetrics;
} scrape;

typedef struct auth_job {
    uv_work_t work;
    server *s;
    client *c; /* NULL once the client went away */
    char user[256], pass[256];
    bool ok;
} auth_job;

struct client {
    client *next, *prev; /* the server's clients */
    uv_tcp_t tcp;
    uv_timer_t timer;
    server *s;
    int handles; /* open libuv handles: freed at 0 */
    bool closing;
    bool busy;              /* a request is being answered */
    bool keep_alive;        /* of the request being answered */
    bool head_timer;        /* the timer runs for a head (else: idle) */
    unsigned long requests; /* answered on this connection */
    char *buf;              /* request bytes (WSP_EXPORTER_HEAD_MAX) */
    size_t len;
    wsp_tls *tls;
    bool tls_ready;
    scrape *scrape;
    auth_job *auth;
    reload_job *reload; /* a POST /-/reload being answered */
    /* the request, copied out of buf (an authentication may outlive the buffer's contents) */
    char method[8];
    char *target; /* request-target, heap */
    char accept[256];
    double scrape_timeout_s; /* 0: not sent */
};

struct server {
    uv_loop_t *loop;
    const wsp_exporter_config *cfg;
    uv_tcp_t listener;
    bool listening;
    uv_signal_t sigterm, sigint, sighup;
    modset *mods;
    wsp_webconfig *web;
    client *head;          /* every client, for stop() */
    reload_job *reloading; /* the reload running, or NULL */
    bool reload_again;     /* a SIGHUP came during it */
    size_t clients, in_flight, pending_auth;
    bool stopping;
    int64_t start_real_ms;
    module_stats stats[MAX_STAT_MODULES];
    size_t num_stats;
    unsigned long long refused[REF_COUNT];
    unsigned long long reloads_ok, reloads_failed;
    bool last_reload_ok;
    int64_t last_reload_ok_ms;
};

static void client_close(client *c);
static void client_read_next(client *c);

/* ---- the modules and reloads ---- */

static void modset_release(modset *m)
{
    if (m && --m->refs == 0) {
        wsp_plan_free(m->plan);
        free(m);
    }
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    wsp_redact_buf(line, sizeof line);
    fprintf(stderr, "wsprobe exporter: %s\n", line);
    fflush(stderr);
}

/* Make a loaded configuration (or the failure to load one: p NULL, pe its error) the current
 * one; msg says which modules, or why the old configuration stays. 0, or -1. */
static int install(server *s, wsp_plan *p, const wsp_plan_err *pe, char *msg, size_t cap)
{
    modset *m = p ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        wsp_plan_err oom = {0};
        if (p)
            snprintf(oom.msg, sizeof oom.msg, "out of memory");
        wsp_plan_free(p);
        wsp_plan_err_format(p ? &oom : pe, msg, cap);
        s->reloads_failed++;
        s->last_reload_ok = false;
        return -1;
    }
    for (size_t i = 0; i < wsp_plan_warning_count(p); i++)
        log_line("%s", wsp_plan_warning(p, i));
    m->plan = p;
    m->refs = 1;
    modset_release(s->mods);
    s->mods = m;
    s->reloads_ok++;
    s->last_reload_ok = true;
    s->last_reload_ok_ms = wsp_clock_real_ms();
    size_t n = wsp_modules_count(p), o = 0;
    o += (size_t)snprintf(msg, cap, "%zu module%s:", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(msg + o, cap - o, " %s", wsp_modules_get(p, i)->name);
    return 0;
}

/* Load the configuration now (at start, before the loop runs). */
static int reload(server *s, char *msg, size_t cap)
{
    wsp_plan_err pe;
    wsp_plan *p = wsp_modules_load_file(s->cfg->config_path, s->cfg->allow_any_target, &pe);
    return install(s, p, &pe, msg, cap);
}

static module_stats *stats_for(server *s, const char *name)
{
    for (size_t i = 0; i < s->num_stats; i++)
        if (strcmp(s->stats[i].name, name) == 0)
            return &s->stats[i];
    if (s->num_stats >= MAX_STAT_MODULES)
        return NULL; /* reloads renamed more than 256 modules: bounded, the rest uncounted */
    module_stats *m = &s->stats[s->num_stats++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    return m;
}

static void count_probe(server *s, const char *module, wsp_class cls, double seconds)
{
    module_stats *m = stats_for(s, module);
    if (!m)
        return;
    if (cls == WSP_CLASS_OK)
        m->ok++;
    else
        m->failed++;
    if ((int)cls >= 0 && (int)cls < WSP_CLASS_COUNT && cls != WSP_CLASS_OK)
        m->by_class[cls]++;
    size_t b = 0;
    while (b < NBOUNDS && seconds > duration_bounds[b])
        b++;
    if (b < NBOUNDS)
        m->buckets[b]++;
    else
        m->over++;
    m->sum += seconds;
}

/* ---- writing responses ---- */

typedef struct write_req {
    uv_write_t w;
    client *c;
    bool last; /* the response's last piece: what comes next is decided after it */
    char data[];
} write_req;

static void after_response(client *c)
{
    c->busy = false;
    c->head_timer = false; /* the next head (pipelined or not) arms its own timer */
    c->requests++;
    free(c->target);
    c->target = NULL;
    if (!c->keep_alive || c->s->stopping) {
        client_close(c);
        return;
    }
    client_read_next(c);
}

static void write_cb(uv_write_t *w, int status)
{
    write_req *r = (write_req *)w;
    client *c = r->c;
    bool last = r->last;
    free(r);
    if (c->closing)
        return;
    if (status != 0) {
        client_close(c);
        return;
    }
    if (last)
        after_response(c);
}

static int send_raw(client *c, const void *data, size_t len, bool last)
{
    write_req *r = malloc(sizeof *r + (len ? len : 1));
    if (!r)
        return -1;
    r->c = c;
    r->last = last;
    memcpy(r->data, data, len);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)len);
    if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        free(r);
        return -1;
    }
    return 0;
}

/* Whatever TLS has for the network. */
static int flush_tls(client *c, bool last)
{
    char out[16384];
    size_t n;
    int rc = 0;
    bool sent_last = false;
    while (rc == 0 && (n = wsp_tls_pending_out(c->tls)) > 0) {
        size_t got = wsp_tls_take_out(c->tls, out, sizeof out);
        bool is_last = last && wsp_tls_pending_out(c->tls) == 0;
        rc = send_raw(c, out, got, is_last);
        sent_last |= is_last;
    }
    if (rc == 0 && last && !sent_last)
        rc = send_raw(c, "", 0, true);
    return rc;
}

static void respond(client *c, int status, const char *reason, const char *ctype, const char *extra,
                    const char *body, size_t blen)
{
    wsp_buf b = {0};
    wsp_buf_printf(&b,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                   "Server: wsprobe/%s\r\n%s%s\r\n",
                   status, reason, ctype, blen, WSP_VERSION, extra ? extra : "",
                   c->keep_alive ? "" : "Connection: close\r\n");
    wsp_buf_put(&b, body, blen);
    int rc = -1;
    if (!b.failed) {
        if (c->tls) {
            wsp_err e;
            rc = wsp_tls_write(c->tls, b.p, b.len, &e) == 0 ? flush_tls(c, true) : -1;
        } else {
            rc = send_raw(c, b.p, b.len, true);
        }
    }
    wsp_buf_free(&b);
    if (rc != 0)
        client_close(c);
}

/* A one-line answer in text/plain, redacted (a target's query may carry a token). */
static void respond_text(client *c, int status, const char *reason, const char *extra,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void respond_text(client *c, int status, const char *reason, const char *extra,
                         const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n] = '\0';
    wsp_redact_buf(line, sizeof line - 1);
    n = (int)strlen(line);
    line[n++] = '\n';
    respond(c, status, reason, "text/plain; charset=utf-8", extra, line, (size_t)n);
}

static void refuse(client *c, refusal why, int status, const char *reason, const char *extra,
                   const char *text)
{
    c->s->refused[why]++;
    respond_text(c, status, reason, extra, "%s", text);
}

/* ---- the probe ---- */

static void scrape_free(scrape *sc)
{
    if (sc->probe)
        wsp_probe_free(sc->probe);
    if (sc->each)
        wsp_probe_each_cleanup(&sc->ea);
    if (sc->cfg.steps)
        wsp_probe_config_cleanup(&sc->cfg);
    modset_release(sc->ms);
    free(sc);
}

static void scrape_answer(scrape *sc)
{
    server *s = sc->s;
    double secs = (double)(uv_hrtime() - sc->t0) / 1e9;
    wsp_buf b = {0};
    wsp_expo x;
    wsp_expo_init(&x, &b, sc->openmetrics);
    wsp_class cls;
    if (sc->each) {
        if (sc->each_rc != 0) { /* resolution failed: no address to show */
            cls = sc->each_err.cls;
            wsp_expo_unprobed(&x, &sc->each_err, "resolve", secs);
        } else {
            const char *addrs[WSP_EACH_MAX];
            for (size_t i = 0; i < sc->ea.n; i++)
                addrs[i] = sc->ea.text[i];
            cls = sc->ea.verdict.cls;
            wsp_expo_probe(&x, sc->ea.probes, addrs, sc->ea.n, &sc->ea.verdict, secs);
        }
    } else {
        const wsp_err *v = wsp_probe_verdict(sc->probe);
        cls = v->cls;
        wsp_expo_probe(&x, &sc->probe, NULL, 1, v, secs);
    }
    wsp_expo_end(&x);
    count_probe(s, sc->mod->name, cls, secs);
    s->in_flight--;
    client *c = sc->c;
    if (c) {
        c->scrape = NULL;
        if (x.failed || b.failed)
            respond_text(c, 500, "Internal Server Error", NULL, "out of memory");
        else
            respond(c, 200, "OK",
                    sc->openmetrics ? WSP_EXPO_OM_CONTENT_TYPE : WSP_EXPO_CONTENT_TYPE, NULL, b.p,
                    b.len);
    }
    wsp_buf_free(&b);
    scrape_free(sc);
}

static void probe_done(wsp_probe *p, void *ud)
{
    (void)p;
    scrape_answer(ud);
}

/* Take the time since the scrape began out of its probe's deadline (the phase timeout within
 * what is left). 0, or -1 (each_rc and each_err set) when nothing is left. */
static int spend(scrape *sc)
{
    wsp_conn_opts *o = &sc->cfg.conn;
    uint64_t used = (uv_hrtime() - sc->t0) / 1000, total = sc->deadline_us;
    if (used + MIN_PROBE_DEADLINE_US / 2 >= total) {
        sc->each_rc = -1;
        return wsp_err_set(&sc->each_err, WSP_CLASS_INTERNAL,
                           "the exporter had no time left for this probe (%llu ms of %llu ms "
                           "went waiting for a worker thread and resolving): too many "
                           "each_address probes at once",
                           (unsigned long long)(used / 1000), (unsigned long long)(total / 1000));
    }
    o->deadline_us = total - used;
    if (o->timeout_us > o->deadline_us)
        o->timeout_us = o->deadline_us;
    return 0;
}

static void each_work(uv_work_t *w)
{
    scrape *sc = w->data;
    wsp_err_clear(&sc->each_err);
    /* one deadline from the scrape's start: the wait for a worker thread and the resolution
     * come out of it, so the answer still comes before Prometheus gives up */
    if (spend(sc) != 0)
        return;
    sc->each_rc = wsp_probe_each_resolve(&sc->cfg, &sc->ea, &sc->each_err);
    if (sc->each_rc == 0 && spend(sc) != 0)
        return;
    if (sc->each_rc == 0 && wsp_probe_each_run(&sc->cfg, &sc->ea) != 0) {
        sc->each_rc = -1;
        wsp_err_set(&sc->each_err, WSP_CLASS_INTERNAL, "out of memory");
    }
}

static void each_after(uv_work_t *w, int status)
{
    (void)status;
    scrape_answer(w->data);
}

/* The probe of module m at target u: the module's configuration aimed at it, the deadline
 * within the scrape's timeout. 0, or -1 with err. */
static int build_probe(scrape *sc, const wsp_url *u, uint64_t deadline_us, wsp_err *err)
{
    const wsp_module *m = sc->mod;
    if (wsp_probe_setup_retarget(m->setup, &m->env.base, u, m->health, &sc->target, err) != 0)
        return -1;
    wsp_env e = m->env; /* shallow: the conversation's builder reads the base and the marker */
    e.base = sc->target.cfg;
    e.base.conn.url = &e.base.url;
    if (m->conversation) {
        if (wsp_plancheck_conversation_config(&e, m->conversation, !m->expect_auth_required,
                                              &sc->cfg, err) != 0)
            return -1;
        if (sc->cfg.auth) /* it points into the copy `e`: the module's own outlives the probe */
            sc->cfg.auth = &m->env.auth;
    } else {
        sc->cfg = e.base;
        sc->cfg.conn.url = &sc->cfg.url;
        sc->cfg.steps = NULL;
        sc->cfg.num_steps = 0;
        if (m->expect_auth_required)
            sc->cfg.auth = NULL;
    }
    const wsp_probe_config *t = &sc->target.cfg;
    sc->cfg.has_health = t->has_health;
    if (t->has_health) {
        sc->cfg.health_url = t->health_url;
        sc->cfg.health_conn = t->health_conn;
        sc->cfg.health_conn.url = &sc->cfg.health_url;
    }
    sc->cfg.expect_auth_required = m->expect_auth_required;
    if (sc->cfg.conn.deadline_us == 0 || sc->cfg.conn.deadline_us > deadline_us)
        sc->cfg.conn.deadline_us = deadline_us;
    wsp_probe_config_finish(&sc->cfg, NULL, 0); /* the phase timeout within the deadline */
    if (sc->cfg.has_health) {                   /* the health check within the same bounds */
        sc->cfg.health_conn.deadline_us = sc->cfg.conn.deadline_us;
        sc->cfg.health_conn.timeout_us = sc->cfg.conn.timeout_us;
    }
    if (sc->cfg.pong_timeout_us > sc->cfg.conn.timeout_us)
        sc->cfg.pong_timeout_us = sc->cfg.conn.timeout_us;
    return 0;
}

static bool allowed(const wsp_module *m, const wsp_url *u)
{
    for (size_t i = 0; i < m->num_allowed; i++)
        if (wsp_target_allowed(m->allowed[i], u))
            return true;
    return false;
}

static void route_probe(client *c, const char *query, size_t qlen)
{
    server *s = c->s;
    static const char *const once[] = {"target", "module", NULL};
    const char *why = NULL;
    if (wsp_query_check(query, qlen, once, &why) != 0) {
        char m[200];
        snprintf(m, sizeof m, "bad query string: %s", why);
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL, m);
        return;
    }
    char target[WSP_QUERY_VALUE_MAX], module[WSP_QUERY_VALUE_MAX];
    int rt = wsp_query_get(query, qlen, "target", target, sizeof target);
    int rm = wsp_query_get(query, qlen, "module", module, sizeof module);
    if (rt != 1 || !target[0]) {
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL,
               "target= is missing: /probe?target=wss://HOST/PATH&module=NAME");
        return;
    }
    const wsp_plan *p = s->mods->plan;
    const wsp_module *m = NULL;
    if (rm == 1 && module[0])
        m = wsp_modules_find(p, module);
    else if (wsp_modules_count(p) == 1)
        m = wsp_modules_get(p, 0);
    if (!m) {
        char list[600];
        size_t o = 0;
        list[0] = '\0';
        for (size_t i = 0; i < wsp_modules_count(p) && o < sizeof list; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                                  wsp_modules_get(p, i)->name);
        c->s->refused[REF_UNKNOWN_MODULE]++;
        if (rm == 1 && module[0] && strlen(module) <= 64 && !strpbrk(module, "\r\n"))
            respond_text(c, 400, "Bad Request", NULL,
                         "unknown module '%s'; the configuration defines: %s", module, list);
        else
            respond_text(c, 400, "Bad Request", NULL,
                         "module= is missing (or too long); the configuration defines: %s", list);
        return;
    }
    wsp_url u;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_url_parse(target, &u, 0, &e) != 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "target: %s", e.msg);
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL, msg);
        return;
    }
    char normal[WSP_TARGET_NORMAL_MAX], shown[WSP_TARGET_NORMAL_MAX + 64];
    if (wsp_target_normal(&u, normal, sizeof normal) < 0) {
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL, "target: too long");
        return;
    }
    if (wsp_target_path_check(&u, &why) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "target: %s", why);
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL, msg);
        return;
    }
    /* --allow-any-target frees the modules without a list; a list that is written holds */
    if ((m->num_allowed > 0 || !s->cfg->allow_any_target) && !allowed(m, &u)) {
        wsp_report_redact_url(normal, shown, sizeof shown);
        c->s->refused[REF_TARGET_NOT_ALLOWED]++;
        respond_text(c, 403, "Forbidden", NULL,
                     "target %.400s is not in module %s's allowed_targets", shown, m->name);
        return;
    }
    if (s->in_flight >= s->cfg->max_concurrent) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu probes are running (--max-concurrent %u): try again",
                 s->in_flight, s->cfg->max_concurrent);
        refuse(c, REF_TOO_MANY_PROBES, 503, "Service Unavailable", "Retry-After: 1\r\n", msg);
        return;
    }
    /* Prometheus says how long it waits; the probe ends before, with the margin for the answer
     * (blackbox_exporter's timeout_offset) */
    uint64_t deadline_us = WSP_PROBE_DEFAULT_DEADLINE_US;
    if (c->scrape_timeout_s > 0) {
        double us = c->scrape_timeout_s * 1e6 - (double)WSP_EXPORTER_TIMEOUT_OFFSET_US;
        deadline_us = us < MIN_PROBE_DEADLINE_US ? MIN_PROBE_DEADLINE_US
                      : us > 3600e6              ? (uint64_t)3600e6
                                                 : (uint64_t)us;
    }
    scrape *sc = calloc(1, sizeof *sc);
    if (!sc) {
        respond_text(c, 500, "Internal Server Error", NULL, "out of memory");
        return;
    }
    sc->s = s;
    sc->c = c;
    sc->ms = s->mods;
    sc->ms->refs++;
    sc->mod = m;
    sc->t0 = uv_hrtime();
    sc->openmetrics = wsp_expo_wants_openmetrics(c->accept, strlen(c->accept));
    if (build_probe(sc, &u, deadline_us, &e) != 0) {
        scrape_free(sc);
        char msg[700];
        snprintf(msg, sizeof msg, "cannot probe this target with module %s: %s", m->name, e.msg);
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL, msg);
        return;
    }
    c->scrape = sc;
    sc->deadline_us = sc->cfg.conn.deadline_us;
    s->in_flight++;
    if (m->env.each_address) {
        /* every address: the resolution and the probes run to completion on a worker thread
         * (probe/each.h is a blocking API); the loop goes on serving */
        sc->each = true;
        sc->work.data = sc;
        if (uv_queue_work(s->loop, &sc->work, each_work, each_after) == 0)
            return;
        sc->each = false;
    } else if ((sc->probe = wsp_probe_new(s->loop, &sc->cfg, probe_done, sc))) {
        wsp_probe_start(sc->probe);
        return;
    }
    c->scrape = NULL;
    s->in_flight--;
    scrape_free(sc);
    respond_text(c, 500, "Internal Server Error", NULL, "out of memory");
}

/* ---- the exporter's own metrics ---- */

static void process_metrics(wsp_expo *x, server *s)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        wsp_expo_family(x, "process_cpu_seconds", WSP_EXPO_COUNTER, "seconds",
                        "Total user and system CPU time spent in seconds.");
        wsp_expo_sample(x,
                        (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                            ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6,
                        NULL);
    }
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long vm = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &vm, &rss) == 2) {
            long page = sysconf(_SC_PAGESIZE);
            wsp_expo_family(x, "process_resident_memory_bytes", WSP_EXPO_GAUGE, "bytes",
                            "Resident memory size in bytes.");
            wsp_expo_sample(x, (double)rss * (double)page, NULL);
            wsp_expo_family(x, "process_virtual_memory_bytes", WSP_EXPO_GAUGE, "bytes",
                            "Virtual memory size in bytes.");
            wsp_expo_sample(x, (double)vm * (double)page, NULL);
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < 1u << 24)
            if (de->d_name[0] != '.')
                n++;
        closedir(d);
        wsp_expo_family(x, "process_open_fds", WSP_EXPO_GAUGE, NULL,
                        "Number of open file descriptors.");
        wsp_expo_sample(x, n ? n - 1 : 0, NULL); /* less the one reading the folder */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        wsp_expo_family(x, "process_max_fds", WSP_EXPO_GAUGE, NULL,
                        "Maximum number of open file descriptors.");
        wsp_expo_sample(x, (double)rl.rlim_cur, NULL);
    }
    wsp_expo_family(x, "process_start_time_seconds", WSP_EXPO_GAUGE, "seconds",
                    "Start time of the process since unix epoch in seconds.");
    wsp_expo_sample(x, (double)(s->start_real_ms / 1000), NULL);
}

static void route_metrics(client *c)
{
    server *s = c->s;
    bool om = wsp_expo_wants_openmetrics(c->accept, strlen(c->accept));
    wsp_buf b = {0};
    wsp_expo x;
    wsp_expo_init(&x, &b, om);
    wsp_expo_family(&x, "wsprobe_exporter_build", WSP_EXPO_INFO, NULL, "The exporter's version.");
    wsp_expo_sample(&x, 1, "version", WSP_VERSION, NULL);
    wsp_expo_family(&x, "wsprobe_exporter_probes", WSP_EXPO_COUNTER, NULL,
                    "Probes run, by module and result (success or failure).");
    for (size_t i = 0; i < s->num_stats; i++) {
        wsp_expo_sample(&x, (double)s->stats[i].ok, "module", s->stats[i].name, "result", "success",
                        NULL);
        wsp_expo_sample(&x, (double)s->stats[i].failed, "module", s->stats[i].name, "result",
                        "failure", NULL);
    }
    wsp_expo_family(&x, "wsprobe_exporter_probe_failures", WSP_EXPO_COUNTER, NULL,
                    "Failed probes by module and failure class (docs/exit-codes.md).");
    for (size_t i = 0; i < s->num_stats; i++)
        for (int k = 1; k < WSP_CLASS_COUNT; k++)
            if (s->stats[i].by_class[k])
                wsp_expo_sample(&x, (double)s->stats[i].by_class[k], "module", s->stats[i].name,
                                "class", wsp_class_name((wsp_class)k), NULL);
    wsp_expo_family(&x, "wsprobe_exporter_probe_duration_seconds", WSP_EXPO_HISTOGRAM, "seconds",
                    "How long probes took, by module.");
    for (size_t i = 0; i < s->num_stats; i++)
        wsp_expo_histogram(&x, "module", s->stats[i].name, duration_bounds, s->stats[i].buckets,
                           NBOUNDS, s->stats[i].over, s->stats[i].sum);
    wsp_expo_family(&x, "wsprobe_exporter_probes_in_flight", WSP_EXPO_GAUGE, NULL,
                    "Probes running now.");
    wsp_expo_sample(&x, (double)s->in_flight, NULL);
    wsp_expo_family(&x, "wsprobe_exporter_requests_refused", WSP_EXPO_COUNTER, NULL,
                    "Requests answered without a probe, by reason.");
    for (int k = 0; k < REF_COUNT; k++)
        wsp_expo_sample(&x, (double)s->refused[k], "reason", refusal_names[k], NULL);
    wsp_expo_family(&x, "wsprobe_exporter_config_reloads", WSP_EXPO_COUNTER, NULL,
                    "Configuration loads (at start, SIGHUP, POST /-/reload), by result.");
    wsp_expo_sample(&x, (double)s->reloads_ok, "result", "success", NULL);
    wsp_expo_sample(&x, (double)s->reloads_failed, "result", "failure", NULL);
    wsp_expo_family(&x, "wsprobe_exporter_config_last_reload_successful", WSP_EXPO_GAUGE, NULL,
                    "Whether the last configuration load succeeded (1) or kept the old one (0).");
    wsp_expo_sample(&x, s->last_reload_ok, NULL);
    wsp_expo_family(&x, "wsprobe_exporter_config_last_reload_success_timestamp_seconds",
                    WSP_EXPO_GAUGE, "seconds",
                    "When the configuration in use was loaded, in Unix seconds.");
    wsp_expo_sample(&x, (double)(s->last_reload_ok_ms / 1000), NULL);
    process_metrics(&x, s);
    wsp_expo_end(&x);
    if (x.failed || b.failed)
        respond_text(c, 500, "Internal Server Error", NULL, "out of memory");
    else
        respond(c, 200, "OK", om ? WSP_EXPO_OM_CONTENT_TYPE : WSP_EXPO_CONTENT_TYPE, NULL, b.p,
                b.len);
    wsp_buf_free(&b);
}

/* A reload while the exporter serves: the file is read and every module built (credentials,
 * TLS contexts: tens of milliseconds each) on a worker thread, then installed on the loop.
 * One at a time: a SIGHUP during one runs another after it; a POST gets 503. */
struct reload_job {
    uv_work_t work;
    server *s;
    client *c; /* the POST to answer, NULL for SIGHUP or once it went away */
    const char *how;
    wsp_plan *plan;
    wsp_plan_err err;
};

static void start_reload(server *s, client *c, const char *how);

static void reload_work(uv_work_t *w)
{
    reload_job *j = w->data;
    j->plan = wsp_modules_load_file(j->s->cfg->config_path, j->s->cfg->allow_any_target, &j->err);
}

static void reload_after(uv_work_t *w, int status)
{
    (void)status;
    reload_job *j = w->data;
    server *s = j->s;
    char msg[1024];
    int rc = install(s, j->plan, &j->err, msg, sizeof msg);
    if (rc == 0)
        log_line("configuration reloaded (%s): %s", j->how, msg);
    else
        log_line("reload failed, the old configuration stays: %s", msg);
    client *c = j->c;
    s->reloading = NULL;
    free(j);
    if (c) {
        c->reload = NULL;
        if (rc == 0)
            respond_text(c, 200, "OK", NULL, "reloaded: %s", msg);
        else
            respond_text(c, 500, "Internal Server Error", NULL,
                         "reload failed, the old configuration stays: %s", msg);
    }
    if (s->reload_again && !s->stopping) {
        s->reload_again = false;
        start_reload(s, NULL, "SIGHUP");
    }
}

static void start_reload(server *s, client *c, const char *how)
{
    if (s->reloading) {
        if (c)
            refuse(c, REF_TOO_MANY_PROBES, 503, "Service Unavailable", "Retry-After: 1\r\n",
                   "a reload is running: try again");
        else
            s->reload_again = true;
        return;
    }
    reload_job *j = calloc(1, sizeof *j);
    if (!j) {
        if (c)
            respond_text(c, 500, "Internal Server Error", NULL, "out of memory");
        return;
    }
    j->s = s;
    j->c = c;
    j->how = how;
    j->work.data = j;
    if (uv_queue_work(s->loop, &j->work, reload_work, reload_after) != 0) {
        free(j);
        if (c)
            respond_text(c, 500, "Internal Server Error", NULL, "cannot start the reload");
        return;
    }
    s->reloading = j;
    if (c)
        c->reload = j;
}

static const char index_page[] =
    "wsprobe exporter: WebSocket probes for Prometheus (docs/exporter.md)\n"
    "  GET  /probe?target=wss://HOST/PATH&module=NAME   one probe, its metrics\n"
    "  GET  /metrics                                    the exporter's own metrics\n"
    "  GET  /-/healthy                                  200 while it serves\n"
    "  POST /-/reload                                   read the configuration again\n";

/* The request is authorised: answer it. */
static void dispatch(client *c)
{
    const char *t = c->target;
    size_t plen = strcspn(t, "?");
    const char *q = t[plen] == '?' ? t + plen + 1 : "";
    bool get = strcmp(c->method, "GET") == 0,
         post = strcmp(c->method, "POST") == 0 || strcmp(c->method, "PUT") == 0;
#define PATH_IS(lit) (plen == sizeof(lit) - 1 && memcmp(t, lit, plen) == 0)
    if (PATH_IS("/probe")) {
        if (get)
            route_probe(c, q, strlen(q));
        else
            refuse(c, REF_BAD_REQUEST, 405, "Method Not Allowed", "Allow: GET\r\n",
                   "/probe takes GET");
    } else if (PATH_IS("/metrics")) {
        if (get)
            route_metrics(c);
        else
            refuse(c, REF_BAD_REQUEST, 405, "Method Not Allowed", "Allow: GET\r\n",
                   "/metrics takes GET");
    } else if (PATH_IS("/-/healthy") || PATH_IS("/-/ready")) {
        if (get)
            respond_text(c, 200, "OK", NULL, "OK");
        else
            refuse(c, REF_BAD_REQUEST, 405, "Method Not Allowed", "Allow: GET\r\n", "takes GET");
    } else if (PATH_IS("/-/reload")) {
        if (post)
            start_reload(c->s, c, "POST /-/reload");
        else
            refuse(c, REF_BAD_REQUEST, 405, "Method Not Allowed", "Allow: POST, PUT\r\n",
                   "/-/reload takes POST (or PUT)");
    } else if (PATH_IS("/") && get) {
        respond(c, 200, "OK", "text/plain; charset=utf-8", NULL, index_page, sizeof index_page - 1);
    } else {
        refuse(c, REF_NOT_FOUND, 404, "Not Found", NULL,
               "not found: the exporter serves /probe, /metrics, /-/healthy, /-/reload");
    }
#undef PATH_IS
}

/* ---- authentication (web configuration) ---- */

static void auth_work(uv_work_t *w)
{
    auth_job *j = w->data;
    j->ok = wsp_webconfig_verify(j->s->web, j->user, j->pass);
}

static void auth_after(uv_work_t *w, int status)
{
    (void)status;
    auth_job *j = w->data;
    server *s = j->s;
    s->pending_auth--;
    if (j->ok)
        wsp_webconfig_remember(s->web, j->user, j->pass);
    client *c = j->c;
    bool ok = j->ok;
    OPENSSL_cleanse(j->pass, sizeof j->pass);
    free(j);
    if (!c)
        return;
    c->auth = NULL;
    if (ok)
        dispatch(c);
    else
        refuse(c, REF_UNAUTHORIZED, 401, "Unauthorized",
               "WWW-Authenticate: Basic realm=\"wsprobe exporter\"\r\n", "unauthorized");
}

static void authorise(client *c, const char *authz, size_t alen)
{
    server *s = c->s;
    auth_job *j = calloc(1, sizeof *j);
    if (!j) {
        respond_text(c, 500, "Internal Server Error", NULL, "out of memory");
        return;
    }
    wsp_webauth a =
        wsp_webconfig_check(s->web, authz, alen, j->user, sizeof j->user, j->pass, sizeof j->pass);
    if (a == WSP_WEBAUTH_OK) {
        free(j);
        dispatch(c);
        return;
    }
    if (a == WSP_WEBAUTH_DENIED || s->pending_auth >= MAX_PENDING_AUTH) {
        OPENSSL_cleanse(j->pass, sizeof j->pass);
        free(j);
        if (a == WSP_WEBAUTH_DENIED)
            refuse(c, REF_UNAUTHORIZED, 401, "Unauthorized",
                   "WWW-Authenticate: Basic realm=\"wsprobe exporter\"\r\n", "unauthorized");
        else
            refuse(c, REF_TOO_MANY_PROBES, 503, "Service Unavailable", "Retry-After: 1\r\n",
                   "too many credentials being checked at once: try again");
        return;
    }
    j->s = s;
    j->c = c;
    j->work.data = j;
    if (uv_queue_work(s->loop, &j->work, auth_work, auth_after) != 0) {
        free(j);
        respond_text(c, 500, "Internal Server Error", NULL, "cannot check the credential");
        return;
    }
    s->pending_auth++;
    c->auth = j;
}

/* ---- reading requests ---- */

static void timer_cb(uv_timer_t *t)
{
    client *c = t->data;
    if (c->busy || c->closing)
        return;
    if (c->head_timer && c->len == 0) { /* connected (or TLS begun) and said nothing */
        c->s->refused[REF_TIMEOUT]++;
        client_close(c);
        return;
    }
    if (c->head_timer) {
        c->s->refused[REF_TIMEOUT]++;
        c->keep_alive = false;
        c->busy = true;
        respond_text(c, 408, "Request Timeout", NULL, "the request head did not arrive within %d s",
                     WSP_EXPORTER_HEAD_TIMEOUT_MS / 1000);
        return;
    }
    client_close(c); /* idle */
}

static void arm_timer(client *c)
{
    /* a new connection must bring its first request within the head timeout (a connection
     * that says nothing does not keep a slot for the idle timeout) */
    c->head_timer = c->len > 0 || !c->tls_ready || c->requests == 0;
    uv_timer_start(&c->timer, timer_cb,
                   c->head_timer ? WSP_EXPORTER_HEAD_TIMEOUT_MS : WSP_EXPORTER_IDLE_TIMEOUT_MS, 0);
}

/* Bytes in c->buf: answer the request when its head is complete. */
static void process(client *c)
{
    if (c->busy || c->closing)
        return;
    if (c->len == 0) {
        arm_timer(c);
        return;
    }
    wsp_http_header hs[WSP_HTTP_HEADERS_MAX];
    wsp_http_request req = {.headers = hs, .num_headers = WSP_HTTP_HEADERS_MAX};
    const char *why = NULL;
    int n = wsp_http_parse_request(c->buf, c->len, &req, &why);
    if (n == WSP_HTTP_PARTIAL && c->len < WSP_EXPORTER_HEAD_MAX) {
        if (!c->head_timer)
            arm_timer(c);
        return;
    }
    c->busy = true;
    c->keep_alive = false;
    uv_timer_stop(&c->timer);
    if (n == WSP_HTTP_PARTIAL || (n < 0 && c->len >= WSP_EXPORTER_HEAD_MAX)) {
        refuse(c, REF_TOO_LARGE, 431, "Request Header Fields Too Large", NULL,
               "the request head is larger than 16 KiB");
        return;
    }
    if (n < 0) {
        char m[200];
        snprintf(m, sizeof m, "malformed request: %s", why ? why : "not HTTP/1.1");
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL, m);
        return;
    }
    /* Everything this request needs is copied out of the buffer first; then its head is
     * consumed, so no answer below can see the same bytes again (what follows the head stays
     * for the next request: pipelining). */
    const wsp_http_header *h = wsp_http_find(hs, req.num_headers, "Connection");
    bool keep = req.minor_version == 1
                    ? !(h && wsp_http_has_token(h->value, h->value_len, "close"))
                    : (h && wsp_http_has_token(h->value, h->value_len, "keep-alive"));
    const wsp_http_header *cl = wsp_http_find(hs, req.num_headers, "Content-Length");
    bool body = wsp_http_find(hs, req.num_headers, "Transfer-Encoding") ||
                wsp_http_count(hs, req.num_headers, "Content-Length") > 1 ||
                (cl && !(cl->value_len == 1 && cl->value[0] == '0'));
    bool bad_line =
        req.method_len >= sizeof c->method || req.target_len == 0 || req.target[0] != '/';
    if (!bad_line) {
        memcpy(c->method, req.method, req.method_len);
        c->method[req.method_len] = '\0';
        c->target = malloc(req.target_len + 1);
        if (c->target) {
            memcpy(c->target, req.target, req.target_len);
            c->target[req.target_len] = '\0';
        }
    }
    h = wsp_http_find(hs, req.num_headers, "Accept");
    snprintf(c->accept, sizeof c->accept, "%.*s",
             h ? (int)(h->value_len < 255 ? h->value_len : 255) : 0, h ? h->value : "");
    h = wsp_http_find(hs, req.num_headers, "X-Prometheus-Scrape-Timeout-Seconds");
    c->scrape_timeout_s = 0;
    if (h && h->value_len < 32) {
        char num[32];
        memcpy(num, h->value, h->value_len);
        num[h->value_len] = '\0';
        char *end;
        double v = strtod(num, &end);
        if (end != num && *end == '\0' && isfinite(v) && v > 0)
            c->scrape_timeout_s = v;
    }
    const wsp_http_header *authz = wsp_http_find(hs, req.num_headers, "Authorization");
    char av[1024];
    size_t al = authz && authz->value_len < sizeof av ? authz->value_len : 0;
    if (al)
        memcpy(av, authz->value, al);
    memmove(c->buf, c->buf + n, c->len - (size_t)n);
    c->len -= (size_t)n;
    c->keep_alive = keep;
    if (body) {
        c->keep_alive = false; /* the body's bytes would be read as the next request */
        refuse(c, REF_TOO_LARGE, 413, "Content Too Large", NULL,
               "the exporter takes no request bodies (and one Content-Length at most)");
    } else if (bad_line) {
        refuse(c, REF_BAD_REQUEST, 400, "Bad Request", NULL,
               "expected GET /probe?..., GET /metrics, POST /-/reload");
    } else if (!c->target) {
        respond_text(c, 500, "Internal Server Error", NULL, "out of memory");
    } else if (c->s->web && wsp_webconfig_needs_auth(c->s->web)) {
        authorise(c, al ? av : NULL, al);
    } else {
        dispatch(c);
    }
    OPENSSL_cleanse(av, sizeof av);
}

static void input(client *c, const char *data, size_t len)
{
    if (c->busy && c->len + len > WSP_EXPORTER_HEAD_MAX) {
        client_close(c); /* a pipeline past the cap while a request is answered */
        return;
    }
    size_t room = WSP_EXPORTER_HEAD_MAX - c->len;
    size_t take = len < room ? len : room;
    memcpy(c->buf + c->len, data, take);
    c->len += take;
    process(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[16384];
    *buf = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    client *c = st->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        client_close(c);
        return;
    }
    if (!c->tls) {
        input(c, buf->base, (size_t)nread);
        return;
    }
    wsp_err e;
    if (wsp_tls_feed(c->tls, buf->base, (size_t)nread, &e) != 0) {
        client_close(c);
        return;
    }
    if (!c->tls_ready) {
        int r = wsp_tls_handshake(c->tls, &e);
        if (flush_tls(c, false) != 0 || r < 0) {
            client_close(c);
            return;
        }
        if (r == 0)
            return;
        c->tls_ready = true;
        arm_timer(c);
    }
    char plain[16384];
    while (!c->closing) {
        ssize_t n = wsp_tls_read(c->tls, plain, sizeof plain, &e);
        if (n > 0) {
            input(c, plain, (size_t)n);
            continue;
        }
        if (n < 0 || flush_tls(c, false) != 0)
            client_close(c);
        return;
    }
}

static void client_read_next(client *c)
{
    process(c); /* a pipelined request, or the idle timer */
}

static void client_handle_closed(uv_handle_t *h)
{
    client *c = h->data;
    if (--c->handles > 0)
        return;
    server *s = c->s;
    s->clients--;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->tls) {
        wsp_tls_cleanup(c->tls);
        free(c->tls);
    }
    free(c->buf);
    free(c->target);
    free(c);
}

static void client_close(client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->scrape)
        c->scrape->c = NULL; /* the probe ends by its deadline; nobody is told */
    if (c->auth)
        c->auth->c = NULL;
    if (c->reload)
        c->reload->c = NULL;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, client_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, client_handle_closed);
}

static void on_connection(uv_stream_t *l, int status)
{
    server *s = l->data;
    if (status != 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (c)
        c->buf = malloc(WSP_EXPORTER_HEAD_MAX);
    if (!c || !c->buf) {
        free(c);
        uv_tcp_t t; /* accept and drop: the listener must not spin on a pending connection */
        if (uv_tcp_init(s->loop, &t) == 0 && uv_accept(l, (uv_stream_t *)&t) == 0)
            uv_close((uv_handle_t *)&t, NULL);
        return;
    }
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    s->clients++;
    c->next = s->head;
    if (s->head)
        s->head->prev = c;
    s->head = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || s->clients > WSP_EXPORTER_MAX_CLIENTS) {
        client_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    SSL_CTX *tls = s->web ? wsp_webconfig_tls(s->web) : NULL;
    if (tls) {
        wsp_err e;
        c->tls = calloc(1, sizeof *c->tls);
        if (!c->tls || wsp_tls_init_server(c->tls, tls, &e) != 0) {
            free(c->tls);
            c->tls = NULL;
            client_close(c);
            return;
        }
    } else {
        c->tls_ready = true;
    }
    arm_timer(c);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* ---- start, signals, stop ---- */

static void stop(server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    if (s->listening) {
        s->listener.data = NULL;
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
    }
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    /* idle clients go now; busy ones after their answer (after_response sees stopping) */
    for (client *c = s->head, *next; c; c = next) {
        next = c->next;
        if (!c->busy)
            client_close(c);
    }
}

static void signal_cb(uv_signal_t *h, int signum)
{
    server *s = h->data;
    if (signum == SIGHUP) {
        start_reload(s, NULL, "SIGHUP");
        return;
    }
    log_line("%s: stopping after %zu probe%s in flight", signum == SIGTERM ? "SIGTERM" : "SIGINT",
             s->in_flight, s->in_flight == 1 ? "" : "s");
    stop(s);
}

static int listen_on(server *s, wsp_err *err)
{
    const wsp_exporter_config *cfg = s->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    bool v6 = strchr(cfg->host, ':') != NULL;
    int r = v6 ? uv_ip6_addr(cfg->host, (int)cfg->port, (struct sockaddr_in6 *)&ss)
               : uv_ip4_addr(cfg->host, (int)cfg->port, (struct sockaddr_in *)&ss);
    if (r != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--listen %s: not an IP address", cfg->host);
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->listening = true;
    r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (r != 0) {
        wsp_err_set(err, WSP_CLASS_USAGE, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "",
                    cfg->host, v6 ? "]" : "", cfg->port, uv_strerror(r));
        wsp_err_hint(err, "pick another port (0 lets the kernel choose one) or stop what holds it");
        return -1;
    }
    int sl = sizeof ss;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &sl);
    unsigned port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    const char *scheme = s->web && wsp_webconfig_tls(s->web) ? "https" : "http";
    log_line("listening on %s://%s%s%s:%u/ (%zu module%s, %s)", scheme, v6 ? "[" : "", cfg->host,
             v6 ? "]" : "", port, wsp_modules_count(s->mods->plan),
             wsp_modules_count(s->mods->plan) == 1 ? "" : "s",
             s->web && wsp_webconfig_needs_auth(s->web) ? "basic auth" : "no authentication");
    if (cfg->port_file) {
        char text[64];
        int n = snprintf(text, sizeof text, "{\"port\":%u}\n", port);
        if (wsp_file_write("--port-file", cfg->port_file, text, (size_t)n, err) != 0)
            return -1;
    }
    return 0;
}

static void drain_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int wsp_exporter_run(const wsp_exporter_config *cfg, wsp_err *err)
{
    server *s = calloc(1, sizeof *s);
    if (!s)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory"), 2;
    s->cfg = cfg;
    s->start_real_ms = wsp_clock_real_ms();
    int rc = 2;
    char msg[1024];
    if (cfg->web_config_path && !(s->web = wsp_webconfig_load(cfg->web_config_path, err)))
        goto out;
    if (reload(s, msg, sizeof msg) != 0) {
        wsp_err_set(err, WSP_CLASS_USAGE, "%s", msg);
        goto out;
    }
    log_line("configuration: %s", msg);
    /* each_address probes, bcrypt checks and reloads run on libuv's worker threads: enough of
     * them that --max-concurrent probes and the auth checks never queue behind 4 (libuv's
     * default), unless the environment says otherwise */
    if (!getenv("UV_THREADPOOL_SIZE")) {
        char n[16];
        unsigned want = cfg->max_concurrent + MAX_PENDING_AUTH + 2;
        snprintf(n, sizeof n, "%u", want > 1024 ? 1024 : want);
        setenv("UV_THREADPOOL_SIZE", n, 0);
    }
    if (cfg->allow_any_target)
        log_line("WARNING: --allow-any-target: anyone who can reach this exporter can aim it at "
                 "any host; give each module allowed_targets instead");
    s->loop = malloc(sizeof *s->loop);
    if (!s->loop || uv_loop_init(s->loop) != 0) {
        free(s->loop);
        s->loop = NULL;
        wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot make an event loop");
        goto out;
    }
    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sighup);
    s->sigterm.data = s->sigint.data = s->sighup.data = s;
    uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&s->sigint, signal_cb, SIGINT);
    uv_signal_start(&s->sighup, signal_cb, SIGHUP);
    if (listen_on(s, err) != 0) {
        stop(s);
        uv_run(s->loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_run(s->loop, UV_RUN_DEFAULT); /* until stop() and the last probe and client are done */
    rc = 0;
    log_line("stopped");
out:
    if (s->loop) {
        uv_walk(s->loop, drain_close, NULL);
        uv_run(s->loop, UV_RUN_DEFAULT);
        uv_loop_close(s->loop);
        free(s->loop);
    }
    modset_release(s->mods);
    wsp_webconfig_free(s->web);
    free(s);
    return rc;
}
