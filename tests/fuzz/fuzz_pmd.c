/* fuzz_pmd.c - permessage-deflate from a server: the first byte picks the offer (the default,
 * or one with every parameter), the bytes up to the first NUL are the server's
 * Sec-WebSocket-Extensions answer, the rest is a compressed message (inflated twice, to keep
 * context across messages). Checks: an accepted answer has window bits in 8..15, and inflating
 * never yields more than the cap nor returns OK with data past it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/pmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    wsp_pmd_params offer;
    wsp_pmd_default_offer(&offer);
    if (data[0] & 1) {
        offer.server_no_context_takeover = offer.client_no_context_takeover = true;
        offer.server_max_window_bits = 10;
        offer.client_max_window_bits = 12;
    }
    data++, size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t alen = nul ? (size_t)(nul - data) : size;
    wsp_pmd_params agreed;
    char why[256];
    int r = wsp_pmd_check_response(&offer, (const char *)data, alen, &agreed, why, sizeof why);
    if (r == 1) {
        if (agreed.server_max_window_bits &&
            (agreed.server_max_window_bits < 8 || agreed.server_max_window_bits > 15))
            abort();
        if (agreed.client_max_window_bits &&
            (agreed.client_max_window_bits < 8 || agreed.client_max_window_bits > 15))
            abort();
    } else {
        wsp_pmd_default_offer(&agreed);
        agreed.client_max_window_bits = 0;
    }
    if (!nul)
        return 0;
    const uint8_t *msg = nul + 1;
    size_t mlen = size - alen - 1;
    wsp_pmd p;
    wsp_pmd_init(&p, &agreed, CAP);
    for (int i = 0; i < 2; i++) {
        const uint8_t *out;
        size_t n;
        const char *w;
        wsp_pmd_rc rc = wsp_pmd_inflate(&p, msg, mlen, &out, &n, &w);
        if (rc == WSP_PMD_OK && n > CAP)
            abort();
        if (rc == WSP_PMD_OK && n) {
            /* what came in goes back out through the compressor without a fault */
            const uint8_t *z; /* straight from the inflater, as serve --echo does */
            size_t zl;
            if (wsp_pmd_compress(&p, out, n, &z, &zl) != 0)
                abort();
            break;
        }
    }
    wsp_pmd_cleanup(&p);
    return 0;
}
