/* jsonptr.h - RFC 6901 JSON Pointer over jansson values. */
#ifndef WSP_JSONPTR_H
#define WSP_JSONPTR_H

#include <jansson.h>

/* Resolve `ptr` ("" is the whole document, "/a/0/b~1c") against `root`. Returns a borrowed
 * reference, or NULL when the pointer is malformed or names nothing. */
json_t *wsp_jsonptr_get(json_t *root, const char *ptr);

/* Whether `ptr` is syntactically valid (empty or starting with '/', escapes only ~0 and ~1). */
int wsp_jsonptr_valid(const char *ptr);

#endif
