/* proxy.c - see proxy.h. */
#include "codec/proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/ascii.h"

const char *wsp_proxy_kind_name(wsp_proxy_kind k)
{
    switch (k) {
    case WSP_PROXY_NONE:
        return "none";
    case WSP_PROXY_HTTP:
        return "http";
    case WSP_PROXY_HTTPS:
        return "https";
    case WSP_PROXY_SOCKS5:
        return "socks5";
    case WSP_PROXY_SOCKS5H:
        return "socks5h";
    }
    return "none";
}

/* Percent-decode s[0..len) into out (cap bytes with the NUL); -1 on a bad escape, an escaped
 * NUL, or when it does not fit. */
static int pct_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int a = i + 1 < len ? wsp_ascii_hex(s[i + 1]) : -1;
            int b = i + 2 < len ? wsp_ascii_hex(s[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0))
                return -1;
            c = (char)(a * 16 + b);
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* A port or a prefix length: 1-5 digits up to 65535; -2 when it is not one. */
static long small_number(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 5 || s[n])
        return -2;
    long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v > 65535 ? -2 : v;
}

int wsp_proxy_parse(const char *s, const char *label, bool allow_credentials, wsp_proxy *p,
                    wsp_err *err)
{
    memset(p, 0, sizeof *p);
    const char *rest = s;
    const char *sep = strstr(s, "://");
    wsp_proxy_kind kind = WSP_PROXY_HTTP;
    if (sep) {
        size_t sl = (size_t)(sep - s);
        static const struct {
            const char *name;
            wsp_proxy_kind kind;
        } schemes[] = {{"http", WSP_PROXY_HTTP},
                       {"https", WSP_PROXY_HTTPS},
                       {"socks5", WSP_PROXY_SOCKS5},
                       {"socks5h", WSP_PROXY_SOCKS5H}};
        size_t i;
        for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
            if (strlen(schemes[i].name) == sl && wsp_ascii_ieq(s, schemes[i].name, sl))
                break;
        if (i == sizeof schemes / sizeof schemes[0])
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s: proxy scheme '%.*s' is not supported: use http://, https://, "
                               "socks5:// or socks5h:// (SOCKS4 has no remote names or "
                               "authentication worth trusting)",
                               label, (int)(sl > 16 ? 16 : sl), s);
        kind = schemes[i].kind;
        rest = sep + 3;
    }
    /* the authority ends at the first '/', '?' or '#'; userinfo at its last '@' */
    size_t alen = strcspn(rest, "/?#");
    if (rest[alen] && strcmp(rest + alen, "/") != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s: a proxy URL has no path, query or fragment: write "
                           "scheme://host:port",
                           label);
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (rest[i] == '@')
            at = rest + i;
    const char *host = rest;
    if (at) {
        if (!allow_credentials)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s carries credentials: every user of this machine can read a "
                               "command line or a plan; put user:password in an environment "
                               "variable and name it with --proxy-user-env (plan key "
                               "proxy_user_env)",
                               label);
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t ul = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        if (pct_decode(rest, ul, p->user, sizeof p->user) != 0 ||
            (colon &&
             pct_decode(colon + 1, (size_t)(at - colon - 1), p->pass, sizeof p->pass) != 0))
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "%s: the proxy's user or password is longer than %d bytes or has "
                               "a bad %%-escape",
                               label, WSP_PROXY_CRED_MAX);
        p->has_credentials = true;
        host = at + 1;
        alen -= (size_t)(host - rest);
    }
    /* the authority as a ws:// URL: the same host, IPv6 and port rules as any target */
    char tmp[WSP_URL_HOST_MAX + 32];
    if (alen == 0 || alen > WSP_URL_HOST_MAX + 8)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s: the proxy URL has no host", label);
    snprintf(tmp, sizeof tmp, "ws://%.*s/", (int)alen, host);
    wsp_url u;
    wsp_err ue;
    if (wsp_url_parse(tmp, &u, 0, &ue) != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s: the proxy's host or port: %s", label, ue.msg);
    p->kind = kind;
    snprintf(p->host, sizeof p->host, "%s", u.host);
    p->host_is_ip = u.host_is_ip;
    p->port = u.port_explicit ? u.port : kind == WSP_PROXY_HTTPS ? 443 : 1080;
    snprintf(p->shown, sizeof p->shown, u.host_is_ipv6 ? "%s://[%s]:%u" : "%s://%s:%u",
             wsp_proxy_kind_name(kind), p->host, p->port);
    return 0;
}

/* ---- no_proxy ---- */

static bool cidr_match(const char *net, int bits, const wsp_url *t)
{
    unsigned char a[16], b[16];
    int fam = strchr(net, ':') ? AF_INET6 : AF_INET;
    int width = fam == AF_INET6 ? 128 : 32;
    if (!t->host_is_ip || inet_pton(fam, net, a) != 1 || inet_pton(fam, t->host, b) != 1)
        return false;
    if (bits < 0 || bits > width)
        return false;
    int full = bits / 8, part = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return false;
    if (part == 0)
        return true;
    unsigned mask = (0xffu << (8 - part)) & 0xffu;
    return (a[full] & mask) == (b[full] & mask);
}

static bool entry_match(const char *e, size_t len, const wsp_url *t)
{
    char ent[300];
    if (len == 1 && e[0] == '*')
        return true;
    if (len >= 2 && e[0] == '*' && e[1] == '.') {
        e += 2;
        len -= 2;
    } else if (len >= 1 && e[0] == '.') {
        e++;
        len--;
    }
    if (len == 0 || len >= sizeof ent)
        return false;
    memcpy(ent, e, len);
    ent[len] = '\0';
    /* HOST:PORT, [v6]:PORT, [v6] (a bare IPv6 literal has colons of its own) */
    char *host = ent;
    long port = -1;
    if (ent[0] == '[') {
        char *close = strchr(ent, ']');
        if (!close)
            return false;
        *close = '\0';
        host = ent + 1;
        if (close[1] == ':')
            port = small_number(close + 2);
    } else if (strchr(ent, ':') == strrchr(ent, ':') && strchr(ent, ':')) {
        char *c = strchr(ent, ':');
        *c = '\0';
        port = small_number(c + 1);
    }
    if (port == -2 || (port >= 0 && port != t->port))
        return false;
    char *slash = strchr(host, '/');
    if (slash) {
        *slash = '\0';
        long bits = small_number(slash + 1);
        return bits >= 0 && cidr_match(host, (int)bits, t);
    }
    unsigned char a[16], b[16];
    int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(fam, host, a) == 1)
        return t->host_is_ip && inet_pton(fam, t->host, b) == 1 &&
               memcmp(a, b, fam == AF_INET6 ? 16u : 4u) == 0;
    if (t->host_is_ip)
        return false;
    size_t hl = strlen(host), tl = strlen(t->host);
    if (hl > tl || !wsp_ascii_ieq(t->host + (tl - hl), host, hl))
        return false;
    return hl == tl || t->host[tl - hl - 1] == '.';
}

bool wsp_noproxy_match(const char *list, const wsp_url *target, char *entry, size_t cap)
{
    if (!list)
        return false;
    for (const char *p = list; *p;) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        if (n > 0 && entry_match(p, n, target)) {
            if (entry && cap)
                snprintf(entry, cap, "%.*s", (int)n, p);
            return true;
        }
        p += n;
    }
    return false;
}

/* ---- choosing ---- */

/* The first non-empty of NAME and its upper-case twin; *which gets the name that held it. */
static const char *env_pair(const wsp_proxy_settings *s, const char *lower, char *which, size_t cap)
{
    char upper[16];
    size_t n = strlen(lower);
    if (n >= sizeof upper || n >= cap)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        upper[i] = lower[i] >= 'a' && lower[i] <= 'z' ? (char)(lower[i] - 'a' + 'A') : lower[i];
    const char *names[2] = {lower, upper};
    for (int i = 0; i < 2; i++) {
        const char *v = s->env(names[i], s->env_ud);
        if (v && *v) {
            memcpy(which, names[i], n + 1);
            return v;
        }
    }
    return NULL;
}

int wsp_proxy_select(const wsp_url *target, const wsp_proxy_settings *s, wsp_proxy *out,
                     wsp_err *err)
{
    memset(out, 0, sizeof *out);
    char var[16] = "";
    if (s->flag) {
        if (!*s->flag) {
            snprintf(out->source, sizeof out->source, "%s", s->flag_source);
            return 0; /* --proxy "": direct, whatever the environment says */
        }
        if (wsp_proxy_parse(s->flag, s->flag_source, false, out, err) != 0)
            return -1;
        snprintf(out->source, sizeof out->source, "%s", s->flag_source);
    } else if (s->env) {
        static const char *const secure[] = {"wss_proxy", "https_proxy", "all_proxy"};
        static const char *const plain[] = {"ws_proxy", "http_proxy", "all_proxy"};
        const char *const *names = target->tls ? secure : plain;
        const char *v = NULL;
        for (int i = 0; i < 3 && !v; i++)
            v = env_pair(s, names[i], var, sizeof var);
        if (!v)
            return 0;
        if (wsp_proxy_parse(v, var, true, out, err) != 0)
            return -1;
        snprintf(out->source, sizeof out->source, "environment");
        snprintf(out->variable, sizeof out->variable, "%s", var);
        if (out->has_credentials)
            snprintf(out->cred_source, sizeof out->cred_source, "%s", var);
    } else {
        return 0;
    }
    const char *list = s->noproxy;
    char lvar[16] = "--noproxy";
    if (!list && s->env)
        list = env_pair(s, "no_proxy", lvar, sizeof lvar);
    if (list && wsp_noproxy_match(list, target, out->bypass, sizeof out->bypass)) {
        snprintf(out->bypass_variable, sizeof out->bypass_variable, "%s", lvar);
        out->kind = WSP_PROXY_NONE;
        out->has_credentials = false;
        memset(out->user, 0, sizeof out->user);
        memset(out->pass, 0, sizeof out->pass);
    }
    return 0;
}

/* ---- HTTP CONNECT ---- */

int wsp_proxy_basic_token(const wsp_proxy *p, char *out, size_t cap)
{
    char pair[2 * WSP_PROXY_CRED_MAX + 2];
    if (!p->has_credentials)
        return -1;
    int pl = snprintf(pair, sizeof pair, "%s:%s", p->user, p->pass);
    if (pl < 0 || cap < 4 * (((size_t)pl + 2) / 3) + 1) {
        memset(pair, 0, sizeof pair);
        return -1;
    }
    int n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)pair, pl);
    memset(pair, 0, sizeof pair);
    return n;
}

int wsp_proxy_connect_request(char *buf, size_t cap, const wsp_proxy *p, const char *host,
                              uint16_t port)
{
    bool v6 = strchr(host, ':') != NULL;
    char b64[4 * ((2 * WSP_PROXY_CRED_MAX + 4) / 3) + 1], auth[sizeof b64 + 40] = "";
    if (wsp_proxy_basic_token(p, b64, sizeof b64) > 0)
        snprintf(auth, sizeof auth, "Proxy-Authorization: Basic %s\r\n", b64);
    memset(b64, 0, sizeof b64);
    int n =
        snprintf(buf, cap,
                 v6 ? "CONNECT [%s]:%u HTTP/1.1\r\nHost: [%s]:%u\r\n%sUser-Agent: wsprobe\r\n\r\n"
                    : "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n%sUser-Agent: wsprobe\r\n\r\n",
                 host, port, host, port, auth);
    memset(auth, 0, sizeof auth);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int wsp_proxy_connect_judge(const wsp_proxy *p, const wsp_http_response *res, const char *target,
                            wsp_err *err)
{
    if (res->status >= 200 && res->status <= 299)
        return 0;
    int rl = (int)(res->reason_len > 80 ? 80 : res->reason_len);
    /* 407 is the proxy's "authenticate"; some (tinyproxy 1.11) answer wrong credentials with
     * 401: either way the proxy, not the endpoint, refused them */
    if (res->status == 407 || res->status == 401) {
        const wsp_http_header *h =
            wsp_http_find(res->headers, res->num_headers, "Proxy-Authenticate");
        /* the scheme: the value's first token (RFC 9110 11.6.1), counted, not NUL-ended */
        size_t sl = 0;
        while (h && sl < h->value_len && sl < 32 && wsp_http_is_token(h->value + sl, 1))
            sl++;
        char scheme[40];
        snprintf(scheme, sizeof scheme, "%.*s", (int)sl, h ? h->value : "");
        wsp_err_set(err, WSP_CLASS_PROXY_AUTH,
                    "the proxy %s answered CONNECT %s with %d %.*s: it wants %s%s "
                    "authentication, and wsprobe %s",
                    p->shown, target, res->status, rl, res->reason,
                    h ? "" : "(no Proxy-Authenticate) ", h ? scheme : "some",
                    p->has_credentials ? "sent credentials it refused" : "sent none");
        if (p->has_credentials)
            wsp_err_hint(err,
                         "check the user and password in %s (user:password; Basic is the "
                         "one scheme wsprobe speaks)",
                         p->cred_source);
        else
            wsp_err_hint(err, "put user:password in an environment variable and name it with "
                              "--proxy-user-env VAR (or write them in the proxy variable's URL)");
        return -1;
    }
    wsp_err_set(err, WSP_CLASS_PROXY_TUNNEL_FAILED,
                "the proxy %s refused the tunnel to %s: HTTP %d %.*s", p->shown, target,
                res->status, rl, res->reason);
    if (res->status == 403)
        wsp_err_hint(err, "the proxy's rules forbid this host or port (tinyproxy ConnectPort, "
                          "squid SSL_ports); ask for it to be allowed, or list the host in "
                          "no_proxy if it is reachable directly");
    else if (res->status == 502 || res->status == 503 || res->status == 504)
        wsp_err_hint(err, "the proxy could not reach the endpoint (down, or a name the proxy "
                          "cannot resolve); wait retries this");
    else if (res->status == 405 || res->status == 501)
        wsp_err_hint(err, "this proxy does not tunnel (no CONNECT): use a forward proxy that "
                          "does, or socks5://");
    else
        wsp_err_hint(err, "read the status the proxy gave; a proxy that tunnels answers "
                          "CONNECT with 200");
    return -1;
}

/* ---- SOCKS5 ---- */

enum { S5_METHOD, S5_AUTH, S5_REPLY, S5_OPEN };

const char *wsp_socks5_reply_name(int rep)
{
    static const char *const names[] = {"succeeded",
                                        "general SOCKS server failure",
                                        "connection not allowed by ruleset",
                                        "network unreachable",
                                        "host unreachable",
                                        "connection refused",
                                        "TTL expired",
                                        "command not supported",
                                        "address type not supported"};
    return rep >= 0 && rep < 9 ? names[rep] : "unassigned";
}

int wsp_socks5_begin(wsp_socks5 *s, const wsp_proxy *p, const char *host, uint16_t port,
                     uint8_t *out, size_t *out_len, wsp_err *err)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->reply = -1;
    if (strlen(host) > 255)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "the host name is longer than the 255 bytes SOCKS5 can carry");
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    size_t n = 0;
    out[n++] = 5;
    if (p->has_credentials) {
        out[n++] = 2;
        out[n++] = 0x00; /* no authentication */
        out[n++] = 0x02; /* username/password, RFC 1929 */
    } else {
        out[n++] = 1;
        out[n++] = 0x00;
    }
    *out_len = n;
    s->state = S5_METHOD;
    return 0;
}

static size_t connect_request(const wsp_socks5 *s, uint8_t *out)
{
    size_t n = 0;
    unsigned char a[16];
    out[n++] = 5;
    out[n++] = 1; /* CONNECT */
    out[n++] = 0;
    if (inet_pton(AF_INET, s->host, a) == 1) {
        out[n++] = 1;
        memcpy(out + n, a, 4);
        n += 4;
    } else if (inet_pton(AF_INET6, s->host, a) == 1) {
        out[n++] = 4;
        memcpy(out + n, a, 16);
        n += 16;
    } else {
        size_t hl = strlen(s->host);
        out[n++] = 3;
        out[n++] = (uint8_t)hl;
        memcpy(out + n, s->host, hl);
        n += hl;
    }
    out[n++] = (uint8_t)(s->port >> 8);
    out[n++] = (uint8_t)(s->port & 0xff);
    return n;
}

/* How many bytes the message being collected needs in all; 0 when unknown yet. */
static size_t wanted(const wsp_socks5 *s)
{
    if (s->state != S5_REPLY)
        return 2;
    if (s->in_len >= 2 && (s->in[0] != 5 || s->in[1] != 0))
        return s->in_len; /* a failure is judged as soon as it is seen */
    if (s->in_len < 4)
        return 0;
    switch (s->in[3]) {
    case 1:
        return 4 + 4 + 2;
    case 4:
        return 4 + 16 + 2;
    case 3:
        return s->in_len < 5 ? 0 : 5u + s->in[4] + 2;
    default:
        return 4; /* judged (refused) as soon as the type is seen */
    }
}

static int step(wsp_socks5 *s, uint8_t *out, size_t *out_len, wsp_err *err)
{
    const wsp_proxy *p = s->p;
    switch (s->state) {
    case S5_METHOD:
        if (s->in[0] != 5)
            return wsp_err_set(err, WSP_CLASS_PROXY_PROTOCOL,
                               "the proxy %s does not speak SOCKS5: its first byte is 0x%02x "
                               "(an HTTP proxy answers 'H')",
                               p->shown, s->in[0]);
        if (s->in[1] == 0xff) {
            wsp_err_set(err, WSP_CLASS_PROXY_AUTH,
                        "the SOCKS5 proxy %s accepts none of the methods offered (%s)", p->shown,
                        p->has_credentials ? "none, username/password" : "no authentication");
            wsp_err_hint(err, p->has_credentials
                                  ? "the proxy wants a method wsprobe does not speak (GSSAPI?)"
                                  : "the proxy wants a user and password: put user:password "
                                    "in an environment variable named by --proxy-user-env");
            return -1;
        }
        if (s->in[1] == 0x02 && p->has_credentials) {
            size_t ul = strlen(p->user), pl = strlen(p->pass), n = 0;
            out[n++] = 1;
            out[n++] = (uint8_t)ul;
            memcpy(out + n, p->user, ul);
            n += ul;
            out[n++] = (uint8_t)pl;
            memcpy(out + n, p->pass, pl);
            n += pl;
            *out_len = n;
            s->state = S5_AUTH;
            return 0;
        }
        if (s->in[1] != 0x00)
            return wsp_err_set(err, WSP_CLASS_PROXY_PROTOCOL,
                               "the SOCKS5 proxy %s chose method 0x%02x, which wsprobe did not "
                               "offer",
                               p->shown, s->in[1]);
        *out_len = connect_request(s, out);
        s->state = S5_REPLY;
        return 0;
    case S5_AUTH:
        /* RFC 1929 says version 1; some servers answer with 5: the status is what counts */
        if (s->in[0] != 1 && s->in[0] != 5)
            return wsp_err_set(err, WSP_CLASS_PROXY_PROTOCOL,
                               "the SOCKS5 proxy %s answered the username/password with "
                               "version 0x%02x (RFC 1929: 1)",
                               p->shown, s->in[0]);
        if (s->in[1] != 0) {
            wsp_err_set(err, WSP_CLASS_PROXY_AUTH,
                        "the SOCKS5 proxy %s refused the user and password (status 0x%02x)",
                        p->shown, s->in[1]);
            wsp_err_hint(err, "check the user:password in %s", p->cred_source);
            return -1;
        }
        *out_len = connect_request(s, out);
        s->state = S5_REPLY;
        return 0;
    case S5_REPLY:
        if (s->in[0] != 5)
            return wsp_err_set(err, WSP_CLASS_PROXY_PROTOCOL,
                               "the SOCKS5 proxy %s answered CONNECT with version 0x%02x "
                               "(RFC 1928: 5)",
                               p->shown, s->in[0]);
        s->reply = s->in[1];
        if (s->in[1] != 0) {
            wsp_err_set(err, WSP_CLASS_PROXY_TUNNEL_FAILED,
                        "the SOCKS5 proxy %s refused the tunnel to %s port %u: reply %d (%s)",
                        p->shown, s->host, s->port, s->in[1], wsp_socks5_reply_name(s->in[1]));
            if (s->in[1] == 2)
                wsp_err_hint(err, "the proxy's rules forbid this destination");
            else if (s->in[1] == 4 && p->kind == WSP_PROXY_SOCKS5H)
                wsp_err_hint(err, "the proxy could not resolve or reach the host: check the "
                                  "name from the proxy's side, or use socks5:// to resolve it "
                                  "here");
            else
                wsp_err_hint(err, "the proxy could not open the connection to the endpoint: "
                                  "check that it can reach the host and port");
            return -1;
        }
        if (s->in[3] != 1 && s->in[3] != 3 && s->in[3] != 4)
            return wsp_err_set(err, WSP_CLASS_PROXY_PROTOCOL,
                               "the SOCKS5 proxy %s answered with address type 0x%02x", p->shown,
                               s->in[3]);
        s->state = S5_OPEN;
        return 1;
    default:
        return 1;
    }
}

int wsp_socks5_feed(wsp_socks5 *s, const uint8_t *in, size_t len, size_t *used, uint8_t *out,
                    size_t *out_len, wsp_err *err)
{
    *used = 0;
    *out_len = 0;
    if (s->state == S5_OPEN)
        return 1;
    while (*used < len) {
        size_t want = wanted(s);
        size_t goal = want ? want : s->in_len < 2 ? 2 : s->in_len < 4 ? 4 : 5;
        size_t take = len - *used < goal - s->in_len ? len - *used : goal - s->in_len;
        memcpy(s->in + s->in_len, in + *used, take);
        s->in_len += take;
        *used += take;
        want = wanted(s);
        if (!want || s->in_len < want)
            continue;
        int r = step(s, out, out_len, err);
        s->in_len = 0;
        if (r != 0 || *out_len > 0)
            return r; /* the next message answers what we send now */
    }
    return 0;
}
