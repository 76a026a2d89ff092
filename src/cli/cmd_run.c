/* cmd_run.c - `wsprobe run PLAN --env NAME`: a verification plan's checks on one environment,
 * with human, JSON and JUnit reports. Also the helpers `parity` shares (planrun.h). */
#include <errno.h>
#include <getopt.h>
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
#include "util/redact.h"
#include "util/duration.h"
#include "planrun.h"
#include "check/security/security.h"

static const char run_usage[] =
    "usage: wsprobe run PLAN.yaml --env NAME [options]\n"
    "\n"
    "Run a verification plan's checks (connect, health, conversation, concurrent,\n"
    "expect_auth_required, security) against one environment, independent checks at once.\n"
    "\n"
    "  -e, --env NAME        the environment of the plan to check (required)\n"
    "      --json FILE       write the JSON report to FILE ('-': stdout, instead of the table)\n"
    "      --junit FILE      write JUnit XML (one testcase per check, evidence as properties)\n"
    "      --parallel N      checks running at once (default 4, at most 64)\n"
    "      --deadline DUR    the whole run (default 10m); checks not started by then are\n"
    "                        inconclusive, and every probe is capped at it\n"
    "      --strict          warn and skip fail the run too\n"
    "  -q, --quiet           no table; only failures on stderr\n"
    "  -h, --help\n"
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
    wsp_plan_set_deadline_cap(plan, deadline_us);
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
    if (env->auth.token)
        wsp_redact_register(env->auth.token, strlen(env->auth.token));
    const char *vars[4];
    size_t nv = wsp_plan_env_secret_vars(plan, name, vars, 4);
    for (size_t i = 0; i < nv; i++) {
        const char *v = getenv(vars[i]);
        if (v)
            wsp_redact_register(v, strlen(v));
    }
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

int wsp_planrun_write_json(const char *cmd, const char *path, const json_t *o)
{
    if (!o) {
        fprintf(stderr, "wsprobe: %s: out of memory for the JSON report\n", cmd);
        return -1;
    }
    if (wsp_report_json_write(json_incref((json_t *)(uintptr_t)o), cmd, path) != 0) {
        char eb[128];
        strerror_r(errno, eb, sizeof eb);
        fprintf(stderr, "wsprobe: %s: --json %s: cannot write the report: %s\n", cmd, path, eb);
        return -1;
    }
    return 0;
}

int wsp_planrun_parallel(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 64)
        return -1;
    *out = (int)v;
    return 0;
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

enum { OPT_JSON = 256, OPT_JUNIT, OPT_PARALLEL, OPT_DEADLINE, OPT_STRICT };

static const struct option run_opts[] = {
    {"env", required_argument, NULL, 'e'},
    {"json", required_argument, NULL, OPT_JSON},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int wsp_cmd_run(int argc, char **argv)
{
    static const char cmd[] = "run";
    const char *env_name = NULL, *json_path = NULL, *junit_path = NULL;
    int parallel = 4;
    uint64_t deadline_us = DEFAULT_DEADLINE_US;
    bool strict = false, quiet = false;
    optind = 1;
    opterr = 0;
    int ch;
    wsp_cli_require_full_options("run", argc, argv, run_opts);
    while ((ch = getopt_long(argc, argv, ":e:qh", run_opts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            if (env_name)
                return wsp_cli_usage_error(cmd, "--env is given twice (parity compares "
                                                "environments: wsprobe parity)");
            env_name = optarg;
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case OPT_JUNIT:
            junit_path = optarg;
            break;
        case OPT_PARALLEL:
            if (wsp_planrun_parallel(optarg, &parallel) != 0)
                return wsp_cli_usage_error(cmd, "--parallel '%s': expected 1 to 64", optarg);
            break;
        case OPT_DEADLINE:
            if (wsp_duration_parse(optarg, &deadline_us) != 0 || deadline_us == 0)
                return wsp_cli_usage_error(cmd, "--deadline '%s': expected a duration like 30s, 5m",
                                           optarg);
            break;
        case OPT_STRICT:
            strict = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return 0;
        case ':':
            return wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default:
            return wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe run --help)",
                                       argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return wsp_cli_usage_error(cmd, optind >= argc ? "give the plan file: wsprobe run "
                                                         "PLAN.yaml --env NAME"
                                                       : "give exactly one plan file");
    const char *plan_path = argv[optind];
    wsp_plan *plan = wsp_planrun_load(cmd, plan_path, deadline_us);
    if (!plan) {
        wsp_planrun_junit_error(junit_path, plan_path, env_name);
        return 2;
    }
    if (!env_name) {
        fprintf(stderr, "wsprobe: %s: --env NAME is required; the plan defines:", cmd);
        for (size_t i = 0; i < wsp_plan_env_count(plan); i++)
            fprintf(stderr, " %s", wsp_plan_env_name(plan, i));
        fputc('\n', stderr);
        wsp_plan_free(plan);
        return 2;
    }
    int rc = 2;
    const char **ids = NULL;
    wsp_planrun run;
    memset(&run, 0, sizeof run);
    run.plan = plan;
    run.parallel = parallel;
    run.deadline_us = deadline_us;
    if (wsp_planrun_env(cmd, plan, env_name, &run.env) != 0) {
        wsp_planrun_junit_error(junit_path, plan_path, env_name);
        goto out;
    }
    wsp_planrun_watchdog(cmd, deadline_us, 30ull * 1000000ull);
    ids = plan_ids(plan);
    if (!ids || wsp_planrun_execute(&run) != 0) {
        fprintf(stderr, "wsprobe: %s: out of memory\n", cmd);
        rc = 70;
        goto out;
    }
    wsp_runreport rr;
    wsp_planrun_view(&run, plan_path, strict, &rr);
    rr.ids = ids;
    rc = wsp_runreport_exit_code(run.results, rr.n, strict);
    bool json_stdout = json_path && strcmp(json_path, "-") == 0;
    if (!quiet && !json_stdout)
        wsp_runreport_human(stdout, &rr, wsp_cli_color(stdout));
    else if (rc != 0)
        wsp_runreport_human(stderr, &rr, false);
    if (json_path) {
        json_t *j = wsp_runreport_json(&rr);
        if (wsp_planrun_write_json(cmd, json_path, j) != 0 && rc == 0)
            rc = 2;
        json_decref(j);
    }
    if (junit_path) {
        wsp_err e;
        wsp_err_clear(&e);
        if (wsp_runreport_junit_write(&rr, 1, junit_path, &e) != 0) {
            fprintf(stderr, "wsprobe: %s: %s\n", cmd, e.msg);
            if (rc == 0)
                rc = 2;
        }
    }
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
