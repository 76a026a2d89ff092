/* loadresult.h - the result of `wsprobe load`: a run's figures, or several runs merged
 * (`wsprobe load-merge`), with the exact histograms; its JSON report (read back for merging and
 * for --baseline) and its human summary. load/load.h runs the load that fills it and judges it
 * (thresholds, baseline comparison). */
#ifndef WSP_REPORT_LOADRESULT_H
#define WSP_REPORT_LOADRESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "util/error.h"
#include "util/hist.h"

#define WSP_LOAD_CLOSE_CODES 5000 /* close codes 0..4999 are counted */
#define WSP_LOAD_HTTP_STATUSES 600

/* One second of the run (seconds since the start, the warm-up included). */
typedef struct wsp_load_second {
    uint64_t open;                   /* connections open at the end of the second */
    uint64_t opened;                 /* connections that opened during it */
    uint64_t sent;                   /* messages sent */
    uint64_t matched;                /* replies matched */
    uint64_t errors;                 /* failures counted */
    uint64_t p50_ns, p99_ns, max_ns; /* corrected latency of the replies matched in it */
    uint64_t u_p50_ns, u_p99_ns;     /* the same uncorrected (from the actual send) */
} wsp_load_second;

/* The phases timed per connection (hist per phase). */
typedef enum wsp_load_phase {
    WSP_LOAD_PH_RESOLVE,
    WSP_LOAD_PH_CONNECT,
    WSP_LOAD_PH_TLS,
    WSP_LOAD_PH_UPGRADE,
    WSP_LOAD_PH_HANDSHAKE, /* start to open: the three above and the upgrade together */
    WSP_LOAD_PH_COUNT,
} wsp_load_phase;

const char *wsp_load_phase_name(wsp_load_phase p);

/* A run's figures, or several runs merged. Large (histograms): allocate with _new. */
typedef struct wsp_load_result {
    /* what was asked */
    char url[1024]; /* redacted */
    size_t target_connections;
    double rate, connect_rate;
    double duration_s, warmup_s;
    unsigned threads, pipeline;
    uint64_t timer_slack_us; /* the send window used; 0: each send at its own time */
    bool timer_slack_auto;   /* chosen by default from the rate, not by --timer-slack */
    char match[8];
    unsigned agents; /* runs merged into this one (1 for a run) */
    /* what happened */
    double elapsed_s;        /* wall time of the run, the warm-up and the drain included */
    double measured_s;       /* time in which messages were measured (the duration, or less) */
    bool interrupted;        /* SIGINT */
    double client_cpu_s;     /* CPU time of the load generator itself (user + system) */
    uint64_t client_rss_kib; /* its peak resident memory */
    /* memory per connection: the RSS before the run and in the middle of the measured window,
     * with the connections open then (0, 0, 0: not sampled: the run ended before). Merged:
     * sums over the agents. */
    uint64_t rss_base_kib, rss_measured_kib, rss_measured_open;
    uint64_t conn_attempted, conn_opened, conn_failed, conn_peak_open;
    uint64_t conn_unfinished; /* still in their handshake when the run ended */
    uint64_t msg_sent, msg_matched, msg_mismatched, msg_timeout, msg_lost, msg_unsent;
    uint64_t msg_unexpected; /* messages that arrived with nothing in flight (not errors) */
    uint64_t by_class[WSP_CLASS_COUNT];
    uint64_t close_codes[WSP_LOAD_CLOSE_CODES];   /* closes initiated by the server */
    uint64_t http_status[WSP_LOAD_HTTP_STATUSES]; /* refused upgrades */
    char first_error[WSP_CLASS_COUNT][160];       /* one message per class, redacted */
    wsp_hist latency;                             /* corrected: from the intended send time */
    wsp_hist latency_uncorrected;                 /* from the actual send time */
    /* how late each measured message left: its actual send time less its intended one (the
     * client's own delay, which the corrected latency includes and a server does not cause) */
    wsp_hist send_lateness;
    wsp_hist phase[WSP_LOAD_PH_COUNT];
    /* --ping-interval: pings on every open connection, their pongs timed apart from messages
     * (measured ones: sent in the measured time) */
    double ping_interval_s; /* 0: no pings */
    uint64_t ping_sent, ping_answered, ping_timeout, ping_unfinished;
    wsp_hist pong;
    wsp_load_second *series; /* owned */
    size_t nseries;
    bool series_merged; /* percentiles of the series are the maximum over agents */
} wsp_load_result;

wsp_load_result *wsp_load_result_new(void);
void wsp_load_result_free(wsp_load_result *r);
/* Whether the client's own send lateness (p99) is over 10 % of the median corrected latency:
 * then the client, not the server, adds latency. */
bool wsp_load_result_client_late(const wsp_load_result *r);
/* Resident memory per open connection in the measured window, bytes; NAN when not sampled. */
double wsp_load_result_bytes_per_conn(const wsp_load_result *r);
/* Connections of the target that never opened and did not fail: never attempted (the ramp did
 * not reach them) or still in their handshake at the end. */
uint64_t wsp_load_result_not_opened(const wsp_load_result *r);
/* Errors: failed connections and failed messages (timeouts, mismatches, lost in flight). */
uint64_t wsp_load_result_errors(const wsp_load_result *r);
/* Error rates are per kind, each over its own denominator (never one rate over connections and
 * messages together): connections failed or never opened / connections asked for (or
 * attempted, when more); failed messages (timed out,
 * mismatched, lost with their connection) / messages sent. 0 when nothing was attempted. */
uint64_t wsp_load_result_msg_errors(const wsp_load_result *r);
/* Connections that failed or never opened (the connections gate's and thresholds' count; the
 * rate is over the connections asked for, or attempted when more). */
uint64_t wsp_load_result_conn_errors(const wsp_load_result *r);
double wsp_load_result_conn_error_rate(const wsp_load_result *r);
double wsp_load_result_msg_error_rate(const wsp_load_result *r);
/* Matched replies per measured second. */
double wsp_load_result_matched_rate(const wsp_load_result *r);

/* The JSON report: figures, the exact histograms (for load-merge and --baseline), the series.
 * New reference; strings are redacted by the caller (wsp_redact_json). */
json_t *wsp_load_result_to_json(const wsp_load_result *r);
/* Read a report written by to_json (its figures and histograms) into `r` (from _new). Returns 0
 * or -1 with err (USAGE) naming what is missing. */
int wsp_load_result_from_json(wsp_load_result *r, const json_t *j, wsp_err *err);
/* Add `src` into `dst`: counters and histograms add (percentiles stay exact), the series is
 * summed by second (its percentiles become the maximum over the agents). Returns 0 or -1 when
 * out of memory. */
int wsp_load_result_merge(wsp_load_result *dst, const wsp_load_result *src);

/* The human summary. */
void wsp_load_result_human(FILE *f, const wsp_load_result *r, bool color);

/* A latency in ns for people: "850ns", "12.5us", "3.21ms", "1.5s"; NAN: "no samples". */
void wsp_load_format_ns(double ns, char *buf, size_t cap);

#endif
