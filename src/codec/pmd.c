/* pmd.c - see pmd.h. */
#include "codec/pmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include <zlib.h>

#include "codec/http.h"
#include "util/ascii.h"

void wsp_pmd_default_offer(wsp_pmd_params *p)
{
    memset(p, 0, sizeof *p);
    p->client_max_window_bits = WSP_PMD_BITS_NO_VALUE;
}

/* ---- parameters ---- */

typedef enum param_id {
    P_SERVER_NCT,
    P_CLIENT_NCT,
    P_SERVER_BITS,
    P_CLIENT_BITS,
    P_UNKNOWN,
} param_id;

static const char *const param_names[] = {"server_no_context_takeover",
                                          "client_no_context_takeover", "server_max_window_bits",
                                          "client_max_window_bits"};

static param_id param_of(const char *s, size_t n)
{
    for (int i = 0; i < P_UNKNOWN; i++)
        if (strlen(param_names[i]) == n && wsp_ascii_ieq(s, param_names[i], n))
            return (param_id)i;
    return P_UNKNOWN;
}

/* Window bits: 1*DIGIT from 8 to 15, no leading zero. -1 when not. */
static int window_bits(const char *v, size_t n)
{
    if (n == 0 || n > 2 || v[0] == '0')
        return -1;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x >= 8 && x <= 15 ? x : -1;
}

/* Peer and user text in a message is cut to 60 bytes: pass (int)CUT(n), s for each "%.*s". */
#define CUT(n) ((n) > 60 ? 60 : (n))

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* One parameter "name" or "name=value" (value a token or a quoted-string) into p. `seen`
 * guards duplicates; `offer_side` allows client_max_window_bits without a value. */
static int take_param(wsp_pmd_params *p, unsigned *seen, const char *s, size_t n, bool offer_side,
                      char *why, size_t cap)
{
    const char *eq = memchr(s, '=', n);
    size_t nl = eq ? (size_t)(eq - s) : n;
    while (nl && (s[nl - 1] == ' ' || s[nl - 1] == '\t'))
        nl--;
    const char *v = NULL;
    size_t vl = 0;
    if (eq) {
        v = eq + 1;
        vl = n - (size_t)(v - s);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') /* RFC 7692 7.1: the quoted form too */
            v++, vl -= 2;
    }
    param_id id = param_of(s, nl);
    if (id == P_UNKNOWN) {
        say(why, cap, "unknown permessage-deflate parameter '%.*s'", (int)CUT(nl), s);
        return -1;
    }
    if (*seen & (1u << id)) {
        say(why, cap, "permessage-deflate parameter '%.*s' given twice", (int)CUT(nl), s);
        return -1;
    }
    *seen |= 1u << id;
    if (id == P_SERVER_NCT || id == P_CLIENT_NCT) {
        if (eq) {
            say(why, cap, "permessage-deflate parameter '%.*s' takes no value (got '%.*s')",
                (int)CUT(nl), s, (int)CUT(vl), v);
            return -1;
        }
        if (id == P_SERVER_NCT)
            p->server_no_context_takeover = true;
        else
            p->client_no_context_takeover = true;
        return 0;
    }
    if (!eq && id == P_CLIENT_BITS && offer_side) {
        p->client_max_window_bits = WSP_PMD_BITS_NO_VALUE;
        return 0;
    }
    int bits = eq ? window_bits(v, vl) : -1;
    if (bits < 0) {
        say(why, cap,
            "permessage-deflate parameter '%.*s' needs a window size from 8 to 15 (got '%.*s')",
            (int)CUT(nl), s, (int)CUT(eq ? vl : 0), eq ? v : "");
        return -1;
    }
    if (id == P_SERVER_BITS)
        p->server_max_window_bits = bits;
    else
        p->client_max_window_bits = bits;
    return 0;
}

int wsp_pmd_parse_params(const char *spec, wsp_pmd_params *out, char *why, size_t why_cap)
{
    memset(out, 0, sizeof *out);
    unsigned seen = 0;
    const char *p = spec;
    while (*p) {
        size_t n = strcspn(p, ",;");
        const char *a = p, *b = p + n;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b) {
            say(why, why_cap, "an empty parameter in '%.*s'", (int)CUT(strlen(spec)), spec);
            return -1;
        }
        if (take_param(out, &seen, a, (size_t)(b - a), true, why, why_cap) != 0)
            return -1;
        p += n;
        if (*p)
            p++;
        if (!*p && p > spec && (p[-1] == ',' || p[-1] == ';')) {
            say(why, why_cap, "an empty parameter in '%.*s'", (int)CUT(strlen(spec)), spec);
            return -1;
        }
    }
    return 0;
}

int wsp_pmd_format(const wsp_pmd_params *p, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s", WSP_PMD_NAME);
    char more[160];
    wsp_pmd_params_format(p, more, sizeof more);
    if (n >= 0 && more[0])
        n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, "; %s", more);
    return n >= 0 && (size_t)n < cap ? n : -1;
}

void wsp_pmd_params_format(const wsp_pmd_params *p, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < cap)                                                                               \
            n += (size_t)snprintf(out + n, cap - n, "%s", n ? "; " : "");                          \
        if (n < cap)                                                                               \
            n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);                                  \
    } while (0)
    if (p->server_no_context_takeover)
        ADD("server_no_context_takeover");
    if (p->client_no_context_takeover)
        ADD("client_no_context_takeover");
    if (p->server_max_window_bits > 0)
        ADD("server_max_window_bits=%d", p->server_max_window_bits);
    if (p->client_max_window_bits > 0)
        ADD("client_max_window_bits=%d", p->client_max_window_bits);
    else if (p->client_max_window_bits == WSP_PMD_BITS_NO_VALUE)
        ADD("client_max_window_bits");
#undef ADD
}

/* The next permessage-deflate element of an extension list, from *i on: true with its
 * parameters (what follows the name, from the first ';') in [*ps, *pe). */
static bool next_pmd(const char *v, size_t len, size_t *i, size_t *ps, size_t *pe)
{
    while (*i < len) {
        size_t es, ee, ns, ne;
        *i = wsp_http_list_next(v, len, *i, ',', &es, &ee);
        wsp_http_list_next(v + es, ee - es, 0, ';', &ns, &ne); /* the name */
        if (ne - ns == strlen(WSP_PMD_NAME) &&
            wsp_ascii_ieq(v + es + ns, WSP_PMD_NAME, strlen(WSP_PMD_NAME))) {
            *ps = es + ne;
            *pe = ee;
            while (*ps < *pe && v[*ps] != ';')
                (*ps)++;
            return true;
        }
    }
    return false;
}

/* The parameters of one element ("; a; b=1", or "") into p: 0, or -1 with why (an empty one,
 * an unknown one, one twice, a bad value). */
static int pmd_params(const char *s, size_t len, wsp_pmd_params *p, bool offer_side, char *why,
                      size_t cap)
{
    unsigned seen = 0;
    for (size_t i = 1; i <= len;) { /* after the ';'; a trailing one leaves an empty parameter */
        size_t ps, pe;
        i = wsp_http_list_next(s, len, i, ';', &ps, &pe);
        if (ps == pe) {
            say(why, cap, "an empty permessage-deflate parameter");
            return -1;
        }
        if (take_param(p, &seen, s + ps, pe - ps, offer_side, why, cap) != 0)
            return -1;
    }
    return 0;
}

int wsp_pmd_check_response(const wsp_pmd_params *offer, const char *value, size_t len,
                           wsp_pmd_params *agreed, char *why, size_t why_cap)
{
    memset(agreed, 0, sizeof *agreed);
    if (!value)
        return 0;
    int found = 0;
    size_t i = 0, ps, pe;
    while (next_pmd(value, len, &i, &ps, &pe)) {
        if (found++) {
            say(why, why_cap, "the server accepted permessage-deflate twice");
            return -1;
        }
        if (pmd_params(value + ps, pe - ps, agreed, false, why, why_cap) != 0)
            return -1;
    }
    if (!found)
        return 0;
    /* RFC 7692 7.1.2.2: client_max_window_bits only in answer to an offer that had it */
    int ab = agreed->client_max_window_bits, ob = offer->client_max_window_bits;
    if (ab && !ob) {
        say(why, why_cap,
            "the server sent client_max_window_bits=%d, which the offer did not have (RFC 7692 "
            "7.1.2.2)",
            ab);
        return -1;
    }
    if (ob > 0 && ab > ob) {
        say(why, why_cap,
            "the server sent client_max_window_bits=%d, above the %d offered (RFC 7692 7.1.2.2)",
            ab, ob);
        return -1;
    }
    /* 7.1.2.1: an offer with server_max_window_bits is accepted with the same or smaller */
    int as = agreed->server_max_window_bits, os = offer->server_max_window_bits;
    if (os && !as) {
        say(why, why_cap,
            "the server accepted an offer of server_max_window_bits=%d without the parameter "
            "(RFC 7692 7.1.2.1)",
            os);
        return -1;
    }
    if (os && as > os) {
        say(why, why_cap,
            "the server sent server_max_window_bits=%d, above the %d offered (RFC 7692 7.1.2.1)",
            as, os);
        return -1;
    }
    /* 7.1.1.1: an offer with server_no_context_takeover is accepted with it */
    if (offer->server_no_context_takeover && !agreed->server_no_context_takeover) {
        say(why, why_cap,
            "the server accepted an offer of server_no_context_takeover without the parameter "
            "(RFC 7692 7.1.1.1)");
        return -1;
    }
    if (offer->client_no_context_takeover)
        agreed->client_no_context_takeover = true; /* 7.1.1.2: ours to honour either way */
    return 1;
}

int wsp_pmd_accept_offer(const char *value, size_t len, wsp_pmd_params *agreed, char *resp,
                         size_t resp_cap)
{
    if (!value)
        return 0;
    size_t i = 0, ps, pe;
    while (next_pmd(value, len, &i, &ps, &pe)) {
        wsp_pmd_params offer;
        memset(&offer, 0, sizeof offer);
        if (pmd_params(value + ps, pe - ps, &offer, true, NULL, 0) != 0)
            continue; /* RFC 7692 5: an offer the server cannot accept is declined */
        memset(agreed, 0, sizeof *agreed);
        agreed->server_no_context_takeover = true;
        agreed->client_no_context_takeover = true;
        agreed->server_max_window_bits = offer.server_max_window_bits;
        if (offer.client_max_window_bits == WSP_PMD_BITS_NO_VALUE)
            agreed->client_max_window_bits = WSP_PMD_SERVE_CLIENT_BITS;
        else if (offer.client_max_window_bits > 0)
            agreed->client_max_window_bits =
                offer.client_max_window_bits < WSP_PMD_SERVE_CLIENT_BITS
                    ? offer.client_max_window_bits
                    : WSP_PMD_SERVE_CLIENT_BITS;
        if (wsp_pmd_format(agreed, resp, resp_cap) < 0)
            return 0;
        return 1;
    }
    return 0;
}

/* ---- compression ---- */

void wsp_pmd_init(wsp_pmd *p, const wsp_pmd_params *agreed, uint64_t max_inflated)
{
    memset(p, 0, sizeof *p);
    p->agreed = *agreed;
    p->max_inflated = max_inflated;
}

void wsp_pmd_init_server(wsp_pmd *p, const wsp_pmd_params *agreed, uint64_t max_inflated)
{
    wsp_pmd_init(p, agreed, max_inflated);
    p->server = true;
}

/* The parameters of this side's own compression, and of what it inflates. */
static int own_bits(const wsp_pmd *p)
{
    return p->server ? p->agreed.server_max_window_bits : p->agreed.client_max_window_bits;
}

static bool own_no_takeover(const wsp_pmd *p)
{
    return p->server ? p->agreed.server_no_context_takeover : p->agreed.client_no_context_takeover;
}

static int peer_bits(const wsp_pmd *p)
{
    return p->server ? p->agreed.client_max_window_bits : p->agreed.server_max_window_bits;
}

static bool peer_no_takeover(const wsp_pmd *p)
{
    return p->server ? p->agreed.client_no_context_takeover : p->agreed.server_no_context_takeover;
}

static atomic_size_t live_streams; /* load runs connections on several threads */

size_t wsp_pmd_live_streams(void)
{
    return atomic_load(&live_streams);
}

static void free_def(wsp_pmd *p)
{
    if (p->def) {
        deflateEnd(p->def);
        free(p->def);
        p->def = NULL;
        atomic_fetch_sub(&live_streams, 1);
    }
}

static void free_inf(wsp_pmd *p)
{
    if (p->inf) {
        inflateEnd(p->inf);
        free(p->inf);
        p->inf = NULL;
        atomic_fetch_sub(&live_streams, 1);
    }
}

void wsp_pmd_trim(wsp_pmd *p)
{
    free(p->buf);
    free(p->zbuf);
    p->buf = p->zbuf = NULL;
    p->buf_cap = p->zbuf_cap = 0;
}

void wsp_pmd_cleanup(wsp_pmd *p)
{
    free_def(p);
    free_inf(p);
    free(p->buf);
    free(p->zbuf);
    p->buf = p->zbuf = NULL;
    p->buf_cap = p->zbuf_cap = 0;
}

static bool reserve(uint8_t **buf, size_t *buf_cap, size_t need)
{
    if (need <= *buf_cap)
        return true;
    size_t cap = *buf_cap ? *buf_cap : 1024;
    while (cap < need)
        cap *= 2;
    uint8_t *nb = realloc(*buf, cap);
    if (!nb)
        return false;
    *buf = nb;
    *buf_cap = cap;
    return true;
}

int wsp_pmd_compress(wsp_pmd *p, const void *in, size_t len, const uint8_t **out, size_t *out_len)
{
    if (!p->def) {
        z_stream *z = calloc(1, sizeof *z);
        int agreed = own_bits(p) > 0 ? own_bits(p) : 15;
        int bits = agreed < WSP_PMD_DEFLATE_WINDOW_BITS ? agreed : WSP_PMD_DEFLATE_WINDOW_BITS;
        /* zlib's raw deflate cannot use a 256-byte window (it makes 8 into 9): with 8 agreed,
         * stored blocks, which reference nothing, are what stays within it */
        int level = bits == 8 ? Z_NO_COMPRESSION : Z_DEFAULT_COMPRESSION;
        if (bits == 8)
            bits = 9;
        if (!z || deflateInit2(z, level, Z_DEFLATED, -bits, WSP_PMD_DEFLATE_MEM_LEVEL,
                               Z_DEFAULT_STRATEGY) != Z_OK) {
            free(z);
            return -1;
        }
        p->def = z;
        atomic_fetch_add(&live_streams, 1);
    }
    z_stream *z = p->def;
    size_t bound = deflateBound(z, (uLong)len) + 16;
    if (!reserve(&p->zbuf, &p->zbuf_cap, bound))
        return -1;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    z->next_out = p->zbuf;
    z->avail_out = (uInt)p->zbuf_cap;
    int r = deflate(z, Z_SYNC_FLUSH);
    if (r != Z_OK || z->avail_in != 0)
        return -1;
    size_t n = p->zbuf_cap - z->avail_out;
    /* 7.2.1: remove the 4 octets 0x00 0x00 0xff 0xff at the tail end */
    if (n >= 4 && memcmp(p->zbuf + n - 4, "\x00\x00\xff\xff", 4) == 0)
        n -= 4;
    *out = p->zbuf;
    *out_len = n;
    if (own_no_takeover(p))
        free_def(p); /* 7.1.1: a fresh context for the next message; nothing kept meanwhile */
    return 0;
}

wsp_pmd_rc wsp_pmd_inflate(wsp_pmd *p, const void *in, size_t len, const uint8_t **out,
                           size_t *out_len, const char **why)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    if (!p->inf) {
        z_stream *z = calloc(1, sizeof *z);
        int bits = peer_bits(p) > 0 ? peer_bits(p) : 15;
        if (!z || inflateInit2(z, -bits) != Z_OK) {
            free(z);
            *why = "out of memory";
            return WSP_PMD_NOMEM;
        }
        p->inf = z;
        atomic_fetch_add(&live_streams, 1);
    }
    z_stream *z = p->inf;
    size_t n = 0;
    wsp_pmd_rc rc = WSP_PMD_OK;
    bool ended = false; /* a block with BFINAL: the stream is over, the next one starts anew */
    for (int part = 0; part < 2 && rc == WSP_PMD_OK && !ended; part++) {
        z->next_in = part == 0 ? (Bytef *)(uintptr_t)in : (Bytef *)(uintptr_t)tail;
        z->avail_in = part == 0 ? (uInt)len : sizeof tail;
        while (z->avail_in > 0) {
            /* room for one byte past the cap, so that passing it is seen */
            size_t want = n + 16384;
            if (want > p->max_inflated + 1)
                want = (size_t)p->max_inflated + 1;
            if (!reserve(&p->buf, &p->buf_cap, want)) {
                rc = WSP_PMD_NOMEM;
                *why = "out of memory";
                break;
            }
            z->next_out = p->buf + n;
            z->avail_out = (uInt)(want - n);
            int r = inflate(z, Z_SYNC_FLUSH);
            n = want - z->avail_out;
            if (r == Z_STREAM_END) {
                ended = true;
                if (n > p->max_inflated) {
                    rc = WSP_PMD_TOO_BIG;
                    *why = "the message inflates past the message size limit (a decompression "
                           "bomb?)";
                }
                break;
            }
            if (r != Z_OK && r != Z_BUF_ERROR) {
                rc = WSP_PMD_CORRUPT;
                *why = "the compressed message is not valid deflate data (RFC 7692 7.2.2)";
                break;
            }
            if (n > p->max_inflated) {
                rc = WSP_PMD_TOO_BIG;
                *why = "the message inflates past the message size limit (a decompression bomb?)";
                break;
            }
            if (r == Z_BUF_ERROR && z->avail_out != 0)
                break; /* no progress possible: input ends mid-stream, the next frame goes on */
        }
    }
    if (rc != WSP_PMD_OK || ended || peer_no_takeover(p)) {
        free_inf(p); /* a failed stream is not reused; without takeover nothing is kept */
        if (rc != WSP_PMD_OK)
            return rc;
    }
    *out = p->buf;
    *out_len = n;
    return WSP_PMD_OK;
}
