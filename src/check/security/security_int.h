/* security_int.h - helpers shared by the security checks (security*.c). Not a public header:
 * only the security module includes it. */
#ifndef WSP_SECURITY_INT_H
#define WSP_SECURITY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "probe/auth.h"
#include "check/check.h"
#include "net/conn.h"
#include "probe/probe.h"

/* ---- the suite's deadline ---- */

/* `us` (0: unlimited) cut to the time left before the suite's deadline (at least 1 ms). */
uint64_t wsp_sec_clamp_us(const wsp_env *env, uint64_t us);

/* ---- probes built from the environment ---- */

/* A probe configuration for env: its URL, TLS, headers and limits, the env's credential, the
 * allowed origin (or the env's origin), no steps, no health. cfg is caller storage; free its
 * steps with wsp_probe_config_cleanup (nothing else is owned). */
void wsp_sec_cfg_from_env(const wsp_env *env, wsp_probe_config *cfg);
/* Append the success marker conversation (env's or the default): the marker message, then an
 * expectation of every pair of wsp_sec_marker_get (so {{sent./ptr}} correlates the reply with
 * the message this probe sent). Returns 0 or -1. */
int wsp_sec_cfg_add_marker(const wsp_env *env, wsp_probe_config *cfg);
/* The marker message template: env->marker_send or the default chat_message with a fresh
 * {{uuid}} id. Borrowed. */
const char *wsp_sec_marker_template(const wsp_env *env);
/* A template (a marker's, a check's own) filled for one message: fresh {{uuid}}s, the live
 * clock and environment. Heap (length in *len_out), or NULL. */
char *wsp_sec_message(const char *tmpl, size_t *len_out);

/* The success marker expectation: pointer/value pairs that must all hold on one reply. A value
 * is a template (template.h): {{sent./ptr}} takes the value at ptr in a message this connection
 * sent, which ties the reply to this connection (`corr`). The default is /type=ack, plus
 * /id={{sent./id}} when the marker message carries an id (the default one does). The strings
 * are borrowed from env or static. */
#define WSP_SEC_MARKER_PAIRS 2
typedef struct wsp_sec_marker {
    const char *ptr[WSP_SEC_MARKER_PAIRS];
    const char *val[WSP_SEC_MARKER_PAIRS];
    bool corr[WSP_SEC_MARKER_PAIRS]; /* val refers to the sent message */
    size_t n;
    bool correlated; /* some pair is corr: replies to other connections cannot match */
} wsp_sec_marker;
void wsp_sec_marker_get(const wsp_env *env, wsp_sec_marker *m);
/* The origin a baseline sends: env->allowed_origin, else env->base.conn.origin (may be NULL). */
const char *wsp_sec_allowed_origin(const wsp_env *env);
/* The wait for the success marker (T in SECURITY-CHECKS.md). */
uint64_t wsp_sec_marker_wait_us(const wsp_env *env);

/* How a negative probe ended (SECURITY-CHECKS.md "How a check decides"). */
typedef enum wsp_sec_outcome {
    WSP_SEC_REFUSED_HS,   /* any status but 101, or closed before 101 */
    WSP_SEC_REFUSED_OPEN, /* a rejecting close code, or dropped, before the marker */
    WSP_SEC_WEAK,         /* 101 then a close (1000/1001/none) before any data */
    WSP_SEC_SERVER_ERROR, /* 5xx (not 502-504) or close 1011: pass with a warning */
    WSP_SEC_EDGE,         /* 502/503/504 from an edge: inconclusive */
    WSP_SEC_SILENT,       /* open, neither marker nor rejection within T: inconclusive */
    WSP_SEC_UNREACHABLE,  /* no HTTP exchange (DNS, TCP, TLS, timeout): inconclusive */
    WSP_SEC_ACCEPTED,     /* 101 and the success marker: the check fails */
} wsp_sec_outcome;

const char *wsp_sec_outcome_name(wsp_sec_outcome o);
/* Judge a finished probe whose last step is the marker expectation. */
wsp_sec_outcome wsp_sec_judge(const wsp_probe *p);
/* Judge from a record and whether the marker was seen (raw sessions). */
wsp_sec_outcome wsp_sec_judge_record(const wsp_conn_record *r, bool marker_seen);
/* A close code that means "refused" after open: 1002 1003 1007 1008 1009 1013, 4000-4999. */
bool wsp_sec_rejecting_code(int code);

/* n probe configurations run concurrently on one private loop. probes[i] is NULL when out of
 * memory. The configurations are borrowed until wsp_sec_batch_free. */
typedef struct wsp_sec_batch {
    uv_loop_t loop;
    wsp_probe **probes;
    size_t n;
} wsp_sec_batch;
/* Run to completion. NULL when out of memory. */
wsp_sec_batch *wsp_sec_batch_run(const wsp_probe_config *const *cfgs, size_t n);
void wsp_sec_batch_free(wsp_sec_batch *b);

/* The positive baseline: a probe with the env's credential and allowed origin and the marker.
 * Its evidence goes under `key`. Returns true when it held; on false, out is set inconclusive
 * with the baseline's class and message (when set_verdict). */
bool wsp_sec_baseline(const wsp_env *env, wsp_check_result *out, const char *key, bool set_verdict);

/* A tally of negative outcomes, turned into a verdict by wsp_sec_conclude. */
typedef struct wsp_sec_tally {
    unsigned n[WSP_SEC_ACCEPTED + 1];
    char accepted[256]; /* names of the variants that were accepted */
    char unsure[256];   /* names of the variants that were inconclusive */
} wsp_sec_tally;

/* Record a probe's evidence under `name` with its outcome, and count it. */
void wsp_sec_note(wsp_check_result *out, wsp_sec_tally *t, const char *name, const wsp_probe *p,
                  wsp_sec_outcome o);
/* Run one probe of cfg (its marker already added), record its evidence under `name` with its
 * outcome, and return the outcome (UNREACHABLE when out of memory). For checks of a single
 * probe that judge the outcome themselves rather than tally it. */
wsp_sec_outcome wsp_sec_probe_once(const wsp_probe_config *cfg, wsp_check_result *out,
                                   const char *name);
/* Count an outcome whose evidence the caller recorded itself. */
void wsp_sec_count(wsp_sec_tally *t, const char *name, wsp_sec_outcome o);
/* The verdict from a tally, and the after-baseline (ran after the negatives): any accepted ->
 * fail; else any inconclusive outcome or a failed after-baseline -> inconclusive; else server
 * errors -> warn; else pass (weak ones noted). `what` names the negatives ("forged tokens"). */
wsp_verdict wsp_sec_conclude(wsp_check_result *out, const wsp_sec_tally *t, bool after_ok,
                             const char *what);

/* ---- raw sessions: a connection driven by hand ---- */

typedef struct wsp_sec_raw wsp_sec_raw;

typedef struct wsp_sec_raw_opts {
    bool with_auth;         /* apply the env's credential */
    const char *origin;     /* NULL: the allowed origin */
    const char *extensions; /* offer these extensions */
    unsigned allowed_rsv;   /* RSV bits our parser accepts (0x40 with permessage-deflate) */
    /* called once open (after the credential message, if any): send what the check sends */
    void (*on_open)(wsp_sec_raw *s, void *ud);
    void *ud;
    bool marker_after;   /* then send the success marker and watch for it */
    uint64_t wait_us;    /* after on_open, how long to wait for the server to close */
    bool stop_on_marker; /* end as soon as the marker is seen */
    bool stop_on_reply;  /* end at the first message */
    /* end once until_count messages containing until_tags arrived (until_tags NULL: once
     * until_count markers arrived); 0: off */
    const char *until_tags;
    unsigned until_count;
    /* start only once this session (of the same run) is open */
    struct wsp_sec_raw *after;
    /* the credential to use instead of the env's (borrowed), with with_auth */
    const wsp_auth *auth;
    /* ping at this interval while waiting (keeps the server's idle limit away); 0: never */
    uint64_t keepalive_us;
    /* called once the session has ended (after on_done), with ud */
    void (*on_end)(struct wsp_sec_raw *s, void *ud);
    /* when the wait ends with the connection open: send the marker, wait marker_wait_us more */
    bool marker_at_end;
    uint64_t marker_wait_us;
    /* count every message, other connections' too (an observer of a room); by default a
     * message that belongs to another connection is skipped (see struct wsp_sec_raw) */
    bool watch_room;
} wsp_sec_raw_opts;

/* A text message a raw session sent: what a reply to it looks like. */
typedef struct wsp_sec_sent {
    uint64_t hash;                      /* of the bytes sent (an echo is recognised by it) */
    json_t *want[WSP_SEC_MARKER_PAIRS]; /* the marker's values expanded against it, owned */
    bool can_answer;                    /* every value could be filled from this message */
    bool answered;                      /* a marker reply correlated with it arrived */
} wsp_sec_sent;

#define WSP_SEC_SENT_MAX 512

struct wsp_sec_raw {
    const wsp_env *env;
    wsp_sec_raw_opts o;
    wsp_url url;
    wsp_conn_opts copts;
    wsp_auth_request areq; /* the credential's request material */
    bool have_areq;
    wsp_conn *c;
    uv_timer_t timer;
    uv_timer_t keepalive;
    bool timer_on;
    bool end_marker_sent; /* marker_at_end: the marker went out */
    bool done;
    bool opened;
    bool timed_out; /* the wait ended with the connection still open */
    bool marker_seen;
    /* Correlation. Every text message the session sends is kept (wsp_sec_sent, at most
     * WSP_SEC_SENT_MAX) and registered process-wide. A message from the server is skipped
     * (counted in `foreign` only) when it belongs to another connection: it carries a
     * correlated value (the marker's {{sent./ptr}}, e.g. /id) that none of ours has, or it is
     * byte for byte what another connection of this process sent (a relayed broadcast).
     * Everything below counts this connection's own traffic only (unless o.watch_room). */
    wsp_sec_marker marker;
    wsp_sec_sent *sent; /* owned */
    size_t nsent;
    json_t *fixed_want[WSP_SEC_MARKER_PAIRS]; /* uncorrelated marker: its values, owned */
    unsigned messages;       /* messages of this connection's own (foreign ones skipped) */
    unsigned markers;        /* correlated: messages of ours answered; else marker replies */
    unsigned marker_replies; /* messages that matched the marker */
    unsigned echoes;         /* messages byte for byte one we sent */
    unsigned foreign;        /* skipped: another connection's traffic */
    unsigned tagged;         /* messages that contained until_tags */
    char last_message[200];
    wsp_sec_raw *const *peers; /* the run's sessions (to start dependents) */
    size_t npeers;
    bool started;
    json_t *messages_json; /* up to 32 decoded text messages (for input checks), owned */
    wsp_conn_record rec;   /* copied at the end (http_head not kept) */
    double open_ms;        /* from open to the end */
    uint64_t t_open;
};

/* Run raw sessions to completion on one private loop. Each s[i] is caller storage; the
 * results are in the struct. Returns 0, or -1 when a connection could not be made (out of
 * memory, bad credential: s->rec.err says). */
int wsp_sec_raw_run(const wsp_env *env, wsp_sec_raw *const *s, size_t n);
void wsp_sec_raw_cleanup(wsp_sec_raw *s);
/* Send bytes as they are / a masked frame built from parts. Return 0 or -1. */
int wsp_sec_raw_send(wsp_sec_raw *s, const void *data, size_t len);
int wsp_sec_raw_frame(wsp_sec_raw *s, bool fin, unsigned opcode, unsigned rsv, const void *data,
                      size_t len, bool masked);
/* Restart the session's wait from now (ping first, so a listening connection is not idle). */
void wsp_sec_raw_rearm(wsp_sec_raw *s, uint64_t wait_us);
/* Send the env's success marker message (expanded template). */
int wsp_sec_raw_send_marker(wsp_sec_raw *s);
/* Send a text message (one masked frame) and keep it for correlation (see struct
 * wsp_sec_raw). Returns 0 or -1. */
int wsp_sec_raw_send_text(wsp_sec_raw *s, const char *text, size_t len);
/* Keep a message sent in pieces (fragments) for correlation, as wsp_sec_raw_send_text does:
 * registered process-wide, and kept in s (the first WSP_SEC_SENT_MAX). */
void wsp_sec_raw_keep_sent(wsp_sec_raw *s, const void *data, size_t len);
/* Set up s's marker expectation for env (wsp_sec_raw_run does it; for tests). */
void wsp_sec_raw_init_correlation(const wsp_env *env, wsp_sec_raw *s);
/* What a message from the server is to session s: a marker reply (answering a message of ours,
 * which is marked answered), an echo (byte for byte one we sent), or foreign (another
 * connection's traffic, to be skipped). *doc_out, when given, gets the parsed JSON (or NULL),
 * owned by the caller. */
typedef struct wsp_sec_seen {
    bool marker;
    bool echo;
    bool foreign;
} wsp_sec_seen;
wsp_sec_seen wsp_sec_raw_classify(wsp_sec_raw *s, bool text, const uint8_t *data, size_t len,
                                  json_t **doc_out);
/* Record a raw session's evidence under key with its outcome. */
void wsp_sec_raw_evidence(wsp_check_result *out, const char *key, const wsp_sec_raw *s,
                          const char *outcome);

/* ---- redaction ---- */

/* ---- the checks (defined in security_*.c) ---- */
void wsp_sec_auth_missing(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_unsigned(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_bad_signature(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_key_confusion(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_header_injection(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_claims(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_weak_secret(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_query_token(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_auth_expiry_on_open(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_origin_foreign(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_origin_bypass(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_origin_missing(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_input_xss(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_input_malformed(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_input_invalid_utf8(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_input_framing(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_limits_message_size(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_limits_fragments(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_limits_deflate_bomb(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_limits_rate(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_limits_connections(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_limits_slow_handshake(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_limits_idle(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_tls_versions(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_tls_certificate(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_transport_plaintext(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_transport_hsts(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_handshake_hygiene(const wsp_env *, const json_t *, wsp_check_result *);
void wsp_sec_handshake_version(const wsp_env *, const json_t *, wsp_check_result *);

#endif
