/* runreport.h - the reports of a plan run (`wsprobe run`) and of a parity comparison
 * (`wsprobe parity`): the human table, JSON, and JUnit XML for CI.
 *
 * JUnit: <testsuites> > one <testsuite name tests failures errors skipped time> per environment
 * > one <testcase name classname time> per check, with <properties> carrying the evidence
 * (verdict, class, status, close_code, handshake_ms, bytes_tx, bytes_rx), <failure message type>
 * (type = the class; the text has the hint) for fail, <error> for inconclusive (the check could
 * not decide), <skipped message> for skip and not_applicable, and <system-out> with the redacted
 * transcript. tests/e2e/junit.xsd is the schema it is tested against.
 *
 * Exit status (docs/plans.md): a check that fails or is inconclusive fails the run (exit 1):
 * an unproven property is not green. warn, skip and not_applicable do not, unless strict.
 *
 * Secrets: every string these reports write passes through util/redact.h (the registered
 * secrets, anything shaped like a JWT); URLs lose credential query values (report.h).
 */
#ifndef WSP_RUNREPORT_H
#define WSP_RUNREPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "report/result.h"
#include "util/error.h"

/* One environment's results. All borrowed. */
typedef struct wsp_runreport {
    const char *plan_file;
    const char *env_name;
    const char *url_text;      /* redacted when written */
    const char *const *groups; /* each check's group ("basic", "auth", ...), or NULL: "basic" */
    const char *const *ids;    /* the plan's unique ids (results[i].id may be the definition's) */
    const wsp_check_result *results;
    size_t n;
    double duration_ms;
    bool strict;
} wsp_runreport;

/* Whether a verdict fails the run. */
bool wsp_runreport_verdict_fails(wsp_verdict v, bool strict);
/* 0 when no verdict fails, else 1. */
int wsp_runreport_exit_code(const wsp_check_result *results, size_t n, bool strict);

/* {"plan", "environment", "url", "ok", "exit_code", "duration_ms",
 *  "summary": {"checks","performed","not_started","passed","failed","warned","inconclusive",
 *              "skipped","not_applicable"} (result.h: performed + skipped + not_applicable +
 *              not_started == checks; the verdict counts include the not started),
 *  "checks": [{"id","group","verdict","class","message","hint","duration_ms","ran",
 *              "evidence", "transcript"}]}. New reference, NULL on OOM. */
json_t *wsp_runreport_json(const wsp_runreport *rr);

/* The table: one line per check (verdict, id, time, message), then hints of failures and the
 * summary line. */
void wsp_runreport_human(FILE *f, const wsp_runreport *rr, bool color);

/* "28 checks: 22 performed (20 passed, 1 failed, 1 warned, 0 inconclusive), 6 not applicable,
 * 0 skipped[, 2 not started (...)]" without a newline: the counts of wsp_check_summarize, with
 * "inconclusive" counting only the checks that ran. */
void wsp_runreport_summary_line(FILE *f, const wsp_check_result *results, size_t n);

/* Write JUnit XML for one or more environments to path. Returns 0 or -1 with err. */
int wsp_runreport_junit_write(const wsp_runreport *runs, size_t nruns, const char *path,
                              wsp_err *err);

/* ---- parity ---- */

/* A check's normalised evidence for comparison (SECURITY-CHECKS.md "Parity"): the verdict and
 * the evidence without volatile fields (times, byte counts, messages, dates, Accept values,
 * serials, ids). New reference. */
json_t *wsp_parity_normalize(const wsp_check_result *r);

/* The parity report of runs[0..nruns) (the same checks, in the same order, per environment):
 * {"plan", "environments": [names], "ok", "exit_code",
 *  "matrix": [{"id", "verdicts": {env: verdict}, "status": "same"|"drift"|"unproven",
 *              "evidence_differs": bool, "differences": [keys]}],
 *  "results": {env: {id: {"verdict", "class", "message", "evidence": normalised}}},
 *  "summaries": {env: the summary of wsp_runreport_json},
 *  "environment_settings": {env: {...}} (added by the caller),
 *  "baseline": {"file", "regressions": [{"environment","id","was","now"}]}}
 * `baseline` is an earlier parity JSON (or a run JSON) or NULL. drift: a check that holds (pass
 * or warn) in one environment and fails in another; unproven: verdicts that differ otherwise
 * (inconclusive, skip); a regression: an environment whose check held in the baseline and does
 * not now. exit_code is 1 on any drift, unproven row or regression. */
json_t *wsp_parity_json(const wsp_runreport *runs, size_t nruns, const json_t *baseline,
                        const char *baseline_file);

/* The matrix as a table, drift marked. */
void wsp_parity_human(FILE *f, const json_t *parity, bool color);

#endif
