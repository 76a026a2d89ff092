/* fuzz_sio.c - Engine.IO and Socket.IO packets (codec/sio.h) on arbitrary bytes. Checks: a
 * refusal has a reason; a parsed Socket.IO packet's namespace, data and ack id lie within the
 * input and fit the caps; what wsp_sio_encode writes from a parsed packet parses back to the
 * same packet; an accepted open packet's intervals are within 1 ms .. 24 h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/sio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *why = NULL, *pl;
    size_t pll;
    wsp_eio_type t;
    if (wsp_eio_parse(s, size, &t, &pl, &pll, &why) == 0) {
        if (pl != s + 1 || pll != size - 1)
            abort();
        wsp_eio_open o;
        if (t == WSP_EIO_OPEN && wsp_eio_parse_open(pl, pll, &o, &why) == 0 &&
            (!o.sid[0] || o.ping_interval_ms < 1 || o.ping_interval_ms > 86400000ull ||
             o.ping_timeout_ms < 1 || o.ping_timeout_ms > 86400000ull))
            abort();
    } else if (!why) {
        abort();
    }
    wsp_sio_packet p;
    why = NULL;
    if (wsp_sio_parse(s, size, &p, &why) == 0) {
        if (p.nsp_len > WSP_SIO_NSP_MAX || p.attachments > WSP_SIO_ATTACH_MAX ||
            (p.data && (p.data < s || p.data + p.data_len != s + size)))
            abort();
        bool nsp_clean = p.nsp_len > 0 && p.nsp[0] == '/' && !memchr(p.nsp, ',', p.nsp_len) &&
                         !memchr(p.nsp, '\0', p.nsp_len);
        bool data_clean = !p.data || !memchr(p.data, '\0', p.data_len);
        if (p.attachments == 0 && nsp_clean && data_clean && p.type != WSP_SIO_BINARY_EVENT &&
            p.type != WSP_SIO_BINARY_ACK) {
            char nsp[WSP_SIO_NSP_MAX + 1], *d = malloc(p.data_len + 1), *out = malloc(size + 64);
            if (d && out) {
                memcpy(nsp, p.nsp, p.nsp_len);
                nsp[p.nsp_len] = '\0';
                if (p.data)
                    memcpy(d, p.data, p.data_len);
                d[p.data_len] = '\0';
                int n = wsp_sio_encode(out, size + 64, p.type, nsp, p.ack_id, p.data ? d : NULL);
                wsp_sio_packet q;
                if (n < 0 || wsp_sio_parse(out + 1, (size_t)n - 1, &q, &why) != 0 ||
                    q.type != p.type || q.ack_id != p.ack_id || q.nsp_len != p.nsp_len ||
                    memcmp(q.nsp, p.nsp, p.nsp_len) != 0 || q.data_len != p.data_len)
                    abort();
            }
            free(d);
            free(out);
        }
        char name[64];
        if (p.data)
            (void)wsp_sio_event_name(p.data, p.data_len, name, sizeof name);
    } else if (!why) {
        abort();
    }
    free(s);
    return 0;
}
