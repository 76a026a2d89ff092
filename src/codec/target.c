/* target.c - see target.h. */
#include "codec/target.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

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
            if (e - i < 3 || hexval(q[i + 1]) < 0 || hexval(q[i + 2]) < 0) {
                if (why)
                    *why = "a %-escape is not followed by two hex digits";
                return -1;
            }
            c = hexval(q[i + 1]) * 16 + hexval(q[i + 2]);
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

/* One set "[...]" at g (g[0] == '['): whether c is in it; *end past the ']'. -1 when the set is
 * not closed. */
static int set_match(const char *g, char c, const char **end)
{
    const char *p = g + 1;
    bool neg = *p == '!';
    if (neg)
        p++;
    bool in = false, first = true;
    while (*p && (*p != ']' || first)) {
        char lo = *p;
        if (lo == '\\' && p[1])
            lo = *++p;
        char hi = lo;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = p[2];
            if (hi == '\\' && p[3])
                hi = p[3], p++;
            p += 2;
        }
        if (c >= lo && c <= hi)
            in = true;
        p++;
        first = false;
    }
    if (*p != ']')
        return -1;
    *end = p + 1;
    return in != neg;
}

/* Whether one non-star element at *g matches c; advances *g past it. */
static bool one_match(const char **g, char c)
{
    const char *p = *g;
    if (*p == '?') {
        *g = p + 1;
        return true;
    }
    if (*p == '[') {
        const char *end;
        int m = set_match(p, c, &end);
        if (m >= 0) {
            *g = end;
            return m == 1;
        }
        /* an unclosed '[' stands for itself */
    }
    if (*p == '\\' && p[1])
        p++;
    *g = p + 1;
    return *p == c;
}

bool wsp_glob_match(const char *glob, const char *s)
{
    const char *g = glob, *star_g = NULL, *star_s = NULL;
    while (*s) {
        if (*g == '*') {
            while (*g == '*')
                g++;
            if (!*g)
                return true;
            star_g = g;
            star_s = s;
            continue;
        }
        const char *ng = g;
        if (*g && one_match(&ng, *s)) {
            g = ng;
            s++;
            continue;
        }
        if (!star_g)
            return false;
        g = star_g; /* backtrack: the last star takes one more character */
        s = ++star_s;
    }
    while (*g == '*')
        g++;
    return *g == '\0';
}

int wsp_glob_check_target(const char *glob, const char **why)
{
    size_t n = strlen(glob);
    if (n == 0 || n > WSP_GLOB_MAX) {
        *why = n ? "the pattern is too long" : "the pattern is empty";
        return -1;
    }
    for (const char *p = glob; *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f) {
            *why = "the pattern holds a space or a control byte";
            return -1;
        }
        if (*p == '\\' && !*++p) {
            *why = "the pattern ends in '\\'";
            return -1;
        }
        const char *end;
        if (*p == '[' && set_match(p, 'x', &end) < 0) {
            *why = "a '[' set is not closed with ']'";
            return -1;
        }
    }
    if (glob[0] == '*')
        return 0;
    const char *rest;
    if (strncmp(glob, "ws://", 5) == 0)
        rest = glob + 5;
    else if (strncmp(glob, "wss://", 6) == 0)
        rest = glob + 6;
    else {
        *why = "the pattern must start with ws:// or wss:// (in lower case), or a wildcard";
        return -1;
    }
    size_t alen = strcspn(rest, "/?");
    bool wild = false, upper = false;
    const char *colon = NULL;
    bool in_brackets = false;
    for (size_t i = 0; i < alen; i++) {
        char c = rest[i];
        wild |= c == '*';
        upper |= c >= 'A' && c <= 'Z';
        if (c == '[' && i == 0)
            in_brackets = true;
        else if (c == ']')
            in_brackets = false;
        else if (c == ':' && !in_brackets)
            colon = rest + i;
    }
    if (upper) {
        *why = "write the host in lower case: targets are matched in their normal form";
        return -1;
    }
    if (!colon && !wild) {
        *why = "write the port (ws://HOST:80/..., or ws://HOST:*/...): a target's normal form "
               "always has one, so this pattern would never match";
        return -1;
    }
    return 0;
}
