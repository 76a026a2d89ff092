/* fuzz_serve_request.c - the reference server's handling of peer input before and after the
 * upgrade: the request decision (routing, RFC 6455 4.2.1 checks, Origin, token extraction and
 * verification under every combination of the unsafe switches), the response it renders, and
 * the chat protocol on a message.
 *
 * Input layout: byte 0 is flags (bits 0-5: the unsafe switches; bit 6: TLS listener; bit 7:
 * the rest is a chat message instead of a request head); byte 1 picks an extra cut point; the
 * rest is the peer's bytes, copied into an exact-size heap buffer so ASan sees any over-read.
 *
 * Checks (any violation aborts): the decision's contract (status set, route, accept length,
 * caps on sub and room, authentication held unless switched off); prefixes of an accepted head
 * are PARTIAL; the rendered response is well-formed HTTP (CRLF line ends only, no bare CR or
 * LF from the peer); chat replies are JSON, and a sanitized broadcast holds no markup. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/jwt.h"
#include "serve/serve.h"
#include "codec/utf8.h"

#define NOW 1700000000
#define FUZZ_SECRET "fuzz-secret-0123456789abcdef-0123456789"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wsp_jwt_key *key;

static void check_response(const char *out, long n)
{
    CHECK(n > 0 && (size_t)n == strlen(out));
    CHECK(memcmp(out, "HTTP/1.1 ", 9) == 0);
    const char *end = strstr(out, "\r\n\r\n");
    CHECK(end != NULL);
    /* in the head, every CR is followed by LF and every LF preceded by CR */
    for (const char *p = out; p < end + 4; p++) {
        if (*p == '\r')
            CHECK(p[1] == '\n');
        if (*p == '\n')
            CHECK(p > out && p[-1] == '\r');
    }
}

static void fuzz_request(unsigned flags, size_t cut, const char *buf, size_t len)
{
    wsp_serve_policy pol = {
        .path = "/ws", .key = key, .alg = WSP_JWT_ALG_HS256, .leeway_s = 5, .unsafe = flags & 0x3f};
    static const char *const allow[] = {"https://app.example"};
    if (flags & 0x20) { /* reuse the no-limits bit to also try an allow-list */
        pol.origins = allow;
        pol.num_origins = 1;
    }
    bool tls = (flags & 0x40) != 0;
    wsp_serve_decision d;
    int r = wsp_serve_decide(&pol, buf, len, tls, NOW, &d);
    CHECK(r == 0 || r == WSP_HTTP_PARTIAL);
    if (r == WSP_HTTP_PARTIAL) {
        CHECK(len < WSP_SERVE_HEAD_MAX);
        return;
    }
    CHECK(d.reason != NULL);
    CHECK(d.head_len <= len);
    CHECK(strlen(d.sub) <= WSP_SERVE_SUB_MAX && strlen(d.room) <= WSP_SERVE_ROOM_MAX);
    switch (d.route) {
    case WSP_SERVE_ROUTE_UPGRADE:
        CHECK(d.status == 101);
        CHECK(d.head_len > 0);
        CHECK(strlen(d.accept) == WSP_HS_ACCEPT_LEN);
        CHECK(wsp_utf8_valid((const uint8_t *)d.room, strlen(d.room)) && d.room[0]);
        if (!(pol.unsafe & WSP_SERVE_UNSAFE_NO_AUTH)) {
            CHECK(d.token_source != WSP_SERVE_TOKEN_NONE);
            CHECK(d.jwt_status == WSP_JWT_OK);
        }
        if (d.subprotocol) {
            CHECK(d.subprotocol >= buf && d.subprotocol + d.subprotocol_len <= buf + len);
            CHECK(d.subprotocol_len > 7 && memcmp(d.subprotocol, "bearer.", 7) == 0);
        }
        /* a proper prefix of an accepted head is never complete */
        if (cut < d.head_len) {
            char *pre = malloc(cut ? cut : 1);
            CHECK(pre != NULL);
            memcpy(pre, buf, cut);
            wsp_serve_decision pd;
            CHECK(wsp_serve_decide(&pol, pre, cut, tls, NOW, &pd) == WSP_HTTP_PARTIAL);
            free(pre);
        }
        break;
    case WSP_SERVE_ROUTE_HEALTH:
        CHECK(d.status == 200);
        break;
    case WSP_SERVE_ROUTE_REFUSE:
        CHECK(d.status == 400 || d.status == 401 || d.status == 403 || d.status == 404 ||
              d.status == 405 || d.status == 414 || d.status == 426 || d.status == 431);
        break;
    }
    static char out[WSP_SERVE_HEAD_MAX + 1024];
    long n = wsp_serve_render(&d, 0, NULL, tls, NULL, out, sizeof out);
    check_response(out, n);
}

static void fuzz_chat(unsigned flags, const char *buf, size_t len)
{
    bool sanitize = (flags & 1) == 0;
    wsp_serve_chat_result res;
    if (wsp_serve_chat_handle(buf, len, "fuzz<sub>", "room\"1", sanitize, &res) != 0)
        return; /* out of memory */
    CHECK(res.reply != NULL);
    json_t *reply = json_loads(res.reply, 0, NULL);
    CHECK(reply != NULL);
    const char *type = json_string_value(json_object_get(reply, "type"));
    CHECK(type != NULL);
    CHECK(res.error == (strcmp(type, "error") == 0));
    if (res.broadcast) {
        CHECK(strcmp(type, "ack") == 0);
        json_t *b = json_loads(res.broadcast, JSON_ALLOW_NUL, NULL);
        CHECK(b != NULL);
        const char *content = json_string_value(json_object_get(b, "content"));
        CHECK(content != NULL);
        size_t cl = json_string_length(json_object_get(b, "content"));
        if (sanitize)
            for (size_t i = 0; i < cl; i++)
                CHECK(content[i] != '<' && content[i] != '>' && content[i] != '"' &&
                      content[i] != '\'');
        json_decref(b);
    }
    json_decref(reply);
    wsp_serve_chat_result_cleanup(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!key) {
        key = wsp_jwt_key_secret(FUZZ_SECRET, strlen(FUZZ_SECRET));
        if (!key)
            return 0;
    }
    if (size < 2)
        return 0;
    unsigned flags = data[0];
    size_t len = size - 2;
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 2, len);
    size_t cut = len ? (size_t)data[1] * len / 256 : 0;
    if (flags & 0x80)
        fuzz_chat(flags, buf, len);
    else
        fuzz_request(flags, cut, buf, len);
    free(buf);
    return 0;
}
