/* report.h - a probe's verdict as JSON (SPEC.md "JSON report of one probe") and as the human
 * phase table. Secrets never reach either: URLs lose credentials-looking query values, and no
 * request header is reported. */
#ifndef WSP_REPORT_H
#define WSP_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "probe/probe.h"

/* ---- every command's JSON report ----
 * One writer for all: the report gets the envelope {"command": COMMAND, "schema_version": N}
 * ahead of its own members (docs/schema/COMMAND.schema.json describes each), passes through
 * the redactor (util/redact.h), and is written to `path` ("-" or NULL: stdout) with every
 * write checked. Consumes `o`. Returns 0, or -1 (errno set) when it could not be written. */
#define WSP_REPORT_SCHEMA_VERSION 1
int wsp_report_json_write(json_t *o, const char *command, const char *path);
/* The envelope alone: a new object with command and schema_version, then o's members
 * (consumes o; NULL on allocation failure). For writers that stream (audit). */
json_t *wsp_report_envelope(json_t *o, const char *command);

/* The JSON object of one probe. Returns a new reference (NULL on allocation failure). */
json_t *wsp_report_probe_json(const wsp_probe *p, const char *url_text);

/* The phases of a probe as every writer shows them (the JSON's phases and marks, the
 * exporter's wsprobe_phase_duration_seconds): resolve, connect, proxy (through one), tls,
 * upgrade, first_message, roundtrip (the first answered expectation or ping), close, total;
 * only those that happened, in that order. `at_ms` is when the phase ended, from the start. */
typedef struct wsp_report_phase {
    const char *name; /* static */
    double ms;
    double at_ms;
} wsp_report_phase;
#define WSP_REPORT_PHASES_MAX 11
/* The phase a failed probe failed in, as the JSON's failed_phase names it: the connection's
 * phase (resolve ... upgrade, "open" for a conversation that failed on the open connection,
 * close), or "done" when the connection held and the health check did not. Static. */
const char *wsp_report_failed_phase(const wsp_probe *p);
/* A connection's protocol on top (--protocol): kind, handshake, pings, what was skipped. */
json_t *wsp_report_proto_json(const wsp_proto_record *pr);
size_t wsp_report_probe_phases(const wsp_probe *p, wsp_report_phase out[WSP_REPORT_PHASES_MAX]);

/* The same object for a probe that could not start (a bad URL, an unreadable --cacert): every
 * stable key present, nothing reached, evidence.network false. */
json_t *wsp_report_error_json(const char *url_text, const wsp_err *e);

/* The human view: a table of phases with times and what was seen, then the verdict, class,
 * exit code and hint. `color` adds ANSI colors. */
void wsp_report_probe_human(FILE *f, const wsp_probe *p, const char *url_text, bool color);

/* Copy `url` into `out` with the values of query parameters that carry credentials (token,
 * access_token, jwt, auth, key, password, secret, ...) replaced by "[redacted]". */
void wsp_report_redact_url(const char *url, char *out, size_t cap);

/* Redact credentials in an HTTP head for -v: Authorization, Proxy-Authorization and Cookie
 * values keep their scheme and the first 3 characters ("Bearer eyJ…[redacted]");
 * Sec-WebSocket-Protocol entries that look like tokens, and credential query parameters in the
 * request line, likewise. Writes a NUL-terminated copy into out. */
void wsp_report_redact_head(const char *head, size_t len, char *out, size_t cap);

#endif

/* ---- several probes of one endpoint at once (--connections N) ---- */

/* The class that sums up many verdicts: OK when all are OK, else the failure class shared by
 * the most connections (ties: the higher exit code). */
wsp_class wsp_report_many_class(wsp_probe *const *ps, size_t n);

/* {"connections", "succeeded", "failed", "ok", "class", "exit_code", "by_class": {CLASS: n},
 *  "phases": {"connect_ms": {"min","median","p95","max","count"}, ...},
 *  "results": [one probe object per connection]} */
json_t *wsp_report_many_json(wsp_probe *const *ps, size_t n, const char *url_text);
/* --each-address: the overall verdict and, per address in resolution order, its own verdict,
 * phases and full probe report. */
struct wsp_probe_each;
json_t *wsp_report_each_json(const struct wsp_probe_each *e, const char *url_text);
void wsp_report_each_human(FILE *f, const struct wsp_probe_each *e, const char *url_text,
                           bool color);

/* A verdict line per connection, then the per-phase table and the summary. */
void wsp_report_many_human(FILE *f, wsp_probe *const *ps, size_t n, const char *url_text,
                           bool color);
