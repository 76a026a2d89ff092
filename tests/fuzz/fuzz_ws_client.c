/* fuzz_ws_client.c - the client-role WebSocket parser (it reads frames a server sends) on
 * arbitrary bytes in arbitrary chunkings; see fuzz_ws.h for the input layout and the checks. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_ws_run(WSP_WS_ROLE_CLIENT, data, size);
}
