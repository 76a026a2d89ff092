/* auth.h - where a client's credential goes, and the per-connection request material made from
 * it: an Authorization header (default), a query parameter, a subprotocol, a cookie, or a first
 * message. Tokens are either ready (from an environment variable, or forged by a security
 * check) or minted fresh for every connection from a JWT configuration (jwt.h).
 *
 * Secret hygiene: tokens live in heap memory owned here and are wiped when released; nothing in
 * this module prints them. Reports redact them (report.h). */
#ifndef WSP_AUTH_H
#define WSP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "codec/url.h"
#include "net/conn.h"
#include "util/error.h"

typedef struct wsp_jwt_config wsp_jwt_config;

typedef enum wsp_auth_in {
    WSP_AUTH_IN_HEADER,        /* Authorization: Bearer TOKEN */
    WSP_AUTH_IN_QUERY,         /* ?NAME=TOKEN appended to the request target */
    WSP_AUTH_IN_SUBPROTOCOL,   /* Sec-WebSocket-Protocol: PREFIX+TOKEN (default prefix "bearer.") */
    WSP_AUTH_IN_COOKIE,        /* Cookie: NAME=TOKEN */
    WSP_AUTH_IN_MESSAGE,       /* a first text message after open, from a template with {{token}} */
    WSP_AUTH_IN_SOCKETIO_AUTH, /* Socket.IO: the namespace CONNECT's auth payload, at key `name` */
    WSP_AUTH_IN_INIT_PAYLOAD,  /* GraphQL: connection_init's payload, at key `name` */
} wsp_auth_in;

typedef struct wsp_auth {
    wsp_auth_in in;
    char name[64]; /* QUERY, COOKIE: the name; SUBPROTOCOL: the prefix; SOCKETIO_AUTH,
                      INIT_PAYLOAD: the payload's key (default "token") */
    char *message; /* MESSAGE: the template (owned); default {"type":"auth","token":"{{token}}"} */
    wsp_jwt_config *jwt; /* owned; NULL when tokens are not minted */
    char *token;         /* owned ready token; NULL when none */
} wsp_auth;

/* Zero: no credentials, header placement. */
void wsp_auth_init(wsp_auth *a);
/* Release and wipe. */
void wsp_auth_cleanup(wsp_auth *a);
/* Whether a credential will be sent. */
bool wsp_auth_active(const wsp_auth *a);

/* Parse --auth-in: "header", "query:NAME", "subprotocol[:PREFIX]", "cookie:NAME", "message",
 * "socketio-auth[:KEY]", "init-payload[:KEY]" (the last two need their --protocol).
 * Returns 0 or -1 with err (USAGE). */
int wsp_auth_set_in(wsp_auth *a, const char *spec, wsp_err *err);
/* --token-env VAR: take a ready token from the environment (set and non-empty, one line).
 * The message names the option and the variable, never the value. */
int wsp_auth_set_token_env(wsp_auth *a, const char *var, wsp_err *err);
/* The same from a file (a mounted secret): at most 64 KiB, one trailing newline forgiven,
 * registered for redaction. 0, or -1 with err (USAGE naming --token-file). */
int wsp_auth_set_token_file(wsp_auth *a, const char *path, wsp_err *err);
/* A literal token (security checks that forge tokens). Copied. Not registered with the
 * redactor: a forged token is not a secret (and "invalid" would blank out every word that holds
 * it); one shaped like a JWT is redacted by its shape anyway. */
int wsp_auth_set_token(wsp_auth *a, const char *token, wsp_err *err);
/* Take ownership of a loaded JWT configuration (wsp_jwt_config_load done). */
void wsp_auth_set_jwt(wsp_auth *a, wsp_jwt_config *jwt);

/* The token for one connection: the ready one, or a freshly minted one. Heap, caller releases
 * with wsp_auth_token_free. NULL with err on failure or when there are no credentials. */
char *wsp_auth_token(const wsp_auth *a, wsp_err *err);
void wsp_auth_token_free(char *token);

/* What one connection sends, derived from a token. Every member is owned, NULL when unused. */
typedef struct wsp_auth_request {
    char *header;        /* a full "Name: value" line */
    char *target;        /* the request target with the query parameter added */
    char *subprotocols;  /* the subprotocol offer with the token entry first */
    char *first_message; /* the first message to send after open */
    char *app_token;     /* SOCKETIO_AUTH, INIT_PAYLOAD: the token, for the protocol to place */
} wsp_auth_request;

/* Build the request material for `token` given the URL target and subprotocol offer the
 * connection would otherwise use. Returns 0 or -1 with err. */
int wsp_auth_request_make(const wsp_auth *a, const char *token, const char *target,
                          const char *subprotocols, wsp_auth_request *out, wsp_err *err);
/* Release and wipe. */
void wsp_auth_request_cleanup(wsp_auth_request *r);

/* One connection's own options with a fresh token applied where the configuration says: the
 * header added, the token in the query (then `url` is this connection's copy of the URL, made
 * only then: 4 KiB), or the subprotocol offer. probe, load and hold open connections so. */
typedef struct wsp_auth_conn {
    wsp_conn_opts opts;
    wsp_auth_request req;
    wsp_url *url;
} wsp_auth_conn;

/* Build it from `base` (borrowed: it must outlive ac). With `a` NULL or inactive, opts is a
 * copy of base. 0, or -1 with err (the token could not be made; too many headers; a URL too
 * long with the token). Clean up either way. */
int wsp_auth_conn_init(wsp_auth_conn *ac, const wsp_auth *a, const wsp_conn_opts *base,
                       wsp_err *err);
void wsp_auth_conn_cleanup(wsp_auth_conn *ac);

#endif
