/* rand.c - CSPRNG with a test hook.
 *
 * The bytes come from the kernel's CSPRNG (getrandom(2), blocking only until it is seeded at
 * boot), not OpenSSL's DRBG: a plaintext probe needs 16 random bytes for its key and 4 per
 * mask, and instantiating OpenSSL's DRBG (providers, cipher fetches) was 62 % of the
 * instructions of a whole `probe ws://` run. Masks are drawn 4 bytes at a time, once per frame;
 * each thread keeps a pool of 4 KiB and serves small requests from it (used once, wiped as it
 * is consumed), so a load generator makes one system call per thousand frames. */
#include "util/rand.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#define POOL 4096
#define SMALL 64

static wsp_rand_fn hook_fn;
static void *hook_ud;

static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_left; /* unused bytes at the end of pool */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A forked child (load's agents, serve's workers) must not serve the bytes its parent, or
 * its siblings, serve too: the pool of the thread that forked is dropped in the child. */
static void drop_pool(void)
{
    OPENSSL_cleanse(pool, sizeof pool);
    pool_left = 0;
}

static void register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, drop_pool);
}

static int direct(uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0); /* (a large request may come back in parts) */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
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
        pthread_once(&atfork_once, register_atfork);
        if (direct(pool, POOL) != 0)
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
