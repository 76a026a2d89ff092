/* cmd_parity.c - `wsprobe parity PLAN --env A --env B ...`: the plan's checks on several
 * environments at once, a matrix of verdicts with drift marked, an optional comparison with an
 * accepted baseline, and exit 1 on drift. */
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "util/redact.h"
#include "util/duration.h"
#include "planrun.h"
#include "report/report.h"

static const char parity_usage[] =
    "usage: wsprobe parity PLAN.yaml --env A --env B [...] [options]\n"
    "\n"
    "Run the same checks on every environment at once and compare: a matrix of check by\n"
    "environment; drift is a check that holds in one environment and fails in another.\n"
    "\n"
    "  -e, --env NAME        an environment to compare (repeat; at least two, or one with\n"
    "                        --baseline)\n"
    "      --baseline FILE   an accepted earlier report (parity or run JSON): an environment\n"
    "                        whose check held there and does not now is flagged\n"
    "      --json FILE       write the JSON report to FILE ('-': stdout, instead of the table)\n"
    "      --junit FILE      JUnit XML, one testsuite per environment\n"
    "      --parallel N      checks at once per environment (default 4)\n"
    "      --deadline DUR    the whole comparison (default 10m)\n"
    "  -q, --quiet           no table\n"
    "  -h, --help\n"
    "\n"
    "Exit: 0 when the environments agree (and none is weaker than its baseline); 1 on drift,\n"
    "on verdicts that cannot be compared (inconclusive or skipped in one environment only),\n"
    "or on a regression against the baseline; 2 for a usage or plan error.\n";

#define MAX_ENVS 16

enum { OPT_JSON = 256, OPT_JUNIT, OPT_PARALLEL, OPT_DEADLINE, OPT_BASELINE };

static const struct option parity_opts[] = {
    {"env", required_argument, NULL, 'e'},
    {"json", required_argument, NULL, OPT_JSON},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"baseline", required_argument, NULL, OPT_BASELINE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void *run_thread(void *arg)
{
    wsp_planrun *run = arg;
    if (wsp_planrun_execute(run) != 0)
        run->duration_ms = -1;
    return NULL;
}

/* What each environment was configured with, for the report (no secrets). */
static json_t *settings_json(const wsp_env *env)
{
    char url[WSP_URL_TARGET_MAX + 512];
    wsp_report_redact_url(env->url_text ? env->url_text : "", url, sizeof url);
    const wsp_env_limits *l = &env->limits;
    return json_pack("{s:s,s:o,s:b,s:{s:I,s:f,s:i,s:I,s:I}}", "url", url, "origin",
                     env->allowed_origin ? json_string(env->allowed_origin) : json_null(),
                     "credential", wsp_auth_active(&env->auth), "limits", "max_message",
                     (json_int_t)l->max_message, "rate", l->rate_per_s, "connections",
                     l->max_conns_per_client, "handshake_timeout_ms",
                     (json_int_t)(l->handshake_timeout_us / 1000), "idle_timeout_ms",
                     (json_int_t)(l->idle_timeout_us / 1000));
}

int wsp_cmd_parity(int argc, char **argv)
{
    static const char cmd[] = "parity";
    const char *envs[MAX_ENVS];
    size_t nenv = 0;
    const char *json_path = NULL, *junit_path = NULL, *baseline_path = NULL;
    int parallel = 4;
    uint64_t deadline_us = 600ull * 1000000ull;
    bool quiet = false;
    optind = 1;
    opterr = 0;
    int ch;
    wsp_cli_require_full_options("parity", argc, argv, parity_opts);
    while ((ch = getopt_long(argc, argv, ":e:qh", parity_opts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            if (nenv >= MAX_ENVS)
                return wsp_cli_usage_error(cmd, "at most %d environments", MAX_ENVS);
            for (size_t i = 0; i < nenv; i++)
                if (strcmp(envs[i], optarg) == 0)
                    return wsp_cli_usage_error(cmd, "--env %s is given twice", optarg);
            envs[nenv++] = optarg;
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case OPT_JUNIT:
            junit_path = optarg;
            break;
        case OPT_BASELINE:
            baseline_path = optarg;
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
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(parity_usage, stdout);
            return 0;
        case ':':
            return wsp_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default:
            return wsp_cli_usage_error(cmd, "unknown option '%s' (see wsprobe parity --help)",
                                       argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return wsp_cli_usage_error(cmd, "give exactly one plan file: wsprobe parity PLAN.yaml "
                                        "--env A --env B");
    if (nenv < 2 && !(nenv == 1 && baseline_path))
        return wsp_cli_usage_error(cmd, "give at least two --env (or one with --baseline)");
    json_t *baseline = NULL;
    if (baseline_path) {
        json_error_t je;
        baseline = json_load_file(baseline_path, JSON_REJECT_DUPLICATES, &je);
        if (!baseline || !json_is_object(baseline)) {
            json_decref(baseline);
            return wsp_cli_usage_error(cmd, "--baseline %s: not a JSON report (%s, line %d)",
                                       baseline_path, je.text, je.line);
        }
    }
    const char *plan_path = argv[optind];
    wsp_plan *plan = wsp_planrun_load(cmd, plan_path, deadline_us);
    if (!plan) {
        wsp_planrun_junit_error(junit_path, plan_path, NULL);
        json_decref(baseline);
        return 2;
    }
    int rc = 2;
    wsp_planrun *runs = calloc(nenv, sizeof *runs);
    wsp_runreport *views = calloc(nenv, sizeof *views);
    const char **ids = calloc(wsp_plan_check_count(plan) + 1, sizeof *ids);
    pthread_t th[MAX_ENVS];
    bool started[MAX_ENVS] = {false};
    json_t *report = NULL;
    size_t loaded = 0;
    if (!runs || !views || !ids) {
        rc = 70;
        goto out;
    }
    for (size_t i = 0; i < wsp_plan_check_count(plan); i++)
        ids[i] = wsp_plan_check_id(plan, i);
    for (; loaded < nenv; loaded++) {
        runs[loaded].plan = plan;
        runs[loaded].parallel = parallel;
        runs[loaded].deadline_us = deadline_us;
        if (wsp_planrun_env(cmd, plan, envs[loaded], &runs[loaded].env) != 0) {
            wsp_planrun_junit_error(junit_path, plan_path, envs[loaded]);
            loaded++; /* cleaned up below */
            goto out;
        }
    }
    wsp_planrun_watchdog(cmd, deadline_us, 30ull * 1000000ull);
    for (size_t i = 0; i < nenv; i++)
        started[i] = pthread_create(&th[i], NULL, run_thread, &runs[i]) == 0;
    for (size_t i = 0; i < nenv; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            run_thread(&runs[i]);
    }
    for (size_t i = 0; i < nenv; i++) {
        if (!runs[i].results || runs[i].duration_ms < 0) {
            fprintf(stderr, "wsprobe: %s: out of memory\n", cmd);
            rc = 70;
            goto out;
        }
        wsp_planrun_view(&runs[i], plan_path, false, &views[i]);
        views[i].ids = ids;
    }
    report = wsp_parity_json(views, nenv, baseline, baseline_path);
    if (!report) {
        rc = 70;
        goto out;
    }
    json_t *settings = json_object();
    for (size_t i = 0; i < nenv; i++)
        json_object_set_new(settings, envs[i], settings_json(&runs[i].env));
    json_object_set_new(report, "environment_settings", settings);
    rc = (int)json_integer_value(json_object_get(report, "exit_code"));
    bool json_stdout = json_path && strcmp(json_path, "-") == 0;
    if (!quiet && !json_stdout)
        wsp_parity_human(stdout, report, wsp_cli_color(stdout));
    if (json_path && wsp_planrun_write_json(cmd, json_path, report) != 0 && rc == 0)
        rc = 2;
    if (junit_path) {
        wsp_err e;
        wsp_err_clear(&e);
        if (wsp_runreport_junit_write(views, nenv, junit_path, &e) != 0) {
            fprintf(stderr, "wsprobe: %s: %s\n", cmd, e.msg);
            if (rc == 0)
                rc = 2;
        }
    }
out:
    json_decref(report);
    json_decref(baseline);
    for (size_t i = 0; runs && i < loaded; i++) {
        if (runs[i].results) {
            for (size_t k = 0; k < wsp_plan_check_count(plan); k++)
                wsp_check_result_cleanup(&runs[i].results[k]);
            free(runs[i].results);
        }
        wsp_env_cleanup(&runs[i].env);
    }
    free(runs);
    free(views);
    free(ids);
    wsp_plan_free(plan);
    wsp_redact_clear();
    fflush(stdout);
    return rc;
}
