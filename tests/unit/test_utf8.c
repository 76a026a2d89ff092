/* test_utf8.c - the validator against RFC 3629 vectors: where it must fail (the first impossible
 * byte), what it must accept, that any split of the input gives the same answer, and an
 * exhaustive comparison with a plain decoder over every sequence of up to three bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/utf8.h"

#define NEVER ((size_t)-1)

/* `fail_at`: index of the first byte at which feed must return false (NEVER: it never does).
 * `valid`: the whole input is valid UTF-8 (fed fine and ends on a boundary). */
typedef struct vec {
    const char *name;
    const char *s;
    size_t len;
    size_t fail_at;
    bool valid;
} vec;

#define V(name, lit, fail_at, valid)                                                               \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, fail_at, valid                                                 \
    }

static const vec vectors[] = {
    V("empty", "", NEVER, true),
    V("ascii", "Hello, world", NEVER, true),
    V("nul", "\x00", NEVER, true),
    V("u+007f", "\x7f", NEVER, true),
    V("u+0080 (2 bytes)", "\xc2\x80", NEVER, true),
    V("u+07ff", "\xdf\xbf", NEVER, true),
    V("u+0800 (3 bytes)", "\xe0\xa0\x80", NEVER, true),
    V("u+20ac euro", "\xe2\x82\xac", NEVER, true),
    V("u+d7ff last before surrogates", "\xed\x9f\xbf", NEVER, true),
    V("u+e000 first after surrogates", "\xee\x80\x80", NEVER, true),
    V("u+fffe noncharacter is valid", "\xef\xbf\xbe", NEVER, true),
    V("u+ffff", "\xef\xbf\xbf", NEVER, true),
    V("u+10000 (4 bytes)", "\xf0\x90\x80\x80", NEVER, true),
    V("u+1f600", "\xf0\x9f\x98\x80", NEVER, true),
    V("u+10ffff last code point", "\xf4\x8f\xbf\xbf", NEVER, true),
    V("greek kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", NEVER, true),
    V("long ascii then euro", "0123456789abcdefghij\xe2\x82\xac", NEVER, true),
    /* overlongs: refused at the first byte that rules the sequence out */
    V("overlong '/' 2 bytes", "\xc0\xaf", 0, false),
    V("overlong C1", "\xc1\xbf", 0, false),
    V("overlong '/' 3 bytes", "\xe0\x80\xaf", 1, false),
    V("overlong u+07ff 3 bytes", "\xe0\x9f\xbf", 1, false),
    V("overlong '/' 4 bytes", "\xf0\x80\x80\xaf", 1, false),
    V("overlong u+ffff 4 bytes", "\xf0\x8f\xbf\xbf", 1, false),
    V("5-byte form", "\xf8\x88\x80\x80\x80", 0, false),
    V("6-byte form", "\xfc\x84\x80\x80\x80\x80", 0, false),
    /* surrogates */
    V("u+d800", "\xed\xa0\x80", 1, false),
    V("u+dbff", "\xed\xaf\xbf", 1, false),
    V("u+dc00", "\xed\xb0\x80", 1, false),
    V("u+dfff", "\xed\xbf\xbf", 1, false),
    V("surrogate pair as cesu-8", "\xed\xa0\xbd\xed\xb8\x80", 1, false),
    /* past U+10FFFF */
    V("f4 90 (u+110000)", "\xf4\x90\x80\x80", 1, false),
    V("f4 90 alone", "\xf4\x90", 1, false),
    V("f5", "\xf5\x80\x80\x80", 0, false),
    V("ff", "\xff", 0, false),
    V("fe", "\xfe", 0, false),
    /* stray or missing continuation bytes */
    V("lone continuation", "\x80", 0, false),
    V("continuation after ascii", "ab\xbf", 2, false),
    V("c3 28 (input.invalid_utf8 probe)", "\xc3\x28", 1, false),
    V("lead then lead", "\xe2\xe2\x82\xac", 1, false),
    V("too many continuations", "\xc2\x80\x80", 2, false),
    V("bad byte after valid text", "Hello\xe2\x82\xac\xff rest", 8, false),
    /* truncated: a valid prefix, so feed accepts it, but the end is not a boundary */
    V("truncated 2-byte", "\xc3", NEVER, false),
    V("truncated 3-byte", "\xe2\x82", NEVER, false),
    V("truncated 4-byte", "\xf0\x9f\x98", NEVER, false),
    V("truncated after text", "abc\xf4\x8f\xbf", NEVER, false),
};

/* Feed one byte at a time: feed must first say false at exactly fail_at, then stay false. */
static void test_vectors_byte_at_a_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const vec *t = &vectors[i];
        uint8_t *buf = malloc(t->len ? t->len : 1); /* exact size: ASan sees any over-read */
        assert_non_null(buf);
        memcpy(buf, t->s, t->len);
        wsp_utf8 v;
        wsp_utf8_init(&v);
        size_t failed = NEVER;
        for (size_t j = 0; j < t->len; j++) {
            bool ok = wsp_utf8_feed(&v, buf + j, 1);
            if (!ok && failed == NEVER)
                failed = j;
            if (failed != NEVER)
                assert_false(ok); /* sticky */
        }
        if (failed != t->fail_at)
            fail_msg("%s: failed at %zu, want %zu", t->name, failed, t->fail_at);
        if (wsp_utf8_complete(&v) != t->valid)
            fail_msg("%s: complete() says %d", t->name, !t->valid);
        if (wsp_utf8_valid(buf, t->len) != t->valid)
            fail_msg("%s: valid() says %d", t->name, !t->valid);
        /* still failed after more good input */
        if (failed != NEVER)
            assert_false(wsp_utf8_feed(&v, (const uint8_t *)"a", 1));
        free(buf);
    }
}

/* Split anywhere into two feeds (as across two fragments): same verdict as one feed. */
static void test_vectors_split_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const vec *t = &vectors[i];
        for (size_t cut = 0; cut <= t->len; cut++) {
            uint8_t *a = malloc(cut ? cut : 1), *b = malloc(t->len - cut ? t->len - cut : 1);
            assert_non_null(a);
            assert_non_null(b);
            memcpy(a, t->s, cut);
            memcpy(b, t->s + cut, t->len - cut);
            wsp_utf8 v;
            wsp_utf8_init(&v);
            bool ok1 = wsp_utf8_feed(&v, a, cut);
            bool ok2 = wsp_utf8_feed(&v, b, t->len - cut);
            /* the first feed fails iff the first bad byte is in it */
            assert_int_equal(ok1, t->fail_at == NEVER || t->fail_at >= cut);
            assert_int_equal(ok2, t->fail_at == NEVER);
            if ((ok2 && wsp_utf8_complete(&v)) != t->valid)
                fail_msg("%s split at %zu: wrong verdict", t->name, cut);
            free(a);
            free(b);
        }
    }
}

/* The fast ASCII path must not skip a bad byte at any alignment. */
static void test_bad_byte_at_every_offset(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 40; n++) {
        for (size_t bad = 0; bad < n; bad++) {
            uint8_t *buf = malloc(n);
            assert_non_null(buf);
            memset(buf, 'x', n);
            buf[bad] = 0x80;
            wsp_utf8 v;
            wsp_utf8_init(&v);
            assert_false(wsp_utf8_feed(&v, buf, n));
            assert_false(wsp_utf8_valid(buf, n));
            /* everything before the bad byte is fine */
            assert_true(wsp_utf8_valid(buf, bad));
            free(buf);
        }
    }
}

/* A plain decoder written from RFC 3629 section 3 and 4, used as the oracle. */
static bool reference_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        size_t n;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            n = 2, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            n = 3, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            n = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

static void test_exhaustive_up_to_three_bytes(void **state)
{
    (void)state;
    uint8_t s[3];
    for (uint32_t x = 0; x < 256; x++) {
        s[0] = (uint8_t)x;
        assert_int_equal(wsp_utf8_valid(s, 1), reference_valid(s, 1));
        for (uint32_t y = 0; y < 256; y++) {
            s[1] = (uint8_t)y;
            if (wsp_utf8_valid(s, 2) != reference_valid(s, 2))
                fail_msg("%02x %02x", x, y);
            for (uint32_t z = 0; z < 256; z++) {
                s[2] = (uint8_t)z;
                if (wsp_utf8_valid(s, 3) != reference_valid(s, 3))
                    fail_msg("%02x %02x %02x", x, y, z);
            }
        }
    }
}

/* Four-byte leads against every second byte and the edge values of the last two. */
static void test_four_byte_edges(void **state)
{
    (void)state;
    static const uint8_t edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    uint8_t s[4];
    for (uint32_t x = 0xF0; x <= 0xFF; x++)
        for (uint32_t y = 0; y < 256; y++)
            for (size_t c = 0; c < sizeof edge; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    s[0] = (uint8_t)x, s[1] = (uint8_t)y, s[2] = edge[c], s[3] = edge[d];
                    if (wsp_utf8_valid(s, 4) != reference_valid(s, 4))
                        fail_msg("%02x %02x %02x %02x", s[0], s[1], s[2], s[3]);
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_byte_at_a_time),
        cmocka_unit_test(test_vectors_split_everywhere),
        cmocka_unit_test(test_bad_byte_at_every_offset),
        cmocka_unit_test(test_exhaustive_up_to_three_bytes),
        cmocka_unit_test(test_four_byte_edges),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
