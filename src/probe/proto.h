/* proto.h - the protocols on top of a WebSocket (`--protocol socketio|graphql`): one
 * connection's application handshake, keep-alive and packets, between the connection
 * (net/conn.h) and whoever holds the conversation (a probe, a load worker, a hold strategy).
 *
 * Socket.IO (v3/v4 over Engine.IO v4; v2 over Engine.IO v3 with eio = 3): the server's open
 * packet is awaited and checked (codec/sio.h), then the namespace's CONNECT is sent with its
 * auth payload and its answer awaited; Engine.IO pings are answered (v4: the server's; v3: the
 * client sends them every pingInterval). GraphQL (graphql-transport-ws, codec/gql.h):
 * connection_init with its payload, connection_ack awaited, pings answered.
 *
 * Each handshake step is timed (the record's t_open, t_ready) and limited by the connection's
 * phase timeout. What the owner asked for comes back as wsp_proto_msg: events, acks, a
 * subscription's next, error and complete. Everything else a server may send (pings, noops,
 * binary attachments) is handled here and counted. A packet that breaks the protocol fails the
 * connection with APP_PROTOCOL quoting its bytes; a refused credential is APP_AUTH_REFUSED. */
#ifndef WSP_PROTO_H
#define WSP_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "codec/sio.h"
#include "net/conn.h"

typedef enum wsp_proto_kind {
    WSP_PROTO_NONE,
    WSP_PROTO_SOCKETIO,
    WSP_PROTO_GRAPHQL,
} wsp_proto_kind;

const char *wsp_proto_kind_name(wsp_proto_kind k); /* "socketio", "graphql", "websocket" */

#define WSP_PROTO_DEFAULT_SIO_PATH "/socket.io/"

/* What every connection of a configuration speaks. Strings are owned by the configuration. */
typedef struct wsp_proto_config {
    wsp_proto_kind kind;
    int eio;               /* Socket.IO: Engine.IO 4 (default) or 3 */
    char *nsp;             /* Socket.IO: the namespace, "/" by default */
    char *path;            /* Socket.IO: the Engine.IO path (the URL's is set from it) */
    char *connect_payload; /* CONNECT's auth or connection_init's payload: a JSON object */
    char *token_key;       /* with --auth-in socketio-auth|init-payload: the token's key */
} wsp_proto_config;

void wsp_proto_config_cleanup(wsp_proto_config *c);

/* What one connection's protocol did, for the report. */
typedef struct wsp_proto_record {
    wsp_proto_kind kind;
    uint64_t t_open;               /* Socket.IO: the Engine.IO open packet arrived (uv_hrtime) */
    uint64_t t_ready;              /* the namespace's CONNECT answer / connection_ack arrived */
    const char *failed_phase;      /* "eio_open", "namespace_connect", "connection_ack" or NULL */
    wsp_eio_open open;             /* Socket.IO: the open packet's fields */
    char sid[WSP_SIO_SID_MAX + 1]; /* Socket.IO: the namespace's sid (v5) */
    int sio_version;               /* Socket.IO protocol as the server spoke it: 5, 4, 0 */
    uint64_t server_pings, client_pings, pongs;
    uint64_t events_skipped; /* events no step waited for */
    uint64_t attachments, attachment_bytes;
    bool disconnected; /* the server disconnected the namespace, or closed Engine.IO */
    char disconnect_reason[64];
} wsp_proto_record;

typedef enum wsp_proto_msg_kind {
    WSP_PROTO_MSG_EVENT,      /* Socket.IO EVENT / BINARY_EVENT: name, args, ack_id */
    WSP_PROTO_MSG_ACK,        /* Socket.IO ACK / BINARY_ACK: ack_id, args */
    WSP_PROTO_MSG_NEXT,       /* GraphQL next: id, payload */
    WSP_PROTO_MSG_ERROR,      /* GraphQL error: id, payload (the errors) */
    WSP_PROTO_MSG_COMPLETE,   /* GraphQL complete: id */
    WSP_PROTO_MSG_DISCONNECT, /* the server ended the namespace or the session */
} wsp_proto_msg_kind;

typedef struct wsp_proto_msg {
    wsp_proto_msg_kind kind;
    const char *name; /* EVENT */
    int64_t ack_id;   /* EVENT (the server asks for an ack) or ACK; -1: none */
    const char *id;   /* GraphQL: the operation's id */
    json_t *args;     /* EVENT, ACK: the arguments as an array; NEXT, ERROR: the payload */
    unsigned attachments;
    const uint8_t *raw; /* the packet as received (a text message), for quotes */
    size_t raw_len;
} wsp_proto_msg;

typedef struct wsp_proto_cbs {
    void (*on_ready)(void *ud);                       /* the handshake is done */
    void (*on_msg)(void *ud, const wsp_proto_msg *m); /* borrowed for the call */
} wsp_proto_cbs;

typedef struct wsp_proto wsp_proto;

/* One connection's protocol. `token` (may be NULL) is copied and wiped on free; it goes where
 * cfg->token_key says. `timeout_us` limits each handshake step. NULL on allocation failure. */
wsp_proto *wsp_proto_new(uv_loop_t *loop, const wsp_proto_config *cfg, wsp_conn *conn,
                         const char *token, uint64_t timeout_us, const wsp_proto_cbs *cbs,
                         void *ud);
/* The connection opened: start the handshake (GraphQL sends connection_init). */
void wsp_proto_on_open(wsp_proto *p);
/* A message from the connection. Returns true when it was the protocol's (consumed), false
 * for what the owner handles itself (pongs of its own pings). */
bool wsp_proto_on_message(wsp_proto *p, const wsp_ws_event *ev);
/* The connection ended: no more timers (the heartbeat's watchdog, a handshake step's limit). */
void wsp_proto_on_done(wsp_proto *p);
/* Whether the handshake is done (steps may run). */
bool wsp_proto_ready(const wsp_proto *p);

/* Socket.IO: emit EVENT with `args` (a JSON array text, spread as arguments; NULL: none),
 * asking for an ack when want_ack (its id is returned in *ack_id). 0, or -1 with err. */
int wsp_proto_emit(wsp_proto *p, const char *event, const char *args, bool want_ack,
                   int64_t *ack_id, wsp_err *err);
/* GraphQL: subscribe to `query` with `variables` (a JSON object text or NULL); the operation's
 * id is written to id (at least 16 bytes). 0, or -1 with err. */
int wsp_proto_subscribe(wsp_proto *p, const char *query, const char *variables, char *id,
                        size_t id_cap, wsp_err *err);

/* After the connection's verdict: what the protocol knows of its end. A GraphQL close code
 * is named (4401/4403: APP_AUTH_REFUSED); a Socket.IO server that refused the Engine.IO
 * version in its HTTP answer is APP_PROTOCOL. Adjusts r->err; a failure while the
 * handshake waited names its step in the record's failed_phase. */
void wsp_proto_judge(wsp_proto *p, wsp_conn_record *r);

const wsp_proto_record *wsp_proto_get_record(const wsp_proto *p);
/* The owner passed over an event no step waited for (the record's events_skipped). */
void wsp_proto_note_skipped(wsp_proto *p);
/* Release (asynchronously: its timer's close). NULL is fine. */
void wsp_proto_free(wsp_proto *p);

/* Shape the URL as the client library does: Socket.IO's path and query (EIO, transport),
 * the namespace from the URL's path when none was given. 0, or -1 with err (USAGE). */
int wsp_proto_shape_url(wsp_proto_config *cfg, wsp_url *url, wsp_err *err);

#endif
