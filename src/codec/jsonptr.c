/* jsonptr.c - RFC 6901. */
#include "codec/jsonptr.h"

#include <stdlib.h>
#include <string.h>

int wsp_jsonptr_valid(const char *ptr)
{
    if (!ptr)
        return 0;
    if (*ptr == '\0')
        return 1;
    if (*ptr != '/')
        return 0;
    for (const char *p = ptr; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return 0;
    return 1;
}

/* Decode one reference token (RFC 6901 section 4: ~1 before ~0) into out. */
static size_t token_decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '~' && i + 1 < len) {
            out[o++] = s[i + 1] == '1' ? '/' : '~';
            i++;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

/* An array index: "0" or digits without a leading zero (section 4). */
static int parse_index(const char *t, size_t len, size_t *out)
{
    if (len == 0 || (len > 1 && t[0] == '0') || len > 18)
        return -1;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] < '0' || t[i] > '9')
            return -1;
        v = v * 10 + (size_t)(t[i] - '0');
    }
    *out = v;
    return 0;
}

json_t *wsp_jsonptr_get(json_t *root, const char *ptr)
{
    if (!root || !wsp_jsonptr_valid(ptr))
        return NULL;
    json_t *cur = root;
    const char *p = ptr;
    char *tok = malloc(strlen(ptr) + 1);
    if (!tok)
        return NULL;
    while (*p == '/' && cur) {
        p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t tlen = token_decode(p, len, tok);
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, tlen);
        } else if (json_is_array(cur)) {
            size_t idx;
            cur = parse_index(tok, tlen, &idx) == 0 ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        p += len;
    }
    free(tok);
    return cur;
}
