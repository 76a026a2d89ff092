/* each.c - see each.h. */
#include "probe/each.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

typedef struct resolve_wait {
    wsp_probe_each *e;
    const wsp_probe_config *cfg;
    wsp_err err;
    bool done;
} resolve_wait;

static void add(wsp_probe_each *e, int family, const struct sockaddr_storage *ss)
{
    if (e->n >= WSP_EACH_MAX || (family != AF_UNSPEC && ss->ss_family != family))
        return;
    e->addrs[e->n] = *ss;
    wsp_dns_addr_str((const struct sockaddr *)ss, e->text[e->n], sizeof e->text[0]);
    e->n++;
}

static void dns_done(void *ud, const wsp_dns_result *res, const wsp_err *err)
{
    resolve_wait *w = ud;
    w->done = true;
    if (!res) {
        w->err = *err;
        return;
    }
    for (int i = 0; i < res->num_addrs; i++)
        add(w->e, w->cfg->conn.family, &res->addrs[i]);
}

int wsp_probe_each_resolve(const wsp_probe_config *cfg, wsp_probe_each *e, wsp_err *err)
{
    memset(e, 0, sizeof *e);
    const wsp_url *u = &cfg->url;
    if (cfg->conn.num_pinned > 0) {
        for (int i = 0; i < cfg->conn.num_pinned; i++)
            add(e, cfg->conn.family, &cfg->conn.pinned[i]);
    } else if (u->host_is_ip) {
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--each-address: '%s' is an address, not a name: there is one "
                           "backend to probe (give the name, or several addresses with "
                           "--resolve %s:%u:ADDR1,ADDR2)",
                           u->host, u->host, u->port);
    } else {
        uv_loop_t loop;
        if (uv_loop_init(&loop) != 0)
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot make an event loop");
        resolve_wait w = {.e = e, .cfg = cfg};
        wsp_err_clear(&w.err);
        wsp_dns_opts o = {.family = cfg->conn.family,
                          .servers = cfg->conn.dns_servers,
                          .timeout_us = cfg->conn.timeout_us};
        wsp_dns_query *q = wsp_dns_resolve(&loop, u->host, u->port, &o, dns_done, &w, err);
        if (q)
            uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        if (!q)
            return -1;
        if (w.err.cls != WSP_CLASS_OK) {
            *err = w.err;
            return -1;
        }
    }
    if (e->n == 0)
        return wsp_err_set(err, WSP_CLASS_NET_UNREACHABLE,
                           "--each-address: '%s' has no address of the requested family", u->host);
    e->first_failed = e->n;
    return 0;
}

int wsp_probe_each_run(const wsp_probe_config *cfg, wsp_probe_each *e)
{
    e->loop = malloc(sizeof *e->loop);
    if (!e->loop || uv_loop_init(e->loop) != 0) {
        free(e->loop);
        e->loop = NULL;
        return -1;
    }
    uv_loop_t *loop = e->loop;
    e->cfgs = calloc(e->n, sizeof *e->cfgs);
    int rc = e->cfgs ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < e->n; i++) {
        wsp_probe_config *c = &e->cfgs[i];
        *c = *cfg; /* shallow: the steps stay the caller's */
        c->conn.url = &c->url;
        c->conn.pinned = &e->addrs[i];
        c->conn.num_pinned = 1;
        if (c->has_health)
            c->health_conn.url = &c->health_url;
        e->probes[i] = wsp_probe_new(loop, c, NULL, NULL);
        if (!e->probes[i])
            rc = -1;
    }
    if (rc == 0) {
        for (size_t i = 0; i < e->n; i++)
            wsp_probe_start(e->probes[i]);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    size_t ok = 0;
    e->first_failed = e->n;
    for (size_t i = 0; rc == 0 && i < e->n; i++) {
        if (wsp_probe_verdict(e->probes[i])->cls == WSP_CLASS_OK)
            ok++;
        else if (e->first_failed == e->n)
            e->first_failed = i;
    }
    wsp_err_clear(&e->verdict);
    if (rc == 0 && e->first_failed < e->n) {
        const wsp_err *v = wsp_probe_verdict(e->probes[e->first_failed]);
        wsp_err_set(&e->verdict, v->cls, "%zu of %zu addresses OK; %s: %.400s", ok, e->n,
                    e->text[e->first_failed], v->msg);
        wsp_err_hint(&e->verdict, "%s", v->hint);
    }
    return rc; /* the probes stay on their loop until wsp_probe_each_cleanup */
}

void wsp_probe_each_cleanup(wsp_probe_each *e)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->probes[i])
            wsp_probe_free(e->probes[i]);
    if (e->loop) {
        uv_run(e->loop, UV_RUN_DEFAULT); /* the handles the probes closed */
        uv_loop_close(e->loop);
        free(e->loop);
        e->loop = NULL;
    }
    free(e->cfgs);
    e->cfgs = NULL;
}
