/* load.h - `wsprobe load`: many connections and an open-model message schedule on the probe's
 * engine (conn.h), one libuv loop per thread, with honest latency figures.
 *
 * Model. N connections are opened (at --connect-rate per second, or as fast as a bounded number
 * of handshakes in progress allows). Each open connection follows its own send schedule: message
 * k is intended at t0 + k * N / rate, so the total is `rate` messages per second once every
 * connection is open. At most `pipeline` messages are in flight on a connection; a message whose
 * time has come while the window is full waits, and keeps its intended time. Each reply is
 * matched to the message it answers (echo: the same bytes; JSON: the value at a pointer, with
 * {{sent./pointer}} correlation; text: an expected text; any: the next message) and timed twice:
 * from the intended send time (corrected for coordinated omission: a stall that delays sends is
 * charged to every message it delayed) and from the actual send time.
 *
 * Figures. Every latency is a wsp_hist (hist.h), per thread, merged exactly at the end; the
 * result serialises to JSON with the exact histograms, so runs from several agents merge into
 * exact combined percentiles (wsp_load_result_merge). Failures are counted by class (error.h)
 * with close codes and HTTP statuses; a per-second series follows the run.
 *
 * Thresholds ("p99<50ms", "errors<0.1%", "connect_p95<20ms") and a baseline comparison judge a
 * result; both are pure and unit-tested. */
#ifndef WSP_LOAD_H
#define WSP_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <jansson.h>

#include "probe/auth.h"
#include "net/conn.h"
#include "util/error.h"
#include "util/hist.h"

#define WSP_LOAD_MAX_SOURCES 64
#define WSP_LOAD_MAX_THREADS 64
#define WSP_LOAD_MAX_PIPELINE 1024
#define WSP_LOAD_MAX_CONNECTIONS 1000000
#define WSP_LOAD_MAX_THRESHOLDS 32
#define WSP_LOAD_CLOSE_CODES 5000 /* close codes 0..4999 are counted */
#define WSP_LOAD_HTTP_STATUSES 600

/* How a reply is matched to the message it answers. */
typedef enum wsp_load_match {
    WSP_LOAD_MATCH_ANY,  /* the next message answers the oldest one in flight */
    WSP_LOAD_MATCH_ECHO, /* the reply equals what was sent */
    WSP_LOAD_MATCH_JSON, /* the JSON value at `expect_pointer` equals `expect_value` (template) */
    WSP_LOAD_MATCH_TEXT, /* the reply equals `expect_text` (template) */
} wsp_load_match;

/* Once a second on the calling thread of wsp_load_run, while it runs (the live line). */
typedef struct wsp_load_tick {
    double elapsed_s;
    uint64_t open;           /* connections open now */
    uint64_t opened, failed; /* so far */
    double sent_per_s, matched_per_s;
    uint64_t p50_ns, p99_ns; /* corrected, over the last second */
    uint64_t errors;         /* so far */
    bool warmup;
} wsp_load_tick;

/* What to run. Everything is borrowed for the duration of wsp_load_run. */
typedef struct wsp_load_config {
    const wsp_conn_opts *conn; /* url, TLS context, timeouts, headers, limits, pins */
    const wsp_auth *auth;      /* NULL or inactive: no credentials; else a token per connection */
    const char *url_text;      /* for reports (redacted there) */
    size_t connections;        /* 1..WSP_LOAD_MAX_CONNECTIONS */
    double connect_rate;       /* new connections per second in total; 0: as fast as allowed */
    double rate;               /* messages per second in total; 0: connections only (idle) */
    uint64_t duration_us;      /* measured time, after the warm-up */
    uint64_t warmup_us;        /* sent and matched, not measured */
    unsigned threads;          /* 1..WSP_LOAD_MAX_THREADS */
    unsigned pipeline;         /* messages in flight per connection, 1..WSP_LOAD_MAX_PIPELINE */
    const char *message;       /* template (template.h); required when rate > 0 */
    size_t message_len;
    wsp_load_match match;
    bool strict_order;          /* ECHO, TEXT: a reply that matches nothing in flight is a mismatch
                                 * (default: unrelated, skipped and counted as unexpected) */
    const char *expect_pointer; /* JSON */
    const char *expect_value;   /* JSON: template, may use {{sent./pointer}} */
    const char *expect_text;    /* TEXT: template */
    const struct sockaddr_storage *sources; /* --source-ip addresses (port 0), or NULL */
    size_t num_sources;
    uint64_t reply_timeout_us; /* a reply later than this is a WS_MSG_TIMEOUT; 0: conn timeout */
    uint64_t drain_us;         /* wait for replies in flight at the end; 0: 2 s */
    /* wake-ups for sends fall on a grid of this step (0: at each send's time, to the
     * nanosecond); a coarser grid costs less CPU per message and sends up to one step late,
     * which the corrected latency shows */
    uint64_t timer_slack_us;
    bool handle_sigint; /* SIGINT ends the run early with a partial result */
    void (*on_tick)(const wsp_load_tick *t, void *ud);
    void *tick_ud;
} wsp_load_config;

/* Defaults: 1 connection, no rate, 10 s, 1 thread, pipeline 1, echo off (ANY). */
void wsp_load_config_init(wsp_load_config *cfg);

/* One second of the run (seconds since the start, the warm-up included). */
typedef struct wsp_load_second {
    uint64_t open;                   /* connections open at the end of the second */
    uint64_t opened;                 /* connections that opened during it */
    uint64_t sent;                   /* messages sent */
    uint64_t matched;                /* replies matched */
    uint64_t errors;                 /* failures counted */
    uint64_t p50_ns, p99_ns, max_ns; /* corrected latency of the replies matched in it */
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
    char match[8];
    unsigned agents; /* runs merged into this one (1 for a run) */
    /* what happened */
    double elapsed_s;        /* wall time of the run, the warm-up and the drain included */
    double measured_s;       /* time in which messages were measured (the duration, or less) */
    bool interrupted;        /* SIGINT */
    double client_cpu_s;     /* CPU time of the load generator itself (user + system) */
    uint64_t client_rss_kib; /* its peak resident memory */
    uint64_t conn_attempted, conn_opened, conn_failed, conn_peak_open;
    uint64_t msg_sent, msg_matched, msg_mismatched, msg_timeout, msg_lost, msg_unsent;
    uint64_t msg_unexpected; /* messages that arrived with nothing in flight (not errors) */
    uint64_t by_class[WSP_CLASS_COUNT];
    uint64_t close_codes[WSP_LOAD_CLOSE_CODES];   /* closes initiated by the server */
    uint64_t http_status[WSP_LOAD_HTTP_STATUSES]; /* refused upgrades */
    char first_error[WSP_CLASS_COUNT][160];       /* one message per class, redacted */
    wsp_hist latency;                             /* corrected: from the intended send time */
    wsp_hist latency_uncorrected;                 /* from the actual send time */
    wsp_hist phase[WSP_LOAD_PH_COUNT];
    wsp_load_second *series; /* owned */
    size_t nseries;
    bool series_merged; /* percentiles of the series are the maximum over agents */
} wsp_load_result;

wsp_load_result *wsp_load_result_new(void);
void wsp_load_result_free(wsp_load_result *r);
/* Errors: failed connections and failed messages (timeouts, mismatches, lost in flight). */
uint64_t wsp_load_result_errors(const wsp_load_result *r);
/* errors / (connections attempted + messages sent); 0 when nothing was attempted. */
double wsp_load_result_error_rate(const wsp_load_result *r);
/* Matched replies per measured second. */
double wsp_load_result_matched_rate(const wsp_load_result *r);

/* Run the load to completion (or SIGINT, or every connection gone). Fills `out` (from _new).
 * Returns 0, or -1 with err when it could not start (threads, memory): a run whose
 * connections all failed still returns 0 with the failures counted. */
int wsp_load_run(const wsp_load_config *cfg, wsp_load_result *out, wsp_err *err);

/* ---- the schedule (pure) ---- */

/* A connection's send schedule: message k is intended at t0 + k * interval. */
typedef struct wsp_load_sched {
    uint64_t t0, interval_ns, end; /* end: no message intended at or after it (0: none) */
    uint64_t next;                 /* index of the next message */
} wsp_load_sched;

/* interval between two messages of one connection, in ns: connections / rate seconds. */
uint64_t wsp_load_interval_ns(size_t connections, double rate);
/* A connection's first send offset within one interval, spread evenly by its index. */
uint64_t wsp_load_phase_offset(size_t index, uint64_t interval_ns);
/* The intended time of the next message, or UINT64_MAX when the schedule has ended. */
uint64_t wsp_load_sched_next(const wsp_load_sched *s);
/* How many messages are due at `now` and not yet taken. */
uint64_t wsp_load_sched_due(const wsp_load_sched *s, uint64_t now);
/* Take the next message: returns its intended time and advances. */
uint64_t wsp_load_sched_take(wsp_load_sched *s);

/* ---- thresholds (pure) ---- */

typedef enum wsp_load_op { WSP_LOAD_LT, WSP_LOAD_LE, WSP_LOAD_GT, WSP_LOAD_GE } wsp_load_op;

typedef enum wsp_load_metric_kind {
    WSP_LOAD_M_LATENCY,     /* a percentile (or max, mean) of a histogram, ns */
    WSP_LOAD_M_ERROR_RATE,  /* errors / attempts, a fraction */
    WSP_LOAD_M_ERRORS,      /* a count */
    WSP_LOAD_M_RATE,        /* matched replies per second */
    WSP_LOAD_M_CONNECTIONS, /* connections opened */
} wsp_load_metric_kind;

typedef enum wsp_load_hist_sel {
    WSP_LOAD_H_LATENCY,
    WSP_LOAD_H_UNCORRECTED,
    WSP_LOAD_H_PHASE, /* + phase */
} wsp_load_hist_sel;

typedef struct wsp_load_threshold {
    char text[64]; /* as written */
    wsp_load_metric_kind kind;
    wsp_load_hist_sel hist;
    wsp_load_phase phase;
    double percentile; /* 0..100; 100: max; -1: mean */
    wsp_load_op op;
    double limit; /* ns for latencies, a fraction for error rates, else a number */
} wsp_load_threshold;

/* Parse "METRIC OP VALUE": METRIC is p50, p90, p95, p99, p99.9 (or p999), max, mean, each
 * optionally prefixed by uncorrected_ or a phase (resolve_, connect_, tls_, upgrade_,
 * handshake_); or errors (with % a rate, else a count), error_rate, rate (matched per second),
 * connections (opened). OP is <, <=, >, >=. Latencies need a unit: ns, us, ms, s. Spaces are
 * allowed around the operator. Returns 0, or -1 with err (USAGE) saying what is wrong. */
int wsp_load_threshold_parse(const char *text, wsp_load_threshold *t, wsp_err *err);
/* The metric's value in `r` (ns, fraction, count) into *value; returns whether the threshold
 * holds. A latency with no samples does not hold (*value is NAN). */
bool wsp_load_threshold_eval(const wsp_load_threshold *t, const wsp_load_result *r, double *value);
/* Format a metric value for people: "12.3ms", "0.05%", "20000/s", "42". */
void wsp_load_threshold_format(const wsp_load_threshold *t, double value, char *buf, size_t cap);

/* ---- baseline comparison (pure) ---- */

typedef struct wsp_load_tolerance {
    double latency_rel;    /* allowed relative increase of p50 and p99 (0.2: 20 %) */
    uint64_t latency_abs;  /* and an absolute floor in ns below which a change is noise */
    double error_rate_abs; /* allowed increase of the error rate (0.001: 0.1 point) */
} wsp_load_tolerance;

typedef struct wsp_load_compare_item {
    const char *name; /* "p50", "p99", "error_rate" */
    double baseline, current, limit;
    bool regressed;
} wsp_load_compare_item;

typedef struct wsp_load_compare {
    wsp_load_compare_item items[3];
    bool regressed;
} wsp_load_compare;

/* Compare p50 and p99 (corrected) and the error rate of `cur` with `base`. */
void wsp_load_compare_results(const wsp_load_result *base, const wsp_load_result *cur,
                              const wsp_load_tolerance *tol, wsp_load_compare *out);

/* ---- reports ---- */

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

#endif
