/* auth.c - see auth.h. */
#include "probe/auth.h"
#include "probe/jwtconfig.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/jwt.h"
#include "util/files.h"
#include "util/redact.h"

#define DEFAULT_PREFIX "bearer."
#define DEFAULT_MESSAGE "{\"type\":\"auth\",\"token\":\"{{token}}\"}"
#define TOKEN_MAX 16384

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void wsp_auth_init(wsp_auth *a)
{
    memset(a, 0, sizeof *a);
    a->in = WSP_AUTH_IN_HEADER;
}

void wsp_auth_cleanup(wsp_auth *a)
{
    if (!a)
        return;
    free(a->message);
    wsp_jwt_config_free(a->jwt);
    wipe_free(a->token);
    wsp_auth_init(a);
}

bool wsp_auth_active(const wsp_auth *a)
{
    return a && (a->token || a->jwt);
}

/* Query and cookie names and subprotocol prefixes go on the wire as they are: keep them to
 * token characters so they cannot inject anything. */
static bool name_ok(const char *s, bool allow_dot)
{
    if (!*s || strlen(s) >= sizeof((wsp_auth *)0)->name)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || (allow_dot && (c == '.' || c == '+'))))
            return false;
    }
    return true;
}

int wsp_auth_set_in(wsp_auth *a, const char *spec, wsp_err *err)
{
    const char *colon = strchr(spec, ':');
    size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : NULL;
    if (kl == 6 && strncmp(spec, "header", 6) == 0 && !arg) {
        a->in = WSP_AUTH_IN_HEADER;
        return 0;
    }
    if (kl == 7 && strncmp(spec, "message", 7) == 0 && !arg) {
        a->in = WSP_AUTH_IN_MESSAGE;
        return 0;
    }
    if (kl == 5 && strncmp(spec, "query", 5) == 0 && arg && name_ok(arg, false)) {
        a->in = WSP_AUTH_IN_QUERY;
        snprintf(a->name, sizeof a->name, "%s", arg);
        return 0;
    }
    if (kl == 6 && strncmp(spec, "cookie", 6) == 0 && arg && name_ok(arg, false)) {
        a->in = WSP_AUTH_IN_COOKIE;
        snprintf(a->name, sizeof a->name, "%s", arg);
        return 0;
    }
    if (kl == 11 && strncmp(spec, "subprotocol", 11) == 0 && (!arg || name_ok(arg, true))) {
        a->in = WSP_AUTH_IN_SUBPROTOCOL;
        snprintf(a->name, sizeof a->name, "%s", arg ? arg : DEFAULT_PREFIX);
        return 0;
    }
    bool sio = kl == 13 && strncmp(spec, "socketio-auth", 13) == 0;
    if ((sio || (kl == 12 && strncmp(spec, "init-payload", 12) == 0)) &&
        (!arg || name_ok(arg, false))) {
        a->in = sio ? WSP_AUTH_IN_SOCKETIO_AUTH : WSP_AUTH_IN_INIT_PAYLOAD;
        snprintf(a->name, sizeof a->name, "%s", arg ? arg : "token");
        return 0;
    }
    return wsp_err_set(err, WSP_CLASS_USAGE,
                       "--auth-in '%s': expected header, query:NAME, subprotocol[:PREFIX], "
                       "cookie:NAME, message, socketio-auth[:KEY] or init-payload[:KEY] (names "
                       "of letters, digits, '-' and '_')",
                       spec);
}

static int token_ok(const char *t, const char *what, wsp_err *err)
{
    size_t n = strlen(t);
    if (n == 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s is empty", what);
    if (n > TOKEN_MAX)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s is longer than %d bytes", what, TOKEN_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s contains a space, a line break or a non-ASCII byte at "
                               "position %zu",
                               what, i);
    return 0;
}

/* A ready token (heap, taken) checked and made the credential, registered for redaction. */
static int adopt_token(wsp_auth *a, char *t, const char *what, wsp_err *err)
{
    if (token_ok(t, what, err) != 0) {
        wipe_free(t);
        return -1;
    }
    wipe_free(a->token);
    a->token = t;
    wsp_redact_register(t, strlen(t));
    return 0;
}

int wsp_auth_set_token_env(wsp_auth *a, const char *var, wsp_err *err)
{
    const char *v = getenv(var);
    char what[160];
    snprintf(what, sizeof what, "--token-env %s: the variable", var);
    if (!v)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--token-env %s: the variable is not set", var);
    /* a trailing newline from `export T=$(cat file)` habits is forgiven */
    size_t n = strlen(v);
    char *t = strndup(v, n && v[n - 1] == '\n' ? n - 1 : n);
    if (!t)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    return adopt_token(a, t, what, err);
}

int wsp_auth_set_token_file(wsp_auth *a, const char *path, wsp_err *err)
{
    size_t n = 0;
    char what[300];
    snprintf(what, sizeof what, "--token-file %.200s", path);
    char *t = wsp_file_read(what, path, 64 * 1024, WSP_FILE_SECRET, &n, err);
    if (!t)
        return -1;
    if (n && t[n - 1] == '\n')
        t[--n] = '\0';
    if (n && t[n - 1] == '\r')
        t[--n] = '\0';
    return adopt_token(a, t, what, err);
}

int wsp_auth_set_token(wsp_auth *a, const char *token, wsp_err *err)
{
    char *t = strdup(token);
    if (!t)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    wipe_free(a->token);
    a->token = t;
    return 0;
}

void wsp_auth_set_jwt(wsp_auth *a, wsp_jwt_config *jwt)
{
    wsp_jwt_config_free(a->jwt);
    a->jwt = jwt;
}

char *wsp_auth_token(const wsp_auth *a, wsp_err *err)
{
    if (a->token) {
        char *t = strdup(a->token);
        if (!t)
            wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        return t;
    }
    if (a->jwt) {
        char *t = NULL;
        if (wsp_jwt_config_mint(a->jwt, (int64_t)time(NULL), &t, err) != 0)
            return NULL;
        return t;
    }
    wsp_err_set(err, WSP_CLASS_USAGE, "no credentials configured");
    return NULL;
}

void wsp_auth_token_free(char *token)
{
    wipe_free(token);
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* RFC 3986 2.3: percent-encode everything but the unreserved characters, so a token with
 * '+', '/', '=', '&' or '#' reaches the server as it is (a '+' would otherwise read as a
 * space). Heap; NULL when out of memory. */
static char *percent_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* The token as the inside of a JSON string (tokens are printable ASCII: only '"' and '\\'
 * need escaping). Heap; NULL when out of memory. */
static char *json_inner(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* Replace every {{token}} in tmpl with the token. */
static char *fill_message(const char *tmpl, const char *token)
{
    size_t tl = strlen(token), n = 0;
    for (const char *p = tmpl; (p = strstr(p, "{{token}}")) != NULL; p += 9)
        n++;
    size_t cap = strlen(tmpl) + n * tl + 1;
    char *s = malloc(cap), *o = s;
    if (!s)
        return NULL;
    const char *p = tmpl, *q;
    while ((q = strstr(p, "{{token}}")) != NULL) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, token, tl);
        o += tl;
        p = q + 9;
    }
    size_t rest = strlen(p);
    memcpy(o, p, rest + 1);
    return s;
}

int wsp_auth_request_make(const wsp_auth *a, const char *token, const char *target,
                          const char *subprotocols, wsp_auth_request *out, wsp_err *err)
{
    memset(out, 0, sizeof out[0]);
    if (token_ok(token, "the token", err) != 0)
        return -1;
    switch (a->in) {
    case WSP_AUTH_IN_HEADER:
        out->header = join("Authorization: Bearer ", token, "");
        if (!out->header)
            goto oom;
        return 0;
    case WSP_AUTH_IN_COOKIE: {
        char pre[80];
        snprintf(pre, sizeof pre, "Cookie: %s=", a->name);
        out->header = join(pre, token, "");
        if (!out->header)
            goto oom;
        return 0;
    }
    case WSP_AUTH_IN_QUERY: {
        char mid[80];
        snprintf(mid, sizeof mid, "%s%s=", strchr(target, '?') ? "&" : "?", a->name);
        char *enc = percent_encode(token);
        if (enc && strcmp(enc, token) != 0)
            wsp_redact_register(enc, strlen(enc)); /* the form a -v trace would show */
        char *t1 = enc ? join(target, mid, enc) : NULL;
        wipe_free(enc);
        if (!t1)
            goto oom;
        out->target = t1;
        return 0;
    }
    case WSP_AUTH_IN_SUBPROTOCOL: {
        char *entry = join(a->name, token, "");
        if (!entry)
            goto oom;
        out->subprotocols =
            subprotocols && *subprotocols ? join(entry, ", ", subprotocols) : strdup(entry);
        wipe_free(entry);
        if (!out->subprotocols)
            goto oom;
        return 0;
    }
    case WSP_AUTH_IN_MESSAGE: {
        /* the default template puts the token inside a JSON string: escape it there */
        char *inner = a->message ? NULL : json_inner(token);
        if (!a->message && !inner)
            goto oom;
        out->first_message =
            fill_message(a->message ? a->message : DEFAULT_MESSAGE, inner ? inner : token);
        wipe_free(inner);
        if (!out->first_message)
            goto oom;
        return 0;
    }
    case WSP_AUTH_IN_SOCKETIO_AUTH:
    case WSP_AUTH_IN_INIT_PAYLOAD:
        out->app_token = strdup(token);
        if (!out->app_token)
            goto oom;
        return 0;
    }
oom:
    wsp_auth_request_cleanup(out);
    return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
}

void wsp_auth_request_cleanup(wsp_auth_request *r)
{
    wipe_free(r->header);
    wipe_free(r->target);
    wipe_free(r->subprotocols);
    wipe_free(r->first_message);
    wipe_free(r->app_token);
    memset(r, 0, sizeof *r);
}

int wsp_auth_conn_init(wsp_auth_conn *ac, const wsp_auth *a, const wsp_conn_opts *base,
                       wsp_err *err)
{
    memset(ac, 0, sizeof *ac);
    ac->opts = *base;
    if (!a || !wsp_auth_active(a))
        return 0;
    char *token = wsp_auth_token(a, err);
    if (!token)
        return -1;
    int rc = wsp_auth_request_make(a, token, base->url->target, base->subprotocols, &ac->req, err);
    wsp_auth_token_free(token);
    if (rc != 0)
        return -1;
    if (ac->req.header) {
        if (ac->opts.num_headers >= WSP_CONN_MAX_HEADERS)
            return wsp_err_set(err, WSP_CLASS_USAGE, "too many headers for the credential");
        ac->opts.headers[ac->opts.num_headers++] = ac->req.header;
    }
    if (ac->req.target) {
        if (strlen(ac->req.target) >= sizeof ac->url->target)
            return wsp_err_set(err, WSP_CLASS_USAGE, "the URL with the token is too long");
        if (!(ac->url = malloc(sizeof *ac->url)))
            return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        *ac->url = *base->url;
        snprintf(ac->url->target, sizeof ac->url->target, "%s", ac->req.target);
        ac->opts.url = ac->url;
    }
    if (ac->req.subprotocols)
        ac->opts.subprotocols = ac->req.subprotocols;
    return 0;
}

void wsp_auth_conn_cleanup(wsp_auth_conn *ac)
{
    wsp_auth_request_cleanup(&ac->req);
    free(ac->url);
    ac->url = NULL;
}
