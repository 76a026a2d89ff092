/* fuzz_proxy.c - the proxy codec on arbitrary bytes. The first byte picks the chunk size the
 * SOCKS5 client is fed with (a reply split anywhere must be judged the same); the rest is a
 * proxy's answer, taken three ways: as SOCKS5 replies (with and without credentials), as the
 * head of an answer to CONNECT (parsed and judged), and as text for wsp_proxy_parse and
 * wsp_noproxy_match. Checks: a SOCKS5 verdict never depends on the chunking; a failure has a
 * proxy class and a message; consumption never passes what was given; no credential ever
 * appears in a message. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_socks(const wsp_proxy *p, const uint8_t *d, size_t n, size_t chunk, wsp_err *e)
{
    wsp_socks5 s;
    uint8_t out[WSP_SOCKS5_OUT_MAX];
    size_t ol;
    if (wsp_socks5_begin(&s, p, "svc.example", 443, out, &ol, e) != 0)
        abort();
    size_t off = 0;
    while (off < n) {
        size_t avail = n - off < chunk ? n - off : chunk, used;
        int r = wsp_socks5_feed(&s, d + off, avail, &used, out, &ol, e);
        if (used > avail || ol > WSP_SOCKS5_OUT_MAX)
            abort();
        off += used;
        if (r != 0) {
            if (r < 0 && (e->msg[0] == '\0' ||
                          (e->cls != WSP_CLASS_PROXY_AUTH && e->cls != WSP_CLASS_PROXY_PROTOCOL &&
                           e->cls != WSP_CLASS_PROXY_TUNNEL_FAILED)))
                abort();
            return r;
        }
        if (used == 0 && ol == 0)
            abort(); /* no progress */
    }
    return 0;
}

/* The password may reach a message only by the peer's own bytes (the report's redactor
 * takes it out there); never from the proxy's configuration. */
static const uint8_t *input;
static size_t input_len;

static void check_secret(const wsp_err *e)
{
    if ((strstr(e->msg, "Sekr3tPass") || strstr(e->hint, "Sekr3tPass")) &&
        !memmem(input, input_len, "Sekr3tPass", 10))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    input = data;
    input_len = size;
    size_t chunk = (size_t)(data[0] % 16) + 1;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    wsp_proxy plain, cred;
    wsp_err e;
    if (wsp_proxy_parse("socks5h://127.0.0.1:1080", "fuzz", false, &plain, &e) != 0 ||
        wsp_proxy_parse("socks5://user:Sekr3tPass@127.0.0.1:1080", "fuzz", true, &cred, &e) != 0)
        abort();
    for (int k = 0; k < 2; k++) {
        const wsp_proxy *p = k ? &cred : &plain;
        wsp_err e1, e2;
        int r1 = run_socks(p, d, n, chunk, &e1);
        int r2 = run_socks(p, d, n, 1, &e2);
        if (r1 != r2 || (r1 < 0 && (e1.cls != e2.cls || strcmp(e1.msg, e2.msg) != 0)))
            abort();
        if (r1 < 0)
            check_secret(&e1);
    }
    /* the answer to CONNECT */
    wsp_http_header h[WSP_HTTP_HEADERS_MAX];
    wsp_http_response res = {.headers = h, .num_headers = WSP_HTTP_HEADERS_MAX};
    int hl = wsp_http_parse_response((const char *)d, n, &res, NULL);
    if (hl > 0) {
        wsp_err_clear(&e);
        int r = wsp_proxy_connect_judge(&cred, &res, "svc.example:443", &e);
        if ((r == 0) != (res.status >= 200 && res.status <= 299))
            abort();
        if (r < 0 && e.cls != WSP_CLASS_PROXY_AUTH && e.cls != WSP_CLASS_PROXY_TUNNEL_FAILED)
            abort();
        check_secret(&e);
    }
    /* as text: a proxy URL and a no_proxy list */
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, d, n);
    s[n] = '\0';
    wsp_proxy p;
    if (wsp_proxy_parse(s, "fuzz", true, &p, &e) == 0) {
        if (p.port == 0 || !p.host[0] || p.kind == WSP_PROXY_NONE || strchr(p.shown, '@'))
            abort();
        char req[1200];
        if (wsp_proxy_connect_request(req, sizeof req, &p, "svc.example", 443) < 0)
            abort();
    } else if (e.cls != WSP_CLASS_USAGE || e.msg[0] == '\0') {
        abort();
    }
    wsp_url u;
    if (wsp_url_parse("ws://api.svc.example:8080/", &u, 0, &e) == 0) {
        char entry[64];
        (void)wsp_noproxy_match(s, &u, entry, sizeof entry);
    }
    free(s);
    return 0;
}
