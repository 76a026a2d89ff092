/* cmd_run.c - `wsprobe run PLAN --env NAME`: a verification plan's checks on one environment,
 * with human, JSON and JUnit reports. Also the helpers `parity` shares (planrun.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "util/clock.h"
#include "report/report.h"
#include "report/trace.h"
#include "util/redact.h"
#include "planrun.h"
#include "check/security/security.h"

static const char run_usage[] =
    "usage: wsprobe run PLAN.yaml --env NAME [options]\n"
    "\n"
    "Run a verification plan's checks (connect, health, conversation, concurrent,\n"
    "expect_auth_required, security) against one environment, independent checks at once.\n"
    "\n";

static const char run_after[] =
    "\n"
    "Exit: 0 when every check passed (or warned, skipped, was not applicable); 1 when a check\n"
    "failed or was inconclusive (an unproven check is not green); 2 for a usage or plan error.\n";

#define DEFAULT_DEADLINE_US (600ull * 1000000ull)

/* The last plan error printed, for wsp_planrun_junit_error. */
static char last_error[1200];

wsp_plan *wsp_planrun_load(const char *cmd, const char *path, uint64_t deadline_us)
{
    wsp_plan_err pe;
    wsp_plan *plan = wsp_plan_load_file(path, &pe);
    if (!plan) {
        wsp_plan_err_format(&pe, last_error, sizeof last_error);
        fprintf(stderr, "wsprobe: %s: %s\n", cmd, last_error);
        return NULL;
    }
    for (size_t i = 0; i < wsp_plan_warning_count(plan); i++)
        fprintf(stderr, "wsprobe: %s: %s\n", cmd, wsp_plan_warning(plan, i));
    wsp_plan_set_deadline_cap(plan, deadline_us);
    if (wsp_plan_fits_deadline(plan, deadline_us, &pe) != 0) {
        wsp_plan_err_format(&pe, last_error, sizeof last_error);
        fprintf(stderr, "wsprobe: %s: %s\n", cmd, last_error);
        wsp_plan_free(plan);
        return NULL;
    }
    return plan;
}

int wsp_planrun_env(const char *cmd, wsp_plan *plan, const char *name, wsp_env *env)
{
    wsp_plan_err pe;
    if (wsp_plan_env_load(plan, name, env, &pe) != 0) {
        wsp_plan_err_format(&pe, last_error, sizeof last_error);
        fprintf(stderr, "wsprobe: %s: %s\n", cmd, last_error);
        return -1;
    }
    /* the token and the HMAC secret are registered with the redactor where they are read
     * (probe/auth.c, probe/jwtconfig.c), for plans as for the command line */
    return 0;
}

void wsp_planrun_junit_error(const char *path, const char *plan_file, const char *env_name)
{
    if (!path)
        return;
    wsp_check_result r;
    wsp_check_result_init(&r, "plan");
    wsp_check_set(&r, WSP_VERDICT_INCONCLUSIVE, WSP_CLASS_USAGE, "%s",
                  last_error[0] ? last_error : "the plan could not be used");
    snprintf(r.hint, sizeof r.hint, "fix the plan or the command line; no check was run");
    wsp_runreport rr;
    memset(&rr, 0, sizeof rr);
    rr.plan_file = plan_file;
    rr.env_name = env_name ? env_name : "";
    rr.url_text = "";
    rr.results = &r;
    rr.n = 1;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_runreport_junit_write(&rr, 1, path, &e) != 0)
        fprintf(stderr, "wsprobe: %s\n", e.msg);
    wsp_check_result_cleanup(&r);
}

int wsp_planrun_execute(wsp_planrun *run)
{
    size_t n = wsp_plan_check_count(run->plan);
    run->results = calloc(n ? n : 1, sizeof *run->results);
    if (!run->results)
        return -1;
    /* Security checks that sign tokens on purpose (auth.claims, auth.expiry_on_open) need the
     * environment's signing material: give it to those without parameters of their own. */
    const wsp_check_item *plan_items = wsp_plan_items(run->plan);
    wsp_check_item *items = calloc(n ? n : 1, sizeof *items);
    json_t *signing = wsp_plan_env_signing(run->plan, run->env.name);
    json_t *sec_params = signing ? json_pack("{s:o}", "signing", signing) : NULL;
    if (!items) {
        json_decref(sec_params);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        items[i] = plan_items[i];
        if (!items[i].params && sec_params && strcmp(items[i].def->group, "basic") != 0)
            items[i].params = sec_params;
    }
    uint64_t start_ns = wsp_clock_mono_ns();
    if (run->deadline_us)
        run->env.deadline_ns = start_ns + run->deadline_us * 1000ull;
    wsp_check_run_all(&run->env, items, n, run->parallel, run->deadline_us, run->results);
    free(items);
    json_decref(sec_params);
    run->duration_ms = (double)(wsp_clock_mono_ns() - start_ns) / 1e6;
    return 0;
}

typedef struct watchdog {
    const char *cmd;
    uint64_t wait_us;
} watchdog;

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    struct timespec ts = {(time_t)(w->wait_us / 1000000u), (long)(w->wait_us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    fprintf(stderr,
            "wsprobe: %s: the run passed its deadline and a check did not end; giving up "
            "(exit 1)\n",
            w->cmd);
    fflush(stdout);
    _exit(1);
}

void wsp_planrun_watchdog(const char *cmd, uint64_t deadline_us, uint64_t grace_us)
{
    static watchdog w;
    w.cmd = cmd;
    w.wait_us = deadline_us + grace_us;
    pthread_t th;
    if (pthread_create(&th, NULL, watchdog_main, &w) == 0)
        pthread_detach(th);
}

void wsp_planrun_view(const wsp_planrun *run, const char *plan_file, bool strict,
                      wsp_runreport *out)
{
    memset(out, 0, sizeof *out);
    out->plan_file = plan_file;
    out->env_name = run->env.name;
    out->url_text = run->env.url_text;
    out->groups = wsp_plan_groups(run->plan);
    out->results = run->results;
    out->n = wsp_plan_check_count(run->plan);
    out->duration_ms = run->duration_ms;
    out->strict = strict;
}

/* ---- the options run and parity share ---- */

enum {
    OPT_ENV = WSP_PROBE_OPT_OWN,
    OPT_JUNIT,
    OPT_PARALLEL,
    OPT_DEADLINE,
    OPT_QUIET,
    OPT_STRICT,
    OPT_BASELINE,
    OPT_TRACE
};

static const wsp_opt plan_opts[] = {
    {"env", 'e', WSP_OPT_TEXT, OPT_ENV, "NAME", NULL, 0, 0, NULL, NULL, WSP_OPT_REPEAT},
    {"junit", 0, WSP_OPT_PATH, OPT_JUNIT, "FILE",
     "write JUnit XML (one testcase per check, evidence as\nproperties)", 0, 0, NULL, NULL, 0},
    {"parallel", 0, WSP_OPT_COUNT, OPT_PARALLEL, "N", "checks running at once (default 4)", 1, 64,
     NULL, NULL, 0},
    {"quiet", 'q', WSP_OPT_FLAG, OPT_QUIET, NULL, "no table; only failures on stderr", 0, 0, NULL,
     NULL, 0},
    {"trace", 0, WSP_OPT_TEXT, OPT_TRACE, "FILE",
     "every head and frame of every check's connections, as\nJSON lines (redacted)", 0, 0, NULL,
     NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

/* --env and --deadline say different things in run and parity */
static const wsp_opt run_opts[] = {
    {"env", 'e', WSP_OPT_TEXT, OPT_ENV, "NAME", "the environment of the plan to check (required)",
     0, 0, NULL, NULL, 0},
    {"deadline", 0, WSP_OPT_DURATION, OPT_DEADLINE, "DUR",
     "the whole run (default 10m); checks not started by then\nare inconclusive, and every probe "
     "is capped at it",
     0, 0, NULL, NULL, 0},
    {"strict", 0, WSP_OPT_FLAG, OPT_STRICT, NULL, "warn and skip fail the run too", 0, 0, NULL,
     NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

static const wsp_opt parity_opts[] = {
    {"env", 'e', WSP_OPT_TEXT, OPT_ENV, "NAME",
     "an environment to compare (repeat; at least two, or one\nwith --baseline)", 0, 0, NULL, NULL,
     WSP_OPT_REPEAT},
    {"baseline", 0, WSP_OPT_PATH, OPT_BASELINE, "FILE",
     "an accepted earlier report (parity or run JSON): an\nenvironment whose check held there and "
     "does not now is\nflagged",
     0, 0, NULL, NULL, 0},
    {"deadline", 0, WSP_OPT_DURATION, OPT_DEADLINE, "DUR", "the whole comparison (default 10m)", 0,
     0, NULL, NULL, 0},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

/* the command's own first (--env leads the help), then the shared ones without their --env */
static const wsp_opt *const run_tables[] = {run_opts, plan_opts + 1, NULL};
static const wsp_opt *const parity_tables[] = {parity_opts, plan_opts + 1, NULL};

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    wsp_planrun_opts *o = ud;
    switch (opt->id) {
    case OPT_ENV:
        if (o->nenv && !o->many_envs) {
            wsp_cli_usage_error(o->cmd, "--env is given twice (parity compares environments: "
                                        "wsprobe parity)");
            return -1;
        }
        if (o->nenv >= WSP_PLANRUN_MAX_ENVS) {
            wsp_cli_usage_error(o->cmd, "at most %d environments", WSP_PLANRUN_MAX_ENVS);
            return -1;
        }
        for (size_t i = 0; i < o->nenv; i++)
            if (strcmp(o->envs[i], arg) == 0) {
                wsp_cli_usage_error(o->cmd, "--env %s is given twice", arg);
                return -1;
            }
        o->envs[o->nenv++] = arg;
        return 0;
    case OPT_JUNIT:
        o->junit = arg;
        return 0;
    case OPT_BASELINE:
        o->baseline = arg;
        return 0;
    case OPT_PARALLEL:
        o->parallel = (int)v->u;
        return 0;
    case OPT_DEADLINE:
        o->deadline_us = v->u;
        return 0;
    case OPT_STRICT:
        o->strict = true;
        return 0;
    case OPT_QUIET:
        o->quiet = true;
        return 0;
    case OPT_TRACE: {
        wsp_err e;
        if (wsp_trace_open(arg, &e) != 0) {
            wsp_cli_usage_error(o->cmd, "%s", e.msg);
            return -1;
        }
        return 0;
    }
    }
    return -1;
}

int wsp_planrun_parse(const char *cmd, const char *usage, const char *after, bool parity, int argc,
                      char **argv, wsp_planrun_opts *o, wsp_cli_out *out)
{
    const wsp_cli_spec spec = {.cmd = cmd,
                               .usage = usage,
                               .after = after,
                               .tables = parity ? parity_tables : run_tables,
                               .flags = WSP_CLI_JSON | WSP_CLI_JSON_SPACED | WSP_CLI_HTML};
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->many_envs = parity;
    o->parallel = 4;
    o->deadline_us = DEFAULT_DEADLINE_US;
    int rc = wsp_cli_parse(&spec, argc, argv, take, o, out);
    return rc == 0 ? -1 : rc == 1 ? 0 : 2;
}

/* The plan's ids for the report (results carry the definitions' ids). */
static const char **plan_ids(const wsp_plan *plan)
{
    size_t n = wsp_plan_check_count(plan);
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = wsp_plan_check_id(plan, i);
    return ids;
}

/* The reports of a finished run: the table, JSON, JUnit. Returns the exit code. */
static int run_reports(const wsp_planrun_opts *o, const wsp_cli_out *out, const wsp_runreport *rr)
{
    static const char cmd[] = "run";
    int rc = wsp_runreport_exit_code(rr->results, rr->n, o->strict);
    if (!o->quiet && wsp_cli_human(out))
        wsp_runreport_human(stdout, rr, wsp_cli_color(stdout));
    else if (rc != 0)
        wsp_runreport_human(stderr, rr, false);
    if (out->json || out->html_file) {
        json_t *j = wsp_runreport_json(rr);
        if (!j || wsp_cli_report(cmd, j, out) != 0)
            rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED); /* the evidence is lost: this wins */
    }
    if (o->junit) {
        wsp_err e;
        wsp_err_clear(&e);
        if (wsp_runreport_junit_write(rr, 1, o->junit, &e) != 0) {
            fprintf(stderr, "wsprobe: %s: OUTPUT_FAILED: %s\n", cmd, e.msg);
            rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
        }
    }
    return rc;
}

static void list_envs(const char *cmd, const wsp_plan *plan)
{
    fprintf(stderr, "wsprobe: %s: --env NAME is required; the plan defines:", cmd);
    for (size_t i = 0; i < wsp_plan_env_count(plan); i++)
        fprintf(stderr, " %s", wsp_plan_env_name(plan, i));
    fputc('\n', stderr);
}

int wsp_cmd_run(int argc, char **argv)
{
    static const char cmd[] = "run";
    wsp_planrun_opts o;
    wsp_cli_out out;
    int rc = wsp_planrun_parse(cmd, run_usage, run_after, false, argc, argv, &o, &out);
    if (rc >= 0)
        return rc;
    if (out.noperands != 1)
        return wsp_cli_usage_error(cmd, out.noperands == 0 ? "give the plan file: wsprobe run "
                                                             "PLAN.yaml --env NAME"
                                                           : "give exactly one plan file");
    const char *plan_path = out.operands[0], *env_name = o.nenv ? o.envs[0] : NULL;
    wsp_plan *plan = wsp_planrun_load(cmd, plan_path, o.deadline_us);
    if (!plan) {
        wsp_planrun_junit_error(o.junit, plan_path, env_name);
        return 2;
    }
    if (!env_name) {
        list_envs(cmd, plan);
        wsp_plan_free(plan);
        return 2;
    }
    rc = 2;
    const char **ids = NULL;
    wsp_planrun run;
    memset(&run, 0, sizeof run);
    run.plan = plan;
    run.parallel = o.parallel;
    run.deadline_us = o.deadline_us;
    if (wsp_planrun_env(cmd, plan, env_name, &run.env) != 0) {
        wsp_planrun_junit_error(o.junit, plan_path, env_name);
        goto out;
    }
    wsp_planrun_watchdog(cmd, o.deadline_us, 30ull * 1000000ull);
    ids = plan_ids(plan);
    if (!ids || wsp_planrun_execute(&run) != 0) {
        fprintf(stderr, "wsprobe: %s: out of memory\n", cmd);
        rc = 70;
        goto out;
    }
    wsp_runreport rr;
    wsp_planrun_view(&run, plan_path, o.strict, &rr);
    rr.ids = ids;
    rc = run_reports(&o, &out, &rr);
out:
    if (run.results) {
        for (size_t i = 0; i < wsp_plan_check_count(plan); i++)
            wsp_check_result_cleanup(&run.results[i]);
        free(run.results);
    }
    free(ids);
    wsp_env_cleanup(&run.env);
    wsp_plan_free(plan);
    wsp_redact_clear();
    fflush(stdout);
    return rc;
}
