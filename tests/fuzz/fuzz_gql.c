/* fuzz_gql.c - GraphQL over WebSocket messages (codec/gql.h) on arbitrary bytes. Checks: a
 * refusal has a reason and leaves no payload; an accepted message's id fits its cap and is
 * present exactly when its type takes one; an error's payload is a non-empty list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/gql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wsp_gql_msg m;
    const char *why = NULL;
    if (wsp_gql_parse((const char *)data, size, &m, &why) != 0) {
        if (!why || m.payload)
            abort();
        return 0;
    }
    bool takes_id = m.type == WSP_GQL_SUBSCRIBE || m.type == WSP_GQL_NEXT ||
                    m.type == WSP_GQL_ERROR || m.type == WSP_GQL_COMPLETE;
    if (strlen(m.id) > WSP_GQL_ID_MAX || (takes_id != (m.id[0] != '\0')))
        abort();
    if (m.type == WSP_GQL_ERROR && (!json_is_array(m.payload) || !json_array_size(m.payload)))
        abort();
    (void)wsp_gql_type_name(m.type);
    json_decref(m.payload);
    return 0;
}
