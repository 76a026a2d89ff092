/* test_sio.c - Engine.IO and Socket.IO packets (codec/sio.h), against the examples of the
 * protocol documents (socket.io-protocol v5, engine.io-protocol v4) and what npm socket.io 4
 * sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/sio.h"

static void test_eio(void **state)
{
    (void)state;
    wsp_eio_type t;
    const char *p, *why;
    size_t pl;
    assert_int_equal(wsp_eio_parse("2", 1, &t, &p, &pl, &why), 0);
    assert_int_equal(t, WSP_EIO_PING);
    assert_int_equal(pl, 0);
    assert_int_equal(wsp_eio_parse("42[\"x\"]", 7, &t, &p, &pl, &why), 0);
    assert_int_equal(t, WSP_EIO_MESSAGE);
    assert_int_equal(pl, 6);
    assert_int_equal(wsp_eio_parse("", 0, &t, &p, &pl, &why), -1);
    assert_int_equal(wsp_eio_parse("7", 1, &t, &p, &pl, &why), -1);
    assert_int_equal(wsp_eio_parse("{\"a\":1}", 7, &t, &p, &pl, &why), -1);
}

static void test_open(void **state)
{
    (void)state;
    const char *j = "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[],\"pingInterval\":25000,"
                    "\"pingTimeout\":20000,\"maxPayload\":1000000}";
    wsp_eio_open o;
    const char *why = NULL;
    assert_int_equal(wsp_eio_parse_open(j, strlen(j), &o, &why), 0);
    assert_string_equal(o.sid, "lv_VI97HAXpY6yYWAAAC");
    assert_int_equal(o.ping_interval_ms, 25000);
    assert_int_equal(o.ping_timeout_ms, 20000);
    assert_int_equal(o.max_payload, 1000000);
    assert_false(o.websocket_upgrade);
    j = "{\"sid\":\"a\",\"upgrades\":[\"websocket\"],\"pingInterval\":1,\"pingTimeout\":1}";
    assert_int_equal(wsp_eio_parse_open(j, strlen(j), &o, &why), 0);
    assert_true(o.websocket_upgrade);
    assert_int_equal(o.max_payload, 0);
    static const char *const bad[] = {
        "[]",
        "{\"pingInterval\":25000,\"pingTimeout\":20000}",                 /* no sid */
        "{\"sid\":\"\",\"pingInterval\":25000,\"pingTimeout\":20000}",    /* empty sid */
        "{\"sid\":\"a b\",\"pingInterval\":25000,\"pingTimeout\":20000}", /* a space */
        "{\"sid\":\"a\",\"pingTimeout\":20000}",                          /* no interval */
        "{\"sid\":\"a\",\"pingInterval\":0,\"pingTimeout\":20000}",       /* absurd */
        "{\"sid\":\"a\",\"pingInterval\":86400001,\"pingTimeout\":1}",    /* over a day */
        "{\"sid\":\"a\",\"pingInterval\":2.5,\"pingTimeout\":1}",         /* not whole */
        "{\"sid\":\"a\",\"pingInterval\":\"25000\",\"pingTimeout\":1}",   /* a string */
        "{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":1,\"maxPayload\":-1}",
        "{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":1,\"upgrades\":\"websocket\"}",
        "{\"sid\":\"a\",\"sid\":\"b\",\"pingInterval\":1,\"pingTimeout\":1}", /* twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(wsp_eio_parse_open(bad[i], strlen(bad[i]), &o, &why), -1);
        assert_non_null(why);
    }
}

static void parse_ok(const char *s, wsp_sio_type type, const char *nsp, int64_t ack,
                     const char *data, unsigned attachments)
{
    wsp_sio_packet p;
    const char *why = NULL;
    assert_int_equal(wsp_sio_parse(s, strlen(s), &p, &why), 0);
    assert_int_equal(p.type, type);
    assert_int_equal(p.nsp_len, strlen(nsp));
    assert_memory_equal(p.nsp, nsp, p.nsp_len);
    assert_int_equal(p.ack_id, ack);
    assert_int_equal(p.attachments, attachments);
    if (data) {
        assert_non_null(p.data);
        assert_int_equal(p.data_len, strlen(data));
        assert_memory_equal(p.data, data, p.data_len);
    } else {
        assert_null(p.data);
    }
}

static void test_sio_parse(void **state)
{
    (void)state;
    /* the examples of socket.io-protocol v5 */
    parse_ok("0", WSP_SIO_CONNECT, "/", -1, NULL, 0);
    parse_ok("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", WSP_SIO_CONNECT, "/admin", -1,
             "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", 0);
    parse_ok("4{\"message\":\"Not authorized\"}", WSP_SIO_CONNECT_ERROR, "/", -1,
             "{\"message\":\"Not authorized\"}", 0);
    parse_ok("2[\"foo\"]", WSP_SIO_EVENT, "/", -1, "[\"foo\"]", 0);
    parse_ok("2/admin,[\"bar\"]", WSP_SIO_EVENT, "/admin", -1, "[\"bar\"]", 0);
    parse_ok("212[\"foo\"]", WSP_SIO_EVENT, "/", 12, "[\"foo\"]", 0);
    parse_ok("3/admin,13[\"bar\"]", WSP_SIO_ACK, "/admin", 13, "[\"bar\"]", 0);
    parse_ok("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]", WSP_SIO_BINARY_EVENT, "/", -1,
             "[\"baz\",{\"_placeholder\":true,\"num\":0}]", 1);
    parse_ok("61-/admin,15[{\"_placeholder\":true,\"num\":0}]", WSP_SIO_BINARY_ACK, "/admin", 15,
             "[{\"_placeholder\":true,\"num\":0}]", 1);
    parse_ok("1/admin,", WSP_SIO_DISCONNECT, "/admin", -1, NULL, 0);
    parse_ok("1/admin", WSP_SIO_DISCONNECT, "/admin", -1, NULL, 0);
    parse_ok("4\"not authorized\"", WSP_SIO_CONNECT_ERROR, "/", -1, "\"not authorized\"", 0);

    static const char *const bad[] = {"",
                                      "7",
                                      "x",
                                      "2",
                                      "2{\"a\":1}",
                                      "3[1]",
                                      "5[\"x\"]",
                                      "51[\"x\"]",
                                      "59999-[\"x\"]",
                                      "2hello",
                                      "299999999999999999999[\"x\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsp_sio_packet p;
        const char *why = NULL;
        assert_int_equal(wsp_sio_parse(bad[i], strlen(bad[i]), &p, &why), -1);
        assert_non_null(why);
    }
}

static void test_sio_encode(void **state)
{
    (void)state;
    char b[128];
    assert_int_equal(wsp_sio_encode(b, sizeof b, WSP_SIO_CONNECT, "/", -1, NULL), 2);
    assert_string_equal(b, "40");
    wsp_sio_encode(b, sizeof b, WSP_SIO_CONNECT, "/admin", -1, "{\"token\":\"t\"}");
    assert_string_equal(b, "40/admin,{\"token\":\"t\"}");
    wsp_sio_encode(b, sizeof b, WSP_SIO_EVENT, NULL, 7, "[\"hello\",1]");
    assert_string_equal(b, "427[\"hello\",1]");
    assert_int_equal(wsp_sio_encode(b, sizeof b, WSP_SIO_EVENT, "admin", -1, "[]"), -1);
    assert_int_equal(wsp_sio_encode(b, sizeof b, WSP_SIO_EVENT, "/a,b", -1, "[]"), -1);
    assert_int_equal(wsp_sio_encode(b, 4, WSP_SIO_EVENT, NULL, -1, "[\"x\"]"), -1);
    /* what it writes, parsed back, is what was meant */
    wsp_sio_encode(b, sizeof b, WSP_SIO_ACK, "/chat", 42, "[{\"ok\":true}]");
    parse_ok(b + 1, WSP_SIO_ACK, "/chat", 42, "[{\"ok\":true}]", 0);
}

static void test_event_name(void **state)
{
    (void)state;
    char n[16];
    assert_int_equal(wsp_sio_event_name("[\"chat message\",{\"a\":1}]", 24, n, sizeof n), 0);
    assert_string_equal(n, "chat message");
    assert_int_equal(wsp_sio_event_name("[\"q\\\"uote\"]", 11, n, sizeof n), 0);
    assert_string_equal(n, "q\"uote");
    assert_int_equal(wsp_sio_event_name("[1]", 3, n, sizeof n), -1);
    assert_int_equal(wsp_sio_event_name("[]", 2, n, sizeof n), -1);
    assert_int_equal(wsp_sio_event_name("[\"a-very-long-event-name\"]", 26, n, sizeof n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eio),        cmocka_unit_test(test_open),
        cmocka_unit_test(test_sio_parse),  cmocka_unit_test(test_sio_encode),
        cmocka_unit_test(test_event_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
