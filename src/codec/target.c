/* target.c - see target.h. */
#include "codec/target.h"
#include "util/ascii.h"

#include <stdio.h>
#include <string.h>

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* The pair starting at q[i]: name [ns, ne), value [vs, ve) (vs == ve when there is none);
 * returns where the next pair starts. */
static size_t next_pair(const char *q, size_t len, size_t i, size_t *ns, size_t *ne, size_t *vs,
                        size_t *ve)
{
    size_t end = i;
    while (end < len && q[end] != '&')
        end++;
    *ns = i;
    size_t eq = i;
    while (eq < end && q[eq] != '=')
        eq++;
    *ne = eq;
    *vs = eq < end ? eq + 1 : end;
    *ve = end;
    return end + 1;
}

/* Decode q[s, e) into out (cap bytes with the NUL); -1 when it does not fit or is malformed. */
static int decode(const char *q, size_t s, size_t e, char *out, size_t cap, const char **why)
{
    size_t o = 0;
    for (size_t i = s; i < e; i++) {
        int c = (unsigned char)q[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (e - i < 3 || wsp_ascii_hex(q[i + 1]) < 0 || wsp_ascii_hex(q[i + 2]) < 0) {
                if (why)
                    *why = "a %-escape is not followed by two hex digits";
                return -1;
            }
            c = wsp_ascii_hex(q[i + 1]) * 16 + wsp_ascii_hex(q[i + 2]);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f) {
            if (why)
                *why = "a value holds a control byte";
            return -1;
        }
        if (out) {
            if (o + 1 >= cap) {
                if (why)
                    *why = "a value is too long";
                return -1;
            }
            out[o] = (char)c;
        }
        o++;
    }
    if (out)
        out[o] = '\0';
    return (int)o;
}

static bool pair_is(const char *q, size_t ns, size_t ne, const char *name)
{
    size_t n = strlen(name);
    return ne - ns == n && memcmp(q + ns, name, n) == 0;
}

int wsp_query_check(const char *q, size_t len, const char *const *once, const char **why)
{
    if (len > WSP_QUERY_MAX) {
        *why = "the query string is too long";
        return -1;
    }
    unsigned seen[16] = {0};
    for (size_t i = 0; i < len;) {
        size_t ns, ne, vs, ve;
        i = next_pair(q, len, i, &ns, &ne, &vs, &ve);
        if (ns == ne) {
            if (ve == ns) /* "a=1&&b=2" or a trailing '&': an empty pair, harmless */
                continue;
            *why = "a parameter has no name";
            return -1;
        }
        for (size_t k = ns; k < ne; k++)
            if (!name_char(q[k])) {
                *why = "a parameter name holds a byte other than letters, digits, '_', '-', '.'";
                return -1;
            }
        if (ve - vs > WSP_QUERY_VALUE_MAX * 3 || decode(q, vs, ve, NULL, 0, why) < 0) {
            if (ve - vs > WSP_QUERY_VALUE_MAX * 3)
                *why = "a value is too long";
            return -1;
        }
        for (size_t k = 0; once && once[k] && k < 16; k++)
            if (pair_is(q, ns, ne, once[k]) && seen[k]++) {
                *why = "a parameter is given twice";
                return -1;
            }
    }
    return 0;
}

int wsp_query_get(const char *q, size_t len, const char *name, char *out, size_t cap)
{
    for (size_t i = 0; i < len;) {
        size_t ns, ne, vs, ve;
        i = next_pair(q, len, i, &ns, &ne, &vs, &ve);
        if (pair_is(q, ns, ne, name))
            return decode(q, vs, ve, out, cap, NULL) < 0 ? -1 : 1;
    }
    return 0;
}

int wsp_target_normal(const wsp_url *u, char *out, size_t cap)
{
    const char *l = u->host_is_ipv6 ? "[" : "", *r = u->host_is_ipv6 ? "]" : "";
    int n = snprintf(out, cap, "%s://%s%s%s:%u%s", wsp_url_scheme_name(u->scheme), l, u->host, r,
                     (unsigned)u->port, u->target);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* One set "[...]" at g[0..gl) (g[0] == '['): whether c is in it; *used is its length. -1
 * when the set is not closed. */
static int set_match(const char *g, size_t gl, char c, size_t *used)
{
    size_t i = 1;
    bool neg = i < gl && g[i] == '!';
    if (neg)
        i++;
    bool in = false, first = true;
    while (i < gl && (g[i] != ']' || first)) {
        char lo = g[i];
        if (lo == '\\' && i + 1 < gl)
            lo = g[++i];
        char hi = lo;
        if (i + 2 < gl && g[i + 1] == '-' && g[i + 2] != ']') {
            i += 2;
            hi = g[i];
            if (hi == '\\' && i + 1 < gl)
                hi = g[++i];
        }
        if (c >= lo && c <= hi)
            in = true;
        i++;
        first = false;
    }
    if (i >= gl)
        return -1;
    *used = i + 1;
    return in != neg;
}

/* Whether one non-star element at g[*gi] matches c; advances *gi past it. Sets are elements
 * only with `sets` (else '[' is itself). */
static bool one_match(const char *g, size_t gl, size_t *gi, char c, bool sets)
{
    size_t i = *gi;
    if (g[i] == '?') {
        *gi = i + 1;
        return true;
    }
    if (g[i] == '[' && sets) {
        size_t used;
        int m = set_match(g + i, gl - i, c, &used);
        if (m >= 0) {
            *gi = i + used;
            return m == 1;
        }
        /* an unclosed '[' stands for itself */
    }
    if (g[i] == '\\' && i + 1 < gl)
        i++;
    *gi = i + 1;
    return g[i] == c;
}

/* The glob g[0..gl) against s[0..sl): only the last '*' is backtracked to. */
static bool glob_n(const char *g, size_t gl, const char *s, size_t sl, bool sets)
{
    size_t gi = 0, si = 0, star_g = 0, star_s = 0;
    bool star = false;
    while (si < sl) {
        if (gi < gl && g[gi] == '*') {
            while (gi < gl && g[gi] == '*')
                gi++;
            if (gi == gl)
                return true;
            star = true;
            star_g = gi;
            star_s = si;
            continue;
        }
        size_t ng = gi;
        if (gi < gl && one_match(g, gl, &ng, s[si], sets)) {
            gi = ng;
            si++;
            continue;
        }
        if (!star)
            return false;
        gi = star_g; /* backtrack: the last star takes one more character */
        si = ++star_s;
    }
    while (gi < gl && g[gi] == '*')
        gi++;
    return gi == gl;
}

bool wsp_glob_match(const char *glob, const char *s)
{
    return glob_n(glob, strlen(glob), s, strlen(s), true);
}

/* ---- allowed_targets ---- */

typedef struct pattern {
    bool any; /* "*" */
    const char *scheme, *host, *port, *path;
    size_t scheme_len, host_len, port_len, path_len;
} pattern;

static bool host_pattern_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '*' || c == '?' || c == ':' || c == '[' || c == ']';
}

static int split(const char *p, pattern *out, const char **why)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(p);
    if (n == 0 || n > WSP_GLOB_MAX) {
        *why = n ? "the pattern is too long" : "the pattern is empty";
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] == 0x7f) {
            *why = "the pattern holds a space or a control byte";
            return -1;
        }
    if (strcmp(p, "*") == 0) {
        out->any = true;
        return 0;
    }
    const char *sep = strstr(p, "://");
    if (!sep) {
        *why = "expected SCHEME://HOST:PORT[/PATH] (ws://127.0.0.1:*/*), or * for any target";
        return -1;
    }
    out->scheme = p;
    out->scheme_len = (size_t)(sep - p);
    if (!((out->scheme_len == 2 && strncmp(p, "ws", 2) == 0) ||
          (out->scheme_len == 3 && strncmp(p, "wss", 3) == 0) ||
          (out->scheme_len == 1 && p[0] == '*'))) {
        *why = "the scheme must be ws, wss or * (in lower case)";
        return -1;
    }
    const char *a = sep + 3;
    size_t alen = strcspn(a, "/");
    const char *colon = NULL;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close || (size_t)(close - a) + 1 == alen || close[1] != ':') {
            *why = "an IPv6 host is written [ADDR]:PORT";
            return -1;
        }
        colon = close + 1;
    } else {
        for (size_t i = 0; i < alen; i++)
            if (a[i] == ':')
                colon = a + i;
    }
    if (!colon) {
        *why = "write the port (ws://HOST:80/..., or ws://HOST:*/...): a target's normal form "
               "always has one, so this pattern would never match";
        return -1;
    }
    out->host = a;
    out->host_len = (size_t)(colon - a);
    out->port = colon + 1;
    out->port_len = alen - out->host_len - 1;
    out->path = a + alen;
    out->path_len = n - (size_t)(out->path - p);
    if (out->host_len == 0 || out->port_len == 0) {
        *why = out->host_len ? "the port is empty" : "the host is empty";
        return -1;
    }
    for (size_t i = 0; i < out->host_len; i++) {
        char c = out->host[i];
        if (c >= 'A' && c <= 'Z') {
            *why = "write the host in lower case: targets are matched in their normal form";
            return -1;
        }
        if (!host_pattern_char(c) || ((c == '[' || c == ']' || c == ':') && a[0] != '[')) {
            *why = "the host holds a byte a host name or address cannot (a host takes only '*' "
                   "and '?' as wildcards)";
            return -1;
        }
    }
    for (size_t i = 0; i < out->port_len; i++)
        if (!((out->port[i] >= '0' && out->port[i] <= '9') || out->port[i] == '*' ||
              out->port[i] == '?')) {
            *why = "the port is digits, '*' or '?'";
            return -1;
        }
    for (size_t i = 0; i < out->path_len; i++) {
        if (out->path[i] == '\\' && ++i == out->path_len) {
            *why = "the pattern ends in '\\'";
            return -1;
        }
        size_t used;
        if (out->path[i] == '[' && set_match(out->path + i, out->path_len - i, 'x', &used) < 0) {
            *why = "a '[' set is not closed with ']'";
            return -1;
        }
    }
    return 0;
}

int wsp_target_pattern_check(const char *pattern_text, const char **why)
{
    pattern p;
    return split(pattern_text, &p, why);
}

bool wsp_target_allowed(const char *pattern_text, const wsp_url *u)
{
    pattern p;
    const char *why;
    if (split(pattern_text, &p, &why) != 0)
        return false;
    if (p.any)
        return true;
    const char *scheme = wsp_url_scheme_name(u->scheme);
    char host[WSP_URL_HOST_MAX + 3], port[8];
    snprintf(host, sizeof host, "%s%s%s", u->host_is_ipv6 ? "[" : "", u->host,
             u->host_is_ipv6 ? "]" : "");
    snprintf(port, sizeof port, "%u", (unsigned)u->port);
    return glob_n(p.scheme, p.scheme_len, scheme, strlen(scheme), false) &&
           glob_n(p.host, p.host_len, host, strlen(host), false) &&
           glob_n(p.port, p.port_len, port, strlen(port), false) &&
           (p.path_len == 0 || glob_n(p.path, p.path_len, u->target, strlen(u->target), true));
}

int wsp_target_path_check(const wsp_url *u, const char **why)
{
    const char *t = u->target;
    size_t plen = strcspn(t, "?");
    for (size_t i = 0; i < plen; i++) {
        if (t[i] == '%' && i + 2 < plen && t[i + 1] == '2' &&
            (t[i + 2] == 'e' || t[i + 2] == 'E')) {
            *why = "the path holds an encoded dot (%2e): write it plainly, without dot segments";
            return -1;
        }
        if (t[i] != '/')
            continue;
        size_t k = i + 1;
        while (k < plen && t[k] == '.')
            k++;
        size_t dots = k - i - 1;
        if ((dots == 1 || dots == 2) && (k == plen || t[k] == '/')) {
            *why = "the path holds a dot segment (/./ or /../): a server may resolve it to "
                   "another path than the one allowed";
            return -1;
        }
    }
    return 0;
}
