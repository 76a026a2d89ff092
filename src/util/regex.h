/* regex.h - bounded regular expressions: PCRE2 patterns compiled once, matched with limits.
 *
 * The one regex engine of wsprobe (--expect-regex, plan expect regex:). A match never runs
 * unbounded: each call is capped in steps, depth, heap and time (the constants below), and a
 * call that reaches a cap says so with WSP_REGEX_LIMIT instead of guessing a match or a
 * non-match. Patterns are PCRE2 syntax in UTF mode; a subject
 * is any bytes (invalid UTF-8 never matches a character, an embedded NUL is an ordinary byte).
 *
 * A compiled pattern is read-only after wsp_regex_new: any number of threads may match it at
 * once (each call has its own match data).
 */
#ifndef WSP_REGEX_H
#define WSP_REGEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* The caps on one wsp_regex_match call over a subject of LEN bytes; a cap reached is
 * WSP_REGEX_LIMIT. Measured on the 2-core build machine (docs/regex.md, bench/regex_bench.c):
 * a catastrophic pattern over 3,000 bytes ends in under 10 ms (16 ms on a busy machine); the caps
 * that grow with LEN leave room for linear work on a long message (about 60 ns a byte at worst).
 * - PCRE2's own (pcre2_set_match_limit, _depth_limit, _heap_limit): backtracking steps from
 *   one start position, MATCH_LIMIT_BASE + MATCH_LIMIT_PER_BYTE * LEN (PCRE2's default is
 *   10,000,000, about 0.3 s); nested backtracking points; KiB of memory for them (PCRE2's
 *   default is 20 GB). Depth and heap do not grow: they are the memory a match may take. */
#define WSP_REGEX_MATCH_LIMIT_BASE 100000u
#define WSP_REGEX_MATCH_LIMIT_PER_BYTE 1u
#define WSP_REGEX_DEPTH_LIMIT 250000u
#define WSP_REGEX_HEAP_LIMIT_KIB 32768u
/* - the whole call, every start position together (PCRE2's match limit restarts at each):
 *   items of the pattern tried, one callout each, STEPS_BASE + STEPS_PER_BYTE * LEN; and wall
 *   time, TIME_BASE_MS + TIME_NS_PER_BYTE * LEN (25.3 ms over 3,000 bytes, 1.7 s over
 *   16 MiB, the probe's default --max-message). */
#define WSP_REGEX_STEPS_BASE 200000u
#define WSP_REGEX_STEPS_PER_BYTE 16u
#define WSP_REGEX_TIME_BASE_MS 25u
#define WSP_REGEX_TIME_NS_PER_BYTE 100u

typedef struct wsp_regex wsp_regex;

typedef enum wsp_regex_result {
    WSP_REGEX_MATCH,    /* the pattern matches somewhere in the subject */
    WSP_REGEX_NO_MATCH, /* it matches nowhere: decided within the limits */
    WSP_REGEX_LIMIT,    /* a cap (steps, depth or heap) was reached: undecided, never a match */
    WSP_REGEX_ERROR,    /* out of memory or another engine error: undecided, never a match */
} wsp_regex_result;

/* Compile `pattern` (NUL-terminated, PCRE2 syntax, UTF mode). Returns a new pattern, or NULL
 * with `err` filled: USAGE with PCRE2's own message and the offset where it stopped ("missing
 * closing parenthesis at offset 1"), INTERNAL when out of memory. `pattern` is copied. */
wsp_regex *wsp_regex_new(const char *pattern, wsp_err *err);
/* Free a pattern. NULL is accepted. */
void wsp_regex_free(wsp_regex *re);

/* Search `len` bytes of `subject` (borrowed; NULL allowed when len is 0) for the pattern,
 * unanchored unless the pattern anchors itself, within the caps above and, when `stop_ns` is
 * not 0, until the monotonic clock (wsp_clock_mono_ns, uv_hrtime) reaches `stop_ns`: the
 * caller's own deadline. Reaching either is WSP_REGEX_LIMIT; the caller that passed a
 * deadline tells which by reading the clock. */
wsp_regex_result wsp_regex_match(const wsp_regex *re, const void *subject, size_t len,
                                 uint64_t stop_ns);

/* A short lower-case phrase for a result, for step details and messages ("regex match limit
 * reached"). Never NULL. */
const char *wsp_regex_result_text(wsp_regex_result r);

#endif
