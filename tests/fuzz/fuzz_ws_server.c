/* fuzz_ws_server.c - the server-role WebSocket parser (it reads frames a client sends) on
 * arbitrary bytes in arbitrary chunkings; see fuzz_ws.h for the input layout and the checks. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_ws_run(WSP_WS_ROLE_SERVER, data, size);
}
