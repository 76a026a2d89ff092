/* test_yaml.c - the bounded YAML loader (codec/yaml.h): 1 MiB of nesting in flow, block and
 * mapping form stops at the depth cap after a handful of events (the count of events read, not
 * the wall time, is asserted: libyaml is superlinear in depth, so a pass that read on would
 * read a million events); a node cap likewise; a second document is refused at its start,
 * after the first one's end or its end marker (...); a clean document loads; every prefix of a
 * document is a document or a syntax error. Each text is an exact-size heap copy so ASan
 * reports a read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/yaml.h"

#define MIB (1u << 20)
/* events past the cap that a pass may read: stream and document start, a key's scalar */
#define SLACK 4

/* An exact-size copy of text[0..n) (no NUL after it). */
static char *exact(const char *text, size_t n)
{
    char *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, text, n);
    return c;
}

static wsp_yaml_status load(const char *text, size_t n, const wsp_yaml_limits *lim,
                            wsp_yaml_result *res)
{
    char *c = exact(text, n);
    yaml_document_t doc;
    wsp_yaml_status st = wsp_yaml_load(c, n, lim, &doc, res);
    assert_int_equal(st, res->status);
    if (st == WSP_YAML_OK)
        yaml_document_delete(&doc);
    free(c);
    return st;
}

/* `unit` repeated to fill MIB bytes after `head`. */
static char *fill(const char *head, const char *unit, size_t *n)
{
    size_t h = strlen(head), u = strlen(unit);
    char *b = malloc(MIB);
    assert_non_null(b);
    memcpy(b, head, h);
    size_t o = h;
    while (o + u <= MIB) {
        memcpy(b + o, unit, u);
        o += u;
    }
    *n = o;
    return b;
}

static void assert_stopped_deep(const char *head, const char *unit, unsigned per_level)
{
    size_t n;
    char *b = fill(head, unit, &n);
    assert_true(n > MIB - 8);
    wsp_yaml_result res;
    assert_int_equal(wsp_yaml_load(b, n, NULL, &(yaml_document_t){0}, &res), WSP_YAML_TOO_DEEP);
    assert_int_equal(res.max_depth, WSP_YAML_MAX_DEPTH);
    assert_int_equal(res.depth, WSP_YAML_MAX_DEPTH + 1);
    /* stopped at the first level past the cap: a million levels were there to read */
    if (res.events > (unsigned long)per_level * (WSP_YAML_MAX_DEPTH + 1) + SLACK)
        fail_msg("'%s' x %zu: %lu events read, the cap is %u levels", unit, n / strlen(unit),
                 res.events, WSP_YAML_MAX_DEPTH);
    char msg[256];
    wsp_yaml_describe(&res, "a plan", msg, sizeof msg);
    assert_string_equal(msg, "nested deeper than 64 levels");
    free(b);

    /* a smaller cap stops sooner */
    b = fill(head, unit, &n);
    const wsp_yaml_limits lim = {8, 0};
    assert_int_equal(wsp_yaml_load(b, n, &lim, &(yaml_document_t){0}, &res), WSP_YAML_TOO_DEEP);
    assert_int_equal(res.depth, 9);
    assert_true(res.events <= (unsigned long)per_level * 9 + SLACK);
    free(b);
}

static void test_flow_nesting_stops_at_the_cap(void **state)
{
    (void)state;
    assert_stopped_deep("", "[", 1);
    wsp_yaml_result res;
    /* the level past the cap is where it stopped: the 65th '[' */
    size_t n;
    char *b = fill("", "[", &n);
    assert_int_equal(load(b, n, NULL, &res), WSP_YAML_TOO_DEEP);
    assert_int_equal(res.mark.line, 0);
    assert_int_equal(res.mark.column, WSP_YAML_MAX_DEPTH);
    free(b);
}

static void test_block_nesting_stops_at_the_cap(void **state)
{
    (void)state;
    assert_stopped_deep("", "- ", 1);
    assert_stopped_deep("top:\n", "- ", 1);
}

static void test_mapping_nesting_stops_at_the_cap(void **state)
{
    (void)state;
    /* flow mappings: a key scalar and a mapping per level */
    assert_stopped_deep("", "{a: ", 2);
    /* block mappings, one more space of indentation a line: about 1450 levels in 1 MiB */
    char *b = malloc(MIB);
    assert_non_null(b);
    size_t o = 0;
    for (unsigned lvl = 0;; lvl++) {
        int w = snprintf(b + o, MIB - o, "%*sk%u:\n", (int)lvl, "", lvl);
        assert_true(w > 0);
        if (o + (size_t)w >= MIB)
            break;
        o += (size_t)w;
    }
    assert_true(o > MIB - 4096);
    wsp_yaml_result res;
    assert_int_equal(load(b, o, NULL, &res), WSP_YAML_TOO_DEEP);
    assert_true(res.events <= 2ul * (WSP_YAML_MAX_DEPTH + 1) + SLACK);
    assert_int_equal(res.mark.line, WSP_YAML_MAX_DEPTH);
    /* the same within the cap loads */
    size_t within = 0;
    for (unsigned lvl = 0; lvl < WSP_YAML_MAX_DEPTH; lvl++)
        within += (size_t)snprintf(NULL, 0, "%*sk%u:\n", (int)lvl, "", lvl);
    assert_int_equal(load(b, within, NULL, &res), WSP_YAML_OK);
    assert_int_equal(res.depth, WSP_YAML_MAX_DEPTH);
    free(b);
}

static void test_depth_at_the_cap_loads(void **state)
{
    (void)state;
    const wsp_yaml_limits lim = {3, 0};
    wsp_yaml_result res;
    yaml_document_t doc;
    char *c = exact("[[[x]]]", 7);
    assert_int_equal(wsp_yaml_load(c, 7, &lim, &doc, &res), WSP_YAML_OK);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    assert_non_null(root);
    assert_int_equal(root->type, YAML_SEQUENCE_NODE);
    assert_int_equal(res.depth, 3);
    assert_int_equal(res.nodes, 4);
    /* STREAM-START DOCUMENT-START 3 x SEQUENCE-START SCALAR 3 x END DOCUMENT-END STREAM-END */
    assert_int_equal(res.events, 11);
    yaml_document_delete(&doc);
    free(c);
    assert_int_equal(load("[[[[x]]]]", 9, &lim, &res), WSP_YAML_TOO_DEEP);
    assert_int_equal(res.mark.column, 3);
    /* depth is of collections open at once, not of their number */
    assert_int_equal(load("[[x], [y], {a: [z]}]", 20, &lim, &res), WSP_YAML_OK);
    assert_int_equal(res.depth, 3);
}

static void test_node_cap(void **state)
{
    (void)state;
    /* 500k scalars in 1 MiB */
    size_t n;
    char *b = fill("[", "x,", &n);
    wsp_yaml_result res;
    assert_int_equal(load(b, n, NULL, &res), WSP_YAML_TOO_MANY_NODES);
    assert_int_equal(res.nodes, WSP_YAML_MAX_NODES + 1);
    assert_true(res.events <= WSP_YAML_MAX_NODES + SLACK);
    char msg[256];
    wsp_yaml_describe(&res, "a plan", msg, sizeof msg);
    assert_string_equal(msg, "more than 100000 nodes (scalars, lists, mappings and aliases)");
    free(b);
    /* aliases are nodes too, and are allowed */
    const wsp_yaml_limits lim = {0, 5};
    const char *ok = "a: &x v\nb: [*x, *x]\n"; /* map, a, v, b, seq, 2 aliases */
    assert_int_equal(load(ok, strlen(ok), &(wsp_yaml_limits){0, 7}, &res), WSP_YAML_OK);
    assert_int_equal(res.nodes, 7);
    assert_int_equal(load(ok, strlen(ok), &lim, &res), WSP_YAML_TOO_MANY_NODES);
    assert_int_equal(res.mark.line, 1);
    assert_int_equal(res.mark.column, 4); /* the first alias: the 6th node */
}

static void test_second_document_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned line, column; /* 1-based, as the message says */
    } cases[] = {
        {"a: 1\n---\nb: 2\n", 2, 1},
        {"--- \na: 1\n--- \nb: 2\n", 3, 1},
        {"a: 1\n...\n--- b: 2\n", 3, 1},
        {"a: 1\n---\n", 2, 1}, /* an empty second document is a second document */
        {"# one\na: 1\n\n\n--- x\n", 5, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsp_yaml_result res;
        wsp_yaml_status st = load(cases[i].text, strlen(cases[i].text), NULL, &res);
        if (st != WSP_YAML_SECOND_DOCUMENT)
            fail_msg("'%s': %s", cases[i].text, wsp_yaml_status_name(st));
        assert_int_equal(res.mark.line + 1, cases[i].line);
        assert_int_equal(res.mark.column + 1, cases[i].column);
        char msg[256], want[256];
        wsp_yaml_describe(&res, "a plan", msg, sizeof msg);
        snprintf(want, sizeof want, "a plan holds one YAML document; a second starts at %u:%u",
                 cases[i].line, cases[i].column);
        assert_string_equal(msg, want);
        /* stopped there: the second document's content was not read */
        assert_true(res.events <= 12);
    }
    /* libyaml (YAML 1.1) wants --- before a second document: without it, a syntax error */
    const char *bare = "a: 1\n...\nb: 2\n";
    wsp_yaml_result r2;
    assert_int_equal(load(bare, strlen(bare), NULL, &r2), WSP_YAML_SYNTAX);
    /* one document with markers is one document */
    const char *one = "---\na: 1\n...\n";
    wsp_yaml_result res;
    assert_int_equal(load(one, strlen(one), NULL, &res), WSP_YAML_OK);
}

static void test_syntax_and_empty(void **state)
{
    (void)state;
    wsp_yaml_result res;
    const char *bad = "key: [unclosed\n";
    assert_int_equal(load(bad, strlen(bad), NULL, &res), WSP_YAML_SYNTAX);
    assert_non_null(res.problem);
    char msg[256];
    wsp_yaml_describe(&res, "a plan", msg, sizeof msg);
    assert_non_null(strstr(msg, "YAML syntax: "));
    assert_non_null(strstr(msg, "(which started at line 1, column 6)"));
    /* what follows the one document is read, not ignored */
    const char *trail = "a: 1\n...\n]\n";
    assert_int_not_equal(load(trail, strlen(trail), NULL, &res), WSP_YAML_OK);
    /* an empty stream is a document without a root */
    yaml_document_t doc;
    assert_int_equal(wsp_yaml_load("", 0, NULL, &doc, &res), WSP_YAML_OK);
    assert_null(yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    assert_int_equal(load("# only a comment\n", 17, NULL, &res), WSP_YAML_OK);
}

/* Every prefix of a document is a document or a syntax error (or, cut inside a marker, a
 * second document); never a crash or a read past the end. */
static void test_every_prefix(void **state)
{
    (void)state;
    const char *text = "name: demo\nenvironments:\n  s: {url: 'ws://h/', headers: [a, \"b\"]}\n"
                       "checks:\n  - connect\n  - {conversation: {send: x}}\nanchors: &a [1]\n"
                       "again: *a\n...\n";
    size_t n = strlen(text);
    for (size_t i = 0; i <= n; i++) {
        wsp_yaml_result res;
        wsp_yaml_status st = load(text, i, NULL, &res);
        if (st != WSP_YAML_OK && st != WSP_YAML_SYNTAX)
            fail_msg("prefix of %zu bytes: %s", i, wsp_yaml_status_name(st));
    }
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(wsp_yaml_status_name(WSP_YAML_OK), "ok");
    assert_string_equal(wsp_yaml_status_name(WSP_YAML_SYNTAX), "syntax");
    assert_string_equal(wsp_yaml_status_name(WSP_YAML_TOO_DEEP), "too-deep");
    assert_string_equal(wsp_yaml_status_name(WSP_YAML_TOO_MANY_NODES), "too-many-nodes");
    assert_string_equal(wsp_yaml_status_name(WSP_YAML_SECOND_DOCUMENT), "second-document");
    assert_string_equal(wsp_yaml_status_name(WSP_YAML_NO_MEMORY), "no-memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_nesting_stops_at_the_cap),
        cmocka_unit_test(test_block_nesting_stops_at_the_cap),
        cmocka_unit_test(test_mapping_nesting_stops_at_the_cap),
        cmocka_unit_test(test_depth_at_the_cap_loads),
        cmocka_unit_test(test_node_cap),
        cmocka_unit_test(test_second_document_refused),
        cmocka_unit_test(test_syntax_and_empty),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
