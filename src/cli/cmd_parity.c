/* cmd_parity.c - `wsprobe parity PLAN --env A --env B ...`: the plan's checks on several
 * environments at once, a matrix of verdicts with drift marked, an optional comparison with an
 * accepted baseline, and exit 1 on drift. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "util/redact.h"
#include "planrun.h"
#include "report/report.h"

static const char parity_usage[] =
    "usage: wsprobe parity PLAN.yaml --env A --env B [...] [options]\n"
    "\n"
    "Run the same checks on every environment at once and compare: a matrix of check by\n"
    "environment; drift is a check that holds in one environment and fails in another.\n"
    "\n";

static const char parity_after[] =
    "\n"
    "Exit: 0 when the environments agree (and none is weaker than its baseline); 1 on drift,\n"
    "on verdicts that cannot be compared (inconclusive or skipped in one environment only),\n"
    "or on a regression against the baseline; 2 for a usage or plan error.\n";

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

static json_t *load_baseline(const char *cmd, const char *path)
{
    json_error_t je;
    json_t *b = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!b || !json_is_object(b)) {
        json_decref(b);
        wsp_cli_usage_error(cmd, "--baseline %s: not a JSON report (%s, line %d)", path, je.text,
                            je.line);
        return NULL;
    }
    return b;
}

/* Run every environment at once, one thread each. */
static void run_all(wsp_planrun *runs, size_t nenv)
{
    pthread_t th[WSP_PLANRUN_MAX_ENVS];
    bool started[WSP_PLANRUN_MAX_ENVS] = {false};
    for (size_t i = 0; i < nenv; i++)
        started[i] = pthread_create(&th[i], NULL, run_thread, &runs[i]) == 0;
    for (size_t i = 0; i < nenv; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            run_thread(&runs[i]);
    }
}

/* The table, JSON and JUnit of a finished comparison (report consumed). Returns the exit
 * code. */
static int parity_reports(const wsp_planrun_opts *o, const wsp_cli_out *out, json_t *report,
                          const wsp_runreport *views)
{
    int rc = (int)json_integer_value(json_object_get(report, "exit_code"));
    if (!o->quiet && wsp_cli_human(out))
        wsp_parity_human(stdout, report, wsp_cli_color(stdout));
    if ((out->json || out->html_file) && wsp_cli_report(o->cmd, json_incref(report), out) != 0)
        rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED); /* the evidence is lost: this wins */
    json_decref(report);
    if (o->junit) {
        wsp_err e;
        wsp_err_clear(&e);
        if (wsp_runreport_junit_write(views, o->nenv, o->junit, &e) != 0) {
            fprintf(stderr, "wsprobe: %s: OUTPUT_FAILED: %s\n", o->cmd, e.msg);
            rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
        }
    }
    return rc;
}

int wsp_cmd_parity(int argc, char **argv)
{
    static const char cmd[] = "parity";
    wsp_planrun_opts o;
    wsp_cli_out out;
    int prc = wsp_planrun_parse(cmd, parity_usage, parity_after, true, argc, argv, &o, &out);
    if (prc >= 0)
        return prc;
    const char *const *envs = o.envs;
    size_t nenv = o.nenv;
    if (out.noperands != 1)
        return wsp_cli_usage_error(cmd, "give exactly one plan file: wsprobe parity PLAN.yaml "
                                        "--env A --env B");
    if (nenv < 2 && !(nenv == 1 && o.baseline))
        return wsp_cli_usage_error(cmd, "give at least two --env (or one with --baseline)");
    json_t *baseline = NULL;
    if (o.baseline && !(baseline = load_baseline(cmd, o.baseline)))
        return 2;
    const char *plan_path = out.operands[0];
    wsp_plan *plan = wsp_planrun_load(cmd, plan_path, o.deadline_us);
    if (!plan) {
        wsp_planrun_junit_error(o.junit, plan_path, NULL);
        json_decref(baseline);
        return 2;
    }
    int rc = 2;
    wsp_planrun *runs = calloc(nenv, sizeof *runs);
    wsp_runreport *views = calloc(nenv, sizeof *views);
    const char **ids = calloc(wsp_plan_check_count(plan) + 1, sizeof *ids);
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
        runs[loaded].parallel = o.parallel;
        runs[loaded].deadline_us = o.deadline_us;
        if (wsp_planrun_env(cmd, plan, envs[loaded], &runs[loaded].env) != 0) {
            wsp_planrun_junit_error(o.junit, plan_path, envs[loaded]);
            loaded++; /* cleaned up below */
            goto out;
        }
    }
    wsp_planrun_watchdog(cmd, o.deadline_us, 30ull * 1000000ull);
    run_all(runs, nenv);
    for (size_t i = 0; i < nenv; i++) {
        if (!runs[i].results || runs[i].duration_ms < 0) {
            fprintf(stderr, "wsprobe: %s: out of memory\n", cmd);
            rc = 70;
            goto out;
        }
        wsp_planrun_view(&runs[i], plan_path, false, &views[i]);
        views[i].ids = ids;
    }
    report = wsp_parity_json(views, nenv, baseline, o.baseline);
    if (!report) {
        rc = 70;
        goto out;
    }
    json_t *settings = json_object();
    for (size_t i = 0; i < nenv; i++)
        json_object_set_new(settings, envs[i], settings_json(&runs[i].env));
    json_object_set_new(report, "environment_settings", settings);
    rc = parity_reports(&o, &out, report, views);
    report = NULL;
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
