/* pmd.h - permessage-deflate (RFC 7692), the client's side: the offer, the server's answer
 * checked against it parameter by parameter, and one connection's compressor and decompressor
 * (zlib raw deflate). Pure: memory in, memory out.
 *
 * Memory: nothing is allocated until a message needs it. The compressor uses a window of at
 * most WSP_PMD_DEFLATE_WINDOW_BITS (a client may always use a smaller window than agreed: the
 * server's decompressor handles any window up to the agreed one) and memLevel
 * WSP_PMD_DEFLATE_MEM_LEVEL, about 64 KiB, instead of zlib's default 256 KiB; the
 * decompressor's window is the agreed server_max_window_bits (32 KiB at 15). With a
 * no_context_takeover parameter the matching state is freed after every message. */
#ifndef WSP_PMD_H
#define WSP_PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSP_PMD_NAME "permessage-deflate"
#define WSP_PMD_DEFLATE_WINDOW_BITS 13 /* 8 KiB: a few 4 KiB messages of context */
#define WSP_PMD_DEFLATE_MEM_LEVEL 6
#define WSP_PMD_BITS_NO_VALUE (-1) /* client_max_window_bits offered without a value */

/* The parameters of an offer or of the agreement. Window bits are 8 to 15; 0: not given. */
typedef struct wsp_pmd_params {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    int server_max_window_bits;
    int client_max_window_bits; /* in an offer also WSP_PMD_BITS_NO_VALUE */
} wsp_pmd_params;

/* What --compress alone offers: client_max_window_bits without a value (the server may then
 * limit the window the client compresses with), as browsers do. */
void wsp_pmd_default_offer(wsp_pmd_params *p);

/* Parse --compress=PARAMS: RFC 7692 parameters separated by commas or semicolons
 * ("client_no_context_takeover,server_max_window_bits=10"). Only the four parameters of RFC
 * 7692, each at most once, window bits 8 to 15 (client_max_window_bits may go without one).
 * Returns 0, or -1 with `why` (a sentence naming the parameter). */
int wsp_pmd_parse_params(const char *spec, wsp_pmd_params *out, char *why, size_t why_cap);

/* The Sec-WebSocket-Extensions value for an offer ("permessage-deflate;
 * client_max_window_bits"). Returns its length, or -1 when cap is too small. */
int wsp_pmd_format(const wsp_pmd_params *p, char *out, size_t cap);

/* Check the server's Sec-WebSocket-Extensions value (len bytes, or NULL) against the offer
 * (RFC 7692 section 7): permessage-deflate at most once, no parameter twice, none unknown,
 * window bits 8 to 15 in 1*DIGIT without leading zeros (a quoted value too), server_max_window_bits
 * present and not above the offer when the offer had it, client_max_window_bits only when
 * offered and then with a value. Returns 1 accepted (*agreed filled), 0 declined (the server
 * answered without permessage-deflate), -1 with `why` naming the parameter. */
int wsp_pmd_check_response(const wsp_pmd_params *offer, const char *value, size_t len,
                           wsp_pmd_params *agreed, char *why, size_t why_cap);

/* The server's side (wsprobe serve): accept the first permessage-deflate offer in a client's
 * Sec-WebSocket-Extensions value (len bytes) that is valid (an offer with a bad or unknown
 * parameter is declined, RFC 7692 5), and answer it so that the server keeps no zlib state
 * between messages: server_no_context_takeover and client_no_context_takeover always (7.1.1.1
 * and 7.1.1.2 let a server add them), server_max_window_bits as offered, and
 * client_max_window_bits=WSP_PMD_SERVE_CLIENT_BITS (or the smaller offered) when the client
 * allows it. Returns 1 with *agreed and the answer (resp, NUL-terminated), or 0 when there is
 * nothing to accept. */
#define WSP_PMD_SERVE_CLIENT_BITS 12
int wsp_pmd_accept_offer(const char *value, size_t len, wsp_pmd_params *agreed, char *resp,
                         size_t resp_cap);

/* One connection's compression state. */
typedef struct wsp_pmd {
    wsp_pmd_params agreed;
    bool server;           /* the server's side: it compresses with the server_* parameters */
    uint64_t max_inflated; /* an inflated message over this is refused (--max-message) */
    void *def, *inf;       /* zlib streams, made when first needed */
    uint8_t *zbuf;         /* the last compressed message */
    size_t zbuf_cap;
    uint8_t *buf; /* the last inflated message (apart: an echo compresses what it inflated) */
    size_t buf_cap;
} wsp_pmd;

void wsp_pmd_init(wsp_pmd *p, const wsp_pmd_params *agreed, uint64_t max_inflated);
/* zlib streams alive in the process (every wsp_pmd together): what compression holds while
 * connections sit idle (serve's /health shows it). */
size_t wsp_pmd_live_streams(void);
/* Free the output buffers (what the last calls gave is then gone): call it once a message has
 * been used, so that an idle connection holds no buffer, only the zlib state the agreement
 * keeps (none with both no_context_takeover parameters). */
void wsp_pmd_trim(wsp_pmd *p);
/* The same for the server's side. */
void wsp_pmd_init_server(wsp_pmd *p, const wsp_pmd_params *agreed, uint64_t max_inflated);
void wsp_pmd_cleanup(wsp_pmd *p);

/* Compress one message (the client's direction, RFC 7692 7.2.1: a sync flush, the final
 * 00 00 ff ff removed). `in` may be what wsp_pmd_inflate gave (the buffers are apart). *out
 * points into p's buffer until the next compression. 0, or -1 out of memory. */
int wsp_pmd_compress(wsp_pmd *p, const void *in, size_t len, const uint8_t **out, size_t *out_len);

typedef enum wsp_pmd_rc {
    WSP_PMD_OK = 0,
    WSP_PMD_TOO_BIG = -1, /* inflates past max_inflated: the decompression bomb */
    WSP_PMD_CORRUPT = -2, /* not a deflate stream */
    WSP_PMD_NOMEM = -3,
} wsp_pmd_rc;

/* Inflate one message from the server (RFC 7692 7.2.2: 00 00 ff ff appended). Stops as soon
 * as the output passes max_inflated, before allocating more. *out points into p's buffer
 * until the next call; `why` gets a sentence on failure. */
wsp_pmd_rc wsp_pmd_inflate(wsp_pmd *p, const void *in, size_t len, const uint8_t **out,
                           size_t *out_len, const char **why);

/* Format the agreed parameters ("server_no_context_takeover; client_max_window_bits=10"; ""
 * when none) for the report. */
void wsp_pmd_params_format(const wsp_pmd_params *p, char *out, size_t cap);

#endif
