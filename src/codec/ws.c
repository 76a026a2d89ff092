/* ws.c - see ws.h. */
#include "codec/ws.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/rand.h"

#define FLAG_FIN 0x80
#define FLAG_MASK 0x80
#define RSV_BITS 0x70
#define RSV1 0x40
#define LEN_16 126
#define LEN_64 127

enum { ST_HEADER, ST_PAYLOAD };

const char WSP_WS_ERR_RSV[] = "RSV bit set that no negotiated extension defines (RFC 6455 5.2)";
const char WSP_WS_ERR_RSV1_PLACEMENT[] =
    "RSV1 on a control frame or a continuation frame (RFC 7692 6.1)";
const char WSP_WS_ERR_OPCODE[] = "reserved opcode (RFC 6455 5.2)";
const char WSP_WS_ERR_CONTROL_FRAGMENTED[] = "fragmented control frame (RFC 6455 5.5)";
const char WSP_WS_ERR_CONTROL_TOO_LONG[] = "control frame payload over 125 bytes (RFC 6455 5.5)";
const char WSP_WS_ERR_UNEXPECTED_CONT[] =
    "continuation frame without a message in progress (RFC 6455 5.4)";
const char WSP_WS_ERR_EXPECTED_CONT[] =
    "new data frame while a fragmented message is in progress (RFC 6455 5.4)";
const char WSP_WS_ERR_MASKED[] = "masked frame from the server (RFC 6455 5.1)";
const char WSP_WS_ERR_UNMASKED[] = "unmasked frame from the client (RFC 6455 5.1)";
const char WSP_WS_ERR_LENGTH_TOP_BIT[] =
    "64-bit payload length with the most significant bit set (RFC 6455 5.2)";
const char WSP_WS_ERR_LENGTH_NOT_MINIMAL[] =
    "payload length not in its minimal encoding (RFC 6455 5.2)";
const char WSP_WS_ERR_FRAME_TOO_BIG[] = "frame payload longer than the frame limit";
const char WSP_WS_ERR_MESSAGE_TOO_BIG[] = "message longer than the message limit";
const char WSP_WS_ERR_TEXT_UTF8[] = "text message is not valid UTF-8 (RFC 6455 8.1)";
const char WSP_WS_ERR_CLOSE_ONE_BYTE[] = "close frame with a 1-byte payload (RFC 6455 5.5.1)";
const char WSP_WS_ERR_CLOSE_CODE[] = "close code not allowed on the wire (RFC 6455 7.4)";
const char WSP_WS_ERR_CLOSE_UTF8[] = "close reason is not valid UTF-8 (RFC 6455 5.5.1)";
const char WSP_WS_ERR_AFTER_CLOSE[] = "data after a close frame (RFC 6455 5.5.1)";
const char WSP_WS_ERR_NO_MEMORY[] = "out of memory for the reassembly buffer";

static const uint8_t empty_payload[1];

/* ---- encoding ---- */

size_t wsp_ws_header_encode(uint8_t out[WSP_WS_HEADER_MAX], bool fin, unsigned opcode, unsigned rsv,
                            uint64_t payload_len, const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? FLAG_FIN : 0) | (rsv & RSV_BITS) | (opcode & 0x0F));
    uint8_t mbit = mask ? FLAG_MASK : 0;
    /* RFC 6455 5.2: 0-125 in 7 bits, up to 65535 in 16 bits, else 64 bits; minimal always. */
    if (payload_len <= WSP_WS_CONTROL_MAX) {
        out[n++] = (uint8_t)(mbit | payload_len);
    } else if (payload_len <= 0xFFFF) {
        out[n++] = mbit | LEN_16;
        out[n++] = (uint8_t)(payload_len >> 8);
        out[n++] = (uint8_t)payload_len;
    } else {
        out[n++] = mbit | LEN_64;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[n++] = (uint8_t)(payload_len >> shift);
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void wsp_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    /* RFC 6455 5.3: octet i of the payload is XORed with key octet i MOD 4. */
    uint8_t key[8];
    for (size_t i = 0; i < 8; i++)
        key[i] = mask[(offset + i) & 3];
    size_t i = 0;
    if (len >= 8) {
        uint64_t k;
        memcpy(&k, key, 8);
        for (; len - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, data + i, 8);
            w ^= k;
            memcpy(data + i, &w, 8);
        }
    }
    for (; i < len; i++)
        data[i] ^= key[i & 7];
}

long wsp_ws_frame_encode(uint8_t *out, size_t cap, bool fin, unsigned opcode, const void *payload,
                         size_t len, bool masked)
{
    uint8_t key[4];
    uint8_t hdr[WSP_WS_HEADER_MAX];
    if (masked && wsp_rand_bytes(key, sizeof key) != 0)
        return -1;
    size_t hlen = wsp_ws_header_encode(hdr, fin, opcode, 0, len, masked ? key : NULL);
    if (cap < hlen || len > cap - hlen || hlen + len > (size_t)LONG_MAX)
        return -1;
    if (len > 0)
        memmove(out + hlen, payload, len); /* first: payload may sit where the header goes */
    memcpy(out, hdr, hlen);
    if (masked)
        wsp_ws_mask(out + hlen, len, key, 0);
    return (long)(hlen + len);
}

const char *wsp_ws_close_hint(int code)
{
    switch (code) {
    case WSP_WS_CLOSE_NORMAL:
    case WSP_WS_CLOSE_GOING_AWAY:
        return "the server ended the connection normally, but before the conversation was "
               "over: it may close idle or unauthenticated clients, or be shutting down";
    case WSP_WS_CLOSE_PROTOCOL:
        return "the server saw a protocol error: many servers close 1002 when a required "
               "subprotocol was not offered (--subprotocol NAME); otherwise check the server's "
               "log for what it rejected";
    case WSP_WS_CLOSE_UNSUPPORTED:
        return "the server does not accept this kind of message (text vs binary): send what it "
               "expects";
    case WSP_WS_CLOSE_NO_STATUS:
        return "the server closed without a status code: check its log for why it ended the "
               "connection; if the close is expected, say --expect-close 1005";
    case WSP_WS_CLOSE_BAD_DATA:
        return "the server refused a message's content (1007: invalid data, e.g. not UTF-8 "
               "or not the format it expects)";
    case WSP_WS_CLOSE_POLICY:
        return "the server's policy refused this client (1008): check the credentials, the "
               "Origin and any rate limit";
    case WSP_WS_CLOSE_TOO_BIG:
        return "a message was larger than the server's size limit (1009): send smaller "
               "messages, or raise the server's limit";
    case 1010:
        return "the server wanted an extension this client did not negotiate (1010)";
    case WSP_WS_CLOSE_INTERNAL:
        return "the server hit an internal error (1011): its log says what failed";
    case 1012:
    case WSP_WS_CLOSE_TRY_AGAIN:
        return "the server is restarting or overloaded (1012/1013): retry later, or gate the "
               "deploy with `wsprobe wait`";
    case 1014:
        return "a gateway in front of the server got a bad response from it (1014)";
    default:
        break;
    }
    if (code >= 4000 && code <= 4999)
        return "an application-defined close (4000-4999; 4001-4003 usually mean unauthorized "
               "or forbidden): the server's documentation says what it means; if it is "
               "expected, say --expect-close CODE";
    return "the server ended the connection with this code: if the close is expected, say "
           "--expect-close CODE";
}

int wsp_ws_close_codes_parse(const char *s, int *out, size_t cap, const char **why)
{
    size_t n = 0;
    const char *p = s;
    *why = NULL;
    for (;;) {
        unsigned v = 0;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 5) {
            v = v * 10 + (unsigned)(*p++ - '0');
            digits++;
        }
        if (digits == 0 || (*p != ',' && *p != '\0')) {
            *why = "expected close codes like 1000 or 4001,4003";
            return -1;
        }
        if (v == WSP_WS_CLOSE_ABNORMAL) {
            *why = "1006 is never in a close frame: a connection that ends without one is "
                   "WS_DROPPED";
            return -1;
        }
        if (v != WSP_WS_CLOSE_NO_STATUS && !wsp_ws_close_code_valid(v)) {
            *why = "not a close code a server may send (RFC 6455 7.4: 1000-1003, 1007-1014, "
                   "3000-4999; 1005 for a close without a status)";
            return -1;
        }
        if (n == cap) {
            *why = "too many close codes";
            return -1;
        }
        out[n++] = (int)v;
        if (*p == '\0')
            return (int)n;
        p++;
    }
}

size_t wsp_ws_close_payload(uint8_t out[WSP_WS_CONTROL_MAX], unsigned code, const char *reason)
{
    if (code == 0)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason ? strlen(reason) : 0;
    if (n > WSP_WS_CONTROL_MAX - 2) {
        n = WSP_WS_CONTROL_MAX - 2;
        /* reason[n] exists and is the first byte left out: back up while it continues the
         * sequence before it, so the cut lands on a code point boundary. */
        while (n > 0 && ((uint8_t)reason[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(out + 2, reason, n);
    return 2 + n;
}

bool wsp_ws_close_code_valid(unsigned code)
{
    /* RFC 6455 7.4.1/7.4.2: 1004 is reserved; 1005, 1006 and 1015 must never be sent; 1012-1014
     * were registered with IANA later; 3000-4999 belong to libraries and applications. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* ---- parsing ---- */

static bool is_control(unsigned opcode)
{
    return (opcode & 0x08) != 0;
}

void wsp_ws_parser_init(wsp_ws_parser *p, wsp_ws_role role, const wsp_ws_limits *limits)
{
    memset(p, 0, sizeof *p);
    p->role = role;
    if (limits)
        p->limits = *limits;
    if (p->limits.max_frame == 0)
        p->limits.max_frame = WSP_WS_DEFAULT_MAX;
    if (p->limits.max_message == 0)
        p->limits.max_message = WSP_WS_DEFAULT_MAX;
    if (p->limits.max_message > SIZE_MAX)
        p->limits.max_message = SIZE_MAX; /* msg_len is a size_t */
    p->limits.allowed_rsv &= RSV_BITS;
    p->state = ST_HEADER;
    p->hdr_need = 2;
    wsp_utf8_init(&p->utf8);
}

void wsp_ws_parser_cleanup(wsp_ws_parser *p)
{
    free(p->msg);
    p->msg = NULL;
    p->msg_len = p->msg_cap = 0;
}

/* Kill the parser and report why. */
static size_t fail(wsp_ws_parser *p, wsp_ws_event *ev, size_t consumed, const char *why,
                   unsigned code)
{
    p->dead = true;
    p->error = why;
    p->error_code = code;
    ev->type = WSP_WS_EV_ERROR;
    ev->error = why;
    ev->error_close_code = code;
    return consumed;
}

/* The first header byte: FIN, RSV, opcode. Checked as soon as it arrives. */
static const char *check_byte0(wsp_ws_parser *p)
{
    uint8_t b = p->hdr[0];
    p->fin = (b & FLAG_FIN) != 0;
    p->rsv = b & RSV_BITS;
    p->opcode = b & 0x0F;
    /* RFC 6455 5.2: "MUST be 0 unless an extension is negotiated that defines meanings" */
    if (p->rsv & ~p->limits.allowed_rsv)
        return WSP_WS_ERR_RSV;
    switch (p->opcode) {
    case WSP_WS_OP_CONT:
        if (!p->in_message)
            return WSP_WS_ERR_UNEXPECTED_CONT;
        break;
    case WSP_WS_OP_TEXT:
    case WSP_WS_OP_BINARY:
        /* RFC 6455 5.4: fragments of one message are not interleaved with another's */
        if (p->in_message)
            return WSP_WS_ERR_EXPECTED_CONT;
        break;
    case WSP_WS_OP_CLOSE:
    case WSP_WS_OP_PING:
    case WSP_WS_OP_PONG:
        /* RFC 6455 5.5: "Control frames ... MUST NOT be fragmented." */
        if (!p->fin)
            return WSP_WS_ERR_CONTROL_FRAGMENTED;
        break;
    default:
        /* 3-7 and B-F: "If an unknown opcode is received, the receiving endpoint MUST _Fail
         * the WebSocket Connection_." */
        return WSP_WS_ERR_OPCODE;
    }
    /* RFC 7692 6.1: RSV1 marks a compressed message on its first frame only. */
    if ((p->rsv & RSV1) && (is_control(p->opcode) || p->opcode == WSP_WS_OP_CONT))
        return WSP_WS_ERR_RSV1_PLACEMENT;
    return NULL;
}

/* The second header byte: MASK and the 7-bit length; sets how long the header is. */
static const char *check_byte1(wsp_ws_parser *p)
{
    uint8_t b = p->hdr[1];
    unsigned len7 = b & 0x7F;
    p->masked = (b & FLAG_MASK) != 0;
    /* RFC 6455 5.1: a server MUST NOT mask; a server MUST close on an unmasked client frame. */
    if (p->role == WSP_WS_ROLE_CLIENT && p->masked)
        return WSP_WS_ERR_MASKED;
    if (p->role == WSP_WS_ROLE_SERVER && !p->masked)
        return WSP_WS_ERR_UNMASKED;
    /* RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less" */
    if (is_control(p->opcode) && len7 > WSP_WS_CONTROL_MAX)
        return WSP_WS_ERR_CONTROL_TOO_LONG;
    p->hdr_need = 2 + (len7 == LEN_16 ? 2 : len7 == LEN_64 ? 8 : 0) + (p->masked ? 4 : 0);
    return NULL;
}

/* Header bytes holding the length: 2, 4 or 10. */
static size_t length_end(const wsp_ws_parser *p)
{
    unsigned len7 = p->hdr[1] & 0x7F;
    return len7 == LEN_16 ? 4 : len7 == LEN_64 ? 10 : 2;
}

/* The length is in (the mask key may not be yet): decode it and check it against the limits,
 * so an oversized frame fails before anything else of it is read. */
static const char *check_length(wsp_ws_parser *p, unsigned *code)
{
    unsigned len7 = p->hdr[1] & 0x7F;
    uint64_t n = len7;
    if (len7 == LEN_16) {
        n = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        if (n <= WSP_WS_CONTROL_MAX) /* RFC 6455 5.2: "the minimal number of bytes MUST be used" */
            return WSP_WS_ERR_LENGTH_NOT_MINIMAL;
    } else if (len7 == LEN_64) {
        n = 0;
        for (size_t i = 2; i < 10; i++)
            n = n << 8 | p->hdr[i];
        /* RFC 6455 5.2: "the most significant bit MUST be 0" */
        if (n >> 63)
            return WSP_WS_ERR_LENGTH_TOP_BIT;
        if (n <= 0xFFFF)
            return WSP_WS_ERR_LENGTH_NOT_MINIMAL;
    }
    p->payload_len = n;
    *code = WSP_WS_CLOSE_TOO_BIG;
    if (n > p->limits.max_frame)
        return WSP_WS_ERR_FRAME_TOO_BIG;
    /* A data frame's length counts toward its message; control frames stand alone. msg_len <=
     * max_message always holds, so the subtraction cannot wrap. */
    size_t so_far = p->opcode == WSP_WS_OP_CONT ? p->msg_len : 0;
    if (!is_control(p->opcode) && n > p->limits.max_message - so_far)
        return WSP_WS_ERR_MESSAGE_TOO_BIG;
    return NULL;
}

/* Check one more header byte as soon as it arrives. */
static const char *header_byte(wsp_ws_parser *p, unsigned *code)
{
    *code = WSP_WS_CLOSE_PROTOCOL;
    if (p->hdr_have == 1)
        return check_byte0(p);
    const char *err = p->hdr_have == 2 ? check_byte1(p) : NULL;
    if (!err && p->hdr_have == length_end(p))
        err = check_length(p, code);
    return err;
}

/* The whole header is in and valid: take the mask key and start the frame. */
static void start_frame(wsp_ws_parser *p)
{
    if (p->masked)
        memcpy(p->mask, p->hdr + length_end(p), 4);
    p->payload_have = 0;
    p->state = ST_PAYLOAD;
    p->frames++;
    if (p->on_frame)
        p->on_frame(p->on_frame_ud, p->fin, p->opcode, p->rsv, p->masked, p->payload_len);
    if (is_control(p->opcode)) {
        p->ctl_len = 0;
        return;
    }
    if (p->opcode != WSP_WS_OP_CONT) {
        p->msg_opcode = p->opcode;
        p->msg_compressed = (p->rsv & RSV1) != 0;
        p->msg_frames = 0;
        p->msg_len = 0;
        wsp_utf8_init(&p->utf8);
    }
    p->in_message = true;
    if (p->msg_frames < UINT_MAX)
        p->msg_frames++;
}

/* Make room for `need` bytes of message: double, but never past max_message (need never is). */
static bool reserve(wsp_ws_parser *p, size_t need)
{
    if (need <= p->msg_cap)
        return true;
    size_t max = (size_t)p->limits.max_message;
    size_t cap = p->msg_cap ? p->msg_cap : 1024;
    while (cap < need)
        cap = cap > max / 2 ? max : cap * 2;
    if (cap > max)
        cap = max;
    uint8_t *m = realloc(p->msg, cap);
    if (!m)
        return false;
    p->msg = m;
    p->msg_cap = cap;
    return true;
}

static void reset_header(wsp_ws_parser *p)
{
    p->state = ST_HEADER;
    p->hdr_have = 0;
    p->hdr_need = 2;
}

/* A complete control frame sits in ctl[]. */
static size_t control_event(wsp_ws_parser *p, wsp_ws_event *ev, size_t pos)
{
    ev->frames = 1;
    ev->data = p->ctl;
    ev->len = p->ctl_len;
    if (p->opcode == WSP_WS_OP_PING) {
        ev->type = WSP_WS_EV_PING;
        return pos;
    }
    if (p->opcode == WSP_WS_OP_PONG) {
        ev->type = WSP_WS_EV_PONG;
        return pos;
    }
    /* RFC 6455 5.5.1: an optional body that, if present, starts with a 2-byte code. */
    if (p->ctl_len == 1)
        return fail(p, ev, pos, WSP_WS_ERR_CLOSE_ONE_BYTE, WSP_WS_CLOSE_PROTOCOL);
    ev->type = WSP_WS_EV_CLOSE;
    ev->close_code = -1;
    if (p->ctl_len >= 2) {
        unsigned code = (unsigned)p->ctl[0] << 8 | p->ctl[1];
        if (!wsp_ws_close_code_valid(code))
            return fail(p, ev, pos, WSP_WS_ERR_CLOSE_CODE, WSP_WS_CLOSE_PROTOCOL);
        if (!wsp_utf8_valid(p->ctl + 2, p->ctl_len - 2))
            return fail(p, ev, pos, WSP_WS_ERR_CLOSE_UTF8, WSP_WS_CLOSE_BAD_DATA);
        ev->close_code = (int)code;
        ev->data = p->ctl + 2;
        ev->len = p->ctl_len - 2;
    }
    p->closed = true;
    return pos;
}

static bool text_checked(const wsp_ws_parser *p)
{
    return p->msg_opcode == WSP_WS_OP_TEXT && !p->msg_compressed;
}

static void message_event(wsp_ws_parser *p, wsp_ws_event *ev, const uint8_t *data, size_t len)
{
    ev->type = p->msg_opcode == WSP_WS_OP_TEXT ? WSP_WS_EV_TEXT : WSP_WS_EV_BINARY;
    ev->data = len ? data : empty_payload;
    ev->len = len;
    ev->compressed = p->msg_compressed;
    ev->frames = p->msg_frames;
    p->in_message = false;
}

size_t wsp_ws_parse(wsp_ws_parser *p, const uint8_t *in, size_t len, wsp_ws_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (p->dead)
        return fail(p, ev, 0, p->error, p->error_code);
    if (p->delivered) {
        /* The caller is done with the last message: keep a small buffer, free a big one. */
        p->delivered = false;
        p->msg_len = 0;
        if (p->msg_cap > WSP_WS_BUFFER_KEEP) {
            free(p->msg);
            p->msg = NULL;
            p->msg_cap = 0;
        }
    }
    size_t pos = 0;
    const char *err;
    unsigned code;
    for (;;) {
        if (p->state == ST_HEADER) {
            while (p->hdr_have < p->hdr_need) {
                if (pos == len)
                    return pos;
                if (p->closed)
                    return fail(p, ev, pos, WSP_WS_ERR_AFTER_CLOSE, WSP_WS_CLOSE_PROTOCOL);
                p->hdr[p->hdr_have++] = in[pos++];
                err = header_byte(p, &code);
                if (err)
                    return fail(p, ev, pos, err, code);
            }
            start_frame(p);
        }

        /* ST_PAYLOAD; payload_len - payload_have fits a size_t (limits clamp it). */
        size_t left = (size_t)(p->payload_len - p->payload_have);
        size_t avail = len - pos;
        size_t n = left < avail ? left : avail;

        if (is_control(p->opcode)) {
            uint8_t *dst = p->ctl + p->ctl_len;
            if (n > 0) {
                memcpy(dst, in + pos, n);
                if (p->masked)
                    wsp_ws_mask(dst, n, p->mask, p->payload_have);
            }
            p->ctl_len += n;
            p->payload_have += n;
            pos += n;
            if (p->payload_have < p->payload_len)
                return pos;
            reset_header(p);
            return control_event(p, ev, pos);
        }

        /* Zero-copy: a whole unmasked single-frame message already in the input. */
        if (p->fin && p->msg_frames == 1 && !p->masked && p->payload_have == 0 && left > 0 &&
            avail >= left) {
            const uint8_t *data = in + pos;
            pos += left;
            p->data_bytes += left;
            reset_header(p);
            if (text_checked(p) && !wsp_utf8_valid(data, left))
                return fail(p, ev, pos, WSP_WS_ERR_TEXT_UTF8, WSP_WS_CLOSE_BAD_DATA);
            message_event(p, ev, data, left);
            return pos;
        }

        if (n > 0) {
            if (!reserve(p, p->msg_len + n))
                return fail(p, ev, pos, WSP_WS_ERR_NO_MEMORY, WSP_WS_CLOSE_INTERNAL);
            uint8_t *dst = p->msg + p->msg_len;
            memcpy(dst, in + pos, n);
            if (p->masked)
                wsp_ws_mask(dst, n, p->mask, p->payload_have);
            pos += n;
            p->msg_len += n;
            p->payload_have += n;
            p->data_bytes += n;
            /* RFC 6455 8.1: fail as soon as the bytes cannot be the start of valid UTF-8. */
            if (text_checked(p) && !wsp_utf8_feed(&p->utf8, dst, n))
                return fail(p, ev, pos, WSP_WS_ERR_TEXT_UTF8, WSP_WS_CLOSE_BAD_DATA);
        }
        if (p->payload_have < p->payload_len)
            return pos;
        reset_header(p);
        if (!p->fin)
            continue; /* next fragment */
        if (text_checked(p) && !wsp_utf8_complete(&p->utf8))
            return fail(p, ev, pos, WSP_WS_ERR_TEXT_UTF8, WSP_WS_CLOSE_BAD_DATA);
        message_event(p, ev, p->msg, p->msg_len);
        p->delivered = true;
        return pos;
    }
}
