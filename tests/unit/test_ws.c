/* test_ws.c - RFC 6455 framing: the encoder against golden bytes (RFC 6455 5.7 examples, masks
 * from a deterministic generator checked byte for byte), and the parser against a table of
 * inputs and the exact events they must give. Every parser case runs whole, one byte at a time,
 * and split in two at every position (a sample of positions for inputs over 4 KiB), each chunk
 * in an exact-size heap buffer so ASan reports any read past the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/rand.h"
#include "codec/ws.h"

#define MAX_EVENTS 8
#define FULL_SPLIT_MAX 4096

/* ---- the parser harness ---- */

typedef struct want_ev {
    wsp_ws_event_type type; /* WSP_WS_EV_NONE ends the list */
    const void *data;
    size_t len;
    unsigned frames;
    int close_code;
    const char *err;
    unsigned err_code;
    bool compressed;
} want_ev;

#define TEXT(lit, n)                                                                               \
    {                                                                                              \
        WSP_WS_EV_TEXT, lit, sizeof(lit) - 1, n, 0, NULL, 0, false                                 \
    }
#define BINARY(lit, n)                                                                             \
    {                                                                                              \
        WSP_WS_EV_BINARY, lit, sizeof(lit) - 1, n, 0, NULL, 0, false                               \
    }
#define ZTEXT(lit, n)                                                                              \
    {                                                                                              \
        WSP_WS_EV_TEXT, lit, sizeof(lit) - 1, n, 0, NULL, 0, true                                  \
    }
#define PING(lit)                                                                                  \
    {                                                                                              \
        WSP_WS_EV_PING, lit, sizeof(lit) - 1, 1, 0, NULL, 0, false                                 \
    }
#define PONG(lit)                                                                                  \
    {                                                                                              \
        WSP_WS_EV_PONG, lit, sizeof(lit) - 1, 1, 0, NULL, 0, false                                 \
    }
#define CLOSE(code, lit)                                                                           \
    {                                                                                              \
        WSP_WS_EV_CLOSE, lit, sizeof(lit) - 1, 1, code, NULL, 0, false                             \
    }
#define FAILS(e, code)                                                                             \
    {                                                                                              \
        WSP_WS_EV_ERROR, NULL, 0, 0, 0, e, code, false                                             \
    }

typedef struct pcase {
    const char *name;
    wsp_ws_role role;
    uint64_t max_frame, max_message; /* 0: the parser's default */
    unsigned rsv;
    const void *in;
    size_t len;
    want_ev want[MAX_EVENTS];
} pcase;

#define IN(lit) lit, sizeof(lit) - 1
#define CLIENT WSP_WS_ROLE_CLIENT
#define SERVER WSP_WS_ROLE_SERVER

typedef struct rec {
    wsp_ws_event ev;
    uint8_t *copy; /* the event data, copied before the next call */
} rec;

typedef struct recs {
    rec r[MAX_EVENTS + 1];
    size_t n;
} recs;

static void recs_free(recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].copy);
    rs->n = 0;
}

/* Feed c->in in the chunks that end at cuts[0..ncuts-1] (the last is c->len). Checks the
 * contract on every call: consumption within bounds, EV_NONE only when the input is used up,
 * data never NULL on an event, the reassembly buffer never past max_message, a dead parser
 * repeating its error without consuming. */
static void run_chunks(const pcase *c, const size_t *cuts, size_t ncuts, recs *out)
{
    wsp_ws_limits lim = {c->max_frame, c->max_message, c->rsv};
    wsp_ws_parser p;
    wsp_ws_parser_init(&p, c->role, &lim);
    size_t start = 0;
    bool dead = false;
    out->n = 0;
    for (size_t k = 0; k < ncuts && !dead; k++) {
        size_t n = cuts[k] - start;
        uint8_t *chunk = malloc(n ? n : 1);
        assert_non_null(chunk);
        memcpy(chunk, (const uint8_t *)c->in + start, n);
        size_t off = 0;
        for (;;) {
            wsp_ws_event ev;
            size_t used = wsp_ws_parse(&p, chunk + off, n - off, &ev);
            assert_true(used <= n - off);
            off += used;
            assert_true(p.msg_cap <= p.limits.max_message);
            if (ev.type == WSP_WS_EV_NONE) {
                assert_int_equal(off, n);
                break;
            }
            assert_true(out->n < MAX_EVENTS + 1);
            rec *r = &out->r[out->n++];
            r->ev = ev;
            r->copy = NULL;
            if (ev.type == WSP_WS_EV_ERROR) {
                assert_non_null(ev.error);
                wsp_ws_event again;
                assert_int_equal(wsp_ws_parse(&p, chunk + off, n - off, &again), 0);
                assert_int_equal(again.type, WSP_WS_EV_ERROR);
                assert_ptr_equal(again.error, ev.error);
                assert_int_equal(again.error_close_code, ev.error_close_code);
                dead = true;
                break;
            }
            assert_non_null(ev.data);
            r->copy = malloc(ev.len ? ev.len : 1);
            assert_non_null(r->copy);
            memcpy(r->copy, ev.data, ev.len);
        }
        free(chunk);
        start = cuts[k];
    }
    if (!dead) {
        wsp_ws_event ev;
        assert_int_equal(wsp_ws_parse(&p, NULL, 0, &ev), 0);
        assert_int_equal(ev.type, WSP_WS_EV_NONE);
    }
    wsp_ws_parser_cleanup(&p);
}

static void compare(const pcase *c, const recs *got, const char *how)
{
    size_t nwant = 0;
    while (nwant < MAX_EVENTS && c->want[nwant].type != WSP_WS_EV_NONE)
        nwant++;
    if (got->n != nwant)
        fail_msg("%s (%s): %zu events, want %zu", c->name, how, got->n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const want_ev *w = &c->want[i];
        const wsp_ws_event *e = &got->r[i].ev;
        if (e->type != w->type)
            fail_msg("%s (%s): event %zu is type %d, want %d%s%s", c->name, how, i, e->type,
                     w->type, e->error ? ": " : "", e->error ? e->error : "");
        if (w->type == WSP_WS_EV_ERROR) {
            if (e->error != w->err || e->error_close_code != w->err_code)
                fail_msg("%s (%s): error \"%s\" %u, want \"%s\" %u", c->name, how, e->error,
                         e->error_close_code, w->err, w->err_code);
            continue;
        }
        if (e->len != w->len || memcmp(got->r[i].copy, w->data, w->len) != 0)
            fail_msg("%s (%s): event %zu data differs (len %zu, want %zu)", c->name, how, i, e->len,
                     w->len);
        if (e->frames != w->frames)
            fail_msg("%s (%s): event %zu frames %u, want %u", c->name, how, i, e->frames,
                     w->frames);
        if (w->type == WSP_WS_EV_CLOSE && e->close_code != w->close_code)
            fail_msg("%s (%s): close code %d, want %d", c->name, how, e->close_code, w->close_code);
        if (e->compressed != w->compressed)
            fail_msg("%s (%s): compressed %d", c->name, how, e->compressed);
    }
}

/* Whole, one byte at a time, and split in two everywhere (sampled past FULL_SPLIT_MAX). */
static void check_case(const pcase *c)
{
    recs got = {0};
    size_t len = c->len;
    size_t whole[1] = {len};
    run_chunks(c, whole, 1, &got);
    compare(c, &got, "whole");
    recs_free(&got);

    size_t *cuts = malloc((len ? len : 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    run_chunks(c, cuts, len, &got);
    compare(c, &got, "byte at a time");
    recs_free(&got);
    free(cuts);

    for (size_t cut = 0; cut <= len; cut++) {
        if (len > FULL_SPLIT_MAX && cut > 300 && len - cut > 300 && cut % 997 != 0)
            continue;
        size_t two[2] = {cut, len};
        char how[64];
        snprintf(how, sizeof how, "split at %zu", cut);
        run_chunks(c, two, 2, &got);
        compare(c, &got, how);
        recs_free(&got);
    }
}

static void check_table(const pcase *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_case(&t[i]);
}

/* ---- RFC 6455 5.7 examples ---- */

static const pcase rfc_cases[] = {
    {"single-frame unmasked text",
     CLIENT,
     0,
     0,
     0,
     IN("\x81\x05\x48\x65\x6c\x6c\x6f"),
     {TEXT("Hello", 1)}},
    {"single-frame masked text",
     SERVER,
     0,
     0,
     0,
     IN("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
     {TEXT("Hello", 1)}},
    {"fragmented unmasked text",
     CLIENT,
     0,
     0,
     0,
     IN("\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f"),
     {TEXT("Hello", 2)}},
    {"unmasked ping", CLIENT, 0, 0, 0, IN("\x89\x05\x48\x65\x6c\x6c\x6f"), {PING("Hello")}},
    {"masked pong",
     SERVER,
     0,
     0,
     0,
     IN("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
     {PONG("Hello")}},
};

static void test_rfc_examples_parse(void **state)
{
    (void)state;
    check_table(rfc_cases, sizeof rfc_cases / sizeof rfc_cases[0]);
}

/* 256 bytes in a 16-bit length, 64 KiB in a 64-bit length: parsed and encoded. */
static void test_rfc_binary_lengths(void **state)
{
    (void)state;
    static const uint8_t h256[] = {0x82, 0x7E, 0x01, 0x00};
    static const uint8_t h64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    struct {
        const uint8_t *hdr;
        size_t hlen, plen;
    } rows[] = {{h256, sizeof h256, 256}, {h64k, sizeof h64k, 65536}};
    for (size_t r = 0; r < 2; r++) {
        size_t len = rows[r].hlen + rows[r].plen;
        uint8_t *in = malloc(len);
        assert_non_null(in);
        memcpy(in, rows[r].hdr, rows[r].hlen);
        for (size_t i = 0; i < rows[r].plen; i++)
            in[rows[r].hlen + i] = (uint8_t)(i * 7 + 3);

        uint8_t hdr[WSP_WS_HEADER_MAX];
        size_t hl = wsp_ws_header_encode(hdr, true, WSP_WS_OP_BINARY, 0, rows[r].plen, NULL);
        assert_int_equal(hl, rows[r].hlen);
        assert_memory_equal(hdr, rows[r].hdr, hl);
        uint8_t *out = malloc(len);
        assert_non_null(out);
        assert_int_equal(wsp_ws_frame_encode(out, len, true, WSP_WS_OP_BINARY, in + rows[r].hlen,
                                             rows[r].plen, false),
                         (long)len);
        assert_memory_equal(out, in, len);
        free(out);

        pcase c = {"rfc binary", CLIENT, 0, 0, 0, in, len, {{0}}};
        c.want[0] =
            (want_ev){WSP_WS_EV_BINARY, in + rows[r].hlen, rows[r].plen, 1, 0, NULL, 0, false};
        check_case(&c);
        free(in);
    }
}

/* ---- frames that must parse ---- */

/* One row per case: the formatter would put every byte string on a line of its own. */
/* clang-format off */
static const pcase ok_cases[] = {
    {"empty text", CLIENT, 0, 0, 0, IN("\x81\x00"), {TEXT("", 1)}},
    {"empty binary", CLIENT, 0, 0, 0, IN("\x82\x00"), {BINARY("", 1)}},
    {"empty fragments", CLIENT, 0, 0, 0, IN("\x01\x00\x00\x00\x80\x00"), {TEXT("", 3)}},
    {"binary in three fragments", CLIENT, 0, 0, 0, IN("\x02\x01" "a" "\x00\x01" "b" "\x80\x01" "c"),
     {BINARY("abc", 3)}},
    {"two messages in one read", CLIENT, 0, 0, 0, IN("\x81\x01" "a" "\x82\x01" "b"),
     {TEXT("a", 1), BINARY("b", 1)}},
    {"ping and pong between fragments", CLIENT, 0, 0, 0,
     IN("\x01\x03Hel" "\x89\x01x" "\x8a\x00" "\x80\x02lo"),
     {PING("x"), PONG(""), TEXT("Hello", 2)}},
    {"ping between every fragment", CLIENT, 0, 0, 0,
     IN("\x02\x01" "a" "\x89\x01" "1" "\x00\x01" "b" "\x89\x01" "2" "\x80\x01" "c"),
     {PING("1"), PING("2"), BINARY("abc", 3)}},
    {"close between fragments", CLIENT, 0, 0, 0, IN("\x01\x03Hel" "\x88\x02\x03\xe8"),
     {CLOSE(1000, "")}},
    {"control frames do not count to max_message", CLIENT, 0, 4, 0,
     IN("\x01\x02" "ab" "\x89\x05" "12345" "\x80\x02" "cd"), {PING("12345"), TEXT("abcd", 2)}},
    {"message exactly max_message across fragments", CLIENT, 0, 10, 0,
     IN("\x01\x06" "abcdef" "\x80\x04" "ghij"), {TEXT("abcdefghij", 2)}},
    {"frame exactly max_frame", CLIENT, 3, 0, 0, IN("\x82\x03" "abc"), {BINARY("abc", 1)}},
    {"close without payload", CLIENT, 0, 0, 0, IN("\x88\x00"), {CLOSE(-1, "")}},
    {"close 1000 with reason", CLIENT, 0, 0, 0, IN("\x88\x05\x03\xe8" "bye"), {CLOSE(1000, "bye")}},
    {"close 1014 (IANA)", CLIENT, 0, 0, 0, IN("\x88\x02\x03\xf6"), {CLOSE(1014, "")}},
    {"close 4999 with UTF-8 reason", CLIENT, 0, 0, 0, IN("\x88\x04\x13\x87\xc3\xa9"),
     {CLOSE(4999, "\xc3\xa9")}},
    {"masked close", SERVER, 0, 0, 0, IN("\x88\x85\x00\x00\x00\x00\x03\xe9" "bye"),
     {CLOSE(1001, "bye")}},
    {"masked empty text", SERVER, 0, 0, 0, IN("\x81\x80\x01\x02\x03\x04"), {TEXT("", 1)}},
    {"UTF-8 sequence split across fragments", CLIENT, 0, 0, 0,
     IN("\x01\x02" "a\xe2" "\x00\x01\x82" "\x80\x01\xac"), {TEXT("a\xe2\x82\xac", 3)}},
    {"4-byte sequence split across fragments with a ping", CLIENT, 0, 0, 0,
     IN("\x01\x01\xf0" "\x89\x00" "\x00\x02\x9f\x98" "\x80\x01\x80"),
     {PING(""), TEXT("\xf0\x9f\x98\x80", 3)}},
    {"text with every UTF-8 length", CLIENT, 0, 0, 0,
     IN("\x81\x0a" "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
     {TEXT("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 1)}},
    /* permessage-deflate: "Hello" compressed (RFC 7692 7.2.3.1); not UTF-8 checked here */
    {"compressed text", CLIENT, 0, 0, 0x40, IN("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"),
     {ZTEXT("\xf2\x48\xcd\xc9\xc9\x07\x00", 1)}},
    {"compressed text in fragments", CLIENT, 0, 0, 0x40,
     IN("\x41\x03\xf2\x48\xcd" "\x80\x04\xc9\xc9\x07\x00"),
     {ZTEXT("\xf2\x48\xcd\xc9\xc9\x07\x00", 2)}},
    {"allowed RSV1 not used", CLIENT, 0, 0, 0x40, IN("\x81\x02hi"), {TEXT("hi", 1)}},
};
/* clang-format on */

static void test_parse_ok(void **state)
{
    (void)state;
    check_table(ok_cases, sizeof ok_cases / sizeof ok_cases[0]);
}

/* ---- frames that must be refused ---- */

#define P 1002
/* clang-format off */
static const pcase error_cases[] = {
    {"RSV1 without extension", CLIENT, 0, 0, 0, IN("\xc1\x00"), {FAILS(WSP_WS_ERR_RSV, P)}},
    {"RSV2 without extension", CLIENT, 0, 0, 0, IN("\xa1\x00"), {FAILS(WSP_WS_ERR_RSV, P)}},
    {"RSV3 without extension", CLIENT, 0, 0, 0, IN("\x91\x00"), {FAILS(WSP_WS_ERR_RSV, P)}},
    {"RSV2 with only RSV1 negotiated", CLIENT, 0, 0, 0x40, IN("\xa1\x00"),
     {FAILS(WSP_WS_ERR_RSV, P)}},
    {"RSV bits refused at the first byte", SERVER, 0, 0, 0, IN("\xf2"),
     {FAILS(WSP_WS_ERR_RSV, P)}},
    {"RSV1 on a continuation", CLIENT, 0, 0, 0x40, IN("\x41\x01" "a" "\xc0\x01" "b"),
     {FAILS(WSP_WS_ERR_RSV1_PLACEMENT, P)}},
    {"RSV1 on a ping", CLIENT, 0, 0, 0x40, IN("\xc9\x00"),
     {FAILS(WSP_WS_ERR_RSV1_PLACEMENT, P)}},
    {"opcode 3", CLIENT, 0, 0, 0, IN("\x83\x00"), {FAILS(WSP_WS_ERR_OPCODE, P)}},
    {"opcode 7", CLIENT, 0, 0, 0, IN("\x87\x00"), {FAILS(WSP_WS_ERR_OPCODE, P)}},
    {"opcode B", CLIENT, 0, 0, 0, IN("\x8b\x00"), {FAILS(WSP_WS_ERR_OPCODE, P)}},
    {"opcode F, unfinished", CLIENT, 0, 0, 0, IN("\x0f"), {FAILS(WSP_WS_ERR_OPCODE, P)}},
    {"fragmented ping", CLIENT, 0, 0, 0, IN("\x09\x00"),
     {FAILS(WSP_WS_ERR_CONTROL_FRAGMENTED, P)}},
    {"fragmented close", CLIENT, 0, 0, 0, IN("\x08\x02\x03\xe8"),
     {FAILS(WSP_WS_ERR_CONTROL_FRAGMENTED, P)}},
    {"ping of 126 bytes (16-bit length)", CLIENT, 0, 0, 0, IN("\x89\x7e\x00\x7e"),
     {FAILS(WSP_WS_ERR_CONTROL_TOO_LONG, P)}},
    {"close with a 64-bit length", CLIENT, 0, 0, 0, IN("\x88\x7f"),
     {FAILS(WSP_WS_ERR_CONTROL_TOO_LONG, P)}},
    {"continuation without a message", CLIENT, 0, 0, 0, IN("\x80\x01" "a"),
     {FAILS(WSP_WS_ERR_UNEXPECTED_CONT, P)}},
    {"continuation after a complete message", CLIENT, 0, 0, 0, IN("\x81\x01" "a" "\x00\x00"),
     {TEXT("a", 1), FAILS(WSP_WS_ERR_UNEXPECTED_CONT, P)}},
    {"text inside a fragmented message", CLIENT, 0, 0, 0, IN("\x01\x01" "a" "\x81\x01" "b"),
     {FAILS(WSP_WS_ERR_EXPECTED_CONT, P)}},
    {"binary after a ping inside a fragmented message", CLIENT, 0, 0, 0,
     IN("\x01\x01" "a" "\x89\x00" "\x82\x00"), {PING(""), FAILS(WSP_WS_ERR_EXPECTED_CONT, P)}},
    {"masked frame to a client", CLIENT, 0, 0, 0,
     IN("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), {FAILS(WSP_WS_ERR_MASKED, P)}},
    {"unmasked frame to a server", SERVER, 0, 0, 0, IN("\x81\x05Hello"),
     {FAILS(WSP_WS_ERR_UNMASKED, P)}},
    {"unmasked ping to a server", SERVER, 0, 0, 0, IN("\x89\x00"),
     {FAILS(WSP_WS_ERR_UNMASKED, P)}},
    {"length 2^63", CLIENT, 0, 0, 0, IN("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"),
     {FAILS(WSP_WS_ERR_LENGTH_TOP_BIT, P)}},
    {"length 2^64-1, refused before the mask key", SERVER, 0, 0, 0,
     IN("\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff"), {FAILS(WSP_WS_ERR_LENGTH_TOP_BIT, P)}},
    {"16-bit form for 5 bytes", CLIENT, 0, 0, 0, IN("\x82\x7e\x00\x05" "abcde"),
     {FAILS(WSP_WS_ERR_LENGTH_NOT_MINIMAL, P)}},
    {"16-bit form for 125 bytes", CLIENT, 0, 0, 0, IN("\x82\x7e\x00\x7d"),
     {FAILS(WSP_WS_ERR_LENGTH_NOT_MINIMAL, P)}},
    {"64-bit form for 65535 bytes", CLIENT, 0, 0, 0,
     IN("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff"), {FAILS(WSP_WS_ERR_LENGTH_NOT_MINIMAL, P)}},
    {"64-bit form for 0 bytes", CLIENT, 0, 0, 0, IN("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x00"),
     {FAILS(WSP_WS_ERR_LENGTH_NOT_MINIMAL, P)}},
    {"frame over max_frame, refused on its header", CLIENT, 3, 0, 0, IN("\x82\x04"),
     {FAILS(WSP_WS_ERR_FRAME_TOO_BIG, 1009)}},
    {"2^62 declared then 10 bytes", CLIENT, 65536, 65536, 0,
     IN("\x82\x7f\x40\x00\x00\x00\x00\x00\x00\x00" "0123456789"),
     {FAILS(WSP_WS_ERR_FRAME_TOO_BIG, 1009)}},
    {"masked 2^62 declared to a server", SERVER, 65536, 65536, 0,
     IN("\x82\xff\x40\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04" "0123456789"),
     {FAILS(WSP_WS_ERR_FRAME_TOO_BIG, 1009)}},
    {"single frame over max_message", CLIENT, 0, 5, 0, IN("\x81\x06" "abcdef"),
     {FAILS(WSP_WS_ERR_MESSAGE_TOO_BIG, 1009)}},
    {"max_message across fragments", CLIENT, 0, 10, 0, IN("\x01\x06" "abcdef" "\x80\x05" "ghijk"),
     {FAILS(WSP_WS_ERR_MESSAGE_TOO_BIG, 1009)}},
    {"max_message across fragments, refused on the header", CLIENT, 0, 10, 0,
     IN("\x01\x06" "abcdef" "\x00\x04" "ghij" "\x80\x01"),
     {FAILS(WSP_WS_ERR_MESSAGE_TOO_BIG, 1009)}},
    {"invalid UTF-8 in a text frame", CLIENT, 0, 0, 0, IN("\x81\x02\xc3\x28"),
     {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"invalid UTF-8 fails before the frame ends", CLIENT, 0, 0, 0, IN("\x81\x0a\xc3\x28"),
     {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"invalid UTF-8 in an unfinished first fragment", CLIENT, 0, 0, 0,
     IN("\x01\x03" "ab\xff"), {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"invalid UTF-8 across fragments", CLIENT, 0, 0, 0, IN("\x01\x01\xe2" "\x80\x02\x28\xac"),
     {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"surrogate across fragments", CLIENT, 0, 0, 0, IN("\x01\x01\xed" "\x80\x02\xa0\x80"),
     {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"F4 90 in masked text", SERVER, 0, 0, 0, IN("\x81\x84\x00\x00\x00\x00\xf4\x90\x80\x80"),
     {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"text ends inside a sequence", CLIENT, 0, 0, 0, IN("\x81\x02" "a\xe2"),
     {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"fragmented text ends inside a sequence", CLIENT, 0, 0, 0, IN("\x01\x01\xe2" "\x80\x00"),
     {FAILS(WSP_WS_ERR_TEXT_UTF8, 1007)}},
    {"close with a 1-byte payload", CLIENT, 0, 0, 0, IN("\x88\x01\x03"),
     {FAILS(WSP_WS_ERR_CLOSE_ONE_BYTE, P)}},
    {"close code 1005", CLIENT, 0, 0, 0, IN("\x88\x02\x03\xed"), {FAILS(WSP_WS_ERR_CLOSE_CODE, P)}},
    {"close code 1006", CLIENT, 0, 0, 0, IN("\x88\x02\x03\xee"), {FAILS(WSP_WS_ERR_CLOSE_CODE, P)}},
    {"close code 1015", CLIENT, 0, 0, 0, IN("\x88\x02\x03\xf7"), {FAILS(WSP_WS_ERR_CLOSE_CODE, P)}},
    {"close code 0", CLIENT, 0, 0, 0, IN("\x88\x02\x00\x00"), {FAILS(WSP_WS_ERR_CLOSE_CODE, P)}},
    {"close code 999", CLIENT, 0, 0, 0, IN("\x88\x02\x03\xe7"), {FAILS(WSP_WS_ERR_CLOSE_CODE, P)}},
    {"close code 5000", CLIENT, 0, 0, 0, IN("\x88\x02\x13\x88"), {FAILS(WSP_WS_ERR_CLOSE_CODE, P)}},
    {"close reason not UTF-8", CLIENT, 0, 0, 0, IN("\x88\x04\x03\xe8\xc3\x28"),
     {FAILS(WSP_WS_ERR_CLOSE_UTF8, 1007)}},
    {"close reason cut inside a sequence", SERVER, 0, 0, 0,
     IN("\x88\x83\x00\x00\x00\x00\x03\xe8\xe2"), {FAILS(WSP_WS_ERR_CLOSE_UTF8, 1007)}},
    {"frame after close", CLIENT, 0, 0, 0, IN("\x88\x00\x81\x00"),
     {CLOSE(-1, ""), FAILS(WSP_WS_ERR_AFTER_CLOSE, P)}},
    {"errors stop the stream", CLIENT, 0, 0, 0, IN("\x81\x01" "a" "\x83\x00" "\x81\x01" "b"),
     {TEXT("a", 1), FAILS(WSP_WS_ERR_OPCODE, P)}},
};
/* clang-format on */
#undef P

static void test_parse_errors(void **state)
{
    (void)state;
    check_table(error_cases, sizeof error_cases / sizeof error_cases[0]);
}

/* Every opcode, both FIN values, both roles: reserved ones refused at the first byte. */
static void test_every_opcode(void **state)
{
    (void)state;
    for (unsigned op = 0; op < 16; op++) {
        bool reserved = (op >= 3 && op <= 7) || op >= 0xB;
        uint8_t in[2] = {(uint8_t)(0x80 | op), 0x00};
        pcase c = {"opcode", CLIENT, 0, 0, 0, in, sizeof in, {{0}}};
        if (reserved)
            c.want[0] = (want_ev)FAILS(WSP_WS_ERR_OPCODE, 1002);
        else if (op == 0)
            c.want[0] = (want_ev)FAILS(WSP_WS_ERR_UNEXPECTED_CONT, 1002);
        else if (op == 1)
            c.want[0] = (want_ev)TEXT("", 1);
        else if (op == 2)
            c.want[0] = (want_ev)BINARY("", 1);
        else if (op == 8)
            c.want[0] = (want_ev)CLOSE(-1, "");
        else if (op == 9)
            c.want[0] = (want_ev)PING("");
        else
            c.want[0] = (want_ev)PONG("");
        check_case(&c);
    }
}

/* The counters a server's rate limit and idle timer read: every frame counts, whatever its kind
 * (empty continuations and pongs too, with no event for most of them), and data_bytes counts
 * only payload of data frames. */
static void test_frame_counters(void **state)
{
    (void)state;
    /* unmasked (client role): text "ab" not final, 3 empty continuations, a pong "xyz", a
     * final continuation "c" */
    const uint8_t in[] = {0x01, 0x02, 'a',  'b', 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x8A, 0x03, 'x', 'y',  'z',  0x80, 0x01, 'c'};
    wsp_ws_parser p;
    wsp_ws_parser_init(&p, WSP_WS_ROLE_CLIENT, NULL);
    wsp_ws_event ev;
    size_t used = wsp_ws_parse(&p, in, sizeof in, &ev);
    assert_int_equal(ev.type, WSP_WS_EV_PONG);
    assert_int_equal(p.frames, 5);
    assert_int_equal(p.data_bytes, 2);
    used += wsp_ws_parse(&p, in + used, sizeof in - used, &ev);
    assert_int_equal(ev.type, WSP_WS_EV_TEXT);
    assert_int_equal(used, sizeof in);
    assert_int_equal(p.frames, 6);
    assert_int_equal(p.data_bytes, 3);
    wsp_ws_parser_cleanup(&p);
}

/* Every close code on the wire agrees with wsp_ws_close_code_valid. */
static void test_close_codes_on_the_wire(void **state)
{
    (void)state;
    for (unsigned code = 0; code <= 0xFFFF; code++) {
        uint8_t *in = malloc(4);
        assert_non_null(in);
        in[0] = 0x88, in[1] = 0x02, in[2] = (uint8_t)(code >> 8), in[3] = (uint8_t)code;
        wsp_ws_parser p;
        wsp_ws_parser_init(&p, WSP_WS_ROLE_CLIENT, NULL);
        wsp_ws_event ev;
        assert_int_equal(wsp_ws_parse(&p, in, 4, &ev), 4);
        if (wsp_ws_close_code_valid(code)) {
            assert_int_equal(ev.type, WSP_WS_EV_CLOSE);
            assert_int_equal(ev.close_code, (int)code);
        } else {
            assert_int_equal(ev.type, WSP_WS_EV_ERROR);
            assert_ptr_equal(ev.error, WSP_WS_ERR_CLOSE_CODE);
        }
        wsp_ws_parser_cleanup(&p);
        free(in);
    }
}

/* Control frames at the 125-byte limit, and a close reason that fills it. */
static void test_control_max(void **state)
{
    (void)state;
    uint8_t in[2 + 125], reason[123];
    memset(in + 2, 'p', 125);
    in[0] = 0x89, in[1] = 125;
    pcase c = {"ping of 125", CLIENT, 0, 0, 0, in, sizeof in, {{0}}};
    c.want[0] = (want_ev){WSP_WS_EV_PING, in + 2, 125, 1, 0, NULL, 0, false};
    check_case(&c);

    memset(reason, 'r', sizeof reason);
    in[0] = 0x88, in[1] = 125, in[2] = 0x0f, in[3] = 0xa0; /* 4000 */
    memcpy(in + 4, reason, sizeof reason);
    c.want[0] = (want_ev){WSP_WS_EV_CLOSE, reason, sizeof reason, 1, 4000, NULL, 0, false};
    check_case(&c);
}

/* ---- the encoder ---- */

typedef struct hcase {
    bool fin;
    unsigned opcode, rsv;
    uint64_t len;
    const char *mask;
    const char *want;
    size_t want_len;
} hcase;

static void test_header_encode(void **state)
{
    (void)state;
    static const hcase rows[] = {
        {true, WSP_WS_OP_TEXT, 0, 5, NULL, IN("\x81\x05")},
        {true, WSP_WS_OP_TEXT, 0, 5, "\x37\xfa\x21\x3d", IN("\x81\x85\x37\xfa\x21\x3d")},
        {false, WSP_WS_OP_TEXT, 0, 3, NULL, IN("\x01\x03")},
        {true, WSP_WS_OP_CONT, 0, 2, NULL, IN("\x80\x02")},
        {true, WSP_WS_OP_PING, 0, 0, NULL, IN("\x89\x00")},
        {true, WSP_WS_OP_PONG, 0, 5, "\x37\xfa\x21\x3d", IN("\x8a\x85\x37\xfa\x21\x3d")},
        {true, WSP_WS_OP_CLOSE, 0, 125, NULL, IN("\x88\x7d")},
        {true, WSP_WS_OP_BINARY, 0, 126, NULL, IN("\x82\x7e\x00\x7e")},
        {true, WSP_WS_OP_BINARY, 0, 256, NULL, IN("\x82\x7e\x01\x00")},
        {true, WSP_WS_OP_BINARY, 0, 65535, NULL, IN("\x82\x7e\xff\xff")},
        {true, WSP_WS_OP_BINARY, 0, 65536, NULL, IN("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00")},
        {true, WSP_WS_OP_BINARY, 0, 65536, "\x01\x02\x03\x04",
         IN("\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00\x01\x02\x03\x04")},
        {true, WSP_WS_OP_BINARY, 0, UINT64_C(1) << 62, NULL,
         IN("\x82\x7f\x40\x00\x00\x00\x00\x00\x00\x00")},
        /* deliberately broken frames for probes are written as asked */
        {true, WSP_WS_OP_BINARY, 0, UINT64_C(1) << 63, NULL,
         IN("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00")},
        {true, WSP_WS_OP_TEXT, 0x40, 7, NULL, IN("\xc1\x07")},
        {true, WSP_WS_OP_TEXT, 0x70, 0, NULL, IN("\xf1\x00")},
        {true, 0x3, 0, 0, NULL, IN("\x83\x00")},
        {false, WSP_WS_OP_PING, 0, 0, NULL, IN("\x09\x00")},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t out[WSP_WS_HEADER_MAX];
        size_t n = wsp_ws_header_encode(out, rows[i].fin, rows[i].opcode, rows[i].rsv, rows[i].len,
                                        (const uint8_t *)rows[i].mask);
        assert_int_equal(n, rows[i].want_len);
        assert_memory_equal(out, rows[i].want, n);
    }
}

/* Masking from any offset equals masking the whole payload (RFC 6455 5.3: i MOD 4). */
static void test_mask_offsets(void **state)
{
    (void)state;
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    /* the RFC's masked Hello */
    uint8_t hello[5] = {'H', 'e', 'l', 'l', 'o'};
    wsp_ws_mask(hello, 5, key, 0);
    assert_memory_equal(hello, "\x7f\x9f\x4d\x51\x58", 5);
    for (size_t len = 0; len <= 40; len++) {
        for (uint64_t off = 0; off < 9; off++) {
            uint8_t *a = malloc(len ? len : 1);
            assert_non_null(a);
            for (size_t i = 0; i < len; i++)
                a[i] = (uint8_t)(i * 13 + 1);
            wsp_ws_mask(a, len, key, off + (UINT64_C(1) << 40));
            for (size_t i = 0; i < len; i++)
                assert_int_equal(a[i], (uint8_t)((i * 13 + 1) ^ key[(off + i) % 4]));
            free(a);
        }
    }
    /* in pieces, each told its offset, equals in one go */
    uint8_t whole[100], parts[100];
    for (size_t i = 0; i < sizeof whole; i++)
        whole[i] = parts[i] = (uint8_t)i;
    wsp_ws_mask(whole, sizeof whole, key, 0);
    size_t at = 0, step = 1;
    while (at < sizeof parts) {
        size_t n = at + step > sizeof parts ? sizeof parts - at : step;
        wsp_ws_mask(parts + at, n, key, at);
        at += n;
        step = step * 2 + 1;
    }
    assert_memory_equal(whole, parts, sizeof whole);
}

/* A deterministic generator: hands out `bytes` in order, or fails. */
typedef struct seq {
    const uint8_t *bytes;
    size_t len, pos;
    bool fail;
} seq;

static int seq_rand(void *ud, uint8_t *buf, size_t len)
{
    seq *s = ud;
    if (s->fail)
        return -1;
    for (size_t i = 0; i < len; i++)
        buf[i] = s->bytes[s->pos++ % s->len];
    return 0;
}

static void test_frame_encode_masks(void **state)
{
    (void)state;
    static const uint8_t keys[] = {0x37, 0xfa, 0x21, 0x3d, 0xa1, 0xb2, 0xc3, 0xd4};
    seq s = {keys, sizeof keys, 0, false};
    wsp_rand_set_hook(seq_rand, &s);
    uint8_t out[64];

    /* RFC 6455 5.7, byte for byte */
    long n = wsp_ws_frame_encode(out, sizeof out, true, WSP_WS_OP_TEXT, "Hello", 5, true);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    assert_int_equal(s.pos, 4);

    /* the next frame takes a fresh key */
    n = wsp_ws_frame_encode(out, sizeof out, true, WSP_WS_OP_BINARY, "\x00\x00\x00\x00\x00", 5,
                            true);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "\x82\x85\xa1\xb2\xc3\xd4\xa1\xb2\xc3\xd4\xa1", 11);
    assert_int_equal(s.pos, 8);

    /* unmasked frames draw nothing */
    n = wsp_ws_frame_encode(out, sizeof out, false, WSP_WS_OP_TEXT, "Hel", 3, false);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "\x01\x03Hel", 5);
    assert_int_equal(s.pos, 8);

    /* an empty masked ping: header and key only */
    n = wsp_ws_frame_encode(out, sizeof out, true, WSP_WS_OP_PING, NULL, 0, true);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "\x89\x80\x37\xfa\x21\x3d", 6);

    /* the capacity must hold it all, exactly is enough */
    assert_int_equal(wsp_ws_frame_encode(out, 10, true, WSP_WS_OP_TEXT, "Hello", 5, true), -1);
    assert_int_equal(wsp_ws_frame_encode(out, 11, true, WSP_WS_OP_TEXT, "Hello", 5, true), 11);
    assert_int_equal(wsp_ws_frame_encode(out, 1, true, WSP_WS_OP_TEXT, "", 0, false), -1);

    /* the payload may already sit in the output buffer */
    memcpy(out, "Hello", 5);
    s.pos = 0;
    n = wsp_ws_frame_encode(out, sizeof out, true, WSP_WS_OP_TEXT, out, 5, true);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);

    /* a failing generator fails the frame: never an all-zero or stale key */
    s.fail = true;
    assert_int_equal(wsp_ws_frame_encode(out, sizeof out, true, WSP_WS_OP_TEXT, "Hello", 5, true),
                     -1);
    assert_int_equal(wsp_ws_frame_encode(out, sizeof out, true, WSP_WS_OP_TEXT, "Hello", 5, false),
                     7);
    wsp_rand_set_hook(NULL, NULL);
}

static void test_close_payload(void **state)
{
    (void)state;
    uint8_t out[WSP_WS_CONTROL_MAX];
    char reason[301];

    assert_int_equal(wsp_ws_close_payload(out, 0, "ignored"), 0);
    assert_int_equal(wsp_ws_close_payload(out, 1000, NULL), 2);
    assert_memory_equal(out, "\x03\xe8", 2);
    assert_int_equal(wsp_ws_close_payload(out, 1001, ""), 2);
    assert_memory_equal(out, "\x03\xe9", 2);
    assert_int_equal(wsp_ws_close_payload(out, 4000, "bye"), 5);
    assert_memory_equal(out,
                        "\x0f\xa0"
                        "bye",
                        5);

    /* unit is the bytes of one code point; whole units fit in 123 */
    struct {
        const char *unit;
        size_t unit_len, count, want;
    } rows[] = {
        {"a", 1, 123, 125},            /* exactly fits */
        {"a", 1, 300, 125},            /* ASCII cut anywhere */
        {"\xc3\xa9", 2, 100, 2 + 122}, /* 123 is odd: one byte backed off */
        {"\xe2\x82\xac", 3, 41, 125},  /* 41 * 3 = 123 exactly */
        {"\xe2\x82\xac", 3, 42, 125},  /* the 42nd does not fit */
        {"\xf0\x9f\x98\x80", 4, 40, 2 + 120},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t len = 0;
        for (size_t k = 0; k < rows[i].count; k++, len += rows[i].unit_len)
            memcpy(reason + len, rows[i].unit, rows[i].unit_len);
        reason[len] = '\0';
        size_t n = wsp_ws_close_payload(out, 1000, reason);
        assert_int_equal(n, rows[i].want);
        assert_memory_equal(out + 2, reason, n - 2);
        assert_true(wsp_utf8_valid(out + 2, n - 2));
    }
    /* "a" then euros: the cut backs up over a 3-byte sequence at any alignment */
    for (size_t lead = 0; lead < 3; lead++) {
        size_t len = 0;
        for (size_t k = 0; k < lead; k++)
            reason[len++] = 'a';
        while (len + 3 < sizeof reason) {
            memcpy(reason + len, "\xe2\x82\xac", 3);
            len += 3;
        }
        reason[len] = '\0';
        size_t n = wsp_ws_close_payload(out, 1000, reason);
        assert_true(n <= WSP_WS_CONTROL_MAX && n >= WSP_WS_CONTROL_MAX - 2);
        assert_true(wsp_utf8_valid(out + 2, n - 2));
    }
}

static void test_close_code_valid(void **state)
{
    (void)state;
    for (unsigned code = 0; code <= 70000; code++) {
        bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                    (code >= 3000 && code <= 4999);
        if (wsp_ws_close_code_valid(code) != want)
            fail_msg("close code %u", code);
    }
    static const unsigned never[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        assert_false(wsp_ws_close_code_valid(never[i]));
}

/* ---- encoder and parser together: masked client streams into a server parser ---- */

static void append_frame(uint8_t *buf, size_t *len, size_t cap, bool fin, unsigned op,
                         const char *payload)
{
    long n = wsp_ws_frame_encode(buf + *len, cap - *len, fin, op, payload, strlen(payload), true);
    assert_true(n > 0);
    *len += (size_t)n;
}

static void test_masked_roundtrip(void **state)
{
    (void)state;
    static const uint8_t keys[] = {0x37, 0xfa, 0x21, 0x3d, 0x00, 0xff, 0x80, 0x7f, 0x12, 0x34};
    seq s = {keys, sizeof keys, 0, false};
    wsp_rand_set_hook(seq_rand, &s);
    uint8_t buf[512];
    size_t len = 0;
    append_frame(buf, &len, sizeof buf, false, WSP_WS_OP_TEXT, "The quick ");
    append_frame(buf, &len, sizeof buf, true, WSP_WS_OP_PING, "are you there?");
    append_frame(buf, &len, sizeof buf, false, WSP_WS_OP_CONT, "brown fox \xe2\x82");
    append_frame(buf, &len, sizeof buf, true, WSP_WS_OP_PONG, "");
    append_frame(buf, &len, sizeof buf, true, WSP_WS_OP_CONT, "\xac jumps");
    append_frame(buf, &len, sizeof buf, true, WSP_WS_OP_BINARY, "over the lazy dog");
    uint8_t close[WSP_WS_CONTROL_MAX];
    size_t cl = wsp_ws_close_payload(close, 1000, "done");
    long n =
        wsp_ws_frame_encode(buf + len, sizeof buf - len, true, WSP_WS_OP_CLOSE, close, cl, true);
    assert_true(n > 0);
    len += (size_t)n;
    wsp_rand_set_hook(NULL, NULL);

    pcase c = {"masked roundtrip",
               SERVER,
               0,
               0,
               0,
               buf,
               len,
               {PING("are you there?"), PONG(""), TEXT("The quick brown fox \xe2\x82\xac jumps", 3),
                BINARY("over the lazy dog", 1), CLOSE(1000, "done")}};
    check_case(&c);
}

/* ---- memory ---- */

static uint8_t *fragmented(size_t total, size_t first, size_t *len_out)
{
    /* two unmasked binary frames, first bytes then the rest */
    uint8_t *buf = malloc(total + 2 * WSP_WS_HEADER_MAX);
    assert_non_null(buf);
    size_t len = wsp_ws_header_encode(buf, false, WSP_WS_OP_BINARY, 0, first, NULL);
    memset(buf + len, 'x', first);
    len += first;
    len += wsp_ws_header_encode(buf + len, true, WSP_WS_OP_CONT, 0, total - first, NULL);
    memset(buf + len, 'y', total - first);
    len += total - first;
    *len_out = len;
    return buf;
}

static void test_buffer_released_after_big_message(void **state)
{
    (void)state;
    wsp_ws_limits lim = {0, 1 << 20, 0};
    wsp_ws_parser p;
    wsp_ws_parser_init(&p, WSP_WS_ROLE_CLIENT, &lim);
    assert_true(sizeof p <= 512); /* an idle connection: this plus at most BUFFER_KEEP */
    assert_null(p.msg);

    size_t len;
    uint8_t *in = fragmented(200000, 1000, &len);
    wsp_ws_event ev;
    assert_int_equal(wsp_ws_parse(&p, in, len, &ev), len);
    assert_int_equal(ev.type, WSP_WS_EV_BINARY);
    assert_int_equal(ev.len, 200000);
    assert_int_equal(ev.frames, 2);
    assert_int_equal(ev.data[999], 'x');
    assert_int_equal(ev.data[1000], 'y');
    assert_true(p.msg_cap >= 200000 && p.msg_cap <= 2 * 200000);
    free(in);

    /* the next call, here with nothing, gives the big buffer back */
    assert_int_equal(wsp_ws_parse(&p, NULL, 0, &ev), 0);
    assert_int_equal(ev.type, WSP_WS_EV_NONE);
    assert_null(p.msg);
    assert_int_equal(p.msg_cap, 0);

    /* a small fragmented message keeps its small buffer for the next one */
    in = fragmented(10, 5, &len);
    assert_int_equal(wsp_ws_parse(&p, in, len, &ev), len);
    assert_int_equal(ev.type, WSP_WS_EV_BINARY);
    assert_int_equal(wsp_ws_parse(&p, NULL, 0, &ev), 0);
    assert_non_null(p.msg);
    assert_true(p.msg_cap <= WSP_WS_BUFFER_KEEP);
    free(in);
    wsp_ws_parser_cleanup(&p);
    assert_null(p.msg);
}

/* The buffer grows geometrically but stops at max_message, however the bytes arrive. */
static void test_buffer_capped_at_max_message(void **state)
{
    (void)state;
    size_t len;
    uint8_t *in = fragmented(5000, 1, &len);
    pcase c = {"exactly max_message", CLIENT, 0, 5000, 0, in, len, {{0}}};
    c.want[0] = (want_ev){WSP_WS_EV_BINARY, NULL, 5000, 2, 0, NULL, 0, false};
    uint8_t *want = malloc(5000);
    assert_non_null(want);
    want[0] = 'x';
    memset(want + 1, 'y', 4999);
    c.want[0].data = want;
    check_case(&c); /* run_chunks asserts msg_cap <= max_message after every call */

    wsp_ws_parser p;
    wsp_ws_limits lim = {0, 5000, 0};
    wsp_ws_parser_init(&p, WSP_WS_ROLE_CLIENT, &lim);
    wsp_ws_event ev;
    assert_int_equal(wsp_ws_parse(&p, in, len, &ev), len);
    assert_int_equal(p.msg_cap, 5000);
    wsp_ws_parser_cleanup(&p);
    free(want);
    free(in);
}

/* A frame that breaks a limit is refused on its header: nothing allocated, nothing buffered. */
static void test_refused_before_buffering(void **state)
{
    (void)state;
    static const uint8_t hdrs[][10] = {
        {0x82, 0x7e, 0x07, 0xd0},                            /* 2000 > 1000 */
        {0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0},             /* 2^62 */
        {0x82, 0x7f, 0x00, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, /* 4 GiB */
    };
    static const size_t lens[] = {4, 10, 10};
    for (size_t i = 0; i < 3; i++) {
        wsp_ws_limits lim = {1000, 1000, 0};
        wsp_ws_parser p;
        wsp_ws_parser_init(&p, WSP_WS_ROLE_CLIENT, &lim);
        uint8_t *in = malloc(lens[i]);
        assert_non_null(in);
        memcpy(in, hdrs[i], lens[i]);
        wsp_ws_event ev;
        assert_int_equal(wsp_ws_parse(&p, in, lens[i], &ev), lens[i]);
        assert_int_equal(ev.type, WSP_WS_EV_ERROR);
        assert_int_equal(ev.error_close_code, WSP_WS_CLOSE_TOO_BIG);
        assert_null(p.msg);
        wsp_ws_parser_cleanup(&p);
        free(in);
    }
    /* across fragments: the first is buffered, the second refused on its header */
    wsp_ws_limits lim = {0, 10, 0};
    wsp_ws_parser p;
    wsp_ws_parser_init(&p, WSP_WS_ROLE_CLIENT, &lim);
    static const uint8_t two[] = {0x02, 0x06, 'a', 'b', 'c', 'd', 'e', 'f', 0x80, 0x05};
    wsp_ws_event ev;
    assert_int_equal(wsp_ws_parse(&p, two, 8, &ev), 8);
    assert_int_equal(ev.type, WSP_WS_EV_NONE);
    assert_int_equal(p.msg_len, 6);
    assert_int_equal(wsp_ws_parse(&p, two + 8, 2, &ev), 2);
    assert_int_equal(ev.type, WSP_WS_EV_ERROR);
    assert_ptr_equal(ev.error, WSP_WS_ERR_MESSAGE_TOO_BIG);
    assert_int_equal(p.msg_len, 6);
    assert_true(p.msg_cap <= 10);
    wsp_ws_parser_cleanup(&p);
}

/* An unmasked single frame that arrived whole is handed out in place; anything else is not. */
static void test_zero_copy(void **state)
{
    (void)state;
    uint8_t *in = malloc(7);
    assert_non_null(in);
    memcpy(in, "\x81\x05Hello", 7);
    wsp_ws_parser p;
    wsp_ws_parser_init(&p, WSP_WS_ROLE_CLIENT, NULL);
    wsp_ws_event ev;
    assert_int_equal(wsp_ws_parse(&p, in, 7, &ev), 7);
    assert_int_equal(ev.type, WSP_WS_EV_TEXT);
    assert_ptr_equal(ev.data, in + 2);
    assert_null(p.msg);
    /* the same frame in two reads is copied */
    assert_int_equal(wsp_ws_parse(&p, in, 4, &ev), 4);
    assert_int_equal(ev.type, WSP_WS_EV_NONE);
    assert_int_equal(wsp_ws_parse(&p, in + 4, 3, &ev), 3);
    assert_int_equal(ev.type, WSP_WS_EV_TEXT);
    assert_ptr_equal(ev.data, p.msg);
    assert_memory_equal(ev.data, "Hello", 5);
    wsp_ws_parser_cleanup(&p);
    free(in);
}

/* Zero limits and NULL limits mean the documented defaults. */
static void test_default_limits(void **state)
{
    (void)state;
    wsp_ws_parser p;
    wsp_ws_parser_init(&p, WSP_WS_ROLE_SERVER, NULL);
    assert_int_equal(p.limits.max_frame, WSP_WS_DEFAULT_MAX);
    assert_int_equal(p.limits.max_message, WSP_WS_DEFAULT_MAX);
    assert_int_equal(p.limits.allowed_rsv, 0);
    wsp_ws_parser_cleanup(&p);
    wsp_ws_limits lim = {0, 0, 0x40};
    wsp_ws_parser_init(&p, WSP_WS_ROLE_SERVER, &lim);
    assert_int_equal(p.limits.max_frame, WSP_WS_DEFAULT_MAX);
    assert_int_equal(p.limits.allowed_rsv, 0x40);
    wsp_ws_parser_cleanup(&p);
}

static void test_close_codes_parse(void **state)
{
    (void)state;
    int codes[4];
    const char *why;
    assert_int_equal(wsp_ws_close_codes_parse("1000", codes, 4, &why), 1);
    assert_int_equal(codes[0], 1000);
    assert_int_equal(wsp_ws_close_codes_parse("4001,4003,1005", codes, 4, &why), 3);
    assert_int_equal(codes[1], 4003);
    assert_int_equal(codes[2], 1005);
    const char *bad[] = {"",
                         ",",
                         "1000,",
                         ",1000",
                         "1006",
                         "999",
                         "5000",
                         "1004",
                         "10000",
                         "100000",
                         "1000 ",
                         "a",
                         "1000,1001,1002,1003,1007"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        if (wsp_ws_close_codes_parse(bad[i], codes, 4, &why) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(why);
    }
}

static void test_close_hints(void **state)
{
    (void)state;
    assert_non_null(strstr(wsp_ws_close_hint(1009), "size limit"));
    assert_non_null(strstr(wsp_ws_close_hint(1002), "--subprotocol"));
    assert_non_null(strstr(wsp_ws_close_hint(4001), "--expect-close"));
    for (int code = 0; code < 5000; code++)
        assert_true(wsp_ws_close_hint(code)[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples_parse),
        cmocka_unit_test(test_rfc_binary_lengths),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_every_opcode),
        cmocka_unit_test(test_frame_counters),
        cmocka_unit_test(test_close_codes_on_the_wire),
        cmocka_unit_test(test_control_max),
        cmocka_unit_test(test_header_encode),
        cmocka_unit_test(test_mask_offsets),
        cmocka_unit_test(test_frame_encode_masks),
        cmocka_unit_test(test_close_payload),
        cmocka_unit_test(test_close_code_valid),
        cmocka_unit_test(test_masked_roundtrip),
        cmocka_unit_test(test_buffer_released_after_big_message),
        cmocka_unit_test(test_buffer_capped_at_max_message),
        cmocka_unit_test(test_refused_before_buffering),
        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_close_codes_parse),
        cmocka_unit_test(test_close_hints),
    };
    return cmocka_run_group_tests_name("ws", tests, NULL, NULL);
}
