/* serve_proto.c - the reference server's pure parts: request decision, responses, token
 * extraction and judgement, Origin, HTML escaping, the chat protocol. See serve.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serve/serve.h"
#include "util/ascii.h"
#include "codec/utf8.h"
#include "wsp_config.h"

const char *wsp_serve_unsafe_name(wsp_serve_unsafe bit)
{
    switch (bit) {
    case WSP_SERVE_UNSAFE_NO_AUTH:
        return "no-auth";
    case WSP_SERVE_UNSAFE_ACCEPT_ALG_NONE:
        return "accept-alg-none";
    case WSP_SERVE_UNSAFE_SKIP_CLAIMS:
        return "skip-claims";
    case WSP_SERVE_UNSAFE_ANY_ORIGIN:
        return "any-origin";
    case WSP_SERVE_UNSAFE_NO_SANITIZE:
        return "no-sanitize";
    case WSP_SERVE_UNSAFE_NO_LIMITS:
        return "no-limits";
    case WSP_SERVE_UNSAFE_NO_INFLATE_LIMIT:
        return "no-inflate-limit";
    }
    return "unknown";
}

const char *wsp_serve_unsafe_describe(wsp_serve_unsafe bit)
{
    switch (bit) {
    case WSP_SERVE_UNSAFE_NO_AUTH:
        return "anyone can connect without a token (auth.missing fails)";
    case WSP_SERVE_UNSAFE_ACCEPT_ALG_NONE:
        return "unsigned tokens with alg none are accepted (auth.unsigned fails)";
    case WSP_SERVE_UNSAFE_SKIP_CLAIMS:
        return "expired, not-yet-valid and foreign-audience/issuer tokens are accepted and "
               "connections outlive their token (auth.claims, auth.expiry_on_open fail)";
    case WSP_SERVE_UNSAFE_ANY_ORIGIN:
        return "any Origin may connect: cross-site WebSocket hijacking is possible "
               "(origin.foreign, origin.bypass fail)";
    case WSP_SERVE_UNSAFE_NO_SANITIZE:
        return "chat content is broadcast without HTML escaping (input.xss fails)";
    case WSP_SERVE_UNSAFE_NO_LIMITS:
        return "no message size, rate, per-client or timeout limits (limits.* fail)";
    case WSP_SERVE_UNSAFE_NO_INFLATE_LIMIT:
        return "compressed messages are inflated past the message limit, up to 64 MiB "
               "(limits.deflate_bomb fails)";
    }
    return "unknown";
}

const char *wsp_serve_token_source_name(wsp_serve_token_source src)
{
    switch (src) {
    case WSP_SERVE_TOKEN_NONE:
        return "none";
    case WSP_SERVE_TOKEN_HEADER:
        return "header";
    case WSP_SERVE_TOKEN_QUERY:
        return "query";
    case WSP_SERVE_TOKEN_SUBPROTOCOL:
        return "subprotocol";
    case WSP_SERVE_TOKEN_COOKIE:
        return "cookie";
    }
    return "none";
}

/* ---- HTML escaping ---- */

size_t wsp_serve_html_escape(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (in[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&#34;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '`':
            rep = "&#96;";
            break;
        case '=':
            rep = "&#61;";
            break;
        case '/':
            rep = "&#47;";
            break;
        case ':':
            rep = "&#58;";
            break;
        default:
            break;
        }
        if (rep) {
            size_t rl = strlen(rep);
            for (size_t k = 0; k < rl; k++, n++)
                if (n + 1 < cap)
                    out[n] = rep[k];
        } else {
            if (n + 1 < cap)
                out[n] = in[i];
            n++;
        }
    }
    if (cap > 0)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}

/* ---- Origin ---- */

/* Split "host[:port]" (host may be "[v6]"). Returns 0, or -1 when malformed. port is 0 when
 * absent. */
static int split_hostport(const char *s, size_t len, const char **host, size_t *host_len,
                          unsigned *port)
{
    size_t hl;
    const char *rest;
    if (len == 0)
        return -1;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        hl = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        hl = colon ? (size_t)(colon - s) : len;
    }
    if (hl == 0)
        return -1;
    *host = s;
    *host_len = hl;
    rest = s + hl;
    size_t rl = len - hl;
    *port = 0;
    if (rl == 0)
        return 0;
    if (rest[0] != ':' || rl < 2 || rl > 6)
        return -1;
    unsigned p = 0;
    for (size_t i = 1; i < rl; i++) {
        if (rest[i] < '0' || rest[i] > '9')
            return -1;
        p = p * 10 + (unsigned)(rest[i] - '0');
    }
    if (p == 0 || p > 65535)
        return -1;
    *port = p;
    return 0;
}

static bool host_chars_ok(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '/' || c == '?' || c == '#' || c == '@' || c == '\\' || c == ' ' ||
            (unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
            return false;
    }
    return true;
}

bool wsp_serve_origin_allowed(const char *const *allow, size_t num_allow, const char *origin,
                              size_t origin_len, const char *host, size_t host_len, bool tls)
{
    if (num_allow > 0) {
        for (size_t i = 0; i < num_allow; i++) {
            size_t al = strlen(allow[i]);
            if (al == origin_len && memcmp(allow[i], origin, al) == 0)
                return true;
        }
        return false;
    }
    /* RFC 6454 4: an origin is (scheme, host, port); "null" is never the same as anything. */
    const char *scheme = tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (origin_len <= sl || !wsp_http_eq(origin, sl, scheme))
        return false;
    const char *oh, *hh;
    size_t ohl, hhl;
    unsigned op, hp;
    if (split_hostport(origin + sl, origin_len - sl, &oh, &ohl, &op) != 0 ||
        split_hostport(host, host_len, &hh, &hhl, &hp) != 0)
        return false;
    if (!host_chars_ok(origin + sl, origin_len - sl) || !host_chars_ok(host, host_len))
        return false;
    unsigned def = tls ? 443 : 80;
    if ((op ? op : def) != (hp ? hp : def) || ohl != hhl)
        return false;
    for (size_t i = 0; i < ohl; i++)
        if (wsp_ascii_lower(oh[i]) != wsp_ascii_lower(hh[i]))
            return false;
    return true;
}

/* ---- query and token ---- */

int wsp_serve_query_param(const char *target, size_t target_len, const char *name, char *out,
                          size_t cap, size_t *out_len)
{
    const char *q = memchr(target, '?', target_len);
    if (!q || cap == 0)
        return 0;
    const char *p = q + 1, *end = target + target_len;
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash)
        end = hash;
    size_t nl = strlen(name);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ne = eq ? eq : pe;
        if ((size_t)(ne - p) == nl && memcmp(p, name, nl) == 0) {
            size_t n = 0;
            for (const char *v = eq ? eq + 1 : pe; v < pe; v++) {
                char c = *v;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    if (pe - v < 3)
                        return -1;
                    int h = wsp_ascii_hex(v[1]), l = wsp_ascii_hex(v[2]);
                    if (h < 0 || l < 0)
                        return -1;
                    c = (char)(h << 4 | l);
                    v += 2;
                }
                if ((unsigned char)c < 0x20 || c == 0x7f || n + 1 >= cap)
                    return -1;
                out[n++] = c;
            }
            out[n] = '\0';
            if (out_len)
                *out_len = n;
            return 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int wsp_serve_find_token(const wsp_http_request *req, char *qbuf, size_t qcap, const char **tok,
                         size_t *tok_len, const char **proto, size_t *proto_len)
{
    *tok = NULL;
    *tok_len = 0;
    *proto = NULL;
    *proto_len = 0;
    /* The subprotocol to echo is found whatever the token's source (RFC 6455 4.2.2 step 5.4:
     * the server picks one of the offered values). */
    const char *ptok = NULL;
    size_t ptok_len = 0;
    for (size_t i = 0; i < req->num_headers && !*proto; i++) {
        const wsp_http_header *h = &req->headers[i];
        if (!wsp_http_eq(h->name, h->name_len, "sec-websocket-protocol"))
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *e = comma ? comma : end;
            const char *s = p;
            while (s < e && is_space(*s))
                s++;
            const char *t = e;
            while (t > s && is_space(t[-1]))
                t--;
            if (t - s > 7 && memcmp(s, "bearer.", 7) == 0) {
                *proto = s;
                *proto_len = (size_t)(t - s);
                ptok = s + 7;
                ptok_len = (size_t)(t - s) - 7;
                break;
            }
            p = comma ? comma + 1 : end;
        }
    }
    /* RFC 6750 2.1: Authorization: Bearer TOKEN (the scheme is case-insensitive). */
    const wsp_http_header *a = wsp_http_find(req->headers, req->num_headers, "authorization");
    if (a && a->value_len > 7 && wsp_http_eq(a->value, 6, "bearer") && is_space(a->value[6])) {
        const char *s = a->value + 7;
        const char *end = a->value + a->value_len;
        while (s < end && is_space(*s))
            s++;
        if (s < end) {
            *tok = s;
            *tok_len = (size_t)(end - s);
            return WSP_SERVE_TOKEN_HEADER;
        }
    }
    size_t ql = 0;
    int qr = wsp_serve_query_param(req->target, req->target_len, "token", qbuf, qcap, &ql);
    if (qr < 0)
        return -1;
    if (qr > 0 && ql > 0) {
        *tok = qbuf;
        *tok_len = ql;
        return WSP_SERVE_TOKEN_QUERY;
    }
    if (ptok) {
        *tok = ptok;
        *tok_len = ptok_len;
        return WSP_SERVE_TOKEN_SUBPROTOCOL;
    }
    /* RFC 6265 5.4: cookie-string = cookie-pair *( ";" SP cookie-pair ) */
    for (size_t i = 0; i < req->num_headers; i++) {
        const wsp_http_header *h = &req->headers[i];
        if (!wsp_http_eq(h->name, h->name_len, "cookie"))
            continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *e = semi ? semi : end;
            while (p < e && is_space(*p))
                p++;
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq && eq - p == 5 && memcmp(p, "token", 5) == 0) {
                const char *v = eq + 1, *ve = e;
                while (ve > v && is_space(ve[-1]))
                    ve--;
                if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') {
                    v++;
                    ve--;
                }
                if (ve > v) {
                    *tok = v;
                    *tok_len = (size_t)(ve - v);
                    return WSP_SERVE_TOKEN_COOKIE;
                }
            }
            p = semi ? semi + 1 : end;
        }
    }
    return WSP_SERVE_TOKEN_NONE;
}

/* Decode segment `idx` (0 header, 1 claims) of a compact token into a JSON object, or NULL. */
static json_t *decode_segment(const char *tok, size_t len, int idx)
{
    const char *s = tok, *end = tok + len;
    for (int i = 0; i < idx; i++) {
        const char *dot = memchr(s, '.', (size_t)(end - s));
        if (!dot)
            return NULL;
        s = dot + 1;
    }
    const char *dot = memchr(s, '.', (size_t)(end - s));
    if (!dot)
        return NULL;
    size_t n = (size_t)(dot - s);
    size_t cap = n / 4 * 3 + 3;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t got = 0;
    json_t *j = NULL;
    if (wsp_jwt_b64url_decode(s, n, buf, cap, &got) == 0)
        j = json_loadb((const char *)buf, got, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool alg_is_none(const char *tok, size_t len)
{
    json_t *h = decode_segment(tok, len, 0);
    if (!h)
        return false;
    const char *alg = json_string_value(json_object_get(h, "alg"));
    bool none = alg && strlen(alg) == 4 && wsp_http_eq(alg, 4, "none");
    json_decref(h);
    return none;
}

static bool aud_names(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
                return true;
        }
    }
    return false;
}

/* The claim checks of RFC 7519 4.1.3-4.1.5, for the one path wsp_jwt_verify cannot take: the
 * deliberately accepted unsigned token (--unsafe-accept-alg-none). Same rules and order. */
static wsp_jwt_status unsigned_claims(const wsp_serve_policy *pol, json_t *c, int64_t now)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)))
        return WSP_JWT_MALFORMED;
    if (!exp)
        return WSP_JWT_MISSING_EXP;
    if ((double)now >= json_number_value(exp) + (double)pol->leeway_s)
        return WSP_JWT_EXPIRED;
    if (nbf && (double)now < json_number_value(nbf) - (double)pol->leeway_s)
        return WSP_JWT_NOT_YET_VALID;
    json_t *aud = json_object_get(c, "aud");
    if (pol->aud ? !aud_names(aud, pol->aud) : aud != NULL)
        return WSP_JWT_WRONG_AUD;
    if (pol->iss) {
        const char *iss = json_string_value(json_object_get(c, "iss"));
        if (!iss || strcmp(iss, pol->iss) != 0)
            return WSP_JWT_WRONG_ISS;
    }
    return WSP_JWT_OK;
}

/* Copy at most max bytes of s into out, never cutting a UTF-8 sequence. */
static void copy_utf8(char *out, size_t max, const char *s)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

wsp_jwt_status wsp_serve_check_token(const wsp_serve_policy *pol, const char *tok, size_t len,
                                     int64_t now, char *sub, bool *has_exp, int64_t *exp)
{
    json_t *claims = NULL;
    wsp_jwt_status st;
    bool skip_claims = (pol->unsafe & WSP_SERVE_UNSAFE_SKIP_CLAIMS) != 0;
    snprintf(sub, WSP_SERVE_SUB_MAX + 1, "anonymous");
    *has_exp = false;
    *exp = 0;
    if (!pol->key || len > WSP_JWT_MAX_TOKEN)
        return pol->key ? WSP_JWT_MALFORMED : WSP_JWT_KEY_INVALID;
    if ((pol->unsafe & WSP_SERVE_UNSAFE_ACCEPT_ALG_NONE) && alg_is_none(tok, len)) {
        /* UNSAFE on purpose: the signature is not looked at. */
        claims = decode_segment(tok, len, 1);
        if (!claims)
            return WSP_JWT_MALFORMED;
        st = skip_claims ? WSP_JWT_OK : unsigned_claims(pol, claims, now);
    } else {
        wsp_jwt_verify_opts o = {.alg = pol->alg,
                                 .key = pol->key,
                                 .now = now,
                                 .leeway = pol->leeway_s,
                                 .aud = pol->aud,
                                 .iss = pol->iss,
                                 .require_exp = true};
        st = wsp_jwt_verify(tok, len, &o, &claims);
        switch (st) {
        case WSP_JWT_EXPIRED:
        case WSP_JWT_NOT_YET_VALID:
        case WSP_JWT_WRONG_AUD:
        case WSP_JWT_WRONG_ISS:
        case WSP_JWT_MISSING_EXP:
            /* The signature held (it is checked before the claims); UNSAFE: ignore them. */
            if (skip_claims) {
                claims = decode_segment(tok, len, 1);
                st = claims ? WSP_JWT_OK : WSP_JWT_MALFORMED;
            }
            break;
        case WSP_JWT_OK:
        case WSP_JWT_MALFORMED:
        case WSP_JWT_ALG_NOT_ALLOWED:
        case WSP_JWT_BAD_SIGNATURE:
        case WSP_JWT_KEY_INVALID:
            break;
        }
    }
    if (st == WSP_JWT_OK && claims) {
        const char *s = json_string_value(json_object_get(claims, "sub"));
        if (s && s[0])
            copy_utf8(sub, WSP_SERVE_SUB_MAX, s);
        json_t *e = json_object_get(claims, "exp");
        if (json_is_number(e) && !skip_claims) {
            double v = json_number_value(e);
            *has_exp = true;
            *exp = v > 9e15 ? INT64_MAX / 2 : v < -9e15 ? -(INT64_MAX / 2) : (int64_t)v;
        }
    }
    json_decref(claims);
    return st;
}

/* ---- the decision ---- */

static int refuse(wsp_serve_decision *d, int status, const char *reason)
{
    d->route = WSP_SERVE_ROUTE_REFUSE;
    d->status = status;
    d->reason = reason;
    return 0;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* RFC 6455 4.2.1 item 5: a base64-encoded value that decodes to 16 bytes. */
static bool key_valid(const char *k, size_t n)
{
    if (n != WSP_HS_KEY_LEN || k[22] != '=' || k[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!b64_char(k[i]))
            return false;
    return strchr("AQgw", k[21]) != NULL; /* the last 4 bits are padding: zero */
}

static int malformed(const char *buf, size_t len, wsp_serve_decision *d)
{
    const char *nl = memchr(buf, '\n', len);
    size_t first = nl ? (size_t)(nl - buf) : len;
    if (first > WSP_HTTP_LINE_MAX)
        return refuse(d, 414, "request line too long");
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    if (lines > WSP_SERVE_HEADERS_MAX)
        return refuse(d, 431, "too many header lines");
    if (len >= WSP_SERVE_HEAD_MAX)
        return refuse(d, 431, "request head too large");
    return refuse(d, 400, "malformed request");
}

int wsp_serve_decide(const wsp_serve_policy *pol, const char *buf, size_t len, bool tls,
                     int64_t now, wsp_serve_decision *d)
{
    memset(d, 0, sizeof *d);
    d->route = WSP_SERVE_ROUTE_REFUSE;
    d->jwt_status = WSP_JWT_OK;
    snprintf(d->sub, sizeof d->sub, "anonymous");
    snprintf(d->room, sizeof d->room, "default");
    if (len > WSP_SERVE_HEAD_MAX)
        len = WSP_SERVE_HEAD_MAX;
    wsp_http_header hdrs[WSP_SERVE_HEADERS_MAX];
    wsp_http_request req;
    memset(&req, 0, sizeof req);
    req.headers = hdrs;
    req.num_headers = WSP_SERVE_HEADERS_MAX;
    const char *why = NULL;
    int n = wsp_http_parse_request(buf, len, &req, &why);
    if (n == WSP_HTTP_PARTIAL) {
        if (len >= WSP_SERVE_HEAD_MAX)
            return refuse(d, 431, "request head too large");
        return WSP_HTTP_PARTIAL;
    }
    if (n < 0)
        return malformed(buf, len, d);
    d->head_len = (size_t)n;

    if (req.target_len == 0 || req.target[0] != '/')
        return refuse(d, 400, "request target is not a path");
    const char *q = memchr(req.target, '?', req.target_len);
    size_t path_len = q ? (size_t)(q - req.target) : req.target_len;
    bool is_get =
        wsp_http_eq(req.method, req.method_len, "GET") && memcmp(req.method, "GET", 3) == 0;
    if (path_len == 7 && memcmp(req.target, "/health", 7) == 0) {
        if (!is_get)
            return refuse(d, 405, "method not allowed");
        d->route = WSP_SERVE_ROUTE_HEALTH;
        d->status = 200;
        d->reason = "health";
        return 0;
    }
    size_t want_len = strlen(pol->path);
    if (path_len != want_len || memcmp(req.target, pol->path, want_len) != 0)
        return refuse(d, 404, "not found");
    /* RFC 6455 4.2.1 item 1: an HTTP/1.1 or higher GET request. */
    if (!is_get)
        return refuse(d, 405, "method not allowed");
    if (req.minor_version < 1)
        return refuse(d, 400, "HTTP/1.1 required");
    /* Item 2: a Host header (RFC 9112 3.2: exactly one). */
    const wsp_http_header *host = wsp_http_find(hdrs, req.num_headers, "host");
    if (!host || host->value_len == 0 || wsp_http_count(hdrs, req.num_headers, "host") != 1)
        return refuse(d, 400, "exactly one Host header required");
    /* Items 3 and 4: Upgrade: websocket and Connection: Upgrade; otherwise this is a plain
     * request for a resource that needs an upgrade (RFC 9110 15.5.22: 426). */
    const wsp_http_header *up = wsp_http_find(hdrs, req.num_headers, "upgrade");
    const wsp_http_header *conn = wsp_http_find(hdrs, req.num_headers, "connection");
    if (!up || !wsp_http_has_token(up->value, up->value_len, "websocket") || !conn ||
        !wsp_http_has_token(conn->value, conn->value_len, "upgrade"))
        return refuse(d, 426, "WebSocket upgrade required");
    /* Item 6 and 4.4: version 13 only; anything else gets 426 with the version we speak. */
    const wsp_http_header *ver = wsp_http_find(hdrs, req.num_headers, "sec-websocket-version");
    if (!ver || wsp_http_count(hdrs, req.num_headers, "sec-websocket-version") != 1 ||
        ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0)
        return refuse(d, 426, "unsupported WebSocket version");
    /* Item 5: exactly one key, 16 bytes in base64. */
    const wsp_http_header *key = wsp_http_find(hdrs, req.num_headers, "sec-websocket-key");
    if (!key || wsp_http_count(hdrs, req.num_headers, "sec-websocket-key") != 1 ||
        !key_valid(key->value, key->value_len))
        return refuse(d, 400, "bad Sec-WebSocket-Key");
    /* RFC 6455 10.2: the Origin protects browsers' users from cross-site hijacking. */
    if (!(pol->unsafe & WSP_SERVE_UNSAFE_ANY_ORIGIN)) {
        size_t no = wsp_http_count(hdrs, req.num_headers, "origin");
        const wsp_http_header *o = wsp_http_find(hdrs, req.num_headers, "origin");
        if (no > 1 ||
            (o && !wsp_serve_origin_allowed(pol->origins, pol->num_origins, o->value, o->value_len,
                                            host->value, host->value_len, tls)))
            return refuse(d, 403, "origin not allowed");
    }
    size_t rl = 0;
    int rr =
        wsp_serve_query_param(req.target, req.target_len, "room", d->room, sizeof d->room, &rl);
    if (rr < 0 || (rr > 0 && (rl == 0 || !wsp_utf8_valid((const uint8_t *)d->room, rl))))
        return refuse(d, 400, "bad room name");
    if (rr == 0)
        snprintf(d->room, sizeof d->room, "default");

    char qbuf[WSP_SERVE_QUERY_VALUE_MAX + 1];
    const char *tok, *proto;
    size_t tok_len, proto_len;
    int src = wsp_serve_find_token(&req, qbuf, sizeof qbuf, &tok, &tok_len, &proto, &proto_len);
    if (src < 0)
        return refuse(d, 400, "bad token query parameter");
    d->token_source = (wsp_serve_token_source)src;
    d->subprotocol = proto;
    d->subprotocol_len = proto_len;
    if (!(pol->unsafe & WSP_SERVE_UNSAFE_NO_AUTH)) {
        if (!pol->key)
            return refuse(d, 401, "authentication is not configured");
        if (src == WSP_SERVE_TOKEN_NONE)
            return refuse(d, 401, "token required");
        d->jwt_status = wsp_serve_check_token(pol, tok, tok_len, now, d->sub, &d->has_exp, &d->exp);
        if (d->jwt_status != WSP_JWT_OK)
            return refuse(d, 401, wsp_jwt_status_describe(d->jwt_status));
    }
    /* RFC 6455 4.2.2 step 5.4: Sec-WebSocket-Accept from the key. */
    wsp_hs_accept(key->value, key->value_len, d->accept);
    /* RFC 7692: the first acceptable permessage-deflate offer, in any of the header fields */
    for (size_t i = 0; !pol->no_compress && !d->pmd && i < req.num_headers; i++)
        if (wsp_http_eq(hdrs[i].name, hdrs[i].name_len, "sec-websocket-extensions"))
            d->pmd = wsp_pmd_accept_offer(hdrs[i].value, hdrs[i].value_len, &d->pmd_params,
                                          d->pmd_answer, sizeof d->pmd_answer) == 1;
    d->route = WSP_SERVE_ROUTE_UPGRADE;
    d->status = 101;
    d->reason = "upgrade";
    return 0;
}

static const char *status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

#define HSTS "Strict-Transport-Security: max-age=31536000\r\n"

long wsp_serve_render(const wsp_serve_decision *d, int status, const char *reason, bool tls,
                      const char *body, char *out, size_t cap)
{
    int st = status ? status : d->status;
    const char *why = reason ? reason : d->reason ? d->reason : status_text(st);
    int n;
    if (st == 101) {
        /* RFC 6455 4.2.2 step 5: the server's opening handshake. */
        n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%.*s%s%s%s%s%s\r\n",
                     d->accept, d->subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     (int)(d->subprotocol ? d->subprotocol_len : 0),
                     d->subprotocol ? d->subprotocol : "", d->subprotocol ? "\r\n" : "",
                     d->pmd ? "Sec-WebSocket-Extensions: " : "", d->pmd ? d->pmd_answer : "",
                     d->pmd ? "\r\n" : "", tls ? HSTS : "");
        return n < 0 || (size_t)n >= cap ? -1 : n;
    }
    char small[256];
    if (!body) {
        /* reason is static text of ours, without quotes or backslashes */
        snprintf(small, sizeof small, "{\"error\":\"%s\",\"status\":%d}\n", why, st);
        body = small;
    }
    const char *extra = "";
    switch (st) {
    case 401:
        extra = "WWW-Authenticate: Bearer realm=\"wsprobe\"\r\n";
        break;
    case 426:
        extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
        break;
    case 503:
        extra = "Retry-After: 1\r\n";
        break;
    default:
        break;
    }
    n = snprintf(out, cap,
                 "HTTP/1.1 %d %s\r\nServer: wsprobe/%s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                 "X-Content-Type-Options: nosniff\r\nConnection: close\r\n%s%s\r\n%s",
                 st, status_text(st), WSP_VERSION, strlen(body), extra, tls ? HSTS : "", body);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* ---- chat ---- */

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static char *escaped_dup(const char *s, size_t len)
{
    size_t need = wsp_serve_html_escape(s, len, NULL, 0);
    char *out = malloc(need + 1);
    if (out)
        wsp_serve_html_escape(s, len, out, need + 1);
    return out;
}

static int chat_error(wsp_serve_chat_result *out, const char *why)
{
    out->error = true;
    out->reply = dump(json_pack("{s:s,s:s}", "type", "error", "error", why));
    return out->reply ? 0 : -1;
}

int wsp_serve_chat_handle(const char *msg, size_t len, const char *sub, const char *room,
                          bool sanitize, wsp_serve_chat_result *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *m = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!m)
        return chat_error(out, "invalid JSON");
    if (!json_is_object(m)) {
        json_decref(m);
        return chat_error(out, "a message must be a JSON object");
    }
    const char *type = json_string_value(json_object_get(m, "type"));
    int rc;
    if (!type) {
        rc = chat_error(out, "missing or non-string type");
    } else if (strcmp(type, "ping") == 0) {
        out->reply = dump(json_pack("{s:s}", "type", "pong"));
        rc = out->reply ? 0 : -1;
    } else if (strcmp(type, "chat_message") == 0) {
        json_t *content = json_object_get(m, "content");
        json_t *id = json_object_get(m, "id");
        if (!json_is_string(content)) {
            rc = chat_error(out, "content must be a string");
        } else if (id && !json_is_string(id) && !json_is_integer(id)) {
            rc = chat_error(out, "id must be a string or an integer");
        } else {
            json_t *idv = id ? json_incref(id) : json_null();
            /* the ack returns the id as sent (the sender correlates on it); the broadcast goes
             * to every member of the room: there a string id is escaped like the content */
            json_t *bid = json_incref(idv);
            if (sanitize && json_is_string(idv)) {
                char *eid = escaped_dup(json_string_value(idv), json_string_length(idv));
                json_decref(bid);
                bid = eid ? json_string(eid) : NULL;
                free(eid);
            }
            const char *c = json_string_value(content);
            size_t cl = json_string_length(content);
            char *ec = sanitize ? escaped_dup(c, cl) : NULL;
            char *es = sanitize ? escaped_dup(sub, strlen(sub)) : NULL;
            char *er = sanitize ? escaped_dup(room, strlen(room)) : NULL;
            if (!bid || (sanitize && (!ec || !es || !er))) {
                rc = -1;
            } else {
                out->reply = dump(json_pack("{s:s,s:O}", "type", "ack", "id", idv));
                out->broadcast =
                    dump(json_pack("{s:s,s:O,s:s%,s:s,s:s}", "type", "chat_message", "id", bid,
                                   "content", sanitize ? ec : c, sanitize ? strlen(ec) : cl, "sub",
                                   sanitize ? es : sub, "room", sanitize ? er : room));
                rc = out->reply && out->broadcast ? 0 : -1;
            }
            free(ec);
            free(es);
            free(er);
            json_decref(idv);
            json_decref(bid);
        }
    } else {
        rc = chat_error(out, "unknown type");
    }
    json_decref(m);
    if (rc != 0)
        wsp_serve_chat_result_cleanup(out);
    return rc;
}

void wsp_serve_chat_result_cleanup(wsp_serve_chat_result *r)
{
    if (!r)
        return;
    free(r->reply);
    free(r->broadcast);
    r->reply = NULL;
    r->broadcast = NULL;
}
