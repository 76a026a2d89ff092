/* fuzz_template.c - templates (codec/template.h) on arbitrary text: the input is
 * "TEMPLATE\nSENT-MESSAGE". Checks: a template wsp_tmpl_check accepts expands or fails with a
 * message, never crashes; an expansion with no placeholder is the text itself; {{sent./p}}
 * reads only the sent message given. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fixed_env(const char *name)
{
    static char value[] = "fuzz-value";
    return strcmp(name, "FUZZ_VAR") == 0 ? value : NULL;
}

static int64_t fixed_clock(void)
{
    return 1700000000000LL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : size;
    char *tmpl = malloc(tlen + 1);
    if (!tmpl)
        return 0;
    memcpy(tmpl, data, tlen);
    tmpl[tlen] = '\0';
    if (strlen(tmpl) != tlen) { /* a NUL inside: not a C string template */
        free(tmpl);
        return 0;
    }
    const char *sent = nl ? (const char *)nl + 1 : NULL;
    size_t sent_len = nl ? size - tlen - 1 : 0;
    wsp_tmpl_ctx ctx = {sent, sent_len, fixed_clock, fixed_env};
    wsp_err e;
    wsp_err_clear(&e);
    bool checked = wsp_tmpl_check(tmpl, true, "fuzz", fixed_env, &e) == 0;
    if (!checked && e.msg[0] == '\0')
        abort();
    size_t len = 0;
    wsp_err_clear(&e);
    char *out = wsp_tmpl_expand(tmpl, &ctx, &len, &e);
    if (!out && e.msg[0] == '\0')
        abort();
    if (out && !wsp_tmpl_has_vars(tmpl) && (len != tlen || memcmp(out, tmpl, tlen) != 0))
        abort();
    free(out);
    free(tmpl);
    return 0;
}
