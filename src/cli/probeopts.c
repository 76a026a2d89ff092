/* probeopts.c - see probeopts.h. The probe's options are declared in probe/setup.c (the same
 * table plans read); this file adds the output options (-v, -q, --connections). */
#include "probeopts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "cli.h"
#include "report/report.h"
#include "report/trace.h"
#include "util/redact.h"

#define MAX_CONNECTIONS 10000

enum {
    OPT_CONNECTIONS = 950,
    OPT_VERBOSE,
    OPT_QUIET,
};

static const wsp_opt out_opts[] = {
    {"connections", 0, WSP_OPT_COUNT, OPT_CONNECTIONS, "N",
     "run N complete probes at once; a verdict each and a\nsummary (exit: the most common failure "
     "class)",
     1, MAX_CONNECTIONS, NULL, NULL, 0},
    {"output:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"verbose", 'v', WSP_OPT_FLAG, OPT_VERBOSE, NULL,
     "request and response headers on stderr (credentials\nredacted)", 0, 0, NULL, NULL, 0},
    {"quiet", 'q', WSP_OPT_FLAG, OPT_QUIET, NULL, "print nothing but a failure", 0, 0, NULL, NULL,
     0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

/* The probe's tables, then the output options: the help's order. */
static const wsp_opt *const *tables(void)
{
    static const wsp_opt *t[8];
    if (!t[0]) {
        size_t n = 0;
        for (; wsp_probe_opt_tables[n] && n < 6; n++)
            t[n] = wsp_probe_opt_tables[n];
        t[n] = out_opts;
    }
    return t;
}

void wsp_probeopts_init(wsp_probeopts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    wsp_probe_setup_init(&o->s);
    o->connections = 1;
}

void wsp_probeopts_cleanup(wsp_probeopts *o)
{
    wsp_probe_setup_cleanup(&o->s);
}

/* -v: heads on stderr with credentials redacted */
static void trace(void *ud, bool outgoing, const char *data, size_t len)
{
    (void)ud;
    char *buf = malloc(len * 2 + 64);
    if (!buf)
        return;
    wsp_report_redact_head(data, len, buf, len * 2 + 64);
    char *clean = wsp_redact(buf, strlen(buf), NULL);
    free(buf);
    if (!clean)
        return;
    buf = clean;
    const char *mark = outgoing ? "> " : "< ";
    const char *p = buf;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n)
            fprintf(stderr, "%s%.*s\n", mark, (int)n, p);
        p += nl ? (size_t)(nl - p) + 1 : strlen(p);
    }
    free(buf);
}

const wsp_opt *const *wsp_probeopts_tables(void)
{
    return tables();
}

int wsp_probeopts_apply(wsp_probeopts *o, const wsp_opt *opt, const char *arg)
{
    wsp_err e;
    wsp_err_clear(&e);
    wsp_opt_value v;
    switch (opt->id) {
    case OPT_VERBOSE:
        o->verbose = true;
        return 1;
    case OPT_QUIET:
        o->quiet = true;
        return 1;
    case OPT_CONNECTIONS:
        if (wsp_opt_parse(opt, NULL, arg, &v, &e) != 0)
            break;
        o->connections = (size_t)v.u;
        return 1;
    default:
        if (wsp_probe_setup_set(&o->s, opt, NULL, arg, &e) == 0)
            return 1;
        break;
    }
    fprintf(stderr, "wsprobe: %s: %s\n", o->cmd, e.msg);
    return -1;
}

int wsp_probeopts_finish_cli(wsp_probeopts *o, const wsp_cli_out *out)
{
    if (out->noperands != 1)
        return wsp_cli_usage_error(o->cmd, out->noperands == 0
                                               ? "give one URL, like ws://host:port/path"
                                               : "give exactly one URL");
    o->json = out->json;
    o->json_file = out->json_file;
    return wsp_probeopts_finish(o, out->operands[0]);
}

int wsp_probeopts_finish(wsp_probeopts *o, const char *url)
{
    wsp_err e;
    wsp_err_clear(&e);
    o->url = url;
    if (wsp_probe_setup_finish(&o->s, url, true, &e) != 0) {
        if (e.cls == WSP_CLASS_USAGE || e.cls == WSP_CLASS_INTERNAL)
            return wsp_cli_usage_error(o->cmd, "%s", e.msg);
        /* a verdict before any connection (a bad URL, an unreadable --cacert) */
        bool lost = o->json && wsp_cli_json_write(o->cmd, wsp_report_error_json(o->url, &e),
                                                  o->json_file) != 0;
        fprintf(stderr, "wsprobe: %s: %s\n  hint: %s\n", o->cmd, e.msg, e.hint);
        return wsp_class_exit_code(lost ? WSP_CLASS_OUTPUT_FAILED : e.cls);
    }
    if (o->verbose)
        o->s.cfg.conn.trace = trace;
    o->each_address = o->s.each_address;
    if (o->s.trace_path && wsp_trace_open(o->s.trace_path, &e) != 0)
        return wsp_cli_usage_error(o->cmd, "%s", e.msg);
    o->s.cfg.conn.tracer = o->s.cfg.health_conn.tracer = wsp_trace_hooks();
    return 0;
}
