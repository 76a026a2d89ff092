/* cmd_hold.c - `wsprobe hold URL`: connections that must live (docs/hold.md). Strategies side
 * by side (silent, pings on a ladder of intervals, messages every M), for a duration; each end
 * said with when, how and by whom, and read for what it means (probe/hold.h, written by
 * report/holdreport.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "probe/hold.h"
#include "probeopts.h"
#include "report/holdreport.h"
#include "report/report.h"

static const char hold_usage[] =
    "usage: wsprobe hold URL [options]\n"
    "\n"
    "Open connections and keep them for --duration, each strategy on its own connections:\n"
    "silent (no frames at all), pings every P for each P of --ping-ladder, and, with --send\n"
    "and --message-every M, those messages every M. Report when, how (the server's close\n"
    "frame, a TCP FIN or reset without one, an unanswered ping) and after how long each one\n"
    "ended, and what that means: an intermediary's idle timeout, a lifetime cap, or nothing.\n"
    "hold observes, where load measures: its default duration is 10 minutes. With\n"
    "--each-address, every strategy is held against each address the name resolves to.\n"
    "\n"
    "Exit: 0; 1 when a gate fails (a connection that never opened, --expect-lifetime,\n"
    "--expect-silent-lifetime); 2 on bad usage; the most common class's code when no\n"
    "connection opened at all.\n"
    "\n";

enum { OPT_JUNIT = WSP_HOLD_OPT_OWN };

static const wsp_opt own_opts[] = {
    {"junit", 0, WSP_OPT_PATH, OPT_JUNIT, "FILE",
     "JUnit XML: a testcase per strategy (per address with\n--each-address), gate and threshold", 0,
     0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

/* The probe's options hold has no use for: it judges lifetimes, not replies. */
static const char *const hold_omits[] = {
    "connections", "deadline", "health", "expect-text", "expect-json", "expect-regex",
    "expect-binary", "send-binary", "ping", "expect-close", "expect-auth-required", "strict-order",
    /* hold sends without waiting for replies: of the protocols' steps, --emit */
    "emit-ack", "expect-event", "subscribe", "variables", "expect-complete", NULL};

typedef struct hold_opts {
    wsp_probeopts po;
    wsp_hold_setup hs;
    const char *junit;
} hold_opts;

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    hold_opts *h = ud;
    if (opt->id == OPT_JUNIT) {
        h->junit = arg;
        return 0;
    }
    if (opt->id >= WSP_HOLD_OPT_DURATION && opt->id < WSP_HOLD_OPT_OWN) {
        wsp_err e;
        if (wsp_hold_setup_set(&h->hs, opt, arg, v, &e) != 0)
            return wsp_cli_usage_error("hold", "%s", e.msg);
        return 0;
    }
    return wsp_probeopts_apply(&h->po, opt, arg) == 1 ? 0 : -1;
}

/* Strategies, messages and every check that needs no network. 0, or the exit code. */
static int configure(hold_opts *h)
{
    wsp_err e;
    const wsp_probe_config *pc = &h->po.s.cfg;
    bool proto = pc->proto.kind != WSP_PROTO_NONE;
    for (size_t i = 0; i < pc->num_steps; i++) {
        const wsp_step *st = &pc->steps[i];
        if (proto && (st->kind == WSP_STEP_SEND || st->kind == WSP_STEP_SEND_BINARY))
            return wsp_cli_usage_error("hold", "under --protocol a message is an emit: --emit "
                                               "'EVENT JSON', not --send");
        int rc = st->kind == WSP_STEP_SEND ? wsp_hold_setup_add_message(&h->hs, st->text, &e)
                 : st->kind == WSP_STEP_EMIT
                     ? wsp_hold_setup_add_emit(&h->hs, st->text, st->value_json, &e)
                     : 0;
        if (rc != 0)
            return wsp_cli_usage_error("hold", "%s", e.msg);
    }
    h->hs.cfg.proto = proto ? &pc->proto : NULL;
    if (wsp_hold_setup_finish(&h->hs, &e) != 0)
        return wsp_cli_usage_error("hold", "%s", e.msg);
    return 0;
}

/* --each-address: the addresses to hold against. 0, or the exit code: USAGE for a literal
 * address or too many connections, the DNS class when the name does not resolve. */
static int addresses(hold_opts *h, const wsp_cli_out *out)
{
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_hold_resolve_addresses(&h->hs.cfg, &h->po.s.cfg, &e) == 0)
        return 0;
    if (e.cls == WSP_CLASS_USAGE)
        return wsp_cli_usage_error("hold", "%s", e.msg);
    bool lost = out->json &&
                wsp_cli_json_write("hold", wsp_report_error_json(h->po.url, &e), out->json_file);
    fprintf(stderr, "wsprobe: hold: %s: %s\n  hint: %s\n", wsp_class_name(e.cls), e.msg, e.hint);
    return wsp_class_exit_code(lost ? WSP_CLASS_OUTPUT_FAILED : e.cls);
}

int wsp_cmd_hold(int argc, char **argv)
{
    static const char cmd[] = "hold";
    hold_opts h;
    memset(&h, 0, sizeof h);
    wsp_hold_setup_init(&h.hs);
    wsp_probeopts_init(&h.po, cmd);
    const wsp_opt *tables[13] = {wsp_hold_opts, own_opts};
    const wsp_opt *const *shared = wsp_probeopts_tables();
    for (size_t i = 0; shared[i] && i < 10; i++)
        tables[i + 2] = shared[i];
    const wsp_cli_spec spec = {.cmd = cmd,
                               .usage = hold_usage,
                               .tables = tables,
                               .omit = hold_omits,
                               .flags = WSP_CLI_JSON | WSP_CLI_HTML};
    wsp_cli_out out;
    wsp_hold_result r = {0};
    wsp_hold_verdict v = {0};
    wsp_hold_config *c = &h.hs.cfg;
    int rc = wsp_cli_parse(&spec, argc, argv, take, &h, &out);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto done;
    }
    if ((rc = wsp_probeopts_finish_cli(&h.po, &out)) != 0 || (rc = configure(&h)) != 0 ||
        (h.po.each_address && (rc = addresses(&h, &out)) != 0))
        goto done;
    c->conn = &h.po.s.cfg.conn;
    c->auth = h.po.s.cfg.auth;
    c->pong_timeout_us = h.po.s.cfg.pong_timeout_us;
    c->catch_sigint = true;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_hold_run(c, &r, &e) != 0) {
        rc = wsp_cli_usage_error(cmd, "%s", e.msg);
        goto done;
    }
    if (wsp_hold_judge(c, &r, &v) != 0) {
        fprintf(stderr, "wsprobe: hold: out of memory\n");
        rc = wsp_class_exit_code(WSP_CLASS_INTERNAL);
        goto done;
    }
    rc = v.exit_code;
    bool lost = (out.json || out.html_file) &&
                wsp_cli_report(cmd, wsp_hold_report_json(c, &r, &v, h.po.url), &out) != 0;
    if (wsp_cli_human(&out) && !h.po.quiet)
        wsp_hold_report_human(stdout, c, &r, &v, h.po.url);
    if (h.junit && wsp_hold_report_junit(h.junit, c, &r, &v, h.po.url) != 0) {
        fprintf(stderr, "wsprobe: hold: OUTPUT_FAILED: cannot write %s\n", h.junit);
        lost = true;
    }
    if (lost)
        rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
done:
    wsp_hold_verdict_cleanup(&v);
    wsp_hold_result_cleanup(&r);
    wsp_hold_setup_cleanup(&h.hs);
    wsp_probeopts_cleanup(&h.po);
    fflush(stdout);
    return rc;
}
