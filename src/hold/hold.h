/* hold.h - `wsprobe hold`: open connections and keep them, and say when, how and by whom each
 * one ended (docs/hold.md). Where load measures, hold observes: strategies run side by side on
 * their own connections (silent: no frames at all; pings every P, for each P of a ladder;
 * application messages every M), for a duration, and the ends are read for what they mean: an
 * idle timeout (silent connections die at T, kept-alive ones live), a lifetime cap (every
 * connection dies at T however busy), a server that closes politely, or nothing at all.
 *
 * One libuv loop on the calling thread drives every connection (net/conn.h); a keep-alive
 * connection has one timer, armed for its next ping or message, and a silent one none, so an
 * idle hold costs no CPU. The analysis is pure (wsp_hold_analyse) and unit-tested. */
#ifndef WSP_HOLD_H
#define WSP_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "probe/auth.h"
#include "util/error.h"

#define WSP_HOLD_MAX_STRATEGIES 18
#define WSP_HOLD_MAX_LADDER 16

typedef enum wsp_hold_kind {
    WSP_HOLD_SILENT,   /* nothing sent after the upgrade (pings from the server answered) */
    WSP_HOLD_PINGS,    /* a ping every `every_us`; an unanswered one ends it (WS_PONG_TIMEOUT) */
    WSP_HOLD_MESSAGES, /* the --send messages every `every_us` (replies are not awaited) */
} wsp_hold_kind;

typedef struct wsp_hold_strategy {
    wsp_hold_kind kind;
    uint64_t every_us; /* pings, messages: the interval */
    char name[32];     /* "silent", "ping-30s", "message-10s" */
} wsp_hold_strategy;

/* How a connection ended. */
typedef enum wsp_hold_how {
    WSP_HOLD_HELD,         /* alive at the end of the duration: we closed it (1000) */
    WSP_HOLD_CLOSE_FRAME,  /* the server sent a close frame (its code and reason kept) */
    WSP_HOLD_FIN,          /* the TCP connection ended (FIN) without a close frame */
    WSP_HOLD_RST,          /* reset (RST) or another socket error, without a close frame */
    WSP_HOLD_PONG_TIMEOUT, /* a ping went unanswered: we gave up on it */
    WSP_HOLD_NEVER_OPENED, /* the upgrade failed: the class says why */
    WSP_HOLD_OTHER,        /* another failure while open (a protocol error ...) */
} wsp_hold_how;

const char *wsp_hold_how_name(wsp_hold_how h); /* "held", "close_frame", "fin", ... */

/* One connection's story. Times in seconds. */
typedef struct wsp_hold_end {
    unsigned strategy; /* index into the config's strategies */
    unsigned index;    /* its number within the strategy, from 1 */
    wsp_hold_how how;
    double opened_at; /* since the start of the run (-1: never opened) */
    double lifetime;  /* open to end */
    double since_in;  /* from the last frame received to the end (-1: none came) */
    double since_out; /* from the last frame sent to the end (-1: none sent) */
    int close_code;   /* the server's close code, -1 none */
    char close_reason[128];
    wsp_class cls;
    char message[512];
} wsp_hold_end;

/* --reconnect: one outage of one connection slot, from its drop to the next open. */
typedef enum wsp_hold_conv {
    WSP_HOLD_CONV_NONE,     /* no conversation (no --send) */
    WSP_HOLD_CONV_PENDING,  /* sent after the reconnect, no reply yet (the run ended) */
    WSP_HOLD_CONV_OK,       /* a reply came */
    WSP_HOLD_CONV_LOST,     /* the connection dropped again before a reply */
    WSP_HOLD_CONV_NOT_SENT, /* it never reconnected */
} wsp_hold_conv;

typedef struct wsp_hold_drop {
    unsigned strategy, index;
    double at;        /* since the start of the run */
    wsp_hold_how how; /* close_frame, fin, rst, pong_timeout, other */
    int close_code;
    char close_reason[128];
    bool graceful;     /* a close frame with 1001 (going away) or 1012 (service restart) */
    double reconnect;  /* drop to the next open; -1: never reopened */
    unsigned attempts; /* connection attempts that failed before it reopened */
    wsp_hold_conv conversation;
} wsp_hold_drop;

#define WSP_HOLD_MAX_THRESHOLDS 16

typedef struct wsp_hold_config {
    const wsp_conn_opts *conn;
    const wsp_auth *auth; /* NULL or inactive: no credentials; else a token per connection */
    wsp_hold_strategy strategies[WSP_HOLD_MAX_STRATEGIES];
    size_t nstrategies;
    unsigned per_strategy; /* connections of each strategy */
    uint64_t duration_us;
    uint64_t pong_timeout_us;    /* 0: the ping interval */
    const char *const *messages; /* the messages strategy's texts, sent in turn */
    size_t nmessages;
    /* gates (0: none): a kept-alive connection (pings, messages), or a silent one, that ends
     * before this is a failure */
    uint64_t expect_lifetime_us, expect_silent_lifetime_us;
    /* --reconnect: a dropped connection reconnects (backoff with jitter from 100 ms, doubling,
     * at most 5 s) and, with a conversation, sends it once it is open again */
    bool reconnect;
    const char *conversation;
    const char *thresholds[WSP_HOLD_MAX_THRESHOLDS]; /* --threshold texts */
    size_t nthresholds;
} wsp_hold_config;

typedef struct wsp_hold_result {
    wsp_hold_end *ends; /* nends = nstrategies * per_strategy, strategy by strategy */
    size_t nends;
    wsp_hold_drop *drops; /* --reconnect, in the order they happened */
    size_t ndrops, drops_cap;
    double elapsed_s;
} wsp_hold_result;

/* Parse a ping ladder "15s,30s,45s" (1 to WSP_HOLD_MAX_LADDER durations, each at least
 * 100ms, strictly increasing). 0, or -1 with err (USAGE naming the bad element). */
int wsp_hold_ladder_parse(const char *s, uint64_t *out, size_t cap, size_t *n, wsp_err *err);

/* Run to the end of the duration (or SIGINT). 0, or -1 with err when it could not start. */
int wsp_hold_run(const wsp_hold_config *cfg, wsp_hold_result *out, wsp_err *err);
void wsp_hold_result_cleanup(wsp_hold_result *r);

/* ---- the analysis (pure) ---- */

typedef struct wsp_hold_summary {
    size_t connections, opened, held, ended;
    size_t how[WSP_HOLD_OTHER + 1];
    double min, median, max; /* lifetimes of the ones that ended after opening (0 when none) */
    wsp_hold_how dominant;   /* the most common end among those that ended */
    int close_code;          /* the most common server close code, -1 none */
} wsp_hold_summary;

#define WSP_HOLD_MAX_FINDINGS (WSP_HOLD_MAX_STRATEGIES + 4)

typedef struct wsp_hold_gate {
    const char *name; /* "connections", "lifetime", "silent_lifetime" */
    bool applies, ok;
    size_t failed, of; /* connections below the limit, of those judged */
    double limit_s;
} wsp_hold_gate;

typedef struct wsp_hold_analysis {
    wsp_hold_summary per[WSP_HOLD_MAX_STRATEGIES];
    char findings[WSP_HOLD_MAX_FINDINGS][400];
    size_t nfindings;
    bool lifetime_cap;     /* every strategy ended at about the same time: not an idle timeout */
    double idle_timeout_s; /* silent connections' lifetime when kept-alive ones lived, else 0 */
    wsp_hold_gate gates[3];
    bool ok;              /* every gate that applies holds */
    size_t opened;        /* connections that opened at all */
    wsp_class common_cls; /* the most common class of the ones that never opened */
    /* --reconnect */
    size_t drops, graceful, ungraceful, reopened;
    double reconnect_p50, reconnect_p90, reconnect_p99, reconnect_max; /* of the reopened */
    double longest_gap; /* the longest time a slot was without a connection */
    size_t conv_sent, conv_ok, conv_lost, conv_pending;
    /* --threshold */
    struct {
        const char *text;
        bool ok;
        double value; /* NAN when there was nothing to measure */
    } thresholds[WSP_HOLD_MAX_THRESHOLDS];
    size_t nthresholds;
} wsp_hold_analysis;

/* Check a --threshold for hold: reconnect_p50, _p90, _p99, _max and gap (durations, a unit
 * required); drops, graceful, ungraceful, lost (counts). 0, or -1 with err (USAGE). */
int wsp_hold_threshold_check(const char *text, wsp_err *err);

void wsp_hold_analyse(const wsp_hold_config *cfg, const wsp_hold_result *r, wsp_hold_analysis *a);

#endif
