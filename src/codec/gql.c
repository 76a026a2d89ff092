/* gql.c - see gql.h. */
#include "codec/gql.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {
    [WSP_GQL_CONNECTION_INIT] = "connection_init",
    [WSP_GQL_CONNECTION_ACK] = "connection_ack",
    [WSP_GQL_PING] = "ping",
    [WSP_GQL_PONG] = "pong",
    [WSP_GQL_SUBSCRIBE] = "subscribe",
    [WSP_GQL_NEXT] = "next",
    [WSP_GQL_ERROR] = "error",
    [WSP_GQL_COMPLETE] = "complete",
    [WSP_GQL_LEGACY] = "legacy",
};

/* The types only subscriptions-transport-ws has. */
static const char *const legacy[] = {"ka",
                                     "data",
                                     "connection_error",
                                     "start",
                                     "stop",
                                     "connection_terminate",
                                     "connection_keep_alive",
                                     NULL};

const char *wsp_gql_type_name(wsp_gql_type t)
{
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

const char *wsp_gql_close_name(int code)
{
    switch (code) {
    case 4400:
        return "4400 Bad request: the server could not read a message";
    case 4401:
        return "4401 Unauthorized: subscribed before the connection_ack";
    case 4403:
        return "4403 Forbidden: the server refused the connection_init";
    case 4406:
        return "4406 Subprotocol not acceptable: graphql-transport-ws was not agreed";
    case 4408:
        return "4408 Connection initialisation timeout: no connection_init in time";
    case 4409:
        return "4409 Subscriber already exists: an id used twice";
    case 4429:
        return "4429 Too many initialisation requests: connection_init sent twice";
    case 4500:
        return "4500 Internal server error";
    case 4504:
        return "4504 Connection acknowledgement timeout";
    default:
        return NULL;
    }
}

int wsp_gql_parse(const char *text, size_t len, wsp_gql_msg *m, const char **why)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    if (!json_is_object(o)) {
        *why = "not a JSON object";
        goto out;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) {
        *why = "no \"type\" string";
        goto out;
    }
    int t = -1;
    for (int i = 0; i < WSP_GQL_LEGACY; i++)
        if (strcmp(type, names[i]) == 0)
            t = i;
    if (t < 0) {
        for (int i = 0; legacy[i]; i++)
            if (strcmp(type, legacy[i]) == 0) {
                m->type = WSP_GQL_LEGACY;
                snprintf(m->legacy_type, sizeof m->legacy_type, "%s", type);
                rc = 0;
                goto out;
            }
        *why = "a \"type\" the protocol does not define";
        goto out;
    }
    m->type = (wsp_gql_type)t;
    json_t *id = json_object_get(o, "id"), *payload = json_object_get(o, "payload");
    bool needs_id =
        t == WSP_GQL_SUBSCRIBE || t == WSP_GQL_NEXT || t == WSP_GQL_ERROR || t == WSP_GQL_COMPLETE;
    if (needs_id) {
        const char *s = json_string_value(id);
        if (!s || !*s || strlen(s) > WSP_GQL_ID_MAX) {
            *why = "no \"id\" (a non-empty string of at most 128 bytes)";
            goto out;
        }
        snprintf(m->id, sizeof m->id, "%s", s);
    } else if (id) {
        *why = "an \"id\" on a message that takes none";
        goto out;
    }
    switch (m->type) {
    case WSP_GQL_CONNECTION_INIT:
    case WSP_GQL_CONNECTION_ACK:
    case WSP_GQL_PING:
    case WSP_GQL_PONG:
        if (payload && !json_is_object(payload) && !json_is_null(payload)) {
            *why = "a payload that is not an object";
            goto out;
        }
        break;
    case WSP_GQL_SUBSCRIBE:
        if (!json_is_string(json_object_get(payload, "query"))) {
            *why = "a subscribe without payload.query";
            goto out;
        }
        break;
    case WSP_GQL_NEXT:
        if (!json_is_object(payload)) {
            *why = "a next without its execution result (payload object)";
            goto out;
        }
        break;
    case WSP_GQL_ERROR:
        if (!json_is_array(payload) || json_array_size(payload) == 0) {
            *why = "an error without its GraphQL errors (a non-empty payload list)";
            goto out;
        }
        break;
    case WSP_GQL_COMPLETE:
    case WSP_GQL_LEGACY:
        break;
    }
    m->payload = json_incref(payload);
    rc = 0;
out:
    json_decref(o);
    return rc;
}
