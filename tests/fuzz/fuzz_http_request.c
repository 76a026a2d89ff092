/* fuzz_http_request.c - the server's request parser (peer input); see fuzz_http.h. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse_request(const char *buf, size_t len, wsp_http_header *h, size_t cap, size_t *count,
                         const char **why, void *ud)
{
    (void)ud;
    wsp_http_request req;
    req.headers = h;
    req.num_headers = cap;
    int r = wsp_http_parse_request(buf, len, &req, why);
    *count = req.num_headers;
    if (r > 0 &&
        (req.method_len == 0 || req.target_len == 0 || req.method != buf ||
         req.target + req.target_len > buf + r || req.minor_version < 0 || req.minor_version > 9))
        abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_http_run(parse_request, data, size, NULL);
    return 0;
}
