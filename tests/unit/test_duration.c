/* test_duration.c - durations and sizes as users write them: every unit, fractions in fixed
 * point, the 30-day bound for durations and the `max` argument for sizes, overflow far past
 * 64 bits, and everything that must be refused (empty, signs, whitespace, unknown units,
 * trailing text). Each input is copied into an exact-size heap buffer (its NUL included) so ASan
 * reports a read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/duration.h"

#define SEC 1000000ull
#define US_MAX (30ull * 24 * 3600 * SEC) /* 30 days, the documented bound */

static char *exact(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static int duration(const char *s, uint64_t *out)
{
    char *c = exact(s);
    int r = wsp_duration_parse(c, out);
    free(c);
    return r;
}

static int size(const char *s, uint64_t max, uint64_t *out)
{
    char *c = exact(s);
    int r = wsp_size_parse(c, max, out);
    free(c);
    return r;
}

/* ---- durations ---- */

static const struct {
    const char *in;
    uint64_t us;
} dur_ok[] = {
    /* a bare number is seconds */
    {"0", 0},
    {"1", SEC},
    {"7", 7 * SEC},
    {"007", 7 * SEC},
    {"1.5", 1500000},
    /* every unit */
    {"1s", SEC},
    {"2s", 2 * SEC},
    {"250ms", 250000},
    {"1ms", 1000},
    {"100us", 100},
    {"1us", 1},
    {"5m", 300 * SEC},
    {"1m", 60 * SEC},
    {"1h", 3600 * SEC},
    {"2h", 7200 * SEC},
    {"0s", 0},
    {"0ms", 0},
    {"0h", 0},
    /* fractions, exact in fixed point */
    {"1.5s", 1500000},
    {"0.5ms", 500},
    {"0.1s", 100000},
    {"0.001s", 1000},
    {"0.000001s", 1},
    {"2.25m", 135 * SEC},
    {"1.5h", 5400 * SEC},
    {".5s", 500000},
    {"1.000s", SEC},
    /* at most six fractional digits count; the rest are read and ignored */
    {"1.1234567s", 1123456},
    {"0.0000009s", 0},
    {"1.5us", 1},
    {"0.9us", 0},
    {"1.0000009h", 3600 * SEC}, /* even where a seventh digit would count (3.24 ms) */
    /* the bound itself, in every unit */
    {"720h", US_MAX},
    {"43200m", US_MAX},
    {"2592000s", US_MAX},
    {"2592000", US_MAX},
    {"2592000000ms", US_MAX},
    {"2592000000000us", US_MAX},
    {"719.999999h", 719 * 3600 * SEC + 999999ull * 3600 * SEC / 1000000},
};

static void test_duration_ok(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof dur_ok / sizeof dur_ok[0]; i++) {
        uint64_t us = 0xdeadbeef;
        if (duration(dur_ok[i].in, &us) != 0)
            fail_msg("'%s' refused", dur_ok[i].in);
        if (us != dur_ok[i].us)
            fail_msg("'%s' is %llu us, want %llu", dur_ok[i].in, (unsigned long long)us,
                     (unsigned long long)dur_ok[i].us);
    }
}

static const char *const dur_bad[] = {
    /* empty, no digits */
    "",
    "s",
    "ms",
    ".",
    ".s",
    "h",
    /* signs */
    "-1",
    "-1s",
    "+1s",
    "-0",
    /* whitespace anywhere */
    " 1s",
    "1s ",
    "1 s",
    "\t1s",
    "1s\n",
    " ",
    /* units that do not exist, in the wrong case, or doubled */
    "1d",
    "1w",
    "1x",
    "1S",
    "1MS",
    "1H",
    "1ns",
    "1sec",
    "1ss",
    "1mss",
    "1 ms",
    "1h30m",
    "1s1",
    /* numbers written otherwise */
    "1.5.5s",
    "1,5s",
    "1e3",
    "0x10",
    "1..5s",
    /* past 30 days */
    "721h",
    "720.000001h",
    "43201m",
    "2592001",
    "2592000.000001",
    "2592001s",
    "2592000001ms",
    "2592000000001us",
    /* overflow far past 64 bits, in the integer part and against each unit */
    "18446744073709551616",
    "18446744073709551616us",
    "99999999999999999999999999999999s",
    "5124095576030431h",
    "307445734561825861m",
    /* within 30 days as a number, and just past 2^64 once multiplied: wrapped, these would
     * read as a few seconds */
    "5124095577h",
    "307445734562m",
    /* within 30 days as a number, far past 64 bits once multiplied by the unit */
    "2000000000000h",
    "2592000000000m",
    "2592000000000s",
    "2592000000000ms",
};

static void test_duration_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof dur_bad / sizeof dur_bad[0]; i++) {
        uint64_t us = 0;
        if (duration(dur_bad[i], &us) != -1)
            fail_msg("'%s' accepted as %llu us", dur_bad[i], (unsigned long long)us);
    }
    uint64_t us;
    assert_int_equal(wsp_duration_parse(NULL, &us), -1);
}

/* ---- sizes ---- */

#define KI (1ull << 10)
#define MI (1ull << 20)
#define GI (1ull << 30)
#define TI (1ull << 40)

static const struct {
    const char *in;
    uint64_t max, bytes;
} size_ok[] = {
    {"1", UINT64_MAX, 1},
    {"123", UINT64_MAX, 123},
    {"007", UINT64_MAX, 7},
    {"1B", UINT64_MAX, 1},
    {"512B", UINT64_MAX, 512},
    /* every unit, both cases, with B and iB */
    {"64K", UINT64_MAX, 64 * KI},
    {"64k", UINT64_MAX, 64 * KI},
    {"64KB", UINT64_MAX, 64 * KI},
    {"64KiB", UINT64_MAX, 64 * KI},
    {"16M", UINT64_MAX, 16 * MI},
    {"16m", UINT64_MAX, 16 * MI}, /* a size: m is mebi, never milli */
    {"16MB", UINT64_MAX, 16 * MI},
    {"16MiB", UINT64_MAX, 16 * MI},
    {"4G", UINT64_MAX, 4 * GI},
    {"4g", UINT64_MAX, 4 * GI},
    {"4GiB", UINT64_MAX, 4 * GI},
    {"1T", UINT64_MAX, TI},
    {"1t", UINT64_MAX, TI},
    {"1TB", UINT64_MAX, TI},
    {"1TiB", UINT64_MAX, TI},
    /* max is inclusive, for plain numbers and for each unit */
    {"1", 1, 1},
    {"1B", 1, 1},
    {"1024", 1024, 1024},
    {"1K", 1024, 1024},
    {"1K", 1025, 1024},
    {"1M", MI, MI},
    {"1G", GI, GI},
    {"1T", TI, TI},
    {"4G", 1ull << 32, 1ull << 32},
    {"64M", 64 * MI, 64 * MI},
    /* the largest values that fit in 64 bits */
    {"16777215T", UINT64_MAX, 16777215ull * TI},
    {"17179869183G", UINT64_MAX, 17179869183ull * GI},
    {"18446744073709551609", UINT64_MAX, 18446744073709551609ull},
    {"1844674407370955161", UINT64_MAX, 1844674407370955161ull},
};

static void test_size_ok(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof size_ok / sizeof size_ok[0]; i++) {
        uint64_t b = 0xdeadbeef;
        if (size(size_ok[i].in, size_ok[i].max, &b) != 0)
            fail_msg("'%s' (max %llu) refused", size_ok[i].in, (unsigned long long)size_ok[i].max);
        if (b != size_ok[i].bytes)
            fail_msg("'%s' is %llu bytes, want %llu", size_ok[i].in, (unsigned long long)b,
                     (unsigned long long)size_ok[i].bytes);
    }
}

static const struct {
    const char *in;
    uint64_t max;
} size_bad[] = {
    /* empty, zero */
    {"", UINT64_MAX},
    {"0", UINT64_MAX},
    {"00", UINT64_MAX},
    {"0K", UINT64_MAX},
    {"0B", UINT64_MAX},
    /* signs, whitespace */
    {"-1", UINT64_MAX},
    {"+1", UINT64_MAX},
    {" 1", UINT64_MAX},
    {"1 ", UINT64_MAX},
    {"1 K", UINT64_MAX},
    {"1K ", UINT64_MAX},
    {"\t1", UINT64_MAX},
    {"1\n", UINT64_MAX},
    /* a unit alone, unknown units, wrong spellings */
    {"K", UINT64_MAX},
    {"B", UINT64_MAX},
    {"KiB", UINT64_MAX},
    {"1iB", UINT64_MAX},
    {"1P", UINT64_MAX},
    {"1E", UINT64_MAX},
    {"1X", UINT64_MAX},
    {"1Ki", UINT64_MAX},
    {"1Kb", UINT64_MAX},
    {"1kib", UINT64_MAX},
    {"1KBB", UINT64_MAX},
    {"1KiBx", UINT64_MAX},
    {"1KK", UINT64_MAX},
    {"1b", UINT64_MAX},
    {"1KM", UINT64_MAX},
    /* numbers written otherwise */
    {"1.5M", UINT64_MAX},
    {"1e3", UINT64_MAX},
    {"0x10", UINT64_MAX},
    {"1,024", UINT64_MAX},
    /* above max */
    {"2", 1},
    {"1025", 1024},
    {"2K", 1024},
    {"1K", 1023},
    {"1M", MI - 1},
    {"1025K", MI},
    {"1G", GI - 1},
    {"1T", TI - 1},
    {"5G", 1ull << 32},
    {"65M", 64 * MI},
    {"1", 0},
    {"1K", 0},
    /* past 64 bits, as digits and through each unit */
    {"18446744073709551616", UINT64_MAX},
    {"99999999999999999999999999", UINT64_MAX},
    {"16777216T", UINT64_MAX},
    {"17179869184G", UINT64_MAX},
    {"17592186044416M", UINT64_MAX},
    {"18014398509481984K", UINT64_MAX},
};

static void test_size_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof size_bad / sizeof size_bad[0]; i++) {
        uint64_t b = 0;
        if (size(size_bad[i].in, size_bad[i].max, &b) != -1)
            fail_msg("'%s' (max %llu) accepted as %llu", size_bad[i].in,
                     (unsigned long long)size_bad[i].max, (unsigned long long)b);
    }
    uint64_t b;
    assert_int_equal(wsp_size_parse(NULL, UINT64_MAX, &b), -1);
}

/* Every size from 1 to 4096 written three ways gives itself, and max cuts exactly there. */
static void test_size_sweep_max(void **state)
{
    (void)state;
    for (uint64_t v = 1; v <= 4096; v++) {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)v);
        uint64_t b = 0;
        assert_int_equal(size(s, v, &b), 0);
        assert_int_equal(b, v);
        assert_int_equal(size(s, v - 1, &b), -1);
        snprintf(s, sizeof s, "%lluK", (unsigned long long)v);
        assert_int_equal(size(s, v * KI, &b), 0);
        assert_int_equal(b, v * KI);
        assert_int_equal(size(s, v * KI - 1, &b), -1);
    }
}

/* Was a defect (found by this test, fixed):
 * the overflow guard of wsp_size_parse, `v > (UINT64_MAX - 9) / 10`, refuses before the last
 * digit is read whether or not that digit would overflow, so 18446744073709551610 ..
 * 18446744073709551615 are refused although they fit and are not above max = UINT64_MAX
 * (duration.h: "from 1 to max"). audit.c parses sizes with max UINT64_MAX. */
static void test_size_uint64_max(void **state)
{
    (void)state;
    uint64_t b = 0;
    assert_int_equal(size("18446744073709551615", UINT64_MAX, &b), 0);
    assert_true(b == UINT64_MAX);
    assert_int_equal(size("18446744073709551610", UINT64_MAX, &b), 0);
    assert_true(b == UINT64_MAX - 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_uint64_max),  cmocka_unit_test(test_duration_ok),
        cmocka_unit_test(test_duration_refused), cmocka_unit_test(test_size_ok),
        cmocka_unit_test(test_size_refused),     cmocka_unit_test(test_size_sweep_max),
    };
    return cmocka_run_group_tests_name("duration", tests, NULL, NULL);
}
