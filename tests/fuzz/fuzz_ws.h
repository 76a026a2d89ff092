/* fuzz_ws.h - the driver shared by fuzz_ws_client.c and fuzz_ws_server.c.
 *
 * Input layout: byte 0 is flags (bit 0: permessage-deflate's RSV1 allowed; bit 1: small limits,
 * 300-byte frames and 1000-byte messages, instead of 64 KiB; bits 2-7 seed the chunking with
 * byte 1); the rest is the byte stream from the peer.
 *
 * The stream is parsed twice: in one call loop, then in chunks of pseudo-random sizes, each
 * copied into an exact-size heap buffer so ASan sees any read past `in + len`. Every event is
 * checked against the header's contract, and the two runs must give the same events: how the
 * bytes are split must never change what the parser says. Any violation aborts. */
#ifndef WSP_FUZZ_WS_H
#define WSP_FUZZ_WS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/utf8.h"
#include "codec/ws.h"

typedef struct fz_event {
    wsp_ws_event_type type;
    size_t len;
    uint64_t hash;
    unsigned frames;
    int close_code;
    bool compressed;
    const char *error;
    unsigned error_close_code;
} fz_event;

typedef struct fz_log {
    fz_event *ev;
    size_t n, cap;
} fz_log;

#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t fz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a; reads every byte of the event */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* The contract one event must meet on its own. */
static fz_event fz_check_event(const wsp_ws_parser *p, const wsp_ws_event *ev)
{
    fz_event e = {ev->type,       ev->len,        0,         ev->frames,
                  ev->close_code, ev->compressed, ev->error, ev->error_close_code};
    switch (ev->type) {
    case WSP_WS_EV_NONE:
        break;
    case WSP_WS_EV_TEXT:
    case WSP_WS_EV_BINARY:
        FZ_CHECK(ev->data != NULL);
        FZ_CHECK(ev->len <= p->limits.max_message);
        FZ_CHECK(ev->frames >= 1);
        FZ_CHECK(!ev->compressed || (p->limits.allowed_rsv & 0x40));
        if (ev->type == WSP_WS_EV_TEXT && !ev->compressed)
            FZ_CHECK(wsp_utf8_valid(ev->data, ev->len));
        e.hash = fz_hash(ev->data, ev->len);
        break;
    case WSP_WS_EV_PING:
    case WSP_WS_EV_PONG:
        FZ_CHECK(ev->data != NULL && ev->len <= WSP_WS_CONTROL_MAX && ev->frames == 1);
        e.hash = fz_hash(ev->data, ev->len);
        break;
    case WSP_WS_EV_CLOSE:
        FZ_CHECK(ev->data != NULL);
        if (ev->close_code == -1) {
            FZ_CHECK(ev->len == 0);
        } else {
            FZ_CHECK(wsp_ws_close_code_valid((unsigned)ev->close_code));
            FZ_CHECK(ev->len <= WSP_WS_CONTROL_MAX - 2 && wsp_utf8_valid(ev->data, ev->len));
        }
        e.hash = fz_hash(ev->data, ev->len);
        break;
    case WSP_WS_EV_ERROR:
        FZ_CHECK(ev->error != NULL);
        FZ_CHECK(ev->error_close_code == WSP_WS_CLOSE_PROTOCOL ||
                 ev->error_close_code == WSP_WS_CLOSE_BAD_DATA ||
                 ev->error_close_code == WSP_WS_CLOSE_TOO_BIG ||
                 ev->error_close_code == WSP_WS_CLOSE_INTERNAL);
        break;
    }
    return e;
}

/* Feed one chunk until the parser wants more or dies. Run 0 records events, run 1 compares
 * against the record. Returns false once the parser is dead. */
static bool fz_feed(wsp_ws_parser *p, const uint8_t *in, size_t len, fz_log *log, size_t *next,
                    int run)
{
    size_t off = 0;
    for (;;) {
        wsp_ws_event ev;
        size_t used = wsp_ws_parse(p, in + off, len - off, &ev);
        FZ_CHECK(used <= len - off);
        off += used;
        FZ_CHECK(p->msg_cap <= p->limits.max_message);
        if (ev.type == WSP_WS_EV_NONE) {
            FZ_CHECK(off == len);
            return true;
        }
        fz_event e = fz_check_event(p, &ev);
        if (run == 0) {
            if (log->n == log->cap) {
                log->cap = log->cap ? log->cap * 2 : 64;
                log->ev = realloc(log->ev, log->cap * sizeof *log->ev);
                FZ_CHECK(log->ev != NULL);
            }
            log->ev[log->n++] = e;
        } else {
            FZ_CHECK(*next < log->n);
            const fz_event *w = &log->ev[*next];
            FZ_CHECK(w->type == e.type && w->len == e.len && w->hash == e.hash);
            FZ_CHECK(w->frames == e.frames && w->close_code == e.close_code);
            FZ_CHECK(w->compressed == e.compressed && w->error == e.error);
            FZ_CHECK(w->error_close_code == e.error_close_code);
        }
        (*next)++;
        if (ev.type == WSP_WS_EV_ERROR) {
            wsp_ws_event again;
            FZ_CHECK(wsp_ws_parse(p, in + off, len - off, &again) == 0);
            FZ_CHECK(again.type == WSP_WS_EV_ERROR && again.error == ev.error);
            return false;
        }
    }
}

static int fz_ws_run(wsp_ws_role role, const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    wsp_ws_limits lim = {65536, 65536, (data[0] & 1) ? 0x40u : 0u};
    if (data[0] & 2) {
        lim.max_frame = 300;
        lim.max_message = 1000;
    }
    uint32_t rng = ((uint32_t)data[0] << 8 | data[1]) * 2654435761u + 1;
    const uint8_t *stream = data + 2;
    size_t len = size - 2;
    fz_log log = {0};

    for (int run = 0; run < 2; run++) {
        wsp_ws_parser p;
        wsp_ws_parser_init(&p, role, &lim);
        size_t next = 0, at = 0;
        bool alive = true;
        /* run 0: one chunk; run 1: chunks of 1..16 bytes or 1..4096, by the seed */
        size_t span = (data[0] & 4) ? 4096 : 16;
        while (alive && at < len) {
            size_t n = len - at;
            if (run == 1) {
                rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5; /* xorshift32 */
                size_t want = 1 + rng % span;
                n = want < n ? want : n;
            }
            uint8_t *chunk = malloc(n);
            FZ_CHECK(chunk != NULL);
            memcpy(chunk, stream + at, n);
            alive = fz_feed(&p, chunk, n, &log, &next, run);
            free(chunk);
            at += n;
        }
        if (alive) {
            wsp_ws_event ev;
            FZ_CHECK(wsp_ws_parse(&p, NULL, 0, &ev) == 0 && ev.type == WSP_WS_EV_NONE);
            /* the call after a message gives back a big buffer */
            FZ_CHECK(p.msg_cap <= WSP_WS_BUFFER_KEEP || p.in_message);
        }
        FZ_CHECK(next == log.n);
        wsp_ws_parser_cleanup(&p);
    }
    free(log.ev);
    return 0;
}

#endif
