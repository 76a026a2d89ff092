/* sio.h - the packets of Engine.IO (v4, and v3 where it differs) and Socket.IO (protocol v5 of
 * Socket.IO v3/v4, and v4 of Socket.IO v2) over the websocket transport, for issue 17's
 * `--protocol socketio`. Pure: text in, fields out (pointing into the caller's buffer); no I/O.
 * Every function refuses what the protocol documents do not allow, with a static sentence.
 *
 * Engine.IO: one packet per WebSocket text message, its type the first character:
 *   0 open (JSON: sid, upgrades, pingInterval, pingTimeout, maxPayload), 1 close, 2 ping,
 *   3 pong, 4 message (the rest is the payload), 5 upgrade, 6 noop.
 *   v4: the server pings and the client answers; v3: the client pings ("2probe" aside).
 *   Binary messages: a WebSocket binary message is one (v4); v3 prefixes it with a 0x04 byte.
 *
 * Socket.IO, inside an Engine.IO message:
 *   TYPE [ATTACHMENTS '-'] [NAMESPACE ','] [ACK_ID] [JSON]
 *   TYPE 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT,
 *   6 BINARY_ACK; NAMESPACE starts with '/' ("/" itself is left out); ACK_ID is digits;
 *   EVENT's JSON is an array whose first element is the event's name (a string). */
#ifndef WSP_SIO_H
#define WSP_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSP_SIO_NSP_MAX 256     /* a namespace longer than this is refused */
#define WSP_SIO_SID_MAX 128     /* an Engine.IO session id */
#define WSP_SIO_ATTACH_MAX 1000 /* binary attachments announced by one packet */

typedef enum wsp_eio_type {
    WSP_EIO_OPEN = 0,
    WSP_EIO_CLOSE = 1,
    WSP_EIO_PING = 2,
    WSP_EIO_PONG = 3,
    WSP_EIO_MESSAGE = 4,
    WSP_EIO_UPGRADE = 5,
    WSP_EIO_NOOP = 6,
} wsp_eio_type;

/* The Engine.IO packet in a text message: its type and the rest (payload). 0, or -1 with
 * *why (an empty message, a first character that is not 0-6). */
int wsp_eio_parse(const char *text, size_t len, wsp_eio_type *type, const char **payload,
                  size_t *payload_len, const char **why);

typedef struct wsp_eio_open {
    char sid[WSP_SIO_SID_MAX + 1];
    uint64_t ping_interval_ms;
    uint64_t ping_timeout_ms;
    uint64_t max_payload;   /* 0: not given (v3 servers do not send it) */
    bool websocket_upgrade; /* "websocket" among "upgrades" */
} wsp_eio_open;

/* The open packet's JSON (after the '0'): sid a non-empty string of printable ASCII,
 * pingInterval and pingTimeout whole numbers of milliseconds within 1 ms .. 24 h (anything
 * else is absurd and refused, as is a missing one), maxPayload (optional) a whole number
 * 1 .. 2^53. 0, or -1 with *why naming the field. */
int wsp_eio_parse_open(const char *json, size_t len, wsp_eio_open *out, const char **why);

typedef enum wsp_sio_type {
    WSP_SIO_CONNECT = 0,
    WSP_SIO_DISCONNECT = 1,
    WSP_SIO_EVENT = 2,
    WSP_SIO_ACK = 3,
    WSP_SIO_CONNECT_ERROR = 4,
    WSP_SIO_BINARY_EVENT = 5,
    WSP_SIO_BINARY_ACK = 6,
} wsp_sio_type;

typedef struct wsp_sio_packet {
    wsp_sio_type type;
    unsigned attachments; /* BINARY_*: the binary messages that follow */
    const char *nsp;      /* "/" when left out; points into the input or a literal */
    size_t nsp_len;
    int64_t ack_id;   /* -1: none */
    const char *data; /* the JSON text, or NULL when there is none */
    size_t data_len;
} wsp_sio_packet;

/* A Socket.IO packet (an Engine.IO message's payload). The JSON is only located here, not
 * parsed: the caller parses it with its own caps. 0, or -1 with *why. */
int wsp_sio_parse(const char *s, size_t len, wsp_sio_packet *p, const char **why);

/* Write the Engine.IO message "4" + a Socket.IO packet into out (NUL-terminated): type, the
 * namespace when it is not "/", the ack id when >= 0, then json (may be NULL). Returns the
 * length, or -1 when it does not fit or the namespace is not one (no leading '/', holds ','). */
int wsp_sio_encode(char *out, size_t cap, wsp_sio_type type, const char *nsp, int64_t ack_id,
                   const char *json);

/* The event's name of an EVENT's JSON array text (its first element, a string), into name.
 * 0, or -1 when the data is not such an array or the name does not fit. */
int wsp_sio_event_name(const char *data, size_t len, char *name, size_t cap);

#endif
