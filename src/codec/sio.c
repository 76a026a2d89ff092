/* sio.c - see sio.h. */
#include "codec/sio.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define DAY_MS (24ull * 3600 * 1000)

int wsp_eio_parse(const char *text, size_t len, wsp_eio_type *type, const char **payload,
                  size_t *payload_len, const char **why)
{
    if (len == 0) {
        *why = "an empty Engine.IO packet";
        return -1;
    }
    if (text[0] < '0' || text[0] > '6') {
        *why = "not an Engine.IO packet: the first character is not a type 0-6";
        return -1;
    }
    *type = (wsp_eio_type)(text[0] - '0');
    *payload = text + 1;
    *payload_len = len - 1;
    return 0;
}

/* A whole number of milliseconds in [lo, hi] at `key` of o. */
static int ms_field(json_t *o, const char *key, uint64_t lo, uint64_t hi, bool required,
                    uint64_t *out, const char **why, const char *missing, const char *absurd)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required) {
            *why = missing;
            return -1;
        }
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        (uint64_t)json_integer_value(v) > hi) {
        *why = absurd;
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int wsp_eio_parse_open(const char *json, size_t len, wsp_eio_open *out, const char **why)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        *why = "the open packet is not a JSON object";
        return -1;
    }
    int rc = -1;
    json_t *sid = json_object_get(o, "sid");
    const char *s = json_string_value(sid);
    if (!s || !*s || strlen(s) > WSP_SIO_SID_MAX) {
        *why = "the open packet has no sid (a string of at most 128 bytes)";
        goto out;
    }
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
            *why = "the open packet's sid holds a byte other than printable ASCII";
            goto out;
        }
    snprintf(out->sid, sizeof out->sid, "%s", s);
    if (ms_field(o, "pingInterval", 1, DAY_MS, true, &out->ping_interval_ms, why,
                 "the open packet has no pingInterval",
                 "the open packet's pingInterval is absurd (expected 1 ms to 24 h, whole)") != 0 ||
        ms_field(o, "pingTimeout", 1, DAY_MS, true, &out->ping_timeout_ms, why,
                 "the open packet has no pingTimeout",
                 "the open packet's pingTimeout is absurd (expected 1 ms to 24 h, whole)") != 0 ||
        ms_field(o, "maxPayload", 1, 1ull << 53, false, &out->max_payload, why, NULL,
                 "the open packet's maxPayload is not a positive whole number") != 0)
        goto out;
    json_t *up = json_object_get(o, "upgrades");
    if (up && !json_is_array(up)) {
        *why = "the open packet's upgrades is not a list";
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(up, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), "websocket") == 0)
            out->websocket_upgrade = true;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int wsp_sio_parse(const char *s, size_t len, wsp_sio_packet *p, const char **why)
{
    memset(p, 0, sizeof *p);
    p->ack_id = -1;
    p->nsp = "/";
    p->nsp_len = 1;
    if (len == 0 || s[0] < '0' || s[0] > '6') {
        *why = len ? "not a Socket.IO packet: the first character is not a type 0-6"
                   : "an empty Socket.IO packet";
        return -1;
    }
    p->type = (wsp_sio_type)(s[0] - '0');
    size_t i = 1;
    if (p->type == WSP_SIO_BINARY_EVENT || p->type == WSP_SIO_BINARY_ACK) {
        unsigned long n = 0;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && n <= WSP_SIO_ATTACH_MAX)
            n = n * 10 + (unsigned long)(s[i++] - '0');
        if (i == start || i >= len || s[i] != '-' || n > WSP_SIO_ATTACH_MAX) {
            *why = "a binary Socket.IO packet without its attachment count ('51-...')";
            return -1;
        }
        p->attachments = (unsigned)n;
        i++;
    }
    if (i < len && s[i] == '/') {
        size_t start = i;
        while (i < len && s[i] != ',')
            i++;
        if (i - start > WSP_SIO_NSP_MAX) {
            *why = "a Socket.IO namespace longer than 256 bytes";
            return -1;
        }
        p->nsp = s + start;
        p->nsp_len = i - start;
        if (i < len)
            i++; /* the ',' (a namespace may end the packet: "1/chat") */
    }
    if (i < len && s[i] >= '0' && s[i] <= '9') {
        int64_t id = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (id > (INT64_MAX - 9) / 10) {
                *why = "a Socket.IO ack id too large";
                return -1;
            }
            id = id * 10 + (s[i++] - '0');
        }
        p->ack_id = id;
    }
    if (i < len) {
        if (s[i] != '[' && s[i] != '{' && s[i] != '"') {
            *why = "a Socket.IO packet whose data is not JSON";
            return -1;
        }
        p->data = s + i;
        p->data_len = len - i;
    }
    bool needs_array = p->type == WSP_SIO_EVENT || p->type == WSP_SIO_BINARY_EVENT ||
                       p->type == WSP_SIO_ACK || p->type == WSP_SIO_BINARY_ACK;
    if (needs_array && (!p->data || p->data[0] != '[')) {
        *why = "a Socket.IO event or ack without its JSON array";
        return -1;
    }
    if ((p->type == WSP_SIO_ACK || p->type == WSP_SIO_BINARY_ACK) && p->ack_id < 0) {
        *why = "a Socket.IO ack without its id";
        return -1;
    }
    return 0;
}

int wsp_sio_encode(char *out, size_t cap, wsp_sio_type type, const char *nsp, int64_t ack_id,
                   const char *json)
{
    bool root = !nsp || strcmp(nsp, "/") == 0;
    if (!root && (nsp[0] != '/' || strchr(nsp, ',') || strlen(nsp) > WSP_SIO_NSP_MAX))
        return -1;
    char ack[24] = "";
    if (ack_id >= 0)
        snprintf(ack, sizeof ack, "%lld", (long long)ack_id);
    int n = snprintf(out, cap, "4%d%s%s%s%s", (int)type, root ? "" : nsp, root ? "" : ",", ack,
                     json ? json : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int wsp_sio_event_name(const char *data, size_t len, char *name, size_t cap)
{
    json_error_t je;
    json_t *a = json_loadb(data, len, 0, &je);
    const char *s = json_is_array(a) ? json_string_value(json_array_get(a, 0)) : NULL;
    int rc = s && strlen(s) < cap ? 0 : -1;
    if (rc == 0)
        snprintf(name, cap, "%s", s);
    json_decref(a);
    return rc;
}
