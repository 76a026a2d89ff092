/* ascii.h - ASCII case folding for protocol tokens (HTTP field names, schemes, hosts, JUnit
 * patterns): locale-free, so "I" never becomes a Turkish dotless i. */
#ifndef WSP_ASCII_H
#define WSP_ASCII_H

#include <stdbool.h>
#include <stddef.h>

static inline char wsp_ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The value of a hex digit (0-9, a-f, A-F), or -1. */
static inline int wsp_ascii_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = wsp_ascii_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether a[0..n) and b[0..n) are equal ignoring ASCII case. */
bool wsp_ascii_ieq(const char *a, const char *b, size_t n);

#endif
