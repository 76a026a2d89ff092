/* cmd_probe.c - `wsprobe probe URL`: one connection through every phase. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "probe/probe.h"
#include "probeopts.h"
#include "report/report.h"

static const char probe_usage[] =
    "usage: wsprobe probe URL [options]\n"
    "\n"
    "Connect to a ws:// or wss:// URL through every phase (resolve, connect, TLS, upgrade,\n"
    "send/expect, close), time each, and exit with the failure class's code (docs/exit-codes.md).\n"
    "\n";

/* --connections N: N complete probes at once on one loop. */
static int run_many(const wsp_probe_config *cfg, size_t n, const char *url, bool json, bool quiet)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return 70;
    wsp_probe **ps = calloc(n, sizeof *ps);
    int rc = 70;
    size_t made = 0;
    if (!ps)
        goto done;
    for (; made < n; made++) {
        ps[made] = wsp_probe_new(&loop, cfg, NULL, NULL);
        if (!ps[made])
            goto done;
    }
    for (size_t i = 0; i < n; i++)
        wsp_probe_start(ps[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    wsp_class cls = wsp_report_many_class(ps, n);
    if (json)
        wsp_probeopts_print_json("probe", wsp_report_many_json(ps, n, url));
    else if (!quiet || cls != WSP_CLASS_OK)
        wsp_report_many_human(quiet ? stderr : stdout, ps, n, url, wsp_cli_color(stdout));
    rc = wsp_class_exit_code(cls);
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
    static const struct option own[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    wsp_probeopts o;
    wsp_probeopts_init(&o, cmd);
    struct option *table = wsp_probeopts_merge(own);
    int rc = 2;
    if (!table)
        goto out;
    optind = 1;
    opterr = 0;
    int ch, li;
    wsp_cli_require_full_options("probe", argc, argv, table);
    while ((li = -1, ch = getopt_long(argc, argv, ":" WSP_PROBEOPTS_SHORT "h", table, &li)) != -1) {
        const char *name = li >= 0 ? table[li].name : NULL;
        if (ch == 'h') {
            fputs(probe_usage, stdout);
            fputs(wsp_probeopts_help(), stdout);
            rc = 0;
            goto out;
        }
        if (ch == ':') {
            rc = wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            goto out;
        }
        int t = ch == '?' ? 0 : wsp_probeopts_take(&o, ch, optarg, name);
        if (t < 0)
            goto out;
        if (t == 0) {
            rc = wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe probe --help)",
                                     argv[optind - 1]);
            goto out;
        }
    }
    if (optind != argc - 1) {
        rc = wsp_cli_usage_error(cmd, optind >= argc ? "give one URL, like ws://host:port/path"
                                                     : "give exactly one URL");
        goto out;
    }
    const char *url = argv[optind];
    if ((rc = wsp_probeopts_finish(&o, url)) != 0)
        goto out;
    if (o.connections > 1) {
        rc = run_many(&o.s.cfg, o.connections, url, o.json, o.quiet);
        goto out;
    }
    wsp_probe *p = wsp_probe_run(&o.s.cfg);
    if (!p) {
        fprintf(stderr, "wsprobe: probe: out of memory\n");
        rc = 70;
        goto out;
    }
    const wsp_err *v = wsp_probe_verdict(p);
    if (o.json) {
        wsp_probeopts_print_json("probe", wsp_report_probe_json(p, url));
    } else if (!o.quiet) {
        wsp_report_probe_human(stdout, p, url, wsp_cli_color(stdout));
    } else if (v->cls != WSP_CLASS_OK) {
        fprintf(stderr, "wsprobe: probe: %s: %s\n  hint: %s\n", wsp_class_name(v->cls), v->msg,
                v->hint);
    }
    rc = wsp_class_exit_code(v->cls);
    wsp_probe_free(p);
out:
    free(table);
    wsp_probeopts_cleanup(&o);
    fflush(stdout);
    return rc;
}
