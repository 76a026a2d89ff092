/* cmd_probe.c - `wsprobe probe URL`: one connection through every phase. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "cli.h"
#include "util/redact.h"
#include "probe/each.h"
#include "probe/probe.h"
#include "probeopts.h"
#include "report/report.h"

static const char probe_usage[] =
    "usage: wsprobe probe URL [options]\n"
    "\n"
    "Connect to a ws:// or wss:// URL through every phase (resolve, connect, TLS, upgrade,\n"
    "send/expect, close), time each, and exit with the failure class's code (docs/exit-codes.md).\n"
    "\n";

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    (void)v;
    return wsp_probeopts_apply(ud, opt, arg) == 1 ? 0 : -1;
}

/* --each-address: the whole probe against every address, at once. */
static int run_each(const wsp_probeopts *o, const wsp_cli_out *out, const char *url)
{
    wsp_probe_each e;
    wsp_err err;
    wsp_err_clear(&err);
    if (wsp_probe_each_resolve(&o->s.cfg, &e, &err) != 0) {
        if (err.cls == WSP_CLASS_USAGE)
            return wsp_cli_usage_error("probe", "%s", err.msg);
        bool lost = out->json &&
                    wsp_cli_json_write("probe", wsp_report_error_json(url, &err), out->json_file);
        fprintf(stderr, "wsprobe: probe: %s: %s\n  hint: %s\n", wsp_class_name(err.cls), err.msg,
                err.hint);
        return wsp_class_exit_code(lost ? WSP_CLASS_OUTPUT_FAILED : err.cls);
    }
    if (wsp_probe_each_run(&o->s.cfg, &e) != 0) {
        wsp_probe_each_cleanup(&e);
        fprintf(stderr, "wsprobe: probe: out of memory\n");
        return 70;
    }
    const wsp_err *v = &e.verdict;
    bool lost =
        out->json && wsp_cli_json_write("probe", wsp_report_each_json(&e, url), out->json_file);
    if (wsp_cli_human(out) && (!o->quiet || v->cls != WSP_CLASS_OK))
        wsp_report_each_human(o->quiet ? stderr : stdout, &e, url, wsp_cli_color(stdout));
    int rc = lost ? wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED) : wsp_class_exit_code(v->cls);
    wsp_probe_each_cleanup(&e);
    return rc;
}

/* --connections N: N complete probes at once on one loop. */
static int run_many(const wsp_probeopts *o, const wsp_cli_out *out, const char *url)
{
    size_t n = o->connections;
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return 70;
    wsp_probe **ps = calloc(n, sizeof *ps);
    int rc = 70;
    size_t made = 0;
    if (!ps)
        goto done;
    for (; made < n; made++) {
        ps[made] = wsp_probe_new(&loop, &o->s.cfg, NULL, NULL);
        if (!ps[made])
            goto done;
    }
    for (size_t i = 0; i < n; i++)
        wsp_probe_start(ps[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    wsp_class cls = wsp_report_many_class(ps, n);
    bool lost = out->json &&
                wsp_cli_json_write("probe", wsp_report_many_json(ps, n, url), out->json_file) != 0;
    if (wsp_cli_human(out) && (!o->quiet || cls != WSP_CLASS_OK))
        wsp_report_many_human(o->quiet ? stderr : stdout, ps, n, url, wsp_cli_color(stdout));
    rc = lost ? wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED)
              : wsp_class_exit_code(cls); /* lost evidence wins */
done:
    if (rc == 70)
        fprintf(stderr, "wsprobe: probe: out of memory for %zu connections\n", n);
    for (size_t i = 0; i < made; i++)
        wsp_probe_free(ps[i]);
    free(ps);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

int wsp_cmd_probe(int argc, char **argv)
{
    static const char cmd[] = "probe";
    const wsp_cli_spec spec = {
        .cmd = cmd, .usage = probe_usage, .tables = wsp_probeopts_tables(), .flags = WSP_CLI_JSON};
    wsp_probeopts o;
    wsp_probeopts_init(&o, cmd);
    wsp_cli_out out;
    int rc = wsp_cli_parse(&spec, argc, argv, take, &o, &out);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto out;
    }
    if ((rc = wsp_probeopts_finish_cli(&o, &out)) != 0)
        goto out;
    const char *url = o.url;
    if (o.each_address && o.connections > 1) {
        rc = wsp_cli_usage_error(cmd, "--each-address and --connections: choose one (each "
                                      "address gets one probe)");
        goto out;
    }
    if (o.each_address) {
        rc = run_each(&o, &out, url);
        goto out;
    }
    if (o.connections > 1) {
        rc = run_many(&o, &out, url);
        goto out;
    }
    wsp_probe *p = wsp_probe_run(&o.s.cfg);
    if (!p) {
        fprintf(stderr, "wsprobe: probe: out of memory\n");
        rc = 70;
        goto out;
    }
    const wsp_err *v = wsp_probe_verdict(p);
    bool lost =
        out.json && wsp_cli_json_write(cmd, wsp_report_probe_json(p, url), out.json_file) != 0;
    if (!wsp_cli_human(&out))
        ;
    else if (!o.quiet)
        wsp_report_probe_human(stdout, p, url, wsp_cli_color(stdout));
    else if (v->cls != WSP_CLASS_OK) {
        /* the message may quote the peer (a token it echoed): redacted like every report */
        char msg[sizeof v->msg];
        snprintf(msg, sizeof msg, "%s", v->msg);
        wsp_redact_buf(msg, sizeof msg);
        fprintf(stderr, "wsprobe: probe: %s: %s\n  hint: %s\n", wsp_class_name(v->cls), msg,
                v->hint);
    }
    rc = lost ? wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED)
              : wsp_class_exit_code(v->cls); /* lost evidence wins */
    wsp_probe_free(p);
out:
    wsp_probeopts_cleanup(&o);
    fflush(stdout);
    return rc;
}
