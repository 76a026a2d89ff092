/* ascii.c - see ascii.h. */
#include "util/ascii.h"

bool wsp_ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (wsp_ascii_lower(a[i]) != wsp_ascii_lower(b[i]))
            return false;
    return true;
}
