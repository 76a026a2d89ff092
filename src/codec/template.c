/* template.c - see template.h. */
#include "codec/template.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jsonptr.h"
#include "util/buf.h"
#include "util/rand.h"

#define NAME_MAX_LEN 256

bool wsp_tmpl_has_vars(const char *tmpl)
{
    return strstr(tmpl, "{{") != NULL;
}

/* Find the next placeholder at or after p: sets *name and *nlen to its inside and returns the
 * position after "}}", or NULL when there is none. *start gets the position of "{{". */
static const char *next_var(const char *p, const char **start, const char **name, size_t *nlen)
{
    const char *s = strstr(p, "{{");
    if (!s)
        return NULL;
    const char *e = strstr(s + 2, "}}");
    if (!e)
        return NULL;
    *start = s;
    *name = s + 2;
    *nlen = (size_t)(e - s - 2);
    return e + 2;
}

static bool is(const char *name, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(name, lit, n) == 0;
}

int wsp_tmpl_check(const char *tmpl, bool allow_sent, const char *what, wsp_tmpl_env_fn env,
                   wsp_err *err)
{
    const char *p = tmpl, *start, *name;
    size_t n;
    while ((p = next_var(p, &start, &name, &n)) != NULL) {
        char nm[NAME_MAX_LEN];
        if (n >= sizeof nm)
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s: a placeholder is too long", what);
        memcpy(nm, name, n);
        nm[n] = '\0';
        if (is(name, n, "uuid") || is(name, n, "now") || is(name, n, "now_ms"))
            continue;
        if (n > 4 && memcmp(name, "env.", 4) == 0) {
            const char *v = env ? env(nm + 4) : "";
            if (!v)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "%s: {{%s}} names the environment variable %s, which is not set",
                                   what, nm, nm + 4);
            continue;
        }
        if (n >= 5 && memcmp(name, "sent.", 5) == 0) {
            if (!allow_sent)
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "%s: {{%s}} can only be used in an expectation", what, nm);
            if (!wsp_jsonptr_valid(nm + 5))
                return wsp_err_set(err, WSP_CLASS_USAGE,
                                   "%s: {{%s}}: '%s' is not a JSON pointer (RFC 6901)", what, nm,
                                   nm + 5);
            continue;
        }
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%s: unknown placeholder {{%s}} (known: uuid, now, now_ms, env.NAME, "
                           "sent./pointer)",
                           what, nm);
    }
    return 0;
}

static int put_uuid(wsp_buf *b)
{
    uint8_t u[16];
    if (wsp_rand_bytes(u, sizeof u) != 0)
        return -1;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* RFC 4122 4.4: version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* variant 10 */
    char s[37];
    snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
    return wsp_buf_put(b, s, 36);
}

static int put_sent(wsp_buf *b, const char *ptr, const wsp_tmpl_ctx *ctx, wsp_err *err)
{
    if (!ctx || !ctx->sent)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "{{sent.%s}}: no message was sent before this expectation", ptr);
    json_error_t je;
    json_t *doc = json_loadb(ctx->sent, ctx->sent_len, JSON_DECODE_ANY, &je);
    json_t *v = doc ? wsp_jsonptr_get(doc, ptr) : NULL;
    if (!v) {
        json_decref(doc);
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "{{sent.%s}}: the message sent before has no value at '%s'", ptr, ptr);
    }
    int rc;
    if (json_is_string(v)) {
        rc = wsp_buf_put(b, json_string_value(v), json_string_length(v));
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        rc = t ? wsp_buf_put(b, t, strlen(t)) : -1;
        free(t);
    }
    json_decref(doc);
    return rc;
}

char *wsp_tmpl_expand(const char *tmpl, const wsp_tmpl_ctx *ctx, size_t *len_out, wsp_err *err)
{
    wsp_buf b = WSP_BUF_INIT;
    const char *p = tmpl, *start, *name, *after;
    size_t n;
    if (wsp_buf_put(&b, "", 0) != 0)
        goto oom;
    while ((after = next_var(p, &start, &name, &n)) != NULL) {
        if (wsp_buf_put(&b, p, (size_t)(start - p)) != 0)
            goto oom;
        char nm[NAME_MAX_LEN];
        if (n >= sizeof nm) {
            wsp_err_set(err, WSP_CLASS_USAGE, "a placeholder is too long");
            goto fail;
        }
        memcpy(nm, name, n);
        nm[n] = '\0';
        char num[32];
        int rc;
        if (strcmp(nm, "uuid") == 0) {
            rc = put_uuid(&b);
        } else if (strcmp(nm, "now") == 0 || strcmp(nm, "now_ms") == 0) {
            if (!ctx || !ctx->now_ms) {
                wsp_err_set(err, WSP_CLASS_INTERNAL, "{{%s}}: no clock was given", nm);
                goto fail;
            }
            long long ms = (long long)ctx->now_ms();
            long long v = nm[3] ? ms : ms / 1000;
            int k = snprintf(num, sizeof num, "%lld", v);
            rc = wsp_buf_put(&b, num, (size_t)k);
        } else if (strncmp(nm, "env.", 4) == 0) {
            const char *v = ctx && ctx->env ? ctx->env(nm + 4) : NULL;
            if (!v) {
                wsp_err_set(err, WSP_CLASS_USAGE, "{{%s}}: the variable is not set", nm);
                goto fail;
            }
            rc = wsp_buf_put(&b, v, strlen(v));
        } else if (strncmp(nm, "sent.", 5) == 0) {
            rc = put_sent(&b, nm + 5, ctx, err);
            if (rc != 0 && err && err->cls == WSP_CLASS_USAGE)
                goto fail;
        } else {
            wsp_err_set(err, WSP_CLASS_USAGE, "unknown placeholder {{%s}}", nm);
            goto fail;
        }
        if (rc != 0)
            goto oom;
        p = after;
    }
    if (wsp_buf_put(&b, p, strlen(p)) != 0)
        goto oom;
    char *out = wsp_buf_take(&b, len_out);
    if (!out)
        goto oom;
    return out;
oom:
    wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory expanding a template");
fail:
    wsp_buf_free(&b);
    return NULL;
}
