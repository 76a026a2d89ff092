/* planrun.h - what `run` and `parity` share (implemented in cmd_run.c): loading a plan with the
 * security suite wired in, building environments, running their checks under an overall
 * deadline with a watchdog, and writing reports. */
#ifndef WSP_CLI_PLANRUN_H
#define WSP_CLI_PLANRUN_H

#include <stdbool.h>
#include <stdint.h>

#include "args.h"
#include "check/check.h"
#include "check/plan.h"
#include "report/runreport.h"

#define WSP_PLANRUN_MAX_ENVS 16

/* The options run and parity share (their tables: wsp_planrun_tables), as parsed. */
typedef struct wsp_planrun_opts {
    const char *cmd;
    bool many_envs; /* parity: --env repeats */
    const char *envs[WSP_PLANRUN_MAX_ENVS];
    size_t nenv;
    const char *junit, *baseline;
    int parallel;
    uint64_t deadline_us;
    bool strict, quiet;
} wsp_planrun_opts;

/* Parse run's (parity: parity's) command line (cli/args.h: --json, --json=FILE, the old
 * --json FILE) into o and out. Returns -1 to go on, else the exit code (0 after --help). */
int wsp_planrun_parse(const char *cmd, const char *usage, const char *after, bool parity, int argc,
                      char **argv, wsp_planrun_opts *o, wsp_cli_out *out);

/* Load the plan (security entries resolved through the suite when it is linked in). Prints the
 * located error and returns NULL on failure (exit 2). */
wsp_plan *wsp_planrun_load(const char *cmd, const char *path, uint64_t deadline_us);

/* Build environment `name`; prints the located error and returns -1 on failure (exit 2).
 * Registers the environment's ready token as a secret for the reports. */
int wsp_planrun_env(const char *cmd, wsp_plan *plan, const char *name, wsp_env *env);

/* With --junit, a plan that could not be loaded still leaves a report for CI: one testsuite
 * with one testcase "plan" whose <error type="USAGE"> carries the last located error printed
 * by wsp_planrun_load or wsp_planrun_env. Does nothing when path is NULL. */
void wsp_planrun_junit_error(const char *path, const char *plan_file, const char *env_name);

/* One environment's run: results for every check of the plan. */
typedef struct wsp_planrun {
    wsp_env env;
    wsp_check_result *results;
    double duration_ms;
    int parallel;
    uint64_t deadline_us;
    wsp_plan *plan;
} wsp_planrun;

/* Run the plan's checks on run->env (blocking). Returns 0 or -1 (out of memory). */
int wsp_planrun_execute(wsp_planrun *run);

/* A watchdog: if the process is still running `grace_us` after `deadline_us`, print why and
 * exit(1) so that a hostile endpoint can never hang a pipeline. */
void wsp_planrun_watchdog(const char *cmd, uint64_t deadline_us, uint64_t grace_us);

/* Fill a report view of `run`. */
void wsp_planrun_view(const wsp_planrun *run, const char *plan_file, bool strict,
                      wsp_runreport *out);

#endif
