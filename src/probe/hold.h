/* hold.h - holding connections: open them and keep them, and say when, how and by whom each
 * one ended (docs/hold.md). `wsprobe hold` and the plan check `hold` both run it, so it sits in
 * the probe layer (docs/architecture.md); its writers are report/holdreport.h. Where load measures,
 * hold observes: strategies run side by side on their own connections (silent: no frames at all;
 * pings every P, for each P of a ladder; application messages every M), for a duration, and the
 * ends are read for what they mean: an idle timeout (silent connections die at T, kept-alive ones
 * live), a lifetime cap (every connection dies at T however busy), a server that closes politely,
 * or nothing at all.
 *
 * One libuv loop on the calling thread drives every connection (net/conn.h); a keep-alive
 * connection has one timer, armed for its next ping or message, and a silent one none, so an
 * idle hold costs no CPU. The analysis is pure (wsp_hold_analyse) and unit-tested. */
#ifndef WSP_HOLD_H
#define WSP_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <jansson.h>

#include "net/conn.h"
#include "probe/proto.h"
#include "net/dns.h"
#include "probe/auth.h"
#include "probe/setup.h"
#include "util/error.h"
#include "util/opt.h"

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
    unsigned address;  /* index into the config's addresses (0 without --each-address) */
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
    unsigned address, strategy, index;
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
#define WSP_HOLD_MAX_MESSAGES 16
#define WSP_HOLD_MAX_ADDRESSES WSP_DNS_MAX_ADDRS /* --each-address */

/* --each-address: one backend, its connections pinned to it (SNI and Host unchanged). */
typedef struct wsp_hold_address {
    struct sockaddr_storage ss; /* port set */
    char text[48];              /* "127.0.0.2", "::1" */
} wsp_hold_address;

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
    /* --protocol: each connection does the protocol's handshake (open once it is done) and
     * answers its pings; with Socket.IO a message is an emit of events[i] whose arguments are
     * messages[i] ("" for none). NULL: plain WebSocket. */
    const wsp_proto_config *proto;
    const char *const *events;
    /* gates (0: none): a kept-alive connection (pings, messages), or a silent one, that ends
     * before this is a failure */
    uint64_t expect_lifetime_us, expect_silent_lifetime_us;
    /* --reconnect: a dropped connection reconnects (backoff with jitter from 100 ms, doubling,
     * at most 5 s) and, with a conversation, sends it once it is open again */
    bool reconnect;
    const char *conversation;
    const char *thresholds[WSP_HOLD_MAX_THRESHOLDS]; /* --threshold texts */
    size_t nthresholds;
    /* --each-address: every strategy's connections are opened against each address (0: none,
     * the connections go where conn's resolution and Happy Eyeballs take them) */
    wsp_hold_address addresses[WSP_HOLD_MAX_ADDRESSES];
    size_t naddresses;
    bool catch_sigint; /* SIGINT ends the hold early, judged as it stands (the command) */
} wsp_hold_config;

typedef struct wsp_hold_result {
    /* nends = addresses (at least 1) * nstrategies * per_strategy: address by address, then
     * strategy by strategy, so one address's ends are a slice */
    wsp_hold_end *ends;
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

/* The lifetime an end's kind is held to (--expect-lifetime for pings and messages,
 * --expect-silent-lifetime for silent ones), in seconds; 0 when none is. */
double wsp_hold_limit_s(const wsp_hold_config *cfg, const wsp_hold_end *e);
/* Whether a connection that opened ended before that lifetime. */
bool wsp_hold_end_short(const wsp_hold_config *cfg, const wsp_hold_end *e);
/* When it ended, in seconds since the start; -1 for one that never opened (the timeline's
 * order). */
double wsp_hold_end_at(const wsp_hold_end *e);
/* An analysis's exit code: its most common class's code when nothing opened, 1 when a gate or
 * threshold broke, else 0. */
int wsp_hold_analysis_exit_code(const wsp_hold_analysis *a);

/* ---- the whole judged ----
 * Without --each-address, the one analysis. With it, one analysis per address (its slice of
 * the ends, its drops) beside the analysis of every connection together: the whole holds when
 * every address does and the gates and thresholds of the whole hold too. The exit code is the
 * first failing address's, in resolution order (its most common class when none of its
 * connections opened, else 1); 1 when only the whole's thresholds broke. */
typedef struct wsp_hold_verdict {
    wsp_hold_analysis all;  /* every connection */
    wsp_hold_analysis *per; /* heap, one per address; NULL without --each-address */
    size_t naddresses;      /* 0 without --each-address */
    size_t first_failed;    /* the first failing address, naddresses when none */
    size_t addresses_ok;
    bool ok;
    int exit_code;     /* 0, 1, or the class's code when nothing opened */
    wsp_class cls;     /* what ended the first failing connection (OK when ok) */
    char summary[700]; /* the verdict in one line: what failed, or the first finding */
} wsp_hold_verdict;

/* 0, or -1 when out of memory. */
int wsp_hold_judge(const wsp_hold_config *cfg, const wsp_hold_result *r, wsp_hold_verdict *v);
void wsp_hold_verdict_cleanup(wsp_hold_verdict *v);
/* Address `a`'s connections as a result of their own: its slice of the ends (borrowed) and its
 * drops (copied: free(view->drops)). 0, or -1 when out of memory. */
int wsp_hold_address_view(const wsp_hold_config *cfg, const wsp_hold_result *r, size_t a,
                          wsp_hold_result *view);

/* ---- options: one table for `wsprobe hold` and a plan's `hold:` check (util/opt.h; the plan
 * key of each is its name with '_' for '-') ---- */
enum {
    WSP_HOLD_OPT_DURATION = WSP_PROBE_OPT_OWN,
    WSP_HOLD_OPT_PER_STRATEGY,
    WSP_HOLD_OPT_LADDER,
    WSP_HOLD_OPT_MESSAGE_EVERY,
    WSP_HOLD_OPT_NO_SILENT,
    WSP_HOLD_OPT_EXPECT_LIFETIME,
    WSP_HOLD_OPT_EXPECT_SILENT_LIFETIME,
    WSP_HOLD_OPT_RECONNECT,
    WSP_HOLD_OPT_THRESHOLD,
    WSP_HOLD_OPT_OWN, /* the command's own from here */
};
extern const wsp_opt wsp_hold_opts[];

#define WSP_HOLD_DEFAULT_DURATION_US (600ull * 1000000ull)
/* What a hold needs beyond its duration, to open its connections and close them: a run's
 * deadline must leave it (check/plan.h wsp_plan_fits_deadline). */
#define WSP_HOLD_MARGIN_US (5ull * 1000000ull)
/* After the duration, how long the closing handshakes may take: the least a started hold
 * needs beyond its duration. */
#define WSP_HOLD_CLOSE_GRACE_US (2ull * 1000000ull)

typedef struct wsp_hold_setup {
    wsp_hold_config cfg;
    const char *ladder; /* borrowed */
    uint64_t message_every;
    bool no_silent;
    const char *messages[WSP_HOLD_MAX_MESSAGES]; /* borrowed */
    const char *events[WSP_HOLD_MAX_MESSAGES];   /* borrowed; --emit: the events' names */
    size_t nmessages;
    bool duration_set;
    char *owned[2 * WSP_HOLD_MAX_MESSAGES]; /* a plan's emits, parsed here (names, arguments) */
    size_t nowned;
} wsp_hold_setup;

/* Defaults: 10 minutes, 2 connections per strategy, pings every 30 s. */
void wsp_hold_setup_init(wsp_hold_setup *s);
/* Free what the setup parsed itself (a plan's emits). */
void wsp_hold_setup_cleanup(wsp_hold_setup *s);
/* Take option o (of wsp_hold_opts) with its parsed value; arg is borrowed. 0, or -1 with err
 * (USAGE). */
int wsp_hold_setup_set(wsp_hold_setup *s, const wsp_opt *o, const char *arg, const wsp_opt_value *v,
                       wsp_err *err);
/* A message of the messages strategy (and of the conversation after a reconnect). */
int wsp_hold_setup_add_message(wsp_hold_setup *s, const char *text, wsp_err *err);
/* The same as a Socket.IO emit (--protocol socketio --emit): EVENT with `args` (a JSON array
 * text, or NULL). Both borrowed. */
int wsp_hold_setup_add_emit(wsp_hold_setup *s, const char *event, const char *args, wsp_err *err);
/* The plan form: key (a plan key of wsp_hold_opts, or "send") with its value (a string; true
 * for a flag; for a repeatable option or send, a string or an array of strings), as a plan's
 * `hold:` check writes it. `label` names it in errors ("checks[2].hold.duration"). Strings are
 * borrowed: v must outlive s. 0, or -1 with err. */
int wsp_hold_setup_set_json(wsp_hold_setup *s, const char *key, const json_t *v, const char *label,
                            wsp_err *err);
/* Whether key is one wsp_hold_setup_set_json takes (a plan key of wsp_hold_opts, or send). */
bool wsp_hold_plan_key(const char *key);
/* Every pair of `params` through wsp_hold_setup_set_json ("name" is the check's, skipped). */
int wsp_hold_setup_from_json(wsp_hold_setup *s, const json_t *params, wsp_err *err);
/* The strategies and every rule across options (a ladder step not shorter than the duration,
 * --message-every without --send, more connections than the file limit allows), before
 * anything starts. 0, or -1 with err (USAGE naming the fix). */
int wsp_hold_setup_finish(wsp_hold_setup *s, wsp_err *err);
/* The connections a finished setup opens, and whether the file limit allows them (USAGE naming
 * `ulimit -n` when not): again once --each-address has said how many addresses there are. */
size_t wsp_hold_connections(const wsp_hold_config *cfg);
int wsp_hold_files_check(const wsp_hold_config *cfg, wsp_err *err);
/* --each-address: the addresses of pc's URL (probe/each.h: --resolve pins, else every A and
 * AAAA record) into cfg, then the file-limit check for that many. 0, or -1 with err: USAGE for
 * a literal address or too many connections, the DNS class when the name does not resolve. */
int wsp_hold_resolve_addresses(wsp_hold_config *cfg, const wsp_probe_config *pc, wsp_err *err);

#endif
