/* fuzz_jsonptr.c - RFC 6901 pointers into a peer's JSON: the input is "POINTER\nDOCUMENT".
 * Checks: wsp_jsonptr_valid agrees with what wsp_jsonptr_get accepts (an invalid pointer finds
 * nothing), a value found is a node of the document, and the root pointer "" is the document. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jsonptr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(json_t *root, json_t *v, int depth)
{
    if (root == v)
        return true;
    if (depth > 64)
        return false;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(root))
        json_array_foreach(root, i, x) if (inside(x, v, depth + 1)) return true;
    if (json_is_object(root))
        json_object_foreach(root, k, x) if (inside(x, v, depth + 1)) return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : size;
    char *ptr = malloc(plen + 1);
    if (!ptr)
        return 0;
    memcpy(ptr, data, plen);
    ptr[plen] = '\0';
    json_error_t je;
    json_t *doc = nl ? json_loadb((const char *)nl + 1, size - plen - 1,
                                  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je)
                     : NULL;
    if (doc) {
        bool valid = wsp_jsonptr_valid(ptr); /* the C string: a NUL ends the pointer */
        json_t *got = wsp_jsonptr_get(doc, ptr);
        if (got && !valid)
            abort();
        if (got && !inside(doc, got, 0))
            abort();
        if (wsp_jsonptr_get(doc, "") != doc)
            abort();
        json_decref(doc);
    } else {
        (void)wsp_jsonptr_valid(ptr);
    }
    free(ptr);
    return 0;
}
