/* conn.h - one client WebSocket connection on a libuv loop, through every phase: resolve,
 * connect, TLS, upgrade, open (frames both ways), close. It times each phase and records what
 * it saw (addresses, TLS facts, the HTTP response, frames, the close) in a wsp_conn_record, and
 * ends with a verdict: OK or a failure class with a message and a hint.
 *
 * The owner (a probe, a load worker, a security check) drives the conversation through the
 * callbacks and wsp_conn_send/close/fail. Callbacks run on the loop. Thousands of connections
 * may share one loop.
 */
#ifndef WSP_CONN_H
#define WSP_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "net/dns.h"
#include "util/error.h"
#include "net/tls.h"
#include "codec/pmd.h"
#include "codec/proxy.h"
#include "codec/url.h"
#include "codec/ws.h"

typedef struct wsp_conn wsp_conn;

typedef enum wsp_conn_phase {
    WSP_PHASE_RESOLVE,
    WSP_PHASE_CONNECT,
    WSP_PHASE_PROXY, /* through a proxy: its TLS (https://), then CONNECT or SOCKS5 */
    WSP_PHASE_TLS,
    WSP_PHASE_UPGRADE,
    WSP_PHASE_OPEN,
    WSP_PHASE_CLOSING,
    WSP_PHASE_DONE,
} wsp_conn_phase;

const char *wsp_conn_phase_name(wsp_conn_phase p);

#define WSP_CONN_MAX_PINNED WSP_DNS_MAX_PINNED
#define WSP_CONN_MAX_HEADERS 32

/* What a tracer is told of (--trace): a frame, a message assembled from frames, or bytes
 * written raw. */
typedef enum wsp_conn_trace_kind {
    WSP_TRACE_FRAME,   /* a frame (outgoing: with its payload; incoming: its header only) */
    WSP_TRACE_MESSAGE, /* an incoming message as delivered (inflated), with its frames */
    WSP_TRACE_RAW,     /* bytes written as they are (security checks) */
} wsp_conn_trace_kind;

typedef struct wsp_conn_trace_event {
    wsp_conn_trace_kind kind;
    bool outgoing;
    unsigned opcode;
    bool fin, rsv1, masked, compressed;
    uint64_t length;  /* payload length (raw: the bytes written) */
    const void *data; /* payload, or its start; NULL when not seen (an incoming header) */
    size_t data_len;
    unsigned frames; /* WSP_TRACE_MESSAGE: frames that made it */
    int close_code;  /* a close message's code, -1 when it had none */
} wsp_conn_trace_event;

/* A tracer for every connection of a process (report/trace.h writes JSON lines); conn gives
 * each connection an id and its own clock (ns since its start). Calls come from the loop's
 * thread: several loops (load) may call at once. */
typedef struct wsp_conn_tracer {
    void (*head)(void *ud, uint64_t conn_id, uint64_t t_ns, bool outgoing, const char *data,
                 size_t len);
    void (*event)(void *ud, uint64_t conn_id, uint64_t t_ns, const wsp_conn_trace_event *ev);
    void *ud;
} wsp_conn_tracer;

/* Everything a connection needs; borrowed: it must outlive the connection. */
typedef struct wsp_conn_opts {
    const wsp_url *url;
    SSL_CTX *tls_ctx; /* required for wss/https */
    bool tls_verify;  /* false with --insecure: failures are reported, not fatal */
    /* the record keeps TLS facts (rec.tls, 2 KiB) only when the handshake fails: for owners
     * of many connections (load) that never report a successful one's certificate */
    bool tls_facts_on_failure;
    int min_cert_days; /* CERT_EXPIRED when fewer days are left; 0: only expiry */
    /* resolution */
    int family;                            /* AF_UNSPEC, AF_INET, AF_INET6 */
    const char *dns_servers;               /* NULL: the system's */
    const struct sockaddr_storage *pinned; /* --resolve: skip DNS and use these */
    int num_pinned;
    const struct sockaddr *bind_addr; /* source address, or NULL */
    /* the proxy chosen for this URL (codec/proxy.h), or NULL. With kind NONE the connection
     * goes direct and the record says why (a no_proxy entry). Through a proxy, resolution and
     * TCP go to the proxy (pinned addresses and a socks5:// proxy's local resolution name the
     * tunnel's target instead), the proxy phase opens the tunnel, then TLS and the upgrade
     * run inside it. Failures there have the PROXY_* classes. The proxy's TLS (https://) uses
     * tls_ctx and tls_verify, as the endpoint's does. */
    const wsp_proxy *proxy;
    /* time limits in microseconds: each phase, and the whole connection (0: none) */
    uint64_t timeout_us;
    uint64_t deadline_us;
    /* the upgrade request */
    const char *origin;
    const char *subprotocols; /* comma-separated offer, or NULL */
    const char *extensions;
    /* permessage-deflate to offer (--compress) with these parameters. The offer replaces
     * `extensions`; the answer is checked (HS_NEGOTIATION), messages are compressed and
     * inflated, and the record's `pmd` says what happened. */
    bool compress;
    wsp_pmd_params compress_params;
    const char *headers[WSP_CONN_MAX_HEADERS]; /* "Name: value" */
    size_t num_headers;
    wsp_ws_limits limits;
    /* a plain HTTP GET instead of an upgrade (health checks): the verdict is the status */
    bool http_only;
    /* -v: called with each request/response head as sent or received (the callee redacts) */
    void (*trace)(void *ud, bool outgoing, const char *data, size_t len);
    void *trace_ud;
    /* --trace: every head and frame, each way (NULL: none) */
    const wsp_conn_tracer *tracer;
} wsp_conn_opts;

typedef struct wsp_conn_cbs {
    /* The upgrade succeeded (101 validated). Send from here. */
    void (*on_open)(wsp_conn *c, void *ud);
    /* A text, binary or pong event (pings are answered for you). */
    void (*on_message)(wsp_conn *c, void *ud, const wsp_ws_event *ev);
    /* The verdict is final and the record complete; the owner may now read the record and then
     * wsp_conn_free the connection (from this callback or later). Called exactly once unless
     * the connection is freed first. */
    void (*on_done)(wsp_conn *c, void *ud);
} wsp_conn_cbs;

/* permessage-deflate as it went (heap, only when it was offered). Bytes are message payload:
 * on the wire (compressed, or as sent when a message went uncompressed) and inflated. */
typedef struct wsp_conn_pmd_record {
    char offered[160]; /* the Sec-WebSocket-Extensions offer */
    bool accepted;
    char params[160]; /* the agreed parameters ("" when none) */
    uint64_t sent_wire, sent_inflated, received_wire, received_inflated;
    uint64_t sent_compressed_messages, received_compressed_messages;
} wsp_conn_pmd_record;

/* The proxy as it went (heap, when opts->proxy is set). */
typedef struct wsp_conn_proxy_record {
    const wsp_proxy *proxy;  /* opts->proxy: which, and why (or why not) */
    char tunnel_target[300]; /* host:port (or address:port) the tunnel was asked for */
    uint64_t t_tunnel;       /* the tunnel opened; the proxy phase is t_connected..t_tunnel */
    int status;              /* the status of CONNECT's answer, 0 when none came */
    int socks_reply;         /* the SOCKS5 reply code, -1 when none came */
} wsp_conn_proxy_record;

/* What became of one address's connection attempt (Happy Eyeballs, RFC 8305). */
enum {
    WSP_ATTEMPT_NOT_TRIED,
    WSP_ATTEMPT_WON,       /* it connected first: the connection */
    WSP_ATTEMPT_FAILED,    /* refused, unreachable, ... */
    WSP_ATTEMPT_TIMEOUT,   /* no answer within the phase timeout */
    WSP_ATTEMPT_ABANDONED, /* still connecting when another won */
};

typedef enum wsp_closed_by {
    WSP_CLOSED_BY_NONE,
    WSP_CLOSED_BY_CLIENT,
    WSP_CLOSED_BY_SERVER,
} wsp_closed_by;

#define WSP_CONN_BODY_MAX 512
#define WSP_CONN_AFTER_101_MAX 256
#define WSP_CONN_HEAD_KEEP 8192

/* What the connection saw. Times are uv_hrtime() nanoseconds; 0 means not reached. The
 * diagnostics most connections never need (TLS facts, a refusal's body and Location, the
 * address list) live on the heap, allocated when first used, so an idle connection stays
 * small (load keeps tens of thousands open). */
typedef struct wsp_conn_record {
    uint64_t t_start, t_resolved, t_connected, t_tls, t_request, t_upgraded, t_first_message,
        t_close_start, t_closed, t_end;
    wsp_conn_phase failed_phase; /* the phase the connection was in when it failed */
    /* addresses (heap, num_addresses entries; NULL before resolution) */
    char (*addresses)[48];
    int num_addresses;
    int used_address;  /* index into addresses, or -1 */
    uint8_t *attempts; /* heap, num_addresses entries: what became of each (WSP_ATTEMPT_*) */
    uint16_t port;
    /* TLS */
    bool tls_used;
    bool tls_done;
    wsp_tls_info *tls;            /* heap, allocated when a TLS session starts; NULL for ws:// */
    wsp_conn_proxy_record *proxy; /* heap, when a proxy was configured (even if bypassed) */
    /* HTTP */
    int http_status; /* 0: no status line */
    int http_minor;
    char http_reason[128];
    char *http_head; /* the response head as received (capped at WSP_CONN_HEAD_KEEP), owned */
    size_t http_head_len;
    char *http_body; /* heap: first bytes of a non-101 body (WSP_CONN_BODY_MAX at most), or NULL */
    size_t http_body_len;
    char *location; /* heap: the Location of a 3xx, or NULL */
    /* WebSocket */
    char subprotocol[128];
    char extensions[256];
    wsp_conn_pmd_record *pmd; /* NULL when permessage-deflate was not offered */
    uint64_t sent_frames, received_frames, sent_bytes, received_bytes; /* frame bytes on the wire */
    uint64_t sent_messages, received_messages; /* text and binary messages, whole */
    uint64_t tx_bytes,
        rx_bytes; /* every byte through the socket: HTTP and frames, or their TLS records */
    uint64_t t_last_frame_in, t_last_frame_out; /* the last frame each way but close (0: none) */
    bool eof_seen;  /* the input ended (a FIN, or an error such as an RST) */
    int eof_error;  /* then: 0 for a FIN, else the libuv error (UV_ECONNRESET: an RST) */
    int close_code; /* -1 none; the code in the close frame received (or sent when ours) */
    char close_reason[128];
    /* an HTTP response where the first frame belonged (a second answer after the 101): its
     * first bytes (heap, WSP_CONN_AFTER_101_MAX at most, or NULL), for the layer above (a
     * Socket.IO server refusing the Engine.IO version) */
    uint8_t *after_101;
    size_t after_101_len;
    wsp_closed_by closed_by;
    bool close_acknowledged;
    /* the verdict */
    bool network; /* a TCP connection was made */
    bool handshake_completed;
    wsp_err err;
} wsp_conn_record;

/* Create a connection (nothing happens until wsp_conn_start). Returns NULL on allocation
 * failure. `opts` and `cbs` are borrowed. */
wsp_conn *wsp_conn_new(uv_loop_t *loop, const wsp_conn_opts *opts, const wsp_conn_cbs *cbs,
                       void *ud);
/* Begin: resolve (or use pinned addresses), connect, ... Failures arrive through on_done. */
void wsp_conn_start(wsp_conn *c);
/* Send one message (TEXT, BINARY) or control frame (PING, PONG) as a single masked frame.
 * Returns 0, or -1 when the connection is not open. */
int wsp_conn_send(wsp_conn *c, unsigned opcode, const void *data, size_t len);
/* Send raw bytes as they are (security checks that break the protocol on purpose). */
int wsp_conn_send_raw(wsp_conn *c, const void *data, size_t len);
/* Start the closing handshake (RFC 6455 7.1.2) with `code` (0: no code) and wait for the
 * server's close, at most one phase timeout. The verdict stays as it is. */
void wsp_conn_close(wsp_conn *c, unsigned code, const char *reason);
/* Record a failure decided by the owner (an expectation), then close politely. */
void wsp_conn_fail(wsp_conn *c, wsp_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Release the connection; safe at any time. Handles close asynchronously; on_done is not
 * called after this. */
void wsp_conn_free(wsp_conn *c);

wsp_conn_phase wsp_conn_get_phase(const wsp_conn *c);
/* Whether permessage-deflate was agreed: then messages must go through wsp_conn_send (raw
 * frames would skip the compression). */
bool wsp_conn_compressing(const wsp_conn *c);
/* The record; valid until wsp_conn_free. The owner may adjust rec->err before reporting. */
wsp_conn_record *wsp_conn_get_record(wsp_conn *c);
void *wsp_conn_get_ud(const wsp_conn *c);

/* Milliseconds between two record times (0 when either is unset). */
double wsp_conn_ms(uint64_t from_ns, uint64_t to_ns);
/* When the connection to the endpoint was there for TLS or the upgrade to start: the tunnel's
 * opening through a proxy, else the TCP connection (0: not reached). */
uint64_t wsp_conn_t_ready(const wsp_conn_record *r);

#endif
