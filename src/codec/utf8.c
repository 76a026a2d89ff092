/* utf8.c - see utf8.h.
 *
 * A byte-class DFA over the well-formed sequences of RFC 3629 section 4 (the same table as
 * Unicode 15 table 3-7). Each state knows exactly which byte range may come next, so an
 * overlong form (C0, C1, E0 80..9F, F0 80..8F), a surrogate (ED A0..BF), a code point past
 * U+10FFFF (F4 90..BF, F5..FF) or a stray continuation byte is refused at the first byte that
 * makes it impossible, not at the end of the sequence. */
#include "codec/utf8.h"

#include <string.h>

/* Byte classes: which ranges of RFC 3629's table a byte falls in. */
enum {
    C_ASCII, /* 00..7F */
    C_X80,   /* 80..8F continuation */
    C_X90,   /* 90..9F continuation */
    C_XA0,   /* A0..BF continuation */
    C_BAD,   /* C0, C1, F5..FF: never appear */
    C_L2,    /* C2..DF: lead of 2 */
    C_E0,    /* E0: lead of 3, next A0..BF (no overlongs) */
    C_L3,    /* E1..EC, EE, EF: lead of 3 */
    C_ED,    /* ED: lead of 3, next 80..9F (no surrogates) */
    C_F0,    /* F0: lead of 4, next 90..BF (no overlongs) */
    C_L4,    /* F1..F3: lead of 4 */
    C_F4,    /* F4: lead of 4, next 80..8F (nothing past U+10FFFF) */
    C_COUNT
};

/* States: what the next byte must be. */
enum {
    S_ACCEPT, /* on a code point boundary */
    S_REJECT, /* failed; sticky */
    S_CONT1,  /* 1 more continuation, 80..BF */
    S_CONT2,  /* 2 more, next 80..BF */
    S_CONT3,  /* 3 more, next 80..BF */
    S_E0,     /* 2 more, next A0..BF */
    S_ED,     /* 2 more, next 80..9F */
    S_F0,     /* 3 more, next 90..BF */
    S_F4,     /* 3 more, next 80..8F */
    S_COUNT
};

/* clang-format off */
#define B C_BAD
static const uint8_t byte_class[256] = {
    /* 00..7F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 80..8F, 90..9F */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    /* A0..BF */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    /* C0..DF */
    B, B, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    /* E0..EF */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
    /* F0..FF */
    9, 10, 10, 10, 11, B, B, B, B, B, B, B, B, B, B, B,
};
#undef B

#define R S_REJECT
static const uint8_t next_state[S_COUNT][C_COUNT] = {
    /*           ASCII     X80      X90      XA0      BAD  L2       E0    L3       ED    F0    L4       F4 */
    [S_ACCEPT] = {S_ACCEPT, R, R, R, R, S_CONT1, S_E0, S_CONT2, S_ED, S_F0, S_CONT3, S_F4},
    [S_REJECT] = {R, R, R, R, R, R, R, R, R, R, R, R},
    [S_CONT1] = {R, S_ACCEPT, S_ACCEPT, S_ACCEPT, R, R, R, R, R, R, R, R},
    [S_CONT2] = {R, S_CONT1, S_CONT1, S_CONT1, R, R, R, R, R, R, R, R},
    [S_CONT3] = {R, S_CONT2, S_CONT2, S_CONT2, R, R, R, R, R, R, R, R},
    [S_E0] = {R, R, R, S_CONT1, R, R, R, R, R, R, R, R},
    [S_ED] = {R, S_CONT1, S_CONT1, R, R, R, R, R, R, R, R, R},
    [S_F0] = {R, R, S_CONT2, S_CONT2, R, R, R, R, R, R, R, R},
    [S_F4] = {R, S_CONT2, R, R, R, R, R, R, R, R, R, R},
};
#undef R
/* clang-format on */

void wsp_utf8_init(wsp_utf8 *v)
{
    v->state = S_ACCEPT;
}

bool wsp_utf8_feed(wsp_utf8 *v, const uint8_t *s, size_t len)
{
    uint32_t st = v->state;
    size_t i = 0;
    if (st == S_REJECT)
        return false;
    while (i < len) {
        if (st == S_ACCEPT) {
            /* Text is mostly ASCII: skip 8 bytes at a time while no high bit is set. */
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            while (i < len && s[i] < 0x80)
                i++;
            if (i == len)
                break;
        }
        st = next_state[st][byte_class[s[i++]]];
        if (st == S_REJECT)
            break;
    }
    v->state = st;
    return st != S_REJECT;
}

bool wsp_utf8_complete(const wsp_utf8 *v)
{
    return v->state == S_ACCEPT;
}

bool wsp_utf8_valid(const uint8_t *s, size_t len)
{
    wsp_utf8 v;
    wsp_utf8_init(&v);
    return wsp_utf8_feed(&v, s, len) && wsp_utf8_complete(&v);
}
