/* rand.c - CSPRNG with a test hook. */
#include "rand.h"

#include <openssl/rand.h>

static wsp_rand_fn hook_fn;
static void *hook_ud;

int wsp_rand_bytes(uint8_t *buf, size_t len)
{
    if (hook_fn)
        return hook_fn(hook_ud, buf, len);
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (RAND_bytes(buf, chunk) != 1)
            return -1;
        buf += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

void wsp_rand_set_hook(wsp_rand_fn fn, void *ud)
{
    hook_fn = fn;
    hook_ud = ud;
}
