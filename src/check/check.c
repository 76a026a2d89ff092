/* check.c - environments and the concurrent runner (results: report/result.c). See check.h. */
#include "check/check.h"

#include "report/trace.h"
#include "util/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

void wsp_env_init(wsp_env *env)
{
    memset(env, 0, sizeof *env);
    wsp_probe_config_init(&env->base);
    wsp_auth_init(&env->auth);
}

void wsp_env_cleanup(wsp_env *env)
{
    if (!env)
        return;
    SSL_CTX_free(env->base.conn.tls_ctx);
    wsp_probe_config_cleanup(&env->base);
    wsp_auth_cleanup(&env->auth);
    wsp_env_release_strings(env);
}

void wsp_env_take_probe(wsp_env *env, wsp_probe_setup *s, bool take)
{
    env->base = s->cfg;
    env->base.conn.url = &env->base.url;
    env->base.steps = NULL;
    env->base.num_steps = 0;
    env->base.has_health = false;
    env->base.conn.trace = NULL;
    env->base.conn.tracer = wsp_trace_hooks();
    env->each_address = s->each_address;
    if (s->cfg.conn.proxy) { /* the setup's copy may not outlive the environment */
        env->proxy = *s->cfg.conn.proxy;
        env->base.conn.proxy = &env->proxy;
    }
    env->auth = s->auth;
    env->base.auth = wsp_auth_active(&env->auth) ? &env->auth : NULL;
    if (take) {
        s->cfg.conn.tls_ctx = NULL;
        s->cfg.auth = NULL;
        wsp_auth_init(&s->auth);
    }
}

void wsp_env_release_strings(wsp_env *env)
{
    free(env->name);
    free(env->url_text);
    free(env->allowed_origin);
    free(env->marker_send);
    free(env->marker_expect_pointer);
    free(env->marker_expect_value);
    free(env->health_url);
    free(env->plaintext_url);
    memset(env, 0, sizeof *env);
}

/* ---- the runner ---- */

typedef struct runner {
    const wsp_env *env;
    const wsp_check_item *items;
    const size_t *order; /* positions into items, in the order to start them */
    size_t n;
    size_t next;
    pthread_mutex_t lock;
    uint64_t deadline_ns;
    wsp_check_result *results;
} runner;

static void *worker(void *arg)
{
    runner *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        size_t k = r->next < r->n ? r->next++ : r->n;
        pthread_mutex_unlock(&r->lock);
        if (k >= r->n)
            return NULL;
        size_t i = r->order[k];
        wsp_check_result *res = &r->results[i];
        if (r->deadline_ns && wsp_clock_mono_ns() >= r->deadline_ns) {
            wsp_check_set(res, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_OK,
                          "not run: the run's overall deadline passed first");
            continue;
        }
        const wsp_check_def *d = r->items[i].def;
        wsp_proto_kind pk = r->env->base.proto.kind;
        if ((d->flags & WSP_CHECK_RAW_APP) && pk != WSP_PROTO_NONE) {
            wsp_check_set(res, WSP_VERDICT_NOT_APPLICABLE, WSP_CLASS_OK,
                          "not run under --protocol %s: this check's raw sessions send plain "
                          "WebSocket messages, which the server would read as broken %s "
                          "packets, so its verdict would not be about the application",
                          wsp_proto_kind_name(pk),
                          pk == WSP_PROTO_SOCKETIO ? "Engine.IO" : "graphql-transport-ws");
            continue;
        }
        uint64_t t0 = wsp_clock_mono_ns();
        res->ran = true;
        d->run(r->env, r->items[i].params, res);
        wsp_check_result_redact(res);
        res->duration_ms = (double)(wsp_clock_mono_ns() - t0) / 1e6;
    }
}

/* Run order[0..n) with up to `parallel` threads. */
static void run_phase(runner *r, const size_t *order, size_t n, int parallel)
{
    if (n == 0)
        return;
    r->order = order;
    r->n = n;
    r->next = 0;
    if ((size_t)parallel > n)
        parallel = (int)n;
    pthread_t *th = calloc((size_t)parallel, sizeof *th);
    int started = 0;
    for (int i = 0; th && i < parallel; i++) {
        if (pthread_create(&th[i], NULL, worker, r) != 0)
            break;
        started++;
    }
    if (started == 0)
        worker(r); /* no threads: run them here, one after another */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
}

int wsp_check_run_all(const wsp_env *env, const wsp_check_item *items, size_t n, int parallel,
                      uint64_t deadline_us, wsp_check_result *results)
{
    runner r = {.env = env, .items = items, .results = results};
    for (size_t i = 0; i < n; i++)
        wsp_check_result_init(&results[i], items[i].def->id);
    if (n == 0)
        return 0;
    size_t *order = malloc(n * sizeof *order);
    if (!order) {
        for (size_t i = 0; i < n; i++)
            wsp_check_set(&results[i], WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_INTERNAL,
                          "not run: out of memory");
        return -1;
    }
    /* together: the waiting checks first, then the rest; alone: afterwards, one at a time */
    size_t k = 0;
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < n; i++) {
            unsigned f = items[i].def->flags;
            int want = (f & WSP_CHECK_ALONE) ? 2 : (f & WSP_CHECK_WAITS) ? 0 : 1;
            if (want == pass)
                order[k++] = i;
        }
    size_t together = 0;
    while (together < n && !(items[order[together]].def->flags & WSP_CHECK_ALONE))
        together++;
    if (deadline_us)
        r.deadline_ns = wsp_clock_mono_ns() + deadline_us * 1000ull;
    pthread_mutex_init(&r.lock, NULL);
    run_phase(&r, order, together, parallel < 1 ? 1 : parallel);
    run_phase(&r, order + together, n - together, 1);
    pthread_mutex_destroy(&r.lock);
    free(order);
    return 0;
}
