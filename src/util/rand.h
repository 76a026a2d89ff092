/* rand.h - the one source of randomness (masks, keys, jti). Defaults to the kernel's CSPRNG;
 * tests install a deterministic hook so masks and keys can be checked byte for byte. */
#ifndef WSP_RAND_H
#define WSP_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Fill `buf` with `len` random bytes. Returns 0, or -1 if the generator failed. */
typedef int (*wsp_rand_fn)(void *ud, uint8_t *buf, size_t len);

/* Fill from the installed generator (getrandom(2) unless a hook is set). */
int wsp_rand_bytes(uint8_t *buf, size_t len);
/* Install a hook (NULL restores the CSPRNG). Process-wide; for tests only. */
void wsp_rand_set_hook(wsp_rand_fn fn, void *ud);

#endif
