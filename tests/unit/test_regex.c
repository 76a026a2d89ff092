/* test_regex.c - the bounded regex (util/regex.h): PCRE2 syntax in UTF mode, any bytes as the
 * subject, compile errors as USAGE with PCRE2's message and offset, and every cap reached as
 * WSP_REGEX_LIMIT, never a match or a non-match. The catastrophic cases assert the result,
 * not the time (bench/regex_bench.c measures the time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/regex.h"

static wsp_regex *compile(const char *pattern)
{
    wsp_err e;
    wsp_err_clear(&e);
    wsp_regex *re = wsp_regex_new(pattern, &e);
    if (!re)
        fail_msg("/%s/: %s", pattern, e.msg);
    return re;
}

static wsp_regex_result run(const char *pattern, const void *subject, size_t len)
{
    wsp_regex *re = compile(pattern);
    /* an exact-size copy, so a read past len is an ASan report */
    void *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, subject, len);
    wsp_regex_result r = wsp_regex_match(re, copy, len, 0);
    free(copy);
    wsp_regex_free(re);
    return r;
}

/* `n` bytes of 'a' ending in `tail`; caller frees. */
static char *as_then(size_t n, const char *tail)
{
    size_t t = strlen(tail);
    assert_true(t <= n);
    char *s = malloc(n);
    assert_non_null(s);
    memset(s, 'a', n - t);
    memcpy(s + n - t, tail, t);
    return s;
}

static void test_matches_and_non_matches(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *subject;
        wsp_regex_result want;
    } cases[] = {
        /* the patterns of the e2e tests, which were POSIX ERE and mean the same in PCRE2 */
        {"^order [0-9]+ ok$", "order 12345 ok", WSP_REGEX_MATCH},
        {"^order [0-9]+ ok$", "order 12345 ok!", WSP_REGEX_NO_MATCH},
        {"^hel+o$", "hello", WSP_REGEX_MATCH},
        {"x-team", "{\"x-team\": \"blue\"}", WSP_REGEX_MATCH},
        {"^a+$", "aaaa", WSP_REGEX_MATCH},
        {"^0\\{", "0{\"sid\":1}", WSP_REGEX_MATCH},
        {"^40\\{", "0{\"sid\":1}", WSP_REGEX_NO_MATCH},
        {"^[[:digit:]]+$", "2024", WSP_REGEX_MATCH},
        {"^(ab|cd){2}$", "abcd", WSP_REGEX_MATCH},
        /* unanchored: anywhere in the message */
        {"ok", "it is ok here", WSP_REGEX_MATCH},
        /* PCRE2 syntax that ERE does not have */
        {"^\\d+\\s\\w+$", "42 items", WSP_REGEX_MATCH},
        {"(?i)^HELLO$", "hello", WSP_REGEX_MATCH},
        {"^a(?=b)", "ab", WSP_REGEX_MATCH},
        /* UTF mode: . is one character, two bytes here */
        {"^.$", "\xc3\xa9", WSP_REGEX_MATCH},
        {"^..$", "\xc3\xa9", WSP_REGEX_NO_MATCH},
        /* a binary message need not be UTF-8: the invalid byte matches nothing, the rest is
         * searched */
        {"^.$", "\xff", WSP_REGEX_NO_MATCH},
        {"y$", "x\xffy", WSP_REGEX_MATCH},
        {"^$", "", WSP_REGEX_MATCH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsp_regex_result r = run(cases[i].pattern, cases[i].subject, strlen(cases[i].subject));
        if (r != cases[i].want)
            fail_msg("/%s/ on \"%s\": %s, want %s", cases[i].pattern, cases[i].subject,
                     wsp_regex_result_text(r), wsp_regex_result_text(cases[i].want));
    }
}

/* The subject is the whole message: a NUL is a byte like any other (regexec stopped there). */
static void test_nul_is_a_byte(void **state)
{
    (void)state;
    assert_int_equal(run("^a\\x00b$", "a\0b", 3), WSP_REGEX_MATCH);
    assert_int_equal(run("b$", "a\0b", 3), WSP_REGEX_MATCH);
    assert_int_equal(run("^a$", "a\0b", 3), WSP_REGEX_NO_MATCH);
}

static void test_null_subject_of_length_0(void **state)
{
    (void)state;
    wsp_regex *re = compile("^$");
    assert_int_equal(wsp_regex_match(re, NULL, 0, 0), WSP_REGEX_MATCH);
    wsp_regex_free(re);
    wsp_regex_free(NULL);
}

static void test_compile_errors_are_usage_with_offset(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *words;
    } cases[] = {
        {"(", "missing closing parenthesis at offset 1"},
        {"a{2,1}", "out of order"},
        {"[z-a]", "range out of order"},
        {"\\C", "using \\C is disabled"},
        {"\xff", "UTF-8 error"},
        {"a)", "unmatched closing parenthesis at offset 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsp_err e;
        wsp_err_clear(&e);
        wsp_regex *re = wsp_regex_new(cases[i].pattern, &e);
        if (re)
            fail_msg("/%s/ compiled", cases[i].pattern);
        assert_int_equal(e.cls, WSP_CLASS_USAGE);
        if (!strstr(e.msg, cases[i].words) || !strstr(e.msg, "at offset "))
            fail_msg("/%s/: \"%s\" does not say \"%s\" and the offset", cases[i].pattern, e.msg,
                     cases[i].words);
    }
    /* no error record is allowed */
    assert_null(wsp_regex_new("(", NULL));
}

/* Issue 13: glibc's regexec ran 52 s on this one. Against 3,000 bytes of 'a' PCRE2 decides at
 * once (the required 'b' is absent); with a 'b' present but no match, it backtracks until a
 * cap stops it. */
static void test_catastrophic_backreferences_reach_the_limit(void **state)
{
    (void)state;
    char *s = as_then(3000, "");
    assert_int_equal(run("^(a*)\\1*\\1*b", s, 3000), WSP_REGEX_NO_MATCH);
    free(s);
    s = as_then(3000, "cb");
    assert_int_equal(run("^(a*)\\1*\\1*b", s, 3000), WSP_REGEX_LIMIT);
    /* a pattern's own setting cannot raise the cap */
    assert_int_equal(run("(*LIMIT_MATCH=1000000000)^(a*)\\1*\\1*b", s, 3000), WSP_REGEX_LIMIT);
    free(s);
}

static void test_nested_quantifiers_reach_the_limit(void **state)
{
    (void)state;
    static const char *const patterns[] = {"^(a+)+b", "(a|aa)*b", "^(a|a)*b", "(.*a){12}b",
                                           "(a*)*b"};
    char *s = as_then(3000, "cb");
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        wsp_regex_result r = run(patterns[i], s, 3000);
        if (r != WSP_REGEX_LIMIT)
            fail_msg("/%s/: %s, want the limit", patterns[i], wsp_regex_result_text(r));
    }
    free(s);
}

/* PCRE2's match limit restarts at each start position of an unanchored pattern: over 200
 * bytes each start stays under it, and the whole search took 80 ms with the match limit
 * alone; the budget of the whole call stops it. */
static void test_unanchored_search_is_bounded_over_all_start_positions(void **state)
{
    (void)state;
    char *s = as_then(200, "cb");
    assert_int_equal(run("(a*)\\1*\\1*b", s, 200), WSP_REGEX_LIMIT);
    free(s);
}

/* A repeat that scans to the end without backtracking, at every start position: quadratic,
 * 8 s over 100,000 bytes inside the match limit; the call's time budget stops it (it would
 * match the final '!', so a wrong answer here would be a guess). */
static void test_quadratic_scan_is_cut_by_the_time_budget(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = as_then(n, "X!");
    assert_int_equal(run("[a-z]*!", s, n), WSP_REGEX_LIMIT);
    free(s);
}

/* The caller's deadline (stop_ns) ends a call before its own budget; 0 is none. */
static void test_the_callers_deadline_stops_the_match(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = as_then(n, "X!");
    wsp_regex *re = compile("[a-z]*!");
    assert_int_equal(wsp_regex_match(re, s, n, 1), WSP_REGEX_LIMIT); /* long past */
    assert_int_equal(wsp_regex_match(re, "abc!", 4, UINT64_MAX), WSP_REGEX_MATCH);
    assert_int_equal(wsp_regex_match(re, "abc", 3, UINT64_MAX), WSP_REGEX_NO_MATCH);
    wsp_regex_free(re);
    free(s);
}

/* Linear work over a long message stays inside the caps that grow with its length. */
static void test_long_messages_still_match(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    char *s = as_then(n, " order 7 ok");
    assert_int_equal(run("order [0-9]+ ok$", s, n), WSP_REGEX_MATCH);
    assert_int_equal(run("^a+ order [0-9]+ ok$", s, n), WSP_REGEX_MATCH);
    assert_int_equal(run("x-team", s, n), WSP_REGEX_NO_MATCH);
    free(s);
    /* a repeated group over 100,000 bytes (tests/e2e/test_probe.py): 12,500 backtracking points
     * deep, past a depth cap of 10,000 */
    n = 100000;
    s = malloc(n);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = "0123456789abcdef"[i % 16];
    assert_int_equal(run("^(0123456789abcdef)*[0-9a-f]{0,15}$", s, n), WSP_REGEX_MATCH);
    free(s);
}

static void test_result_text(void **state)
{
    (void)state;
    assert_string_equal(wsp_regex_result_text(WSP_REGEX_MATCH), "matched");
    assert_string_equal(wsp_regex_result_text(WSP_REGEX_NO_MATCH), "no match");
    assert_string_equal(wsp_regex_result_text(WSP_REGEX_LIMIT), "regex match limit reached");
    assert_string_equal(wsp_regex_result_text(WSP_REGEX_ERROR), "regex engine error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_and_non_matches),
        cmocka_unit_test(test_nul_is_a_byte),
        cmocka_unit_test(test_null_subject_of_length_0),
        cmocka_unit_test(test_compile_errors_are_usage_with_offset),
        cmocka_unit_test(test_catastrophic_backreferences_reach_the_limit),
        cmocka_unit_test(test_nested_quantifiers_reach_the_limit),
        cmocka_unit_test(test_unanchored_search_is_bounded_over_all_start_positions),
        cmocka_unit_test(test_quadratic_scan_is_cut_by_the_time_budget),
        cmocka_unit_test(test_the_callers_deadline_stops_the_match),
        cmocka_unit_test(test_long_messages_still_match),
        cmocka_unit_test(test_result_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
