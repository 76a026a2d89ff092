/* check.h - the unit of verification that plans (`run`), the security suite (`security`) and
 * `parity` share: a check runs against one environment and ends in a verdict with evidence
 * (wsp_check_result, report/result.h: the value every report of a run reads).
 *
 * Checks are written as plain blocking functions: each probe they make runs to completion on a
 * private loop (wsp_probe_run), so a check reads top to bottom, and the runner gives each check
 * a worker thread to run independent checks concurrently. Every probe carries its own deadline,
 * so every check is bounded; the runner also has an overall deadline after which checks that
 * have not started are reported inconclusive.
 *
 * Verdict rules (SECURITY-CHECKS.md): a negative check runs only beside a positive baseline; a
 * baseline that fails makes the verdict inconclusive, never pass; a check that could not run
 * says so (skip, inconclusive, not_applicable) with why.
 */
#ifndef WSP_CHECK_H
#define WSP_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "probe/auth.h"
#include "probe/probe.h"
#include "probe/setup.h"
#include "report/result.h"
#include "util/error.h"

/* The limits an environment is expected to enforce (from the plan; 0 = not configured, and a
 * check that needs one uses the catalog default or reports not_applicable). */
typedef struct wsp_env_limits {
    uint64_t max_message;          /* bytes; default for checks 64 KiB */
    double rate_per_s;             /* messages per second per connection */
    int max_conns_per_client;      /* connections from one address */
    uint64_t handshake_timeout_us; /* a slow handshake must be cut within this */
    uint64_t idle_timeout_us;      /* a silent connection must be closed within this */
} wsp_env_limits;

/* One target environment. Built by the plan loader or by a command's flags; read-only while
 * checks run (shared by worker threads). */
typedef struct wsp_env {
    char *name; /* owned */
    /* The probe every check starts from: URL, TLS context, timeouts, resolve pins, extra
     * headers, origin. No steps. Owned (wsp_probe_config_cleanup + its TLS context). */
    wsp_probe_config base;
    char *url_text;       /* owned: the URL as written (for reports) */
    wsp_auth auth;        /* the valid credential for baselines; may be inactive */
    char *allowed_origin; /* an origin the endpoint allows (baselines of origin checks), or NULL */
    /* The success marker: a conversation that only an accepted and processed request produces
     * (SECURITY-CHECKS.md). Defaults: send {"type":"chat_message","content":"wsprobe marker
     * {{uuid}}","id":"{{uuid}}"} and expect /type=ack with /id={{sent./id}} (the id this
     * connection sent: security.c, docs/security.md "Correlation"). Owned. */
    char *marker_send;
    char *marker_expect_pointer;
    char *marker_expect_value;
    char *health_url;    /* owned or NULL */
    char *plaintext_url; /* owned or NULL: ws:// form for transport.plaintext */
    wsp_env_limits limits;
    /* the suite's deadline (CLOCK_MONOTONIC nanoseconds, 0: none): every probe of a security
     * check is capped at it, so `security --deadline` and `run --deadline` hold */
    uint64_t deadline_ns;
    wsp_proxy proxy;   /* the proxy chosen for url (base.conn.proxy points here when one is) */
    bool each_address; /* each_address: connect and conversation checks probe every address */
} wsp_env;

void wsp_env_init(wsp_env *env);
void wsp_env_cleanup(wsp_env *env);
/* Free only the strings the environment owns (name, URL text, origin, marker, health and
 * plaintext URLs) and zero it: for an environment whose probe configuration and credential
 * are borrowed (wsprobe security builds one around its command-line options). */
void wsp_env_release_strings(wsp_env *env);
/* The environment's probe and credential from a finished probe setup (probe/setup.h), the one
 * builder of both for the command line and plans: the probe without steps, health or trace.
 * With `take` the environment owns the TLS context and the credential (wsp_env_cleanup frees
 * them) and the setup keeps only what they borrow (pins, strings); without it they stay the
 * setup's (wsp_env_release_strings then). The setup must outlive the environment. */
void wsp_env_take_probe(wsp_env *env, wsp_probe_setup *s, bool take);

typedef struct wsp_check_def {
    const char *id;    /* "connect", "auth.missing" */
    const char *group; /* "basic", "auth", "origin", "input", "limits", "transport", "handshake" */
    int priority;      /* 1, 2, 3 (SECURITY-CHECKS.md); 0 for basic plan checks */
    bool prod_safe;    /* safe against production */
    const char *summary; /* one line */
    /* Run against env with the check's parameters from the plan (NULL when none); fill out.
     * Blocking; called on a worker thread. */
    void (*run)(const wsp_env *env, const json_t *params, wsp_check_result *out);
    unsigned flags; /* WSP_CHECK_* scheduling hints for the runner */
} wsp_check_def;

/* The check waits out a server limit (idle, slow handshake, rate, expiry): the runner starts it
 * first, so a run lasts about as long as the longest wait rather than their sum. */
#define WSP_CHECK_WAITS 0x1u
/* The check must not run beside others (limits.connections fills the client's connection slots;
 * input.invalid_utf8's bytes, relayed by a broadcasting server, break every open connection):
 * the runner runs it on its own, after every other check, so it cannot make them fail. */
#define WSP_CHECK_ALONE 0x2u
/* The check's raw sessions write the application's messages themselves (plain WebSocket
 * messages): under --protocol socketio|graphql the server would read them as broken packets,
 * so the check is not applicable there (its verdict would not be about the application). */
#define WSP_CHECK_RAW_APP 0x4u

/* One check to run: its definition and its parameters (borrowed). */
typedef struct wsp_check_item {
    const wsp_check_def *def;
    const json_t *params;
} wsp_check_item;

/* Run items against env with at most `parallel` at once (>= 1), and an overall deadline in
 * microseconds (0: none). Checks flagged WSP_CHECK_WAITS start first; WSP_CHECK_ALONE ones run
 * one at a time after all others. results[i] is filled for every item, in the items' order
 * (initialised by the runner). Returns 0, or -1 if memory ran out (results then
 * inconclusive). */
int wsp_check_run_all(const wsp_env *env, const wsp_check_item *items, size_t n, int parallel,
                      uint64_t deadline_us, wsp_check_result *results);

#endif
