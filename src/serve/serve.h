/* serve.h - the reference server (`wsprobe serve`): a hardened WebSocket endpoint whose
 * defences can be switched off one by one, so that wsprobe's security checks can prove that
 * they catch each misconfiguration.
 *
 * Two layers, in the manner of the rest of the library:
 *   - pure request and message handling (serve_proto.c): the upgrade decision for one request
 *     head (routing, RFC 6455 4.2.1 checks, Origin, the token and its verification), the
 *     response bytes, the chat protocol, HTML escaping. No sockets, clock or randomness: `now`
 *     is passed in. These are what the unit tests and the fuzz harness drive.
 *   - the event loop (serve.c): listeners on libuv, TLS over in-memory queues (tls.h), frames
 *     (ws.h), per-connection limits and timers, rooms, logging and graceful shutdown.
 * Self-signed certificates for loopback demos are made in serve_cert.c.
 *
 * Strings from the peer are never trusted for length: every buffer a peer can grow has a cap
 * (named below), and the server refuses rather than truncates where truncation would change
 * meaning.
 */
#ifndef WSP_SERVE_H
#define WSP_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "util/error.h"
#include "codec/handshake.h"
#include "codec/http.h"
#include "codec/jwt.h"
#include "codec/pmd.h"

/* Caps on what a peer sends. */
#define WSP_SERVE_HEAD_MAX 16384 /* request head; over it: 431 */
#define WSP_SERVE_HEADERS_MAX 64 /* header lines; over it: 431 */
#define WSP_SERVE_SUB_MAX 64     /* bytes of the token's sub kept (longer is cut on UTF-8) */
#define WSP_SERVE_ROOM_MAX 64    /* bytes of a decoded ?room= (longer: 400) */
#define WSP_SERVE_ORIGINS_MAX 32 /* --allow-origin entries */
#define WSP_SERVE_LISTEN_MAX 8   /* listeners of each kind */
#define WSP_SERVE_QUERY_VALUE_MAX WSP_JWT_MAX_TOKEN /* a decoded query value (token, room) */
#define WSP_SERVE_MAX_WORKERS 64
#define WSP_SERVE_FD_RESERVE 64              /* file descriptors kept free beside the connections */
#define WSP_SERVE_QUEUED_DEFAULT (64u << 20) /* --max-queued-bytes */

/* The defences that can be switched off, one bit per --unsafe-* switch. */
typedef enum wsp_serve_unsafe {
    WSP_SERVE_UNSAFE_NO_AUTH = 1 << 0,          /* no token needed */
    WSP_SERVE_UNSAFE_ACCEPT_ALG_NONE = 1 << 1,  /* alg none (any case), unsigned, accepted */
    WSP_SERVE_UNSAFE_SKIP_CLAIMS = 1 << 2,      /* exp, nbf, aud, iss not checked */
    WSP_SERVE_UNSAFE_ANY_ORIGIN = 1 << 3,       /* Origin not checked */
    WSP_SERVE_UNSAFE_NO_SANITIZE = 1 << 4,      /* chat content broadcast without escaping */
    WSP_SERVE_UNSAFE_NO_LIMITS = 1 << 5,        /* size, rate, per-client, timeouts off */
    WSP_SERVE_UNSAFE_NO_INFLATE_LIMIT = 1 << 6, /* compressed messages inflated past the limit */
} wsp_serve_unsafe;
#define WSP_SERVE_UNSAFE_LAST WSP_SERVE_UNSAFE_NO_INFLATE_LIMIT

/* The switch's name without "--unsafe-" ("no-auth"), for warnings and logs. Never NULL. */
const char *wsp_serve_unsafe_name(wsp_serve_unsafe bit);
/* What the check suite will see with the switch on (one sentence). Never NULL. */
const char *wsp_serve_unsafe_describe(wsp_serve_unsafe bit);

/* What decides an upgrade. Everything is borrowed and must outlive its use. */
typedef struct wsp_serve_policy {
    const char *path;           /* the WebSocket path, e.g. "/ws" */
    const char *const *origins; /* exact-match allow-list; NULL/0: same-origin rule */
    size_t num_origins;
    const wsp_jwt_key *key; /* NULL: no authentication configured */
    wsp_jwt_alg alg;        /* pinned algorithm (never NONE) */
    const char *aud;        /* expected audience, or NULL */
    const char *iss;        /* expected issuer, or NULL */
    int64_t leeway_s;       /* clock skew allowed on exp and nbf */
    unsigned unsafe;        /* wsp_serve_unsafe bits */
    bool no_compress;       /* --no-compress: permessage-deflate offers are declined */
} wsp_serve_policy;

typedef enum wsp_serve_route {
    WSP_SERVE_ROUTE_REFUSE,  /* answer `status` and close */
    WSP_SERVE_ROUTE_HEALTH,  /* GET /health: 200 with the health JSON */
    WSP_SERVE_ROUTE_UPGRADE, /* 101: the connection becomes a WebSocket */
} wsp_serve_route;

typedef enum wsp_serve_token_source {
    WSP_SERVE_TOKEN_NONE,
    WSP_SERVE_TOKEN_HEADER,      /* Authorization: Bearer TOKEN */
    WSP_SERVE_TOKEN_QUERY,       /* ?token=TOKEN (percent-decoded) */
    WSP_SERVE_TOKEN_SUBPROTOCOL, /* Sec-WebSocket-Protocol: bearer.TOKEN */
    WSP_SERVE_TOKEN_COOKIE,      /* Cookie: token=TOKEN */
} wsp_serve_token_source;

/* "header", "query", "subprotocol", "cookie", "none". Never NULL. */
const char *wsp_serve_token_source_name(wsp_serve_token_source src);

/* The outcome of one request head. Pointers point into the request buffer given to
 * wsp_serve_decide, or are static. */
typedef struct wsp_serve_decision {
    wsp_serve_route route;
    int status;         /* 101, 200, or the refusal: 400 401 403 404 405 414 426 431 */
    const char *reason; /* static, short: why refused (logs, the JSON body) */
    size_t head_len;    /* bytes of the request head (0 when it was malformed) */
    char accept[WSP_HS_ACCEPT_LEN + 1];
    const char *subprotocol; /* chosen protocol to echo (bearer.TOKEN), or NULL */
    size_t subprotocol_len;
    wsp_serve_token_source token_source;
    wsp_jwt_status jwt_status;         /* when a token was judged */
    char sub[WSP_SERVE_SUB_MAX + 1];   /* the token's sub ("anonymous" without one) */
    char room[WSP_SERVE_ROOM_MAX + 1]; /* ?room=, "default" without one */
    bool has_exp; /* the accepted token has exp (the connection must end there) */
    int64_t exp;
    bool pmd; /* permessage-deflate accepted (wsp_pmd_accept_offer): pmd_params, pmd_answer */
    wsp_pmd_params pmd_params;
    char pmd_answer[160];
} wsp_serve_decision;

/* Decide what to answer to the request head at the start of buf (len bytes): the route,
 * RFC 6455 4.2.1 checks (GET, HTTP/1.1, Host, Upgrade, Connection, a 16-byte base64 key,
 * version 13), then the Origin rule, then the token. `tls` says which listener the request
 * came in on (it picks https or http for the same-origin rule). `now` is seconds since the
 * epoch, for exp and nbf.
 *
 * Returns 0 with `d` filled when the head was complete or could be judged without the rest
 * (malformed: 400; request line over WSP_HTTP_LINE_MAX: 414; head over WSP_SERVE_HEAD_MAX or
 * more than WSP_SERVE_HEADERS_MAX headers: 431), or WSP_HTTP_PARTIAL when more bytes are
 * needed (call again with the whole head so far). The caller stops buffering at
 * WSP_SERVE_HEAD_MAX; a call with that many bytes and no complete head gives 431. `d` does not
 * own anything; buf must outlive it. */
int wsp_serve_decide(const wsp_serve_policy *pol, const char *buf, size_t len, bool tls,
                     int64_t now, wsp_serve_decision *d);

/* Write the response head for a decision into out (cap bytes, NUL-terminated): 101 with the
 * Accept and the echoed protocol; anything else with a small JSON body {"error":REASON,
 * "status":N} (or `body` when not NULL, e.g. the health JSON), Connection: close and
 * Cache-Control: no-store; 401 adds WWW-Authenticate: Bearer, 426 adds Upgrade: websocket and
 * Sec-WebSocket-Version: 13, 503 adds Retry-After. On a TLS listener every response carries
 * Strict-Transport-Security for a year (RFC 6797). `status` overrides d->status when not 0
 * (the runtime's 503 and 408). Returns the length, or -1 if it did not fit. */
long wsp_serve_render(const wsp_serve_decision *d, int status, const char *reason, bool tls,
                      const char *body, char *out, size_t cap);

/* ---- pure helpers (exposed for the unit tests) ---- */

/* Escape text for HTML body and attribute contexts: & < > " ' ` = / : become character
 * references (&amp; &lt; &gt; &quot; &#39; &#96; &#61; &#47; &#58;), so neither markup nor a
 * javascript: URL survives. Writes at most cap bytes and a NUL (when cap > 0) and returns the
 * full escaped length (like snprintf): the output is complete when the result < cap. At most
 * 5 times the input plus one. */
size_t wsp_serve_html_escape(const char *in, size_t len, char *out, size_t cap);

/* Whether `origin` may open a WebSocket. With an allow-list: an exact, byte-for-byte match with
 * one entry (no case folding, substrings, wildcards or trailing-slash tolerance). Without one:
 * same-origin with the Host header: the scheme is https on a TLS listener and http otherwise,
 * host names compare case-insensitively and ports numerically (80 and 443 by default); "null"
 * and anything with a path, user info or query is foreign. */
bool wsp_serve_origin_allowed(const char *const *allow, size_t num_allow, const char *origin,
                              size_t origin_len, const char *host, size_t host_len, bool tls);

/* Find the value of query parameter `name` in a request target ("/ws?a=1&token=x"), percent-
 * and '+'-decoded into out (cap bytes, NUL-terminated). Returns 1 found, 0 absent, -1 when the
 * value is over cap-1 bytes, badly percent-encoded, or decodes to a NUL or control byte. The
 * first occurrence wins. */
int wsp_serve_query_param(const char *target, size_t target_len, const char *name, char *out,
                          size_t cap, size_t *out_len);

/* Find the token: Authorization: Bearer (scheme case-insensitive), then ?token=, then the
 * first offered subprotocol "bearer.TOKEN", then the cookie "token". `*tok` points into the
 * request or into qbuf (qcap bytes, used for the decoded query value). For a subprotocol,
 * `*proto` gets the whole protocol to echo. Returns the source (NONE when there is no token,
 * and *tok is NULL), or -1 when the query value is malformed or too long. */
int wsp_serve_find_token(const wsp_http_request *req, char *qbuf, size_t qcap, const char **tok,
                         size_t *tok_len, const char **proto, size_t *proto_len);

/* Judge a token against the policy (the pinned algorithm and claims, and the unsafe switches
 * that weaken them). On OK, sub (WSP_SERVE_SUB_MAX + 1 bytes) and the expiry are filled. */
wsp_jwt_status wsp_serve_check_token(const wsp_serve_policy *pol, const char *tok, size_t len,
                                     int64_t now, char *sub, bool *has_exp, int64_t *exp);

/* ---- the chat protocol ---- */

typedef struct wsp_serve_chat_result {
    char *reply;     /* JSON text for the sender (ack, pong or error), heap, or NULL */
    char *broadcast; /* JSON text for every connection of the room, heap, or NULL */
    bool error;      /* the message was refused (it counts toward the close on repeated errors) */
} wsp_serve_chat_result;

/* Handle one text message of the chat protocol (docs/serve.md):
 *   {"type":"chat_message","content":STRING,"id":ID?} -> reply {"type":"ack","id":ID} and
 *     broadcast {"type":"chat_message","id":ID,"content":ESCAPED,"sub":SUB,"room":ROOM}
 *     (ID a string, a number or absent -> null; content escaped with wsp_serve_html_escape
 *     unless `sanitize` is false);
 *   {"type":"ping"} -> {"type":"pong"};
 *   anything else (not JSON, not an object, duplicate keys, no or unknown type, wrong types)
 *     -> {"type":"error","error":WHY} with error set.
 * sub and room are borrowed. Returns 0, or -1 when out of memory (nothing allocated). */
int wsp_serve_chat_handle(const char *msg, size_t len, const char *sub, const char *room,
                          bool sanitize, wsp_serve_chat_result *out);
/* Free reply and broadcast. NULL-safe. */
void wsp_serve_chat_result_cleanup(wsp_serve_chat_result *r);

/* ---- the server ---- */

typedef struct wsp_serve_listen {
    char host[64]; /* an IPv4 or IPv6 literal */
    unsigned port; /* 0: the kernel picks (the real one is printed and written to port_file) */
    bool tls;
} wsp_serve_listen;

typedef struct wsp_serve_config {
    wsp_serve_policy policy;
    wsp_serve_listen listen[2 * WSP_SERVE_LISTEN_MAX];
    size_t num_listen;
    SSL_CTX *tls_ctx; /* borrowed; needed when a listener has tls */
    bool echo;        /* echo every message instead of the chat protocol */
    /* Limits; WSP_SERVE_UNSAFE_NO_LIMITS in policy.unsafe overrides all of them. */
    uint64_t max_message;      /* bytes (declared length, before buffering): close 1009 */
    unsigned rate;             /* frames per second per connection, 0 off: close 1008 */
    unsigned max_conns_per_ip; /* 0 off: 503 at the handshake */
    /* Connections of the whole process (every state). 0: as many as the file limit allows
     * (the soft RLIMIT_NOFILE minus WSP_SERVE_FD_RESERVE), which is also the ceiling of any
     * value given. At the cap a new connection closes the oldest connection that is ending,
     * then the oldest unfinished handshake, then the oldest anonymous WebSocket; with none of
     * those it is refused (503 on plaintext). */
    unsigned max_conns;
    /* Bytes queued to all clients together, 0 off. A write that would pass it from a client
     * over its share (the budget divided by the connections) drops that client; when the
     * total passes it anyway, clients over their share are dropped, oldest first. */
    uint64_t max_queued_bytes;
    uint64_t handshake_timeout_us; /* TCP accept to complete request head (and TLS); 0 off */
    uint64_t idle_timeout_us;      /* no frame from the client for this long: close 1001; 0 off */
    size_t write_queue_max;        /* bytes queued to a client that does not read: dropped */
    unsigned max_errors;           /* consecutive chat errors before close 1008 */
    bool log_json;                 /* JSON lines on stderr instead of text */
    /* Borrowed, or NULL: the JSON lines also go here (--json=FILE), the text log stays on
     * stderr. Flushed per line; a failed write is said once on stderr. */
    FILE *json_log;
    bool quiet; /* no per-connection log lines */
    /* N worker processes (2..WSP_SERVE_MAX_WORKERS) on SO_REUSEPORT listeners, the kernel
     * spreading connections over them, each with its share of the global limits (max_conns,
     * max_conns_per_ip, max_queued_bytes divided by N; its own file limit); this process
     * binds, announces and supervises (signals forwarded, a worker that ends stops the rest).
     * 0 or 1: this process serves alone. */
    unsigned workers;
    const char *port_file; /* NULL, or where to write the bound ports as JSON */
} wsp_serve_config;

/* Defaults: hardened (every limit on), no listener, no key. */
void wsp_serve_config_init(wsp_serve_config *cfg);

/* Bind every listener, print "wsprobe serve: listening on URL" per listener on stderr, write
 * the port file, and serve until SIGTERM or SIGINT; then close every WebSocket with 1001 and
 * return 0. Returns -1 with err (USAGE: cannot bind; INTERNAL) when it could not start. */
int wsp_serve_run(const wsp_serve_config *cfg, wsp_err *err);

/* Make a throwaway CA (EC P-256, 90 days) and a certificate for localhost, 127.0.0.1 and ::1
 * signed by it, with OpenSSL's APIs; write DIR/ca.pem (for clients), DIR/cert.pem and
 * DIR/key.pem (mode 0600). The CA's key is never written. The paths of the pair are written
 * into cert_out and key_out. Returns 0 or -1 with err (USAGE for an unwritable DIR). */
int wsp_serve_self_signed(const char *dir, char *cert_out, size_t cert_cap, char *key_out,
                          size_t key_cap, wsp_err *err);

#endif
