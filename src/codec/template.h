/* template.h - placeholders in conversation messages.
 *
 * In what is sent: {{uuid}} (a random RFC 4122 version 4 UUID), {{now}} (Unix seconds),
 * {{now_ms}} (Unix milliseconds), {{env.NAME}} (an environment variable, which must be set).
 * In what is expected, also {{sent./pointer}}: the value at that RFC 6901 pointer in the message
 * the step before sent (strings without quotes, other values as JSON), for correlation ids.
 * Anything else in double braces is an error, found before any connection is made. */
#ifndef WSP_TEMPLATE_H
#define WSP_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef struct wsp_tmpl_ctx {
    const char *sent; /* the message sent by the previous send step, or NULL */
    size_t sent_len;
} wsp_tmpl_ctx;

/* Whether `tmpl` contains any placeholder (a fast path for plain text). */
bool wsp_tmpl_has_vars(const char *tmpl);

/* Check every placeholder: known names, environment variables set, {{sent...}} only when
 * allow_sent and with a valid pointer. Returns 0, or -1 with err (USAGE) naming the placeholder.
 * `what` names the option for the message ("--send"). */
int wsp_tmpl_check(const char *tmpl, bool allow_sent, const char *what, wsp_err *err);

/* Expand into a new heap string (caller frees), with its length in *len_out. Returns NULL with
 * err on a placeholder that cannot be filled (a pointer missing from the sent message). */
char *wsp_tmpl_expand(const char *tmpl, const wsp_tmpl_ctx *ctx, size_t *len_out, wsp_err *err);

#endif
