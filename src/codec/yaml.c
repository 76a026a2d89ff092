/* yaml.c - see yaml.h. */
#include "codec/yaml.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *wsp_yaml_status_name(wsp_yaml_status s)
{
    switch (s) {
    case WSP_YAML_OK:
        return "ok";
    case WSP_YAML_SYNTAX:
        return "syntax";
    case WSP_YAML_TOO_DEEP:
        return "too-deep";
    case WSP_YAML_TOO_MANY_NODES:
        return "too-many-nodes";
    case WSP_YAML_SECOND_DOCUMENT:
        return "second-document";
    case WSP_YAML_NO_MEMORY:
        return "no-memory";
    }
    return "?";
}

/* libyaml's error, as the parser left it. */
static wsp_yaml_status parser_failed(const yaml_parser_t *p, wsp_yaml_result *res)
{
    if (p->error == YAML_MEMORY_ERROR)
        return res->status = WSP_YAML_NO_MEMORY;
    res->mark = p->problem_mark;
    res->problem = p->problem ? p->problem : "error";
    res->context = p->context;
    res->context_mark = p->context_mark;
    return res->status = WSP_YAML_SYNTAX;
}

/* Pass 1: the events, counted, up to the first one past a cap. */
static wsp_yaml_status scan(const char *text, size_t len, wsp_yaml_result *res)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return res->status = WSP_YAML_NO_MEMORY;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    unsigned documents = 0, depth = 0;
    bool done = false;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            parser_failed(&p, res);
            break;
        }
        res->events++;
        bool node = false, opens = false;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                res->mark = ev.start_mark;
                res->status = WSP_YAML_SECOND_DOCUMENT;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            node = opens = true;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--; /* libyaml pairs every end with its start */
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            node = true;
            break;
        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        }
        if (opens && ++depth > res->depth)
            res->depth = depth;
        if (opens && depth > res->max_depth) {
            res->mark = ev.start_mark;
            res->status = WSP_YAML_TOO_DEEP;
        } else if (node && ++res->nodes > res->max_nodes) {
            res->mark = ev.start_mark;
            res->status = WSP_YAML_TOO_MANY_NODES;
        }
        yaml_event_delete(&ev);
        if (res->status != WSP_YAML_OK)
            break;
    }
    yaml_parser_delete(&p);
    return res->status;
}

wsp_yaml_status wsp_yaml_load(const char *text, size_t len, const wsp_yaml_limits *lim,
                              yaml_document_t *doc, wsp_yaml_result *res)
{
    memset(res, 0, sizeof *res);
    res->max_depth = lim && lim->max_depth ? lim->max_depth : WSP_YAML_MAX_DEPTH;
    res->max_nodes = lim && lim->max_nodes ? lim->max_nodes : WSP_YAML_MAX_NODES;
    if (scan(text, len, res) != WSP_YAML_OK)
        return res->status;
    /* Pass 2: the same text, known to be within the caps and one document. */
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return res->status = WSP_YAML_NO_MEMORY;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, doc))
        parser_failed(&p, res);
    yaml_parser_delete(&p);
    return res->status;
}

void wsp_yaml_describe(const wsp_yaml_result *res, const char *what, char *out, size_t cap)
{
    if (!cap)
        return;
    switch (res->status) {
    case WSP_YAML_OK:
        snprintf(out, cap, "ok");
        return;
    case WSP_YAML_SYNTAX:
        if (res->context)
            snprintf(out, cap, "YAML syntax: %s %s (which started at line %u, column %u)",
                     res->problem, res->context, (unsigned)res->context_mark.line + 1,
                     (unsigned)res->context_mark.column + 1);
        else
            snprintf(out, cap, "YAML syntax: %s", res->problem);
        return;
    case WSP_YAML_TOO_DEEP:
        snprintf(out, cap, "nested deeper than %u levels", res->max_depth);
        return;
    case WSP_YAML_TOO_MANY_NODES:
        snprintf(out, cap, "more than %lu nodes (scalars, lists, mappings and aliases)",
                 res->max_nodes);
        return;
    case WSP_YAML_SECOND_DOCUMENT:
        snprintf(out, cap, "%s holds one YAML document; a second starts at %u:%u", what,
                 (unsigned)res->mark.line + 1, (unsigned)res->mark.column + 1);
        return;
    case WSP_YAML_NO_MEMORY:
        snprintf(out, cap, "out of memory");
        return;
    }
    snprintf(out, cap, "?");
}
