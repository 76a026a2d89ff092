/* ws.h - RFC 6455 section 5 framing: an encoder and an incremental, zero-copy-where-possible
 * message parser for both roles. Pure: no sockets or clock; masks come from rand.h.
 *
 * The parser is a state machine in the manner of wslay (HEADER -> EXTENDED LENGTH -> MASK KEY ->
 * PAYLOAD) that turns bytes into events: a complete message (fragments reassembled and, for text,
 * UTF-8 validated as they arrive), a ping, a pong, a close, or an error that names the RFC rule
 * broken and the close code to answer with. Control frames may arrive between the fragments of
 * a message (RFC 6455 5.4).
 */
#ifndef WSP_WS_H
#define WSP_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

typedef enum wsp_ws_opcode {
    WSP_WS_OP_CONT = 0x0,
    WSP_WS_OP_TEXT = 0x1,
    WSP_WS_OP_BINARY = 0x2,
    WSP_WS_OP_CLOSE = 0x8,
    WSP_WS_OP_PING = 0x9,
    WSP_WS_OP_PONG = 0xA,
} wsp_ws_opcode;

/* Close codes used by name (RFC 6455 7.4.1). */
#define WSP_WS_CLOSE_NORMAL 1000
#define WSP_WS_CLOSE_GOING_AWAY 1001
#define WSP_WS_CLOSE_PROTOCOL 1002
#define WSP_WS_CLOSE_UNSUPPORTED 1003
#define WSP_WS_CLOSE_NO_STATUS 1005
#define WSP_WS_CLOSE_ABNORMAL 1006
#define WSP_WS_CLOSE_BAD_DATA 1007
#define WSP_WS_CLOSE_POLICY 1008
#define WSP_WS_CLOSE_TOO_BIG 1009
#define WSP_WS_CLOSE_INTERNAL 1011
#define WSP_WS_CLOSE_TRY_AGAIN 1013

#define WSP_WS_HEADER_MAX 14 /* 2 + 8 extended length + 4 mask */
#define WSP_WS_CONTROL_MAX 125

/* ---- encoding ---- */

/* Write a frame header. `mask` NULL means unmasked (server to client); otherwise the 4 key
 * bytes are written and the caller masks the payload with wsp_ws_mask. `rsv` is the three RSV
 * bits in the positions of the first byte (0x40, 0x20, 0x10). Returns the header length. */
size_t wsp_ws_header_encode(uint8_t out[WSP_WS_HEADER_MAX], bool fin, unsigned opcode, unsigned rsv,
                            uint64_t payload_len, const uint8_t *mask);

/* XOR `len` bytes with the key, as if they started `offset` bytes into the payload. */
void wsp_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* Encode a whole frame (header and payload) into `out`. `masked` draws a fresh 4-byte key from
 * rand.h (RFC 6455 5.3: a new unpredictable key per frame). Returns the frame length, or -1 if
 * `cap` is too small or the generator failed. */
long wsp_ws_frame_encode(uint8_t *out, size_t cap, bool fin, unsigned opcode, const void *payload,
                         size_t len, bool masked);

/* Build a close payload: 2-byte code in network order then the reason, cut to fit 125 bytes on
 * a UTF-8 boundary. `code` 0 gives an empty payload. Returns the payload length. */
size_t wsp_ws_close_payload(uint8_t out[WSP_WS_CONTROL_MAX], unsigned code, const char *reason);

/* Whether a close code may appear on the wire (RFC 6455 7.4.1 and 7.4.2): 1000-1003, 1007-1011,
 * 1012-1014 (IANA registered), 3000-4999. */
bool wsp_ws_close_code_valid(unsigned code);

/* ---- parsing ---- */

typedef enum wsp_ws_role {
    WSP_WS_ROLE_CLIENT, /* parses server frames: must be unmasked */
    WSP_WS_ROLE_SERVER, /* parses client frames: must be masked */
} wsp_ws_role;

typedef struct wsp_ws_limits {
    uint64_t max_frame;   /* declared payload length above which a frame is refused (1009) */
    uint64_t max_message; /* reassembled message size above which it is refused (1009) */
    unsigned allowed_rsv; /* RSV bits an extension negotiated (0x40 for permessage-deflate) */
} wsp_ws_limits;

typedef enum wsp_ws_event_type {
    WSP_WS_EV_NONE,   /* need more bytes */
    WSP_WS_EV_TEXT,   /* a complete, UTF-8-valid text message */
    WSP_WS_EV_BINARY, /* a complete binary message */
    WSP_WS_EV_PING,
    WSP_WS_EV_PONG,
    WSP_WS_EV_CLOSE,
    WSP_WS_EV_ERROR, /* the peer broke the protocol or a limit; the parser is now dead */
} wsp_ws_event_type;

typedef struct wsp_ws_event {
    wsp_ws_event_type type;
    const uint8_t *data; /* message, ping/pong payload, or close reason; valid until next call */
    size_t len;
    bool compressed;   /* first frame had RSV1 (only when allowed_rsv has it) */
    unsigned frames;   /* frames that made up this message */
    int close_code;    /* EV_CLOSE: the code, or -1 when the payload was empty */
    unsigned error_close_code; /* EV_ERROR: the code to close with (1002, 1007, 1009) */
    const char *error; /* EV_ERROR: static text naming what was wrong */
} wsp_ws_event;

/* Private state; visible so connections can embed it without an allocation. */
typedef struct wsp_ws_parser {
    wsp_ws_role role;
    wsp_ws_limits limits;
    int state;
    uint8_t hdr[WSP_WS_HEADER_MAX];
    size_t hdr_have;
    size_t hdr_need;
    bool fin;
    unsigned opcode;
    unsigned rsv;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    uint64_t payload_have;
    /* the message being reassembled */
    bool in_message;
    unsigned msg_opcode;
    bool msg_compressed;
    unsigned msg_frames;
    uint8_t *msg;
    size_t msg_len;
    size_t msg_cap;
    wsp_utf8 utf8;
    /* a control frame being collected */
    uint8_t ctl[WSP_WS_CONTROL_MAX];
    size_t ctl_len;
    bool dead;
} wsp_ws_parser;

/* Caller-owned storage; cleanup frees the reassembly buffer. */
void wsp_ws_parser_init(wsp_ws_parser *p, wsp_ws_role role, const wsp_ws_limits *limits);
void wsp_ws_parser_cleanup(wsp_ws_parser *p);

/* Consume bytes from `in` until one event is ready or the input ends. Returns the number of
 * bytes consumed and sets `*ev` (EV_NONE when the input ran out first). Call again with the rest
 * of the input after handling an event. Event data stay valid until the next call. On EV_ERROR
 * the parser is dead and every later call returns EV_ERROR again. The reassembly buffer grows
 * only up to limits.max_message, and a frame whose declared length breaks a limit is refused
 * before any of its payload is buffered. */
size_t wsp_ws_parse(wsp_ws_parser *p, const uint8_t *in, size_t len, wsp_ws_event *ev);

#endif
