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

#include "codec/utf8.h"

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
 * bits in the positions of the first byte (0x40, 0x20, 0x10). Returns the header length. The
 * length always takes the minimal encoding (RFC 6455 5.2). Nothing else is policed: opcode and
 * rsv are written as given (masked to their fields) and a payload_len of 2^63 or more is written
 * with its top bit, so probes can build the frames a peer must refuse. */
size_t wsp_ws_header_encode(uint8_t out[WSP_WS_HEADER_MAX], bool fin, unsigned opcode, unsigned rsv,
                            uint64_t payload_len, const uint8_t *mask);

/* XOR `len` bytes with the key, as if they started `offset` bytes into the payload. */
void wsp_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* Encode a whole frame (header and payload) into `out`. `masked` draws a fresh 4-byte key from
 * rand.h (RFC 6455 5.3: a new unpredictable key per frame). Returns the frame length, or -1 if
 * `cap` is too small or the generator failed. `payload` is copied (it may overlap `out`); RSV
 * bits are 0. Like the header encoder it does not refuse a control frame over 125 bytes. */
long wsp_ws_frame_encode(uint8_t *out, size_t cap, bool fin, unsigned opcode, const void *payload,
                         size_t len, bool masked);

/* Build a close payload: 2-byte code in network order then the reason, cut to fit 125 bytes on
 * a UTF-8 boundary. `code` 0 gives an empty payload. Returns the payload length. `reason` is
 * borrowed, may be NULL, and is copied as it is: it is not validated, only never cut inside a
 * sequence. */
size_t wsp_ws_close_payload(uint8_t out[WSP_WS_CONTROL_MAX], unsigned code, const char *reason);

/* Whether a close code may appear on the wire (RFC 6455 7.4.1 and 7.4.2): 1000-1003, 1007-1011,
 * 1012-1014 (IANA registered), 3000-4999. */
bool wsp_ws_close_code_valid(unsigned code);

/* What a close code most often means for a client, as a hint that names the fix (RFC 6455
 * 7.4.1, the IANA registry, and the common conventions of 4000-4999). Never NULL. */
const char *wsp_ws_close_hint(int code);

/* Parse a list of close codes "CODE[,CODE...]" (--expect-close): each one a code that may be
 * on the wire (wsp_ws_close_code_valid) or 1005 (a close frame without a status). Returns the
 * number of codes (1 to cap), or -1 with `why` set to a sentence for the user. */
int wsp_ws_close_codes_parse(const char *s, int *out, size_t cap, const char **why);

/* ---- parsing ---- */

typedef enum wsp_ws_role {
    WSP_WS_ROLE_CLIENT, /* parses server frames: must be unmasked */
    WSP_WS_ROLE_SERVER, /* parses client frames: must be masked */
} wsp_ws_role;

/* A limit of 0 (or a NULL limits pointer) means WSP_WS_DEFAULT_MAX. Both apply to the declared
 * lengths in frame headers, so a frame that would break one is refused before any of its payload
 * is read. max_frame applies to control frames too (they are never over 125 bytes anyway). */
typedef struct wsp_ws_limits {
    uint64_t max_frame;   /* declared payload length above which a frame is refused (1009) */
    uint64_t max_message; /* reassembled message size above which it is refused (1009) */
    unsigned allowed_rsv; /* RSV bits an extension negotiated (0x40 for permessage-deflate) */
} wsp_ws_limits;

#define WSP_WS_DEFAULT_MAX (16u << 20) /* 16 MiB */
/* Reassembly buffer kept between messages; a larger one is freed once its message has been
 * handed out, so an idle connection holds at most this much beside the parser itself. */
#define WSP_WS_BUFFER_KEEP 4096

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
    /* message, ping/pong payload, or close reason; valid until the next call. Never NULL for
     * a data or control event. May point into the caller's `in` (an unmasked, unfragmented frame
     * that arrived whole is not copied), so keep `in` alive until the next call too. */
    const uint8_t *data;
    size_t len;
    /* first frame had RSV1 (only when allowed_rsv has it). A compressed text message is not
     * UTF-8 checked here: its bytes are deflate data; check after inflating. */
    bool compressed;
    unsigned frames;           /* frames that made up this message */
    int close_code;            /* EV_CLOSE: the code, or -1 when the payload was empty */
    unsigned error_close_code; /* EV_ERROR: the code to close with (1002, 1007, 1009, 1011) */
    const char *error;         /* EV_ERROR: static text naming what was wrong */
} wsp_ws_event;

/* The error texts (EV_ERROR `error`), so callers and tests can compare by pointer or text. Each
 * names the rule it enforces. */
extern const char WSP_WS_ERR_RSV[];                /* RSV bit no extension negotiated: 1002 */
extern const char WSP_WS_ERR_RSV1_PLACEMENT[];     /* RSV1 on control/continuation: 1002 */
extern const char WSP_WS_ERR_OPCODE[];             /* opcode 3-7 or B-F: 1002 */
extern const char WSP_WS_ERR_CONTROL_FRAGMENTED[]; /* control frame with FIN=0: 1002 */
extern const char WSP_WS_ERR_CONTROL_TOO_LONG[];   /* control payload over 125: 1002 */
extern const char WSP_WS_ERR_UNEXPECTED_CONT[];    /* continuation without a message: 1002 */
extern const char WSP_WS_ERR_EXPECTED_CONT[];      /* data frame mid-message: 1002 */
extern const char WSP_WS_ERR_MASKED[];             /* client role, masked server frame: 1002 */
extern const char WSP_WS_ERR_UNMASKED[];           /* server role, unmasked client frame: 1002 */
extern const char WSP_WS_ERR_LENGTH_TOP_BIT[];     /* 64-bit length >= 2^63: 1002 */
extern const char WSP_WS_ERR_LENGTH_NOT_MINIMAL[]; /* longer form than needed: 1002 */
extern const char WSP_WS_ERR_FRAME_TOO_BIG[];      /* declared length > max_frame: 1009 */
extern const char WSP_WS_ERR_MESSAGE_TOO_BIG[];    /* message would pass max_message: 1009 */
extern const char WSP_WS_ERR_TEXT_UTF8[];          /* text message not UTF-8: 1007 */
extern const char WSP_WS_ERR_CLOSE_ONE_BYTE[];     /* close payload of 1 byte: 1002 */
extern const char WSP_WS_ERR_CLOSE_CODE[];         /* close code not allowed on the wire: 1002 */
extern const char WSP_WS_ERR_CLOSE_UTF8[];         /* close reason not UTF-8: 1007 */
extern const char WSP_WS_ERR_AFTER_CLOSE[];        /* a byte after a close frame: 1002 */
extern const char WSP_WS_ERR_NO_MEMORY[];          /* our allocation failed: 1011 */

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
    bool closed; /* a close frame was parsed; any further byte is an error */
    /* Counters the caller may read (rate limits, idle timers); never reset by the parser. */
    uint64_t frames;     /* frames whose header was complete, every kind */
    uint64_t data_bytes; /* payload bytes of data frames (text, binary, continuation) */
    bool delivered;      /* the last event handed out `msg`; reset and trim at the next call */
    /* Called with each frame's header once it is complete and valid (--trace); NULL: none. */
    void (*on_frame)(void *ud, bool fin, unsigned opcode, unsigned rsv, bool masked, uint64_t len);
    void *on_frame_ud;
    const char *error; /* when dead: the event to repeat */
    unsigned error_code;
} wsp_ws_parser;

/* Caller-owned storage; cleanup frees the reassembly buffer. `limits` is copied (NULL: the
 * defaults, no RSV bits). The parser allocates nothing until a message needs reassembly. */
void wsp_ws_parser_init(wsp_ws_parser *p, wsp_ws_role role, const wsp_ws_limits *limits);
void wsp_ws_parser_cleanup(wsp_ws_parser *p);

/* Consume bytes from `in` until one event is ready or the input ends. Returns the number of
 * bytes consumed and sets `*ev` (EV_NONE when the input ran out first). Call again with the rest
 * of the input after handling an event. Event data stay valid until the next call. On EV_ERROR
 * the parser is dead and every later call returns EV_ERROR again. The reassembly buffer grows
 * only up to limits.max_message, and a frame whose declared length breaks a limit is refused
 * before any of its payload is buffered. `in` is borrowed and never read past `in + len`.
 *
 * Callers loop until EV_NONE: the call after a message was handed out is the one that frees a
 * reassembly buffer larger than WSP_WS_BUFFER_KEEP. The events are the same however the input
 * is split across calls; only where zero-copy applies differs.
 *
 * Stricter than the bare minimum, on purpose: a length not in its minimal encoding is a
 * protocol error (RFC 6455 5.2 says "MUST"; a verification tool reports a peer that breaks a
 * MUST rather than absorb it, and one encoding per length leaves no ambiguity); any byte after
 * a close frame is a protocol error (5.5.1: nothing follows a close); with permessage-deflate,
 * RSV1 on a control or continuation frame is a protocol error (RFC 7692 6.1). UTF-8 is checked
 * as each payload byte arrives, so a bad byte fails at once, even mid-frame. If the reassembly
 * buffer cannot be allocated the event is EV_ERROR with WSP_WS_ERR_NO_MEMORY and 1011. */
size_t wsp_ws_parse(wsp_ws_parser *p, const uint8_t *in, size_t len, wsp_ws_event *ev);

#endif
