/* proto.c - see proto.h. */
#define _GNU_SOURCE /* memmem */
#include "probe/proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/gql.h"
#include "codec/target.h"
#include "util/excerpt.h"
#include "util/redact.h"

typedef enum proto_state {
    ST_IDLE,         /* the WebSocket is not open yet */
    ST_WAIT_OPEN,    /* Socket.IO: the Engine.IO open packet */
    ST_WAIT_CONNECT, /* Socket.IO: the namespace's CONNECT answer */
    ST_WAIT_ACK,     /* GraphQL: connection_ack */
    ST_READY,
    ST_FAILED,
} proto_state;

struct wsp_proto {
    const wsp_proto_config *cfg;
    wsp_conn *conn;
    char *token;
    uint64_t timeout_us;
    wsp_proto_cbs cbs;
    void *ud;
    uv_timer_t timer; /* a handshake step's limit; then Engine.IO's heartbeat */
    proto_state state;
    int64_t next_ack;
    unsigned next_op;
    /* a BINARY_EVENT or BINARY_ACK waiting for its attachments */
    char *pending;
    size_t pending_len;
    unsigned pending_left;
    wsp_proto_record rec;
};

const char *wsp_proto_kind_name(wsp_proto_kind k)
{
    switch (k) {
    case WSP_PROTO_SOCKETIO:
        return "socketio";
    case WSP_PROTO_GRAPHQL:
        return "graphql";
    case WSP_PROTO_NONE:
        break;
    }
    return "websocket";
}

void wsp_proto_config_cleanup(wsp_proto_config *c)
{
    free(c->nsp);
    free(c->path);
    free(c->connect_payload);
    free(c->token_key);
    memset(c, 0, sizeof *c);
}

/* Free a string that may hold the token, wiped first. */
static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static const char *nsp_of(const wsp_proto *p)
{
    return p->cfg->nsp && p->cfg->nsp[0] ? p->cfg->nsp : "/";
}

/* What to do about a graphql-transport-ws close code (the auth ones aside), NULL: none. */
static const char *gql_close_hint(int code)
{
    switch (code) {
    case 4400:
        return "the server could not read a message of this client: compare the subscribe's "
               "payload (query, variables) with what the server expects, or its graphql-ws "
               "version";
    case 4408:
        return "connection_init did not reach the server within its connectionInitWaitTimeout: "
               "something in between delays the first message, or the timeout is too short";
    case 4409:
        return "an operation id was used while an operation with it was still running";
    case 4429:
        return "connection_init was sent twice on this connection";
    default:
        return NULL;
    }
}

/* The handshake step a state waits in, NULL when none. */
static const char *waiting_phase(proto_state st)
{
    return st == ST_WAIT_OPEN      ? "eio_open"
           : st == ST_WAIT_CONNECT ? "namespace_connect"
           : st == ST_WAIT_ACK     ? "connection_ack"
                                   : NULL;
}

/* Fail the connection for the protocol: the class, what was wrong, the bytes that showed it. */
static void proto_fail(wsp_proto *p, wsp_class cls, const char *hint, const void *data, size_t len,
                       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void proto_fail(wsp_proto *p, wsp_class cls, const char *hint, const void *data, size_t len,
                       const char *fmt, ...)
{
    if (p->state == ST_FAILED)
        return;
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    p->rec.failed_phase = waiting_phase(p->state);
    p->state = ST_FAILED;
    uv_timer_stop(&p->timer);
    if (data) {
        char ex[201];
        wsp_excerpt(ex, sizeof ex, data, len);
        wsp_conn_fail(p->conn, cls, "%s; the packet: %s", what, ex);
    } else {
        wsp_conn_fail(p->conn, cls, "%s", what);
    }
    wsp_conn_record *r = wsp_conn_get_record(p->conn);
    if (hint && r->err.cls == cls)
        wsp_err_hint(&r->err, "%s", hint);
}

static int send_text(wsp_proto *p, const char *s, size_t len)
{
    return wsp_conn_send(p->conn, WSP_WS_OP_TEXT, s, len);
}

static void timer_cb(uv_timer_t *t);

static void arm(wsp_proto *p, uint64_t us, uint64_t repeat_us)
{
    uv_timer_start(&p->timer, timer_cb, (us + 999) / 1000, (repeat_us + 999) / 1000);
}

static void become_ready(wsp_proto *p)
{
    p->state = ST_READY;
    p->rec.t_ready = uv_hrtime();
    uv_timer_stop(&p->timer);
    if (p->cfg->kind == WSP_PROTO_SOCKETIO) {
        uint64_t iv = p->rec.open.ping_interval_ms * 1000u;
        if (p->cfg->eio == 3)
            arm(p, iv, iv); /* v3: the client pings */
        else /* v4: the server pings; no ping within interval + timeout ends the session */
            arm(p, iv + p->rec.open.ping_timeout_ms * 1000u, 0);
    }
    if (p->cbs.on_ready)
        p->cbs.on_ready(p->ud);
}

static void timer_cb(uv_timer_t *t)
{
    wsp_proto *p = t->data;
    double s = (double)p->timeout_us / 1e6;
    if (wsp_conn_get_phase(p->conn) != WSP_PHASE_OPEN)
        return; /* closing: the session is over, neither a ping nor its absence counts */
    switch (p->state) {
    case ST_WAIT_OPEN:
        proto_fail(p, WSP_CLASS_WS_MSG_TIMEOUT,
                   "is this a Socket.IO server? Check --socketio-path (the server's `path` "
                   "option) and --engineio",
                   NULL, 0, "no Engine.IO open packet within %.3gs of the upgrade", s);
        return;
    case ST_WAIT_CONNECT:
        proto_fail(p, WSP_CLASS_WS_MSG_TIMEOUT,
                   "the server did not answer the namespace's CONNECT: check --namespace and "
                   "the server's connection middleware (one that never calls next())",
                   NULL, 0, "no answer to the CONNECT of namespace %.200s within %.3gs", nsp_of(p),
                   s);
        return;
    case ST_WAIT_ACK:
        proto_fail(p, WSP_CLASS_WS_MSG_TIMEOUT,
                   "the server received connection_init and did not acknowledge it: its "
                   "onConnect may hang, or it does not speak graphql-transport-ws",
                   NULL, 0, "no connection_ack within %.3gs of connection_init", s);
        return;
    case ST_READY:
        if (p->cfg->eio == 3) {
            if (p->rec.client_pings > p->rec.pongs + 1) {
                proto_fail(p, WSP_CLASS_WS_PONG_TIMEOUT, NULL, NULL, 0,
                           "the server answered none of the last two Engine.IO pings (sent "
                           "every %llu ms)",
                           (unsigned long long)p->rec.open.ping_interval_ms);
                return;
            }
            p->rec.client_pings++;
            if (send_text(p, "2", 1) != 0)
                proto_fail(p, WSP_CLASS_WS_DROPPED, NULL, NULL, 0,
                           "could not send an Engine.IO ping");
            return;
        }
        proto_fail(
            p, WSP_CLASS_APP_PROTOCOL,
            "Engine.IO v4 servers ping every pingInterval; the client library closes a "
            "session whose pings stop (a proxy buffering the stream, a stalled server)",
            NULL, 0,
            "the server sent no Engine.IO ping within pingInterval + pingTimeout "
            "(%llu ms)",
            (unsigned long long)(p->rec.open.ping_interval_ms + p->rec.open.ping_timeout_ms));
        return;
    case ST_IDLE:
    case ST_FAILED:
        return;
    }
}

wsp_proto *wsp_proto_new(uv_loop_t *loop, const wsp_proto_config *cfg, wsp_conn *conn,
                         const char *token, uint64_t timeout_us, const wsp_proto_cbs *cbs, void *ud)
{
    wsp_proto *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (token && !(p->token = strdup(token))) {
        free(p);
        return NULL;
    }
    if (token && strpbrk(token, "\"\\/")) {
        /* in the payload the token is a JSON string: a '"', '\\' or '/' in it is escaped
         * there, and that form too must never reach a trace */
        json_t *js = json_string(token);
        char *esc = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        json_decref(js);
        if (esc && strlen(esc) > 2)
            wsp_redact_register(esc + 1, strlen(esc) - 2);
        wipe_free(esc);
    }
    p->cfg = cfg;
    p->conn = conn;
    p->timeout_us = timeout_us ? timeout_us : 10000000u;
    if (cbs)
        p->cbs = *cbs;
    p->ud = ud;
    p->rec.kind = cfg->kind;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

/* The payload of CONNECT or connection_init: the configured object with the token at its key.
 * Heap JSON text, "" when there is nothing to send, NULL when out of memory. */
static char *handshake_payload(const wsp_proto *p)
{
    const wsp_proto_config *c = p->cfg;
    bool token = p->token && c->token_key;
    if (!c->connect_payload && !token)
        return strdup("");
    json_error_t je;
    json_t *o = c->connect_payload ? json_loads(c->connect_payload, 0, &je) : json_object();
    if (!json_is_object(o)) { /* setup checked it: only out of memory gets here */
        json_decref(o);
        return NULL;
    }
    if (token)
        json_object_set_new(o, c->token_key, json_string(p->token));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

void wsp_proto_on_open(wsp_proto *p)
{
    if (p->cfg->kind == WSP_PROTO_SOCKETIO) {
        p->state = ST_WAIT_OPEN;
        arm(p, p->timeout_us, 0);
        return;
    }
    /* GraphQL: the subprotocol tells a legacy subscriptions-transport-ws server at once */
    const wsp_conn_record *r = wsp_conn_get_record(p->conn);
    p->state = ST_WAIT_ACK;
    if (strcmp(r->subprotocol, WSP_GQL_LEGACY_SUBPROTOCOL) == 0) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL,
                   "subscriptions-transport-ws is unmaintained and speaks another protocol: "
                   "move the server to graphql-ws (graphql-transport-ws), which Apollo, Hasura "
                   "and graphql-ws clients speak",
                   NULL, 0,
                   "the server chose the subprotocol graphql-ws: it is the legacy "
                   "subscriptions-transport-ws, not graphql-transport-ws");
        return;
    }
    char *payload = handshake_payload(p);
    json_t *m = json_pack("{s:s}", "type", "connection_init");
    json_error_t je;
    if (payload && payload[0])
        json_object_set_new(m, "payload", json_loads(payload, 0, &je));
    char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    wipe_free(payload); /* both may hold the token */
    arm(p, p->timeout_us, 0);
    if (!s || send_text(p, s, strlen(s)) != 0)
        proto_fail(p, s ? WSP_CLASS_WS_DROPPED : WSP_CLASS_INTERNAL, NULL, NULL, 0,
                   "could not send connection_init");
    wipe_free(s);
}

static void deliver(wsp_proto *p, const wsp_proto_msg *m)
{
    if (p->cbs.on_msg)
        p->cbs.on_msg(p->ud, m);
}

/* --- Socket.IO ------------------------------------------------------------------------ */

static void sio_send_connect(wsp_proto *p)
{
    const char *nsp = nsp_of(p);
    bool root = strcmp(nsp, "/") == 0;
    if (p->cfg->eio == 3 && root)
        return; /* Socket.IO v2 connects the main namespace by itself */
    char *payload = p->cfg->eio == 3 ? strdup("") : handshake_payload(p);
    size_t cap = (payload ? strlen(payload) : 0) + strlen(nsp) + 8;
    char *buf = malloc(cap);
    /* v2 writes "40/chat," too: the encoder's namespace always ends with its ',' */
    int n = payload && buf ? wsp_sio_encode(buf, cap, WSP_SIO_CONNECT, nsp, -1, payload) : -1;
    if (n < 0 || send_text(p, buf, (size_t)n) != 0)
        proto_fail(p, n < 0 ? WSP_CLASS_INTERNAL : WSP_CLASS_WS_DROPPED, NULL, NULL, 0,
                   "could not send the namespace's CONNECT");
    wipe_free(payload); /* both may hold the token */
    if (buf && n > 0)
        memset(buf, 0, (size_t)n);
    free(buf);
}

static void sio_open(wsp_proto *p, const char *json, size_t len, const wsp_ws_event *ev)
{
    const char *why = NULL;
    if (wsp_eio_parse_open(json, len, &p->rec.open, &why) != 0) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len, "Engine.IO open packet: %s",
                   why);
        return;
    }
    p->rec.t_open = uv_hrtime();
    p->state = ST_WAIT_CONNECT;
    arm(p, p->timeout_us, 0);
    sio_send_connect(p);
}

static bool nsp_is_ours(const wsp_proto *p, const wsp_sio_packet *k)
{
    const char *n = nsp_of(p);
    return strlen(n) == k->nsp_len && memcmp(n, k->nsp, k->nsp_len) == 0;
}

/* CONNECT_ERROR's reason: v5 {"message": "...", "data": ...}, v4 a JSON string. */
static void connect_error_reason(const wsp_sio_packet *k, char *out, size_t cap)
{
    json_error_t je;
    json_t *d = k->data ? json_loadb(k->data, k->data_len, 0, &je) : NULL;
    const char *m =
        json_is_string(d) ? json_string_value(d) : json_string_value(json_object_get(d, "message"));
    snprintf(out, cap, "%.200s", m ? m : "(no message)");
    json_decref(d);
}

static void sio_connect_answer(wsp_proto *p, const wsp_sio_packet *k, const wsp_ws_event *ev)
{
    if (k->type == WSP_SIO_CONNECT_ERROR) {
        char why[220];
        connect_error_reason(k, why, sizeof why);
        if (strcmp(why, "Invalid namespace") == 0) {
            proto_fail(p, WSP_CLASS_APP_ERROR,
                       "the server has no such namespace: check --namespace (or the URL's path, "
                       "which the client library takes as the namespace)",
                       ev->data, ev->len, "the server refused namespace %.200s: Invalid namespace",
                       nsp_of(p));
            return;
        }
        proto_fail(p, WSP_CLASS_APP_AUTH_REFUSED,
                   "the server's connection middleware refused this client: check the token and "
                   "where it goes (--auth-in socketio-auth[:KEY], default {\"token\": ...})",
                   ev->data, ev->len, "the server refused the CONNECT of namespace %.200s: %s",
                   nsp_of(p), why);
        return;
    }
    if (k->type != WSP_SIO_CONNECT) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len,
                   "a Socket.IO packet of type %d before the namespace's CONNECT was answered",
                   (int)k->type);
        return;
    }
    json_error_t je;
    json_t *d = k->data ? json_loadb(k->data, k->data_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    const char *sid = json_string_value(json_object_get(d, "sid"));
    if (sid) {
        p->rec.sio_version = 5;
        snprintf(p->rec.sid, sizeof p->rec.sid, "%.*s", WSP_SIO_SID_MAX, sid);
    } else {
        p->rec.sio_version = 4;
    }
    json_decref(d);
    if (p->cfg->eio != 3 && !sid) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL,
                   "Socket.IO v2 servers speak Engine.IO v3: probe them with --engineio 3",
                   ev->data, ev->len,
                   "the server answered CONNECT without a sid, as Socket.IO v2 (Engine.IO v3) "
                   "does, while Engine.IO v4 was asked for");
        return;
    }
    become_ready(p);
}

/* Deliver an EVENT or ACK (its attachments, if any, are in). */
static void sio_deliver(wsp_proto *p, const char *text, size_t len)
{
    wsp_sio_packet k;
    const char *why = NULL;
    if (wsp_sio_parse(text, len, &k, &why) != 0) /* parsed once already */
        return;
    json_error_t je;
    json_t *a = json_loadb(k.data, k.data_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_array(a)) {
        json_decref(a);
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, text, len,
                   "a Socket.IO %s whose data is not a JSON array (%s)",
                   k.type == WSP_SIO_ACK || k.type == WSP_SIO_BINARY_ACK ? "ack" : "event",
                   je.text);
        return;
    }
    wsp_proto_msg m = {.ack_id = k.ack_id,
                       .attachments = k.attachments,
                       .raw = (const uint8_t *)text,
                       .raw_len = len};
    if (k.type == WSP_SIO_EVENT || k.type == WSP_SIO_BINARY_EVENT) {
        const char *name = json_string_value(json_array_get(a, 0));
        if (!name) {
            json_decref(a);
            proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, text, len,
                       "a Socket.IO event whose first element is not its name (a string)");
            return;
        }
        char *nm = strdup(name);
        json_array_remove(a, 0);
        m.kind = WSP_PROTO_MSG_EVENT;
        m.name = nm ? nm : "";
        m.args = a;
        deliver(p, &m);
        free(nm);
    } else {
        m.kind = WSP_PROTO_MSG_ACK;
        m.args = a;
        deliver(p, &m);
    }
    json_decref(a);
}

static void sio_message(wsp_proto *p, const char *s, size_t len, const wsp_ws_event *ev)
{
    wsp_sio_packet k;
    const char *why = NULL;
    if (wsp_sio_parse(s, len, &k, &why) != 0) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len, "%s", why);
        return;
    }
    if (!nsp_is_ours(p, &k))
        return; /* another namespace multiplexed on this session */
    if (p->state == ST_WAIT_CONNECT) {
        sio_connect_answer(p, &k, ev);
        return;
    }
    switch (k.type) {
    case WSP_SIO_EVENT:
    case WSP_SIO_ACK:
        sio_deliver(p, s, len);
        return;
    case WSP_SIO_BINARY_EVENT:
    case WSP_SIO_BINARY_ACK:
        if (k.attachments == 0) {
            sio_deliver(p, s, len);
            return;
        }
        free(p->pending);
        p->pending = malloc(len);
        if (!p->pending) {
            proto_fail(p, WSP_CLASS_INTERNAL, NULL, NULL, 0, "out of memory");
            return;
        }
        memcpy(p->pending, s, len);
        p->pending_len = len;
        p->pending_left = k.attachments;
        return;
    case WSP_SIO_DISCONNECT: {
        p->rec.disconnected = true;
        snprintf(p->rec.disconnect_reason, sizeof p->rec.disconnect_reason,
                 "server namespace disconnect");
        wsp_proto_msg m = {
            .kind = WSP_PROTO_MSG_DISCONNECT, .ack_id = -1, .raw = ev->data, .raw_len = ev->len};
        deliver(p, &m);
        return;
    }
    case WSP_SIO_CONNECT:
    case WSP_SIO_CONNECT_ERROR:
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len,
                   "a Socket.IO %s for a namespace already connected",
                   k.type == WSP_SIO_CONNECT ? "CONNECT" : "CONNECT_ERROR");
        return;
    }
}

static void sio_binary(wsp_proto *p, const wsp_ws_event *ev)
{
    if (p->state != ST_READY || !p->pending_left) {
        char ex[80];
        wsp_hex_excerpt(ex, sizeof ex, ev->data, ev->len);
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, NULL, 0,
                   "a binary message (%zu bytes: %s) that no Socket.IO binary packet announced",
                   ev->len, ex);
        return;
    }
    p->rec.attachments++;
    p->rec.attachment_bytes += ev->len;
    if (--p->pending_left == 0) {
        char *t = p->pending;
        p->pending = NULL;
        sio_deliver(p, t, p->pending_len);
        free(t);
    }
}

static void sio_on_message(wsp_proto *p, const wsp_ws_event *ev)
{
    if (ev->type == WSP_WS_EV_BINARY) {
        sio_binary(p, ev);
        return;
    }
    const char *s = (const char *)ev->data;
    wsp_eio_type t;
    const char *pl = NULL, *why = NULL;
    size_t pll = 0;
    if (wsp_eio_parse(s, ev->len, &t, &pl, &pll, &why) != 0) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL,
                   "is this a Socket.IO server? Plain WebSocket servers need no --protocol",
                   ev->data, ev->len, "%s", why);
        return;
    }
    if (p->state == ST_WAIT_OPEN) {
        if (t != WSP_EIO_OPEN) {
            proto_fail(p, WSP_CLASS_APP_PROTOCOL,
                       "a Socket.IO server's first message is its open packet (0{\"sid\":...})",
                       ev->data, ev->len, "expected the Engine.IO open packet, got type %d",
                       (int)t);
            return;
        }
        sio_open(p, pl, pll, ev);
        return;
    }
    switch (t) {
    case WSP_EIO_PING:
        p->rec.server_pings++;
        if (p->cfg->eio == 3) {
            /* a v3 server does not ping: it answers ours */
            proto_fail(p, WSP_CLASS_APP_PROTOCOL,
                       "this server speaks Engine.IO v4: drop --engineio 3", ev->data, ev->len,
                       "the server sent an Engine.IO ping, as v4 servers do, "
                       "while Engine.IO v3 was asked for");
            return;
        }
        if (send_text(p, "3", 1) != 0) {
            proto_fail(p, WSP_CLASS_WS_DROPPED, NULL, NULL, 0, "could not answer a ping");
            return;
        }
        if (p->state == ST_READY) /* the heartbeat came: wait for the next one */
            arm(p, (p->rec.open.ping_interval_ms + p->rec.open.ping_timeout_ms) * 1000u, 0);
        return;
    case WSP_EIO_PONG:
        p->rec.pongs++;
        return;
    case WSP_EIO_NOOP:
        return;
    case WSP_EIO_CLOSE: {
        p->rec.disconnected = true;
        snprintf(p->rec.disconnect_reason, sizeof p->rec.disconnect_reason,
                 "Engine.IO close packet");
        wsp_proto_msg m = {
            .kind = WSP_PROTO_MSG_DISCONNECT, .ack_id = -1, .raw = ev->data, .raw_len = ev->len};
        deliver(p, &m);
        return;
    }
    case WSP_EIO_MESSAGE:
        sio_message(p, pl, pll, ev);
        return;
    case WSP_EIO_OPEN:
    case WSP_EIO_UPGRADE:
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len,
                   "an Engine.IO %s packet in the middle of the session",
                   t == WSP_EIO_OPEN ? "open" : "upgrade");
        return;
    }
}

/* --- GraphQL -------------------------------------------------------------------------- */

static void gql_on_message(wsp_proto *p, const wsp_ws_event *ev)
{
    if (ev->type == WSP_WS_EV_BINARY) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, NULL, 0,
                   "a binary message (%zu bytes): graphql-transport-ws sends text only", ev->len);
        return;
    }
    wsp_gql_msg m;
    const char *why = NULL;
    if (wsp_gql_parse((const char *)ev->data, ev->len, &m, &why) != 0) {
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len, "%s", why);
        return;
    }
    switch (m.type) {
    case WSP_GQL_PING: {
        p->rec.server_pings++;
        static const char pong[] = "{\"type\":\"pong\"}";
        if (send_text(p, pong, sizeof pong - 1) != 0)
            proto_fail(p, WSP_CLASS_WS_DROPPED, NULL, NULL, 0, "could not answer a ping");
        break;
    }
    case WSP_GQL_PONG:
        p->rec.pongs++;
        break;
    case WSP_GQL_CONNECTION_ACK:
        if (p->state == ST_WAIT_ACK)
            become_ready(p);
        else
            proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len,
                       "a second connection_ack");
        break;
    case WSP_GQL_NEXT:
    case WSP_GQL_ERROR:
    case WSP_GQL_COMPLETE:
        if (p->state != ST_READY) {
            proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len,
                       "%s before connection_ack", wsp_gql_type_name(m.type));
            break;
        }
        {
            wsp_proto_msg o = {.kind = m.type == WSP_GQL_NEXT    ? WSP_PROTO_MSG_NEXT
                                       : m.type == WSP_GQL_ERROR ? WSP_PROTO_MSG_ERROR
                                                                 : WSP_PROTO_MSG_COMPLETE,
                               .ack_id = -1,
                               .id = m.id,
                               .args = m.payload,
                               .raw = ev->data,
                               .raw_len = ev->len};
            deliver(p, &o);
        }
        break;
    case WSP_GQL_LEGACY:
        proto_fail(p, WSP_CLASS_APP_PROTOCOL,
                   "the server speaks the legacy subscriptions-transport-ws (subprotocol "
                   "graphql-ws): move it to graphql-ws (graphql-transport-ws)",
                   ev->data, ev->len, "a subscriptions-transport-ws message (type %s)",
                   m.legacy_type);
        break;
    case WSP_GQL_CONNECTION_INIT:
    case WSP_GQL_SUBSCRIBE:
        proto_fail(p, WSP_CLASS_APP_PROTOCOL, NULL, ev->data, ev->len,
                   "the server sent %s, which only a client sends", wsp_gql_type_name(m.type));
        break;
    }
    json_decref(m.payload);
}

bool wsp_proto_on_message(wsp_proto *p, const wsp_ws_event *ev)
{
    if (ev->type != WSP_WS_EV_TEXT && ev->type != WSP_WS_EV_BINARY)
        return false;
    if (p->state == ST_FAILED || p->state == ST_IDLE)
        return true;
    if (p->cfg->kind == WSP_PROTO_SOCKETIO)
        sio_on_message(p, ev);
    else
        gql_on_message(p, ev);
    return true;
}

void wsp_proto_on_done(wsp_proto *p)
{
    uv_timer_stop(&p->timer);
}

bool wsp_proto_ready(const wsp_proto *p)
{
    return p->state == ST_READY;
}

int wsp_proto_emit(wsp_proto *p, const char *event, const char *args, bool want_ack,
                   int64_t *ack_id, wsp_err *err)
{
    json_error_t je;
    json_t *a = args && args[0] ? json_loads(args, JSON_DECODE_ANY, &je) : json_array();
    if (!a)
        return wsp_err_set(err, WSP_CLASS_USAGE, "the arguments of '%.100s' are not JSON: %s",
                           event, je.text);
    if (!json_is_array(a)) { /* one argument */
        json_t *one = json_array();
        json_array_append_new(one, a);
        a = one;
    }
    json_array_insert_new(a, 0, json_string(event));
    char *data = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    int64_t id = want_ack ? p->next_ack++ : -1;
    size_t cap = (data ? strlen(data) : 0) + strlen(nsp_of(p)) + 32;
    char *buf = data ? malloc(cap) : NULL;
    int n = buf ? wsp_sio_encode(buf, cap, WSP_SIO_EVENT, nsp_of(p), id, data) : -1;
    free(data);
    if (n < 0) {
        free(buf);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    int rc = send_text(p, buf, (size_t)n);
    free(buf);
    if (rc != 0)
        return wsp_err_set(err, WSP_CLASS_WS_DROPPED, "could not send the emit of '%.100s'", event);
    if (ack_id)
        *ack_id = id;
    return 0;
}

int wsp_proto_subscribe(wsp_proto *p, const char *query, const char *variables, char *id,
                        size_t id_cap, wsp_err *err)
{
    snprintf(id, id_cap, "%u", ++p->next_op);
    json_error_t je;
    json_t *vars = variables && variables[0] ? json_loads(variables, 0, &je) : NULL;
    if (variables && variables[0] && !json_is_object(vars)) {
        json_decref(vars);
        return wsp_err_set(err, WSP_CLASS_USAGE, "--variables: not a JSON object");
    }
    json_t *pl = json_pack("{s:s}", "query", query);
    if (vars)
        json_object_set_new(pl, "variables", vars);
    json_t *m = json_pack("{s:s,s:s,s:o}", "id", id, "type", "subscribe", "payload", pl);
    char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!s)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    int rc = send_text(p, s, strlen(s));
    free(s);
    if (rc != 0)
        return wsp_err_set(err, WSP_CLASS_WS_DROPPED, "could not send subscribe");
    return 0;
}

void wsp_proto_judge(wsp_proto *p, wsp_conn_record *r)
{
    const wsp_proto_config *cfg = p->cfg;
    if (r->err.cls != WSP_CLASS_OK && r->handshake_completed && !p->rec.failed_phase)
        p->rec.failed_phase = waiting_phase(p->state);
    /* engine.io answers an Engine.IO version it does not speak with HTTP 400: in place of the
     * 101, or (websocket-only servers) right after it */
    static const char unsupported[] = "Unsupported protocol version";
    const uint8_t *body = (const uint8_t *)r->http_body;
    size_t body_len = r->http_body_len;
    if (r->handshake_completed) {
        body = r->after_101;
        body_len = r->after_101_len;
    } else if (r->http_status != 400) {
        body = NULL;
    }
    const uint8_t *at = cfg->kind == WSP_PROTO_SOCKETIO && body
                            ? memmem(body, body_len, unsupported, sizeof unsupported - 1)
                            : NULL;
    if (at) {
        char ex[201];
        wsp_excerpt(ex, sizeof ex, at, body_len - (size_t)(at - body));
        wsp_err_set(&r->err, WSP_CLASS_APP_PROTOCOL,
                    "the server refused Engine.IO v%d (HTTP 400%s: %s)", cfg->eio,
                    r->handshake_completed ? ", sent after its 101" : "", ex);
        wsp_err_hint(&r->err, "%s",
                     cfg->eio == 3 ? "this server speaks Engine.IO v4 only (Socket.IO v3/v4 "
                                     "without allowEIO3): drop --engineio 3"
                                   : "this server is older: try --engineio 3");
        return;
    }
    if (cfg->kind != WSP_PROTO_GRAPHQL || r->closed_by != WSP_CLOSED_BY_SERVER)
        return;
    const char *name = wsp_gql_close_name(r->close_code);
    if (!name || (r->err.cls != WSP_CLASS_WS_CLOSED && r->err.cls != WSP_CLASS_OK &&
                  r->err.cls != WSP_CLASS_WS_MSG_TIMEOUT))
        return;
    if (r->close_code == 4401 || r->close_code == 4403) {
        wsp_err_set(&r->err, WSP_CLASS_APP_AUTH_REFUSED, "the server closed with %s%s%.120s%s",
                    name, r->close_reason[0] ? " (\"" : "", r->close_reason,
                    r->close_reason[0] ? "\")" : "");
        wsp_err_hint(&r->err, "%s",
                     r->close_code == 4403
                         ? "the server's onConnect refused this client: check the token and "
                           "where it goes (--auth-in init-payload[:KEY], default {\"token\": ...})"
                         : "the server got a subscribe before connection_ack: a bug in the "
                           "client or the server");
        return;
    }
    if (r->err.cls == WSP_CLASS_WS_CLOSED) {
        char m[sizeof r->err.msg];
        snprintf(m, sizeof m, "%.300s: %s", r->err.msg, name);
        snprintf(r->err.msg, sizeof r->err.msg, "%s", m);
        const char *hint = gql_close_hint(r->close_code);
        if (hint)
            wsp_err_hint(&r->err, "%s", hint);
    }
}

const wsp_proto_record *wsp_proto_get_record(const wsp_proto *p)
{
    return &p->rec;
}

void wsp_proto_note_skipped(wsp_proto *p)
{
    p->rec.events_skipped++;
}

static void proto_closed(uv_handle_t *h)
{
    wsp_proto *p = h->data;
    wipe_free(p->token);
    free(p->pending);
    free(p);
}

void wsp_proto_free(wsp_proto *p)
{
    if (!p)
        return;
    uv_close((uv_handle_t *)&p->timer, proto_closed);
}

/* A namespace as Socket.IO writes it: '/' then no ',' (it ends the namespace in a packet), at
 * most WSP_SIO_NSP_MAX bytes, printable ASCII. */
static bool nsp_ok(const char *n, size_t len)
{
    if (len == 0 || n[0] != '/' || len > WSP_SIO_NSP_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (n[i] == ',' || n[i] == '?' || (unsigned char)n[i] <= 0x20 || (unsigned char)n[i] > 0x7e)
            return false;
    return true;
}

/* The same path, a trailing '/' aside ("/socket.io" is "/socket.io/"). */
static bool same_path(const char *a, size_t al, const char *b)
{
    size_t bl = strlen(b);
    while (al > 1 && a[al - 1] == '/')
        al--;
    while (bl > 1 && b[bl - 1] == '/')
        bl--;
    return al == bl && memcmp(a, b, al) == 0;
}

int wsp_proto_shape_url(wsp_proto_config *cfg, wsp_url *url, wsp_err *err)
{
    if (cfg->kind != WSP_PROTO_SOCKETIO)
        return 0;
    if (!cfg->eio)
        cfg->eio = 4;
    const char *path = cfg->path ? cfg->path : WSP_PROTO_DEFAULT_SIO_PATH;
    if (path[0] != '/' || strchr(path, '?') || strchr(path, '#'))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--socketio-path '%.200s': expected a path starting with '/'", path);
    if (cfg->nsp && !nsp_ok(cfg->nsp, strlen(cfg->nsp)))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--namespace '%.200s': expected '/' then a name without ',', '?' or "
                           "spaces (at most %d bytes)",
                           cfg->nsp, WSP_SIO_NSP_MAX);
    const char *t = url->target, *q = strchr(t, '?');
    size_t plen = q ? (size_t)(q - t) : strlen(t);
    const char *query = q ? q + 1 : "";
    if (!(plen == 0 || (plen == 1 && t[0] == '/') || same_path(t, plen, path))) {
        /* as the client library reads io("https://host/chat"): the path is the namespace */
        if (!nsp_ok(t, plen))
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "the URL's path '%.*s' is taken as the Socket.IO namespace (as the "
                               "client library does) and is not one",
                               (int)(plen > 200 ? 200 : plen), t);
        if (cfg->nsp && !same_path(t, plen, cfg->nsp))
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "the URL's path '%.*s' names a namespace (as the client library "
                               "reads it) and --namespace says '%.200s': give one of them",
                               (int)(plen > 200 ? 200 : plen), t, cfg->nsp);
        if (!cfg->nsp && !(cfg->nsp = strndup(t, plen)))
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    /* the query the client library writes, after the user's own parameters */
    const char *why = NULL;
    static const char *const once[] = {"EIO", "transport", NULL};
    char v[16];
    if (query[0] && wsp_query_check(query, strlen(query), once, &why) != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "the URL's query: %s", why);
    char eio[4];
    snprintf(eio, sizeof eio, "%d", cfg->eio);
    int has_eio = wsp_query_get(query, strlen(query), "EIO", v, sizeof v);
    if (has_eio != 0 && (has_eio < 0 || strcmp(v, eio) != 0))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "the URL's query has EIO=%.8s and Engine.IO v%d is asked for: leave "
                           "EIO out of the URL and use --engineio",
                           has_eio > 0 ? v : "?", cfg->eio);
    int has_tr = wsp_query_get(query, strlen(query), "transport", v, sizeof v);
    if (has_tr != 0 && (has_tr < 0 || strcmp(v, "websocket") != 0))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "the URL's query has transport=%.12s: wsprobe speaks the websocket "
                           "transport only",
                           has_tr > 0 ? v : "?");
    char add[64] = "";
    if (!has_eio)
        snprintf(add, sizeof add, "EIO=%s", eio);
    if (!has_tr)
        snprintf(add + strlen(add), sizeof add - strlen(add), "%stransport=websocket",
                 add[0] ? "&" : "");
    char target[sizeof url->target];
    int n = snprintf(target, sizeof target, "%s?%s%s%s", path, query, query[0] && add[0] ? "&" : "",
                     add);
    if (n < 0 || (size_t)n >= sizeof target)
        return wsp_err_set(err, WSP_CLASS_USAGE, "the URL is too long with Socket.IO's path");
    memcpy(url->target, target, (size_t)n + 1);
    return 0;
}
