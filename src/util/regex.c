/* regex.c - see regex.h. PCRE2's interpreter, no JIT (docs/regex.md). */
#include "util/regex.h"

#include <stdint.h>
#include <stdlib.h>

#include "util/clock.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct wsp_regex {
    pcre2_code *code; /* read-only once compiled: threads may share it (pcre2api) */
};

/* The budget of one call, checked by the callout PCRE2 makes before each item of the pattern
 * (PCRE2_AUTO_CALLOUT). PCRE2's match limit restarts at every start position of an unanchored
 * pattern (pcre2api, pcre2_set_match_limit), and a repeat such as [a-z]* scans to the end of
 * the subject without a backtracking step, so `[a-z]*!` over 100,000 bytes ran 8 s inside
 * the match limit: the budget below is the bound over the whole call. */
typedef struct budget {
    uint64_t steps, max_steps;
    uint64_t t_end_ns; /* the clock at which the call gives up */
} budget;

static int on_callout(pcre2_callout_block *cb, void *ud)
{
    budget *b = ud;
    if (++b->steps > b->max_steps)
        return PCRE2_ERROR_CALLOUT; /* negative: pcre2_match stops and returns it */
    /* the clock at each new start position (where a scan may have taken a whole pass) and
     * every 1024 steps */
    if (((cb->callout_flags & PCRE2_CALLOUT_STARTMATCH) || (b->steps & 1023u) == 0) &&
        wsp_clock_mono_ns() >= b->t_end_ns)
        return PCRE2_ERROR_CALLOUT;
    return 0;
}

wsp_regex *wsp_regex_new(const char *pattern, wsp_err *err)
{
    wsp_regex *re = calloc(1, sizeof *re);
    if (!re) {
        wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        return NULL;
    }
    int ec = 0;
    PCRE2_SIZE off = 0;
    /* UTF: a pattern means characters, as a text message is UTF-8 (RFC 6455 5.6).
     * MATCH_INVALID_UTF: a binary message need not be UTF-8; its invalid bytes match nothing
     * instead of making the match an error (or, with NO_UTF_CHECK, undefined).
     * NEVER_BACKSLASH_C: \C could split a character and read past it in UTF mode.
     * AUTO_CALLOUT: a callout before each item, where the budget is checked (on_callout). */
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C |
                                 PCRE2_AUTO_CALLOUT,
                             &ec, &off, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
            msg[0] = '\0';
        if (ec == PCRE2_ERROR_NOMEMORY)
            wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        else
            wsp_err_set(err, WSP_CLASS_USAGE, "%s at offset %zu", (const char *)msg, (size_t)off);
        free(re);
        return NULL;
    }
    return re;
}

void wsp_regex_free(wsp_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}

wsp_regex_result wsp_regex_match(const wsp_regex *re, const void *subject, size_t len,
                                 uint64_t stop_ns)
{
    /* One match context and match data per call: the callout's budget is this call's, and
     * the backtracking frames live in the match data, so threads share nothing but the code. */
    budget b = {
        .max_steps = WSP_REGEX_STEPS_BASE + (uint64_t)WSP_REGEX_STEPS_PER_BYTE * len,
        .t_end_ns = wsp_clock_mono_ns() + WSP_REGEX_TIME_BASE_MS * 1000000ull +
                    (uint64_t)WSP_REGEX_TIME_NS_PER_BYTE * len,
    };
    if (stop_ns && stop_ns < b.t_end_ns)
        b.t_end_ns = stop_ns;
    pcre2_match_context *mctx = pcre2_match_context_create(NULL);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL); /* one pair: did it match */
    if (!mctx || !md) {
        pcre2_match_context_free(mctx);
        pcre2_match_data_free(md);
        return WSP_REGEX_ERROR;
    }
    /* a pattern's own (*LIMIT_MATCH=n) and the like can only lower these (pcre2api) */
    uint64_t steps = WSP_REGEX_MATCH_LIMIT_BASE + (uint64_t)WSP_REGEX_MATCH_LIMIT_PER_BYTE * len;
    pcre2_set_match_limit(mctx, steps > UINT32_MAX ? UINT32_MAX : (uint32_t)steps);
    pcre2_set_depth_limit(mctx, WSP_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(mctx, WSP_REGEX_HEAP_LIMIT_KIB);
    pcre2_set_callout(mctx, on_callout, &b);
    PCRE2_SPTR s = subject ? (PCRE2_SPTR)subject : (PCRE2_SPTR) "";
    int rc = pcre2_match(re->code, s, len, 0, 0, md, mctx);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mctx);
    if (rc >= 0) /* 0: a match that did not fit the ovector, still a match */
        return WSP_REGEX_MATCH;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return WSP_REGEX_NO_MATCH;
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_CALLOUT: /* our budget (on_callout) */
        return WSP_REGEX_LIMIT;
    default:
        return WSP_REGEX_ERROR;
    }
}

const char *wsp_regex_result_text(wsp_regex_result r)
{
    switch (r) {
    case WSP_REGEX_MATCH:
        return "matched";
    case WSP_REGEX_NO_MATCH:
        return "no match";
    case WSP_REGEX_LIMIT:
        return "regex match limit reached";
    case WSP_REGEX_ERROR:
        return "regex engine error";
    }
    return "regex engine error";
}
