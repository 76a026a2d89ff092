/* result.h - the result of one check (a verdict with evidence) and the counts of verdicts
 * across results: the values that `run`, `security` and `parity` produce (check/check.h runs the
 * checks and says which verdict a check may reach) and that their reports read
 * (report/runreport.h).
 */
#ifndef WSP_REPORT_RESULT_H
#define WSP_REPORT_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "probe/probe.h"
#include "util/error.h"

typedef enum wsp_verdict {
    WSP_VERDICT_PASS,
    WSP_VERDICT_FAIL,
    WSP_VERDICT_WARN,
    WSP_VERDICT_INCONCLUSIVE,
    WSP_VERDICT_SKIP,
    WSP_VERDICT_NOT_APPLICABLE,
} wsp_verdict;

#define WSP_VERDICT_COUNT 6

/* "pass", "fail", "warn", "inconclusive", "skip", "not_applicable" */
const char *wsp_verdict_name(wsp_verdict v);
/* -1 when unknown */
int wsp_verdict_from_name(const char *name);

typedef struct wsp_check_result {
    char id[64];
    wsp_verdict verdict;
    wsp_class cls; /* the probe class behind the verdict (OK when none) */
    char message[512];
    char hint[512];
    json_t *evidence; /* owned object: status, close_code, handshake_ms, bytes_tx, bytes_rx,
                         class, and whatever the check saw; never a secret */
    char *transcript; /* owned, redacted, or NULL */
    double duration_ms;
    bool ran; /* false when the runner never started it (deadline) */
} wsp_check_result;

void wsp_check_result_init(wsp_check_result *r, const char *id);
/* Pass the message, hint, evidence and transcript through util/redact.h (registered secrets,
 * anything shaped like a JWT). wsp_check_run_all (check/check.h) does it once for every result,
 * so a check never has to remember: a secret it handles on purpose it registers
 * (wsp_redact_register). */
void wsp_check_result_redact(wsp_check_result *r);
void wsp_check_result_cleanup(wsp_check_result *r);
/* Set verdict, class and a printf message; returns the verdict. */
wsp_verdict wsp_check_set(wsp_check_result *r, wsp_verdict v, wsp_class cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Record a probe's evidence under `key` in r->evidence (status, close_code, handshake_ms,
 * bytes_tx, bytes_rx, class, message), and add the bytes to the totals. */
void wsp_check_add_probe_evidence(wsp_check_result *r, const char *key, const wsp_probe *p);

/* Counts of verdicts across results. Every result is exactly one of: performed (it ran and sent
 * or judged something: pass, fail, warn, inconclusive), skipped, not applicable, or not started
 * (the deadline stopped it before it began; its verdict is inconclusive). counts[] counts the
 * verdicts as the results carry them (counts[INCONCLUSIVE] includes the not started). */
typedef struct wsp_check_summary {
    unsigned performed;
    unsigned not_started;
    unsigned counts[WSP_VERDICT_COUNT];
} wsp_check_summary;
void wsp_check_summarize(const wsp_check_result *results, size_t n, wsp_check_summary *out);

#endif
