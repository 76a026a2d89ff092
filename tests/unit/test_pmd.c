/* test_pmd.c - permessage-deflate (RFC 7692): offers, the server's answer, compression both
 * ways, the decompression bomb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <zlib.h>

#include "codec/pmd.h"

static void test_offers(void **state)
{
    (void)state;
    wsp_pmd_params p;
    char out[256], why[256];
    wsp_pmd_default_offer(&p);
    int len = wsp_pmd_format(&p, out, sizeof out);
    assert_int_equal(len, (int)strlen(out));
    assert_string_equal(out, "permessage-deflate; client_max_window_bits");
    assert_int_equal(wsp_pmd_parse_params("client_no_context_takeover,server_max_window_bits=10",
                                          &p, why, sizeof why),
                     0);
    wsp_pmd_format(&p, out, sizeof out);
    assert_string_equal(
        out, "permessage-deflate; client_no_context_takeover; server_max_window_bits=10");
    assert_int_equal(wsp_pmd_parse_params("client_max_window_bits=12; server_no_context_takeover",
                                          &p, why, sizeof why),
                     0);
    assert_int_equal(p.client_max_window_bits, 12);
    assert_true(p.server_no_context_takeover);
    static const char *const bad[][2] = {
        {"foo", "unknown"},
        {"server_max_window_bits=16", "8 to 15"},
        {"server_max_window_bits=7", "8 to 15"},
        {"server_max_window_bits=010", "8 to 15"},
        {"server_max_window_bits", "8 to 15"},
        {"client_no_context_takeover=1", "takes no value"},
        {"client_no_context_takeover,client_no_context_takeover", "twice"},
        {"a,,b", "unknown"},
        {"client_no_context_takeover,", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wsp_pmd_parse_params(bad[i][0], &p, why, sizeof why), -1);
        if (!strstr(why, bad[i][1]))
            fail_msg("%s: %s", bad[i][0], why);
    }
}

static int check(const wsp_pmd_params *offer, const char *resp, wsp_pmd_params *agreed, char *why,
                 size_t cap)
{
    return wsp_pmd_check_response(offer, resp, resp ? strlen(resp) : 0, agreed, why, cap);
}

static void test_responses(void **state)
{
    (void)state;
    wsp_pmd_params offer, ag;
    char why[256];
    wsp_pmd_default_offer(&offer);
    assert_int_equal(check(&offer, NULL, &ag, why, sizeof why), 0);
    assert_int_equal(check(&offer, "permessage-deflate", &ag, why, sizeof why), 1);
    assert_int_equal(check(&offer,
                           "Permessage-Deflate; server_no_context_takeover; "
                           "client_max_window_bits=\"10\"",
                           &ag, why, sizeof why),
                     1);
    assert_true(ag.server_no_context_takeover);
    assert_int_equal(ag.client_max_window_bits, 10);
    /* the server may limit its own window and drop its context unasked */
    assert_int_equal(
        check(&offer, "permessage-deflate; server_max_window_bits=9", &ag, why, sizeof why), 1);
    assert_int_equal(ag.server_max_window_bits, 9);
    static const char *const bad[][2] = {
        {"permessage-deflate; client_max_window_bits", "8 to 15"}, /* a value is required */
        {"permessage-deflate; server_max_window_bits=16", "8 to 15"},
        {"permessage-deflate; x_y", "unknown"},
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", "twice"},
        {"permessage-deflate, permessage-deflate", "twice"},
        {"permessage-deflate;", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(&offer, bad[i][0], &ag, why, sizeof why), -1);
        if (!strstr(why, bad[i][1]))
            fail_msg("%s: %s", bad[i][0], why);
    }
    /* an offer without client_max_window_bits must not get one back */
    memset(&offer, 0, sizeof offer);
    assert_int_equal(
        check(&offer, "permessage-deflate; client_max_window_bits=10", &ag, why, sizeof why), -1);
    assert_non_null(strstr(why, "7.1.2.2"));
    /* an offer of server_max_window_bits=10 is accepted with 10 or less, not more or without */
    offer.server_max_window_bits = 10;
    assert_int_equal(
        check(&offer, "permessage-deflate; server_max_window_bits=10", &ag, why, sizeof why), 1);
    assert_int_equal(
        check(&offer, "permessage-deflate; server_max_window_bits=12", &ag, why, sizeof why), -1);
    assert_int_equal(check(&offer, "permessage-deflate", &ag, why, sizeof why), -1);
    assert_non_null(strstr(why, "7.1.2.1"));
    /* client_no_context_takeover offered is honoured whatever the server says */
    memset(&offer, 0, sizeof offer);
    offer.client_no_context_takeover = true;
    assert_int_equal(check(&offer, "permessage-deflate", &ag, why, sizeof why), 1);
    assert_true(ag.client_no_context_takeover);
}

/* What the server would do: raw inflate of a client message with the tail appended. */
static size_t reference_inflate(z_stream *z, const uint8_t *in, size_t len, uint8_t *out,
                                size_t cap)
{
    uint8_t *buf = malloc(len + 4);
    memcpy(buf, in, len);
    memcpy(buf + len, "\x00\x00\xff\xff", 4);
    z->next_in = buf;
    z->avail_in = (uInt)(len + 4);
    z->next_out = out;
    z->avail_out = (uInt)cap;
    assert_int_equal(inflate(z, Z_SYNC_FLUSH), Z_OK);
    free(buf);
    return cap - z->avail_out;
}

static void test_compress_against_zlib(void **state)
{
    (void)state;
    wsp_pmd_params ag = {0};
    wsp_pmd p;
    wsp_pmd_init(&p, &ag, 1 << 20);
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, -15), Z_OK);
    char msg[4096];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = "{\"type\":\"chat\",\"content\":\"hello\"}"[i % 34];
    const uint8_t *out;
    size_t n1, n2;
    uint8_t back[8192];
    assert_int_equal(wsp_pmd_compress(&p, msg, sizeof msg, &out, &n1), 0);
    assert_true(n1 < sizeof msg / 4);
    assert_int_equal(reference_inflate(&z, out, n1, back, sizeof back), sizeof msg);
    assert_memory_equal(back, msg, sizeof msg);
    /* context takeover: the same message again costs a few bytes */
    assert_int_equal(wsp_pmd_compress(&p, msg, sizeof msg, &out, &n2), 0);
    assert_true(n2 < n1);
    assert_int_equal(reference_inflate(&z, out, n2, back, sizeof back), sizeof msg);
    assert_memory_equal(back, msg, sizeof msg);
    inflateEnd(&z);
    wsp_pmd_cleanup(&p);
    /* without context takeover each message stands alone (and no state is kept) */
    ag.client_no_context_takeover = true;
    wsp_pmd_init(&p, &ag, 1 << 20);
    assert_int_equal(wsp_pmd_compress(&p, msg, sizeof msg, &out, &n1), 0);
    assert_null(p.def);
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, -15), Z_OK);
    assert_int_equal(reference_inflate(&z, out, n1, back, sizeof back), sizeof msg);
    inflateEnd(&z);
    /* a window of 8 agreed: stored blocks, valid for a 256-byte window */
    ag.client_max_window_bits = 8;
    wsp_pmd_cleanup(&p);
    wsp_pmd_init(&p, &ag, 1 << 20);
    assert_int_equal(wsp_pmd_compress(&p, msg, sizeof msg, &out, &n1), 0);
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, -8), Z_OK);
    assert_int_equal(reference_inflate(&z, out, n1, back, sizeof back), sizeof msg);
    inflateEnd(&z);
    wsp_pmd_cleanup(&p);
}

/* A server-side compressor (raw deflate, sync flush, tail removed). */
static size_t server_deflate(z_stream *z, const void *in, size_t len, uint8_t *out, size_t cap,
                             int flush)
{
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    int r = deflate(z, flush);
    assert_true(r == Z_OK || r == Z_STREAM_END);
    size_t n = cap - z->avail_out;
    if (flush == Z_SYNC_FLUSH && n >= 4)
        n -= 4;
    return n;
}

static void test_inflate_and_the_bomb(void **state)
{
    (void)state;
    wsp_pmd_params ag = {0};
    wsp_pmd p;
    wsp_pmd_init(&p, &ag, 65536);
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    static uint8_t wire[1 << 20];
    const uint8_t *out;
    size_t n;
    const char *why = NULL;
    size_t w = server_deflate(&z, "hello hello hello", 17, wire, sizeof wire, Z_SYNC_FLUSH);
    assert_int_equal(wsp_pmd_inflate(&p, wire, w, &out, &n, &why), WSP_PMD_OK);
    assert_int_equal(n, 17);
    assert_memory_equal(out, "hello hello hello", 17);
    w = server_deflate(&z, "hello hello hello", 17, wire, sizeof wire, Z_SYNC_FLUSH);
    assert_int_equal(wsp_pmd_inflate(&p, wire, w, &out, &n, &why), WSP_PMD_OK);
    assert_int_equal(n, 17);
    /* 16 MiB of zeros is about 16 KiB on the wire: refused at the 64 KiB cap, without holding
     * more than the cap and a chunk */
    uint8_t *zeros = calloc(1, 16u << 20);
    w = server_deflate(&z, zeros, 16u << 20, wire, sizeof wire, Z_SYNC_FLUSH);
    free(zeros);
    assert_true(w < (64u << 10));
    assert_int_equal(wsp_pmd_inflate(&p, wire, w, &out, &n, &why), WSP_PMD_TOO_BIG);
    assert_non_null(strstr(why, "limit"));
    assert_true(p.buf_cap <= 2 * 65536 + 16384);
    deflateEnd(&z);
    /* garbage */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x13};
    assert_int_equal(wsp_pmd_inflate(&p, junk, sizeof junk, &out, &n, &why), WSP_PMD_CORRUPT);
    /* a message ending its stream (BFINAL): the next one starts a new stream */
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    w = server_deflate(&z, "final", 5, wire, sizeof wire, Z_FINISH);
    assert_int_equal(wsp_pmd_inflate(&p, wire, w, &out, &n, &why), WSP_PMD_OK);
    assert_int_equal(n, 5);
    deflateEnd(&z);
    wsp_pmd_cleanup(&p);
}

/* serve's side: which offer it takes and what it answers; then a round trip between a server
 * and a client state with that agreement. */
static void test_server_side(void **state)
{
    (void)state;
    wsp_pmd_params ag, cl;
    char resp[160], why[256];
    const char *o = "permessage-deflate; client_max_window_bits";
    assert_int_equal(wsp_pmd_accept_offer(o, strlen(o), &ag, resp, sizeof resp), 1);
    assert_string_equal(resp, "permessage-deflate; server_no_context_takeover; "
                              "client_no_context_takeover; client_max_window_bits=12");
    o = "permessage-deflate; bogus, permessage-deflate; server_max_window_bits=10; "
        "client_max_window_bits=9";
    assert_int_equal(wsp_pmd_accept_offer(o, strlen(o), &ag, resp, sizeof resp), 1);
    assert_int_equal(ag.server_max_window_bits, 10);
    assert_int_equal(ag.client_max_window_bits, 9);
    o = "permessage-deflate";
    assert_int_equal(wsp_pmd_accept_offer(o, strlen(o), &ag, resp, sizeof resp), 1);
    assert_int_equal(ag.client_max_window_bits, 0); /* not offered: not answered (7.1.2.2) */
    o = "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=16";
    assert_int_equal(wsp_pmd_accept_offer(o, strlen(o), &ag, resp, sizeof resp), 0);
    /* what the server answers, the client accepts */
    wsp_pmd_params offer;
    wsp_pmd_default_offer(&offer);
    o = "permessage-deflate; client_max_window_bits";
    assert_int_equal(wsp_pmd_accept_offer(o, strlen(o), &ag, resp, sizeof resp), 1);
    const char *value = resp;
    assert_int_equal(wsp_pmd_check_response(&offer, value, strlen(value), &cl, why, sizeof why), 1);
    wsp_pmd srv, cli;
    wsp_pmd_init_server(&srv, &ag, 1 << 20);
    wsp_pmd_init(&cli, &cl, 1 << 20);
    const char *msg = "{\"type\":\"echo\",\"content\":\"round and round and round\"}";
    const uint8_t *z, *back;
    size_t zl, bl;
    const char *w;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wsp_pmd_compress(&cli, msg, strlen(msg), &z, &zl), 0);
        assert_int_equal(wsp_pmd_inflate(&srv, z, zl, &back, &bl, &w), WSP_PMD_OK);
        assert_int_equal(bl, strlen(msg));
        /* the echo compresses what it inflated, from the inflater's own buffer */
        assert_int_equal(wsp_pmd_compress(&srv, back, bl, &z, &zl), 0);
        assert_int_equal(wsp_pmd_inflate(&cli, z, zl, &back, &bl, &w), WSP_PMD_OK);
        assert_memory_equal(back, msg, strlen(msg));
        wsp_pmd_trim(&srv);
        assert_null(srv.def);
        assert_null(srv.inf);
        assert_null(srv.buf);
    }
    wsp_pmd_cleanup(&srv);
    wsp_pmd_cleanup(&cli);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offers),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_compress_against_zlib),
        cmocka_unit_test(test_inflate_and_the_bomb),
        cmocka_unit_test(test_server_side),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
