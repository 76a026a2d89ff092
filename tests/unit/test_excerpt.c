/* test_excerpt.c - the printable excerpt of peer bytes: printable ASCII (0x20-0x7E) kept, every
 * other byte (C0 controls, NUL, DEL, 0x80-0xFF) shown as '.', at most cap - 1 characters, always
 * NUL-terminated, the count returned. Input and output are exact-size heap buffers, so ASan
 * reports a read past `len` or a write past `cap`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/excerpt.h"

/* Run wsp_excerpt on an exact copy of data into an exact-size output of `cap` bytes, check the
 * contract, and return the output (caller frees). */
static char *run(const void *data, size_t len, size_t cap, size_t *ret)
{
    uint8_t *in = malloc(len ? len : 1);
    assert_non_null(in);
    if (len)
        memcpy(in, data, len);
    char *out = malloc(cap);
    assert_non_null(out);
    memset(out, 'X', cap);
    size_t n = wsp_excerpt(out, cap, in, len);
    free(in);
    size_t want = len < cap - 1 ? len : cap - 1;
    if (n != want)
        fail_msg("len %zu cap %zu: returned %zu, want %zu", len, cap, n, want);
    if (out[n] != '\0')
        fail_msg("len %zu cap %zu: no NUL at %zu", len, cap, n);
    assert_int_equal(strlen(out), n);
    *ret = n;
    return out;
}

static char expect_byte(uint8_t b)
{
    return b >= 0x20 && b <= 0x7e ? (char)b : '.';
}

/* Every one of the 256 byte values alone. */
static void test_each_byte(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        uint8_t in = (uint8_t)b;
        size_t n;
        char *out = run(&in, 1, 2, &n);
        assert_int_equal(n, 1);
        if (out[0] != expect_byte(in))
            fail_msg("byte 0x%02x shown as 0x%02x", b, (unsigned char)out[0]);
        free(out);
    }
    /* the two ends of the printable range, spelled out */
    size_t n;
    char *out = run("\x1f\x20\x7e\x7f\x80\xff", 6, 7, &n);
    assert_string_equal(out, ". ~...");
    free(out);
}

/* All printable ASCII survives byte for byte, in order. */
static void test_printable_kept(void **state)
{
    (void)state;
    char in[95];
    for (int i = 0; i < 95; i++)
        in[i] = (char)(0x20 + i);
    size_t n;
    char *out = run(in, sizeof in, sizeof in + 1, &n);
    assert_int_equal(n, 95);
    assert_memory_equal(out, in, 95);
    free(out);
    out = run("GET / HTTP/1.1", 14, 64, &n);
    assert_string_equal(out, "GET / HTTP/1.1");
    free(out);
}

/* What a hostile peer sends to a terminal becomes dots, line breaks and NULs included. */
static void test_controls_and_high_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"HTTP/1.1 400\r\n", 14, "HTTP/1.1 400.."},
        {"a\0b", 3, "a.b"},
        {"\0\0\0", 3, "..."},
        {"\x1b[31mred\x1b[0m", 12, ".[31mred.[0m"},
        {"tab\there", 8, "tab.here"},
        {"del\x7f", 4, "del."},
        {"caf\xc3\xa9", 5, "caf.."}, /* UTF-8 is not printable ASCII */
        {"\xe2\x80\xae"
         "evil",
         7, "...evil"}, /* U+202E right-to-left override */
        {"\xc2\x9b"
         "2J",
         4, "..2J"},                     /* C1 CSI */
        {"\x81\x05Hello", 7, "..Hello"}, /* a WebSocket frame header */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        char *out = run(cases[i].in, cases[i].len, 64, &n);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("case %zu: '%s', want '%s'", i, out, cases[i].out);
        free(out);
    }
}

/* cap bounds the output: cap 1 gives "", cap k gives the first k - 1 characters. */
static void test_cap(void **state)
{
    (void)state;
    static const char in[] = "0123456789";
    size_t n;
    char *out = run(in, 10, 1, &n);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    free(out);
    out = run(in, 10, 5, &n);
    assert_string_equal(out, "0123");
    free(out);
    out = run(in, 10, 10, &n);
    assert_string_equal(out, "012345678");
    free(out);
    out = run(in, 10, 11, &n);
    assert_string_equal(out, "0123456789");
    free(out);
    out = run(in, 10, 4096, &n);
    assert_string_equal(out, "0123456789");
    free(out);
    /* every cap against every length, over bytes of every kind */
    uint8_t mixed[40];
    for (size_t i = 0; i < sizeof mixed; i++)
        mixed[i] = (uint8_t)(i * 37 + 5);
    for (size_t len = 0; len <= sizeof mixed; len++)
        for (size_t cap = 1; cap <= sizeof mixed + 2; cap++) {
            out = run(mixed, len, cap, &n);
            for (size_t i = 0; i < n; i++)
                if (out[i] != expect_byte(mixed[i]))
                    fail_msg("len %zu cap %zu: byte %zu", len, cap, i);
            free(out);
        }
}

/* Nothing to quote: "" and 0, whatever the cap. */
static void test_len_zero(void **state)
{
    (void)state;
    for (size_t cap = 1; cap <= 4; cap++) {
        size_t n = 99;
        char *out = run("ignored", 0, cap, &n);
        assert_int_equal(n, 0);
        assert_string_equal(out, "");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_byte),
        cmocka_unit_test(test_printable_kept),
        cmocka_unit_test(test_controls_and_high_bytes),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_len_zero),
    };
    return cmocka_run_group_tests_name("excerpt", tests, NULL, NULL);
}
