/* fuzz_http_response.c - the client's response parser (peer input) and, on every head it
 * accepts, the handshake verdict; see fuzz_http.h for the checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_http.h"
#include "codec/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse_response(const char *buf, size_t len, wsp_http_header *h, size_t cap,
                          size_t *count, const char **why, void *ud)
{
    (void)ud;
    wsp_http_response res;
    res.headers = h;
    res.num_headers = cap;
    int r = wsp_http_parse_response(buf, len, &res, why);
    *count = res.num_headers;
    if (r <= 0)
        return r;
    if (res.status < 100 || res.status > 999 || res.minor_version < 0 || res.minor_version > 9)
        abort();
    /* the verdict on every accepted head, against the RFC 6455 example request */
    wsp_hs_request req;
    memset(&req, 0, sizeof req);
    req.host_header = "server.example.com";
    req.target = "/chat";
    req.key = "dGhlIHNhbXBsZSBub25jZQ==";
    req.subprotocols = "chat, superchat";
    req.extensions = "permessage-deflate; client_max_window_bits, x-test";
    wsp_hs_result out;
    wsp_err e;
    wsp_err_clear(&e);
    wsp_class cls = wsp_hs_check_response(&res, &req, &out, &e);
    if ((cls == WSP_CLASS_OK) != (res.status == 101 && e.msg[0] == '\0'))
        abort();
    if (cls != WSP_CLASS_OK && (e.cls != cls || e.msg[0] == '\0'))
        abort();
    if (cls == WSP_CLASS_OK && out.subprotocol &&
        (out.subprotocol < buf || out.subprotocol + out.subprotocol_len > buf + r))
        abort();
    /* what follows the head is a refusal's body: the hint it may sharpen (wss://) reads it
     * without a terminator, and the message stays a message */
    if (cls != WSP_CLASS_OK)
        wsp_hs_refine_refusal(&e, res.status, buf + r, len - (size_t)r);
    for (const char *m = e.msg; *m; m++) /* messages stay printable ASCII */
        if ((unsigned char)*m < 0x20 || (unsigned char)*m > 0x7e)
            abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_http_run(parse_response, data, size, NULL);
    return 0;
}
