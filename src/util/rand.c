/* rand.c - CSPRNG with a test hook.
 *
 * Masks are drawn 4 bytes at a time, once per frame; one RAND_bytes call each cost a load
 * generator 7-11 % of its CPU. Each thread keeps a pool of 4 KiB from RAND_bytes and serves
 * small requests from it (the bytes are the DRBG's output either way, used once, and the pool
 * is wiped as it is consumed). Large requests go to RAND_bytes directly. */
#include "util/rand.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define POOL 4096
#define SMALL 64

static wsp_rand_fn hook_fn;
static void *hook_ud;

static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_left; /* unused bytes at the end of pool */

static int direct(uint8_t *buf, size_t len)
{
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (RAND_bytes(buf, chunk) != 1)
            return -1;
        buf += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

int wsp_rand_bytes(uint8_t *buf, size_t len)
{
    if (hook_fn)
        return hook_fn(hook_ud, buf, len);
    if (len > SMALL)
        return direct(buf, len);
    if (pool_left < len) {
        if (RAND_bytes(pool, POOL) != 1)
            return -1;
        pool_left = POOL;
    }
    unsigned char *from = pool + (POOL - pool_left);
    memcpy(buf, from, len);
    OPENSSL_cleanse(from, len);
    pool_left -= len;
    return 0;
}

void wsp_rand_set_hook(wsp_rand_fn fn, void *ud)
{
    hook_fn = fn;
    hook_ud = ud;
}
