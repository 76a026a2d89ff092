/* holdreport.h - the writers of a hold (probe/hold.h), for `wsprobe hold` and the plan check
 * `hold`: the JSON (docs/schema/hold.schema.json), the human view with its timeline, and JUnit
 * XML (a testcase per strategy, per address with --each-address, per gate and threshold). Every
 * writer redacts: a URL's credentials and registered secrets never reach a report. */
#ifndef WSP_REPORT_HOLDREPORT_H
#define WSP_REPORT_HOLDREPORT_H

#include <stdio.h>

#include <jansson.h>

#include "probe/hold.h"

/* The report object (new reference; NULL when out of memory). url as given. */
json_t *wsp_hold_report_json(const wsp_hold_config *c, const wsp_hold_result *r,
                             const wsp_hold_verdict *v, const char *url);
void wsp_hold_report_human(FILE *f, const wsp_hold_config *c, const wsp_hold_result *r,
                           const wsp_hold_verdict *v, const char *url);
/* The verdict in parts, as JUnit testcases read it: [{name, kind, ok, failure, detail}], one
 * per strategy, gate that applies and threshold (each address's with --each-address, named
 * "silent@127.0.0.2", then the thresholds across every address). New reference. */
json_t *wsp_hold_report_cases(const wsp_hold_config *c, const wsp_hold_result *r,
                              const wsp_hold_verdict *v);
/* 0, or -1 when the file could not be written. */
int wsp_hold_report_junit(const char *path, const wsp_hold_config *c, const wsp_hold_result *r,
                          const wsp_hold_verdict *v, const char *url);

#endif
