/* gql.h - the messages of GraphQL over WebSocket (the `graphql-transport-ws` subprotocol of
 * npm graphql-ws, PROTOCOL.md there) for issue 17's `--protocol graphql`, and the signs of the
 * legacy `subscriptions-transport-ws` (whose subprotocol is named `graphql-ws`). Pure: text in,
 * fields out; no I/O.
 *
 * A message is a JSON object {"type": T, "id"?: string, "payload"?: ...}:
 *   connection_init, connection_ack, ping, pong (payload an object, optional), subscribe (id,
 *   payload {query, variables?, operationName?, extensions?}), next (id, payload an execution
 *   result), error (id, payload a non-empty list of GraphQL errors), complete (id). */
#ifndef WSP_GQL_H
#define WSP_GQL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define WSP_GQL_SUBPROTOCOL "graphql-transport-ws"
#define WSP_GQL_LEGACY_SUBPROTOCOL "graphql-ws"
#define WSP_GQL_ID_MAX 128

typedef enum wsp_gql_type {
    WSP_GQL_CONNECTION_INIT,
    WSP_GQL_CONNECTION_ACK,
    WSP_GQL_PING,
    WSP_GQL_PONG,
    WSP_GQL_SUBSCRIBE,
    WSP_GQL_NEXT,
    WSP_GQL_ERROR,
    WSP_GQL_COMPLETE,
    WSP_GQL_LEGACY, /* a subscriptions-transport-ws message: ka, data, connection_error, ... */
} wsp_gql_type;

typedef struct wsp_gql_msg {
    wsp_gql_type type;
    char legacy_type[32];        /* LEGACY: the type it had ("ka", "data") */
    char id[WSP_GQL_ID_MAX + 1]; /* "" when the type takes none */
    json_t *payload;             /* a new reference or NULL; the caller decrefs */
} wsp_gql_msg;

/* Parse one text message and check it as the protocol says (the fields each type must have,
 * and none it must not). 0, or -1 with *why (static) naming what is wrong. */
int wsp_gql_parse(const char *text, size_t len, wsp_gql_msg *m, const char **why);

/* The protocol's name for a type ("connection_ack"). Static. */
const char *wsp_gql_type_name(wsp_gql_type t);

/* What a close code of the protocol means ("4401 Unauthorized: subscribed before the
 * connection_ack"), or NULL for a code it does not define. Static. */
const char *wsp_gql_close_name(int code);

#endif
