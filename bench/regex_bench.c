/* regex_bench.c - the time of one bounded match (util/regex.h) on the worst patterns known,
 * each over a subject that defeats PCRE2's start-of-match shortcuts, best and worst of 20
 * runs, in milliseconds, with the result:
 *
 *     cc -O2 -Isrc -o /tmp/regex_bench bench/regex_bench.c src/util/regex.c \
 *         src/util/clock.c src/util/error.c $(pkg-config --cflags --libs libpcre2-8)
 *     /tmp/regex_bench
 *     -> 3000 B  ^(a*)\1*\1*b    limit  best 3.61 ms  worst 4.02 ms ...
 *
 * docs/regex.md keeps the figures; the unit tests assert the results, never the times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/regex.h"

#define RUNS 20

int main(void)
{
    static const struct {
        const char *pattern, *tail;
        size_t len;
    } cases[] = {
        {"^(a*)\\1*\\1*b", "", 3000},   /* issue 13, as reported: decided at once */
        {"^(a*)\\1*\\1*b", "cb", 3000}, /* the same with a 'b' present: backtracks */
        {"(a*)\\1*\\1*b", "cb", 200},   /* unanchored: under the match limit at each start */
        {"(a*)\\1*\\1*b", "cb", 3000},
        {"(a|aa)*b", "cb", 3000},
        {"^(a+)+b", "cb", 3000},
        {"(.*a){12}b", "cb", 3000},
        {"(a*)*b", "cb", 3000},
        {"[a-z]*!", "X!", 100000}, /* quadratic scan, no backtracking step */
        {"[a-z]*!", "X!", 16u << 20},
        {"(.*a){12}b", "cb", 16u << 20},                /* the probe's default --max-message */
        {"order [0-9]+ ok$", " order 7 ok", 16u << 20}, /* linear work that must match */
    };
    double worst_all = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsp_err e;
        wsp_regex *re = wsp_regex_new(cases[i].pattern, &e);
        size_t n = cases[i].len, t = strlen(cases[i].tail);
        char *s = malloc(n);
        if (!re || !s)
            return 1;
        memset(s, 'a', n - t);
        memcpy(s + n - t, cases[i].tail, t);
        double best = 1e18, worst = 0;
        wsp_regex_result r = WSP_REGEX_ERROR;
        for (int k = 0; k < RUNS; k++) {
            double t0 = wsp_clock_mono_ms();
            r = wsp_regex_match(re, s, n, 0);
            double ms = wsp_clock_mono_ms() - t0;
            best = ms < best ? ms : best;
            worst = ms > worst ? ms : worst;
        }
        worst_all = worst > worst_all ? worst : worst_all;
        printf("%8zu B  %-20s %-26s best %7.2f ms  worst %7.2f ms\n", n, cases[i].pattern,
               wsp_regex_result_text(r), best, worst);
        free(s);
        wsp_regex_free(re);
    }
    printf("worst of all: %.2f ms\n", worst_all);
    return 0;
}
