/* test_gql.c - GraphQL over WebSocket messages (codec/gql.h), as npm graphql-ws writes them
 * and as its PROTOCOL.md forbids them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/gql.h"

static wsp_gql_type ok(const char *s, const char *id)
{
    wsp_gql_msg m;
    const char *why = NULL;
    assert_int_equal(wsp_gql_parse(s, strlen(s), &m, &why), 0);
    assert_string_equal(m.id, id);
    json_decref(m.payload);
    return m.type;
}

static void test_messages(void **state)
{
    (void)state;
    assert_int_equal(ok("{\"type\":\"connection_ack\"}", ""), WSP_GQL_CONNECTION_ACK);
    assert_int_equal(ok("{\"type\":\"connection_ack\",\"payload\":{\"v\":1}}", ""),
                     WSP_GQL_CONNECTION_ACK);
    assert_int_equal(ok("{\"type\":\"ping\"}", ""), WSP_GQL_PING);
    assert_int_equal(ok("{\"type\":\"next\",\"id\":\"1\",\"payload\":{\"data\":{\"n\":1}}}", "1"),
                     WSP_GQL_NEXT);
    assert_int_equal(ok("{\"type\":\"error\",\"id\":\"a\",\"payload\":[{\"message\":\"x\"}]}", "a"),
                     WSP_GQL_ERROR);
    assert_int_equal(ok("{\"type\":\"complete\",\"id\":\"a\"}", "a"), WSP_GQL_COMPLETE);
    assert_int_equal(
        ok("{\"type\":\"subscribe\",\"id\":\"s\",\"payload\":{\"query\":\"{a}\"}}", "s"),
        WSP_GQL_SUBSCRIBE);
    /* subscriptions-transport-ws: recognised, so it can be named */
    wsp_gql_msg m;
    const char *why;
    const char *ka = "{\"type\":\"ka\"}";
    assert_int_equal(wsp_gql_parse(ka, strlen(ka), &m, &why), 0);
    assert_int_equal(m.type, WSP_GQL_LEGACY);
    assert_string_equal(m.legacy_type, "ka");
    const char *next = "{\"type\":\"next\",\"id\":\"1\",\"payload\":{\"data\":{\"n\":3}}}";
    assert_int_equal(wsp_gql_parse(next, strlen(next), &m, &why), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m.payload, "data"), "n")),
                     3);
    json_decref(m.payload);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "{\"id\":\"1\"}",                                       /* no type */
        "{\"type\":\"hello\"}",                                 /* unknown */
        "{\"type\":\"next\",\"payload\":{}}",                   /* no id */
        "{\"type\":\"next\",\"id\":\"\",\"payload\":{}}",       /* empty id */
        "{\"type\":\"next\",\"id\":\"1\"}",                     /* no result */
        "{\"type\":\"error\",\"id\":\"1\",\"payload\":[]}",     /* no errors */
        "{\"type\":\"error\",\"id\":\"1\",\"payload\":{}}",     /* legacy-shaped error */
        "{\"type\":\"connection_ack\",\"id\":\"1\"}",           /* an id it takes none of */
        "{\"type\":\"connection_ack\",\"payload\":[1]}",        /* payload not an object */
        "{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{}}", /* no query */
        "{\"type\":\"ping\",\"type\":\"pong\"}",                /* twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsp_gql_msg m;
        const char *why = NULL;
        assert_int_equal(wsp_gql_parse(bad[i], strlen(bad[i]), &m, &why), -1);
        assert_non_null(why);
        assert_null(m.payload);
    }
}

static void test_close_codes(void **state)
{
    (void)state;
    static const int codes[] = {4400, 4401, 4403, 4406, 4408, 4409, 4429, 4500, 4504};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *n = wsp_gql_close_name(codes[i]);
        assert_non_null(n);
        char num[8];
        snprintf(num, sizeof num, "%d ", codes[i]);
        assert_int_equal(strncmp(n, num, strlen(num)), 0);
    }
    assert_null(wsp_gql_close_name(1000));
    assert_null(wsp_gql_close_name(4001));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_close_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
