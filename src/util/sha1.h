/* sha1.h - SHA-1 (FIPS 180-4) for RFC 6455's Sec-WebSocket-Accept, and nothing else.
 *
 * The accept value proves that a server read the WebSocket handshake; it is not a security
 * property, and SHA-1's weaknesses do not touch it. OpenSSL 3.0 computes it only after
 * fetching a digest from its provider, which is 5.2 million instructions, more than half of a
 * whole `probe ws://` run (callgrind), for one 60-byte input: this is 80 lines and no
 * start-up. Everything that is security (TLS, JWT signatures, HMAC) stays OpenSSL's. */
#ifndef WSP_SHA1_H
#define WSP_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define WSP_SHA1_LEN 20

typedef struct wsp_sha1 {
    uint32_t h[5];
    uint64_t len;      /* bytes hashed so far */
    uint8_t block[64]; /* a partial block */
    size_t used;
} wsp_sha1;

void wsp_sha1_init(wsp_sha1 *s);
void wsp_sha1_update(wsp_sha1 *s, const void *data, size_t len);
void wsp_sha1_final(wsp_sha1 *s, uint8_t out[WSP_SHA1_LEN]);

#endif
