/* fuzz_url.c - wsp_url_parse on arbitrary text, with and without WSP_URL_ALLOW_HTTP. Checks:
 * a refusal is URL_INVALID with a message; an accepted URL has a host, a port, a target that
 * starts with '/', and parses again to the same result when written back as
 * scheme://Host-header/target. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, unsigned flags)
{
    wsp_url u;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_url_parse(s, &u, flags, &e) != 0) {
        if (e.cls != WSP_CLASS_URL_INVALID || e.msg[0] == '\0')
            abort();
        return;
    }
    size_t hl = strlen(u.host), tl = strlen(u.target);
    if (hl == 0 || hl > WSP_URL_HOST_MAX || u.port == 0 || u.target[0] != '/' ||
        tl > WSP_URL_TARGET_MAX)
        abort();
    if (!(flags & WSP_URL_ALLOW_HTTP) && u.scheme != WSP_URL_WS && u.scheme != WSP_URL_WSS)
        abort();
    if (u.tls != (u.scheme == WSP_URL_WSS || u.scheme == WSP_URL_HTTPS))
        abort();
    for (size_t i = 0; i < hl; i++)
        if (u.host[i] >= 'A' && u.host[i] <= 'Z')
            abort();
    char hh[WSP_URL_HOST_MAX + 16];
    if (wsp_url_host_header(&u, hh, sizeof hh) < 0)
        abort();
    static char again[WSP_URL_HOST_MAX + WSP_URL_TARGET_MAX + 32];
    snprintf(again, sizeof again, "%s://%s%s", wsp_url_scheme_name(u.scheme), hh, u.target);
    wsp_url v;
    if (wsp_url_parse(again, &v, flags, NULL) != 0)
        abort();
    if (v.scheme != u.scheme || strcmp(v.host, u.host) != 0 || v.port != u.port ||
        v.host_is_ip != u.host_is_ip || v.host_is_ipv6 != u.host_is_ipv6 ||
        strcmp(v.target, u.target) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1); /* exact size plus the NUL: ASan sees any read past it */
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check(s, 0);
    check(s, WSP_URL_ALLOW_HTTP);
    free(s);
    return 0;
}
