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
#include <stdint.h>

#include "util/error.h"

/* Where {{env.NAME}} looks: getenv(3) itself, or a test's own table. */
typedef char *(*wsp_tmpl_env_fn)(const char *name);

/* What a placeholder is filled from. The codec reads no clock and no environment of its own:
 * both come in here (probe.h wsp_probe_tmpl_ctx gives the live ones). */
typedef struct wsp_tmpl_ctx {
    const char *sent; /* the message sent by the previous send step, or NULL */
    size_t sent_len;
    int64_t (*now_ms)(void); /* {{now}}, {{now_ms}}: Unix milliseconds, read only when used */
    wsp_tmpl_env_fn env;     /* {{env.NAME}}; NULL: no environment (an error if used) */
} wsp_tmpl_ctx;

/* Whether `tmpl` contains any placeholder (a fast path for plain text). */
bool wsp_tmpl_has_vars(const char *tmpl);

/* Check every placeholder: known names, environment variables set (looked up with `env`;
 * NULL: not checked), {{sent...}} only when
 * allow_sent and with a valid pointer. Returns 0, or -1 with err (USAGE) naming the placeholder.
 * `what` names the option for the message ("--send"). */
int wsp_tmpl_check(const char *tmpl, bool allow_sent, const char *what, wsp_tmpl_env_fn env,
                   wsp_err *err);

/* Expand into a new heap string (caller frees), with its length in *len_out. Returns NULL with
 * err on a placeholder that cannot be filled (a pointer missing from the sent message, an
 * unset variable, no clock or environment in ctx). `ctx` may be NULL for {{uuid}} alone. */
char *wsp_tmpl_expand(const char *tmpl, const wsp_tmpl_ctx *ctx, size_t *len_out, wsp_err *err);

#endif
