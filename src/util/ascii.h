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

/* Whether a[0..n) and b[0..n) are equal ignoring ASCII case. */
bool wsp_ascii_ieq(const char *a, const char *b, size_t n);

#endif
