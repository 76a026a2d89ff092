/* exporter.h - `wsprobe exporter`: continuous WebSocket monitoring for Prometheus
 * (docs/exporter.md). One libuv loop serves HTTP and runs the probes:
 *
 *   GET  /probe?target=URL&module=NAME  one probe with the module's settings, answered in the
 *                                       text exposition format (OpenMetrics when Accept asks),
 *                                       within X-Prometheus-Scrape-Timeout-Seconds minus a margin
 *   GET  /metrics                       the exporter's own metrics
 *   GET  /-/healthy, /-/ready           200 while it serves
 *   POST /-/reload, SIGHUP              read the configuration again; a bad one keeps the old
 *
 * Safe to expose: a target must match its module's allowed_targets (codec/target.h) unless
 * allow_any_target; probes at once are capped (503 past it); request heads are capped in size
 * and time; bodies are refused; secrets never reach a metric, a log line or an error page.
 *
 * A module is a plan's environment without its url (check/plan.h), and its conversation is
 * built by the plan's conversation check (check/plancheck.h): one vocabulary, one builder. That
 * is why this feature sits above check (docs/architecture.md). */
#ifndef WSP_EXPORTER_H
#define WSP_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "exporter/webconfig.h"
#include "util/error.h"

#define WSP_EXPORTER_DEFAULT_LISTEN "127.0.0.1:9725"
#define WSP_EXPORTER_DEFAULT_MAX_CONCURRENT 64
#define WSP_EXPORTER_MAX_CLIENTS 1024
#define WSP_EXPORTER_HEAD_MAX 16384           /* a request head larger than this: 431 */
#define WSP_EXPORTER_HEAD_TIMEOUT_MS 10000    /* a request head must arrive within this */
#define WSP_EXPORTER_IDLE_TIMEOUT_MS 300000   /* a kept-alive connection without a request */
#define WSP_EXPORTER_TIMEOUT_OFFSET_US 500000 /* taken off Prometheus's scrape timeout */

typedef struct wsp_exporter_config {
    const char *config_path;
    char host[64]; /* an IPv4 or IPv6 literal */
    unsigned port; /* 0: the kernel picks (said on stderr and in port_file) */
    const char *port_file;
    bool allow_any_target;
    unsigned max_concurrent; /* also sizes libuv's worker threads (each_address, bcrypt, reloads) */
    const char *web_config_path; /* NULL: plain HTTP, no authentication */
} wsp_exporter_config;

/* Serve until SIGTERM or SIGINT, then let the probes in flight end and return 0. A bad
 * configuration, web configuration or listen address at start returns 2 with err filled (the
 * exporter never starts half-configured). */
int wsp_exporter_run(const wsp_exporter_config *cfg, wsp_err *err);

#endif
