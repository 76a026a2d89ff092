/* probe.h - one complete probe: a connection through every phase plus a scripted conversation
 * (send, expect, ping) and an optional HTTP health check, ending in one verdict. Many probes may
 * run at once on one loop (concurrency, wait, security checks). */
#ifndef WSP_PROBE_H
#define WSP_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "codec/template.h"
#include "probe/auth.h"
#include "probe/proto.h"
#include "net/conn.h"
#include "net/dns.h"
#include "util/error.h"
#include "util/regex.h"
#include "codec/url.h"

typedef enum wsp_step_kind {
    WSP_STEP_SEND,          /* send `text` as a text message */
    WSP_STEP_SEND_BINARY,   /* send `text` (len bytes) as a binary message */
    WSP_STEP_EXPECT_TEXT,   /* a message equals `text`; others skipped (strict_order: the next) */
    WSP_STEP_EXPECT_REGEX,  /* a message matches `text` (PCRE2, bounded); others skipped */
    WSP_STEP_EXPECT_JSON,   /* a message whose JSON at `pointer` equals `value`; others skipped */
    WSP_STEP_PING,          /* a ping whose pong must come back */
    WSP_STEP_EXPECT_BINARY, /* a binary message equal to `text` (len bytes), or whose SHA-256
                               is `sha256` (by_digest); others skipped */
    /* --protocol socketio: `text` is the event's name, `value_json` its arguments (a JSON
     * text, an array spread as several; NULL: none). The EXPECT_JSON steps that follow an
     * EXPECT_EVENT or EMIT_ACK are judged together on that event's or ack's arguments, as a
     * JSON array. */
    WSP_STEP_EMIT,         /* emit an event */
    WSP_STEP_EMIT_ACK,     /* emit an event asking for an ack; the ack (its id) must come */
    WSP_STEP_EXPECT_EVENT, /* an event named `text`; other events skipped */
    /* --protocol graphql: `text` the query, `value_json` the variables (a JSON object or
     * NULL). Each EXPECT_JSON after it judges the subscription's next `next` payload; an
     * `error` is APP_ERROR. */
    WSP_STEP_SUBSCRIBE,
    WSP_STEP_EXPECT_COMPLETE, /* the subscription's `complete` (more values skipped) */
} wsp_step_kind;

/* The name of a step kind as the report and the plans write it ("send", "emit_ack"). */
const char *wsp_step_kind_name(wsp_step_kind k);
/* An emit's arguments as the steps keep them: always a JSON array text, one value wrapped
 * ("{\"a\":1}" -> "[{\"a\":1}]": one argument), so that {{sent./0/...}} and the expectations
 * read the arguments the way the receiver gets them. Heap; NULL when out of memory. */
char *wsp_step_emit_args(const char *json);
/* The event names the Socket.IO client library refuses to emit ("is a reserved event name"). */
bool wsp_sio_reserved(const char *name);
/* Whether a step kind only sends (send, send-binary, emit): it waits for nothing. */
bool wsp_step_sends_only(wsp_step_kind k);

#define WSP_STEP_MAX_ALSO 7
#define WSP_PROBE_MAX_CLOSE_CODES 16

typedef struct wsp_step {
    wsp_step_kind kind;
    char *text; /* owned; the message, expected text or regex */
    size_t len;
    char *pointer;    /* EXPECT_JSON: RFC 6901 pointer, owned */
    char *value_json; /* EXPECT_JSON: the expected value as JSON text, owned */
    /* EXPECT_JSON: more pointer/value pairs that must hold on the same message, owned */
    char *also_pointer[WSP_STEP_MAX_ALSO];
    char *also_value[WSP_STEP_MAX_ALSO];
    size_t num_also;
    wsp_regex *re;  /* EXPECT_REGEX: `text` compiled (util/regex.h), owned */
    bool by_digest; /* EXPECT_BINARY: compare SHA-256 digests */
    uint8_t sha256[32];
    uint64_t timeout_us; /* 0: the probe's timeout */
} wsp_step;

typedef struct wsp_step_result {
    bool ran;
    bool ok;
    double roundtrip_ms; /* expects and pings: from the previous send */
    unsigned skipped;    /* unrelated messages skipped by an expectation */
    uint64_t t_done;     /* uv_hrtime() when the step held, 0 if it did not */
    char detail[256];
} wsp_step_result;

/* The one default of each limit, for probe, wait, run, security and load alike: each phase
 * (resolve, connect, TLS, upgrade, each expectation) 10 s, the whole probe 30 s. */
#define WSP_PROBE_DEFAULT_TIMEOUT_US (10 * 1000000ull)
#define WSP_PROBE_DEFAULT_DEADLINE_US (30 * 1000000ull)

typedef struct wsp_probe_config {
    wsp_url url;
    wsp_conn_opts conn; /* conn.url must point at url above (wsp_probe_config_init does it) */
    wsp_step *steps;    /* owned by the config */
    size_t num_steps;
    uint64_t pong_timeout_us;
    /* --expect-auth-required: the verdict is OK when the endpoint refuses this client (401/403,
     * or a close 1008/4001-4003 before any reply) and AUTH_NOT_ENFORCED when it serves it */
    bool expect_auth_required;
    /* --strict-order: an expectation judges the very next message (a mismatch fails at once)
     * instead of skipping unrelated ones (greetings, broadcasts) until its timeout */
    bool strict_order;
    /* --expect-close CODE[,CODE...]: after the last step, wait (the probe's timeout) for the
     * server to close with one of these codes instead of closing first */
    int expect_close[WSP_PROBE_MAX_CLOSE_CODES];
    size_t num_expect_close;
    /* credentials: a token per probe (ready or minted) placed as auth->in says; borrowed, may
     * be NULL or inactive */
    const wsp_auth *auth;
    bool has_health;
    wsp_url health_url;
    wsp_conn_opts health_conn;
    /* --protocol socketio|graphql: the conversation on top (probe/proto.h). Its strings are
     * the setup's (probe/setup.h), like the TLS context: copies of a config share them */
    wsp_proto_config proto;
} wsp_probe_config;

/* Defaults: 10 s per phase, 30 s overall, 1 MiB messages, verification on. */
void wsp_probe_config_init(wsp_probe_config *cfg);
/* Apply --resolve pins (borrowed: they must outlive the configuration) that match HOST:PORT of
 * `url` to `conn`: the one rule for the command line and plans. */
void wsp_probe_conn_pin(wsp_conn_opts *conn, const wsp_url *url, const wsp_dns_pin *pins,
                        size_t npins);
/* The last step of building any probe's configuration (command line and plans alike): the
 * pins, the phase timeout never longer than the deadline, the pong wait defaulting to the
 * phase timeout. */
void wsp_probe_config_finish(wsp_probe_config *cfg, const wsp_dns_pin *pins, size_t npins);

/* Append a step (copied shallowly: the config takes ownership of its heap members). Returns
 * 0 or -1 on allocation failure. */
int wsp_probe_config_add_step(wsp_probe_config *cfg, const wsp_step *step);
/* Free the steps. */
void wsp_probe_config_cleanup(wsp_probe_config *cfg);
/* Whether the steps make a conversation of cfg->proto's protocol (an emit needs Socket.IO; a
 * raw expectation has nothing to judge under a protocol; an --expect-json needs an event, an
 * ack or a subscription before it). The one check of the command line and plans: 0, or -1
 * with err (USAGE). */
int wsp_probe_steps_check(const wsp_probe_config *cfg, wsp_err *err);

typedef struct wsp_probe wsp_probe;
typedef void (*wsp_probe_done_cb)(wsp_probe *p, void *ud);

/* A probe on `loop`; `cfg` is borrowed and must outlive it. */
wsp_probe *wsp_probe_new(uv_loop_t *loop, const wsp_probe_config *cfg, wsp_probe_done_cb cb,
                         void *ud);
void wsp_probe_start(wsp_probe *p);
void wsp_probe_free(wsp_probe *p);

/* Results, valid until wsp_probe_free. */
const wsp_err *wsp_probe_verdict(const wsp_probe *p);
const wsp_conn_record *wsp_probe_record(const wsp_probe *p);
const wsp_conn_record *wsp_probe_health_record(const wsp_probe *p); /* NULL without health */
const wsp_step_result *wsp_probe_step_results(const wsp_probe *p);
const wsp_probe_config *wsp_probe_get_config(const wsp_probe *p);
/* The protocol's record (--protocol), NULL without one. */
const wsp_proto_record *wsp_probe_proto_record(const wsp_probe *p);

/* The value an --expect-json pair expects: `tmpl` filled in ctx, then JSON when it parses as
 * JSON (1, true, "x", {"a":1}), else the text as a string. One rule for the probe's steps and
 * the security suite's marker. A new reference, or NULL (err set) when a placeholder cannot be
 * filled. */
json_t *wsp_probe_expected_value(const char *tmpl, const wsp_tmpl_ctx *ctx, wsp_err *err);

/* A template context with the live clock and the process environment (codec/template.h
 * reads neither itself), for `sent` (the message the step before sent; may be NULL). */
wsp_tmpl_ctx wsp_probe_tmpl_ctx(const char *sent, size_t sent_len);

/* Run one probe to completion on a private loop (the common case of the CLI). The probe is
 * returned finished; free it with wsp_probe_free. NULL on allocation failure. */
wsp_probe *wsp_probe_run(const wsp_probe_config *cfg);

#endif
