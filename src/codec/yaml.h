/* yaml.h - one YAML document from memory, bounded before it is built (issue 13).
 *
 * libyaml's yaml_parser_load builds the whole node tree before its caller can look at it, and
 * deep nesting is superlinear inside libyaml (its scanner walks every open flow level at each
 * token): 100k levels took 32 s, and a cap checked on the tree comes too late. So the text is
 * read twice:
 *   1. libyaml's event API (yaml_parser_parse): nesting depth and nodes are counted as the
 *      events come, and the pass stops at the first event past a cap, or at the start of a
 *      second document (a stream of several documents is refused, not cut to its first);
 *   2. only when pass 1 was clean, yaml_parser_load builds the document for the caller.
 * Pass 1 does work bounded by the caps (and libyaml's 1024-character look-ahead for simple
 * keys), whatever the size of the text.
 *
 * Anchors and aliases are allowed: each alias is one node here; a caller that expands aliases
 * counts its own visits (check/plan.c does). Pure: text in memory, no I/O.
 */
#ifndef WSP_YAML_H
#define WSP_YAML_H

#include <stddef.h>

#include <yaml.h>

/* The caps when a caller gives none (wsp_yaml_limits fields of 0). */
#define WSP_YAML_MAX_DEPTH 64       /* sequences and mappings open at once */
#define WSP_YAML_MAX_NODES 100000ul /* scalars, sequences, mappings and aliases */

typedef enum wsp_yaml_status {
    WSP_YAML_OK = 0,
    WSP_YAML_SYNTAX,          /* libyaml refused the text: problem and context below */
    WSP_YAML_TOO_DEEP,        /* a sequence or mapping opened past max_depth */
    WSP_YAML_TOO_MANY_NODES,  /* a node past max_nodes */
    WSP_YAML_SECOND_DOCUMENT, /* the stream holds a second document; mark is its start */
    WSP_YAML_NO_MEMORY,
} wsp_yaml_status;

typedef struct wsp_yaml_limits {
    unsigned max_depth;      /* 0: WSP_YAML_MAX_DEPTH */
    unsigned long max_nodes; /* 0: WSP_YAML_MAX_NODES */
} wsp_yaml_limits;

/* What a load saw. Marks are libyaml's (0-based line and column). */
typedef struct wsp_yaml_result {
    wsp_yaml_status status;
    yaml_mark_t mark;         /* where it stopped: the event past a cap, the second document's
                                 start, or libyaml's problem mark */
    const char *problem;      /* WSP_YAML_SYNTAX: libyaml's text (static), never NULL */
    const char *context;      /* WSP_YAML_SYNTAX: libyaml's context (static) or NULL */
    yaml_mark_t context_mark; /* where the context started, when there is one */
    unsigned long events;     /* events pass 1 read, the one that stopped it included */
    unsigned long nodes;      /* nodes pass 1 counted */
    unsigned depth;           /* the deepest nesting pass 1 saw */
    unsigned max_depth;       /* the caps in force (the defaults filled in) */
    unsigned long max_nodes;
} wsp_yaml_result;

/* Read the one document in text[0..len) (need not be NUL-terminated; borrowed for the call).
 * lim may be NULL (the defaults). res is filled in every case. On WSP_YAML_OK, *doc holds the
 * document (the caller deletes it with yaml_document_delete; an empty stream gives a document
 * without a root node); on any other status *doc is untouched and needs no delete. */
wsp_yaml_status wsp_yaml_load(const char *text, size_t len, const wsp_yaml_limits *lim,
                              yaml_document_t *doc, wsp_yaml_result *res);

/* A stable name ("ok", "syntax", "too-deep", "too-many-nodes", "second-document",
 * "no-memory"). */
const char *wsp_yaml_status_name(wsp_yaml_status s);

/* The message for a refused load, without a location (the caller puts its own in front):
 *   nested deeper than 32 levels
 *   more than 100000 nodes (scalars, lists, mappings and aliases)
 *   a plan holds one YAML document; a second starts at 3:1        (what = "a plan")
 *   YAML syntax: did not find expected node content (which started at line 1, column 3)
 *   out of memory
 * `what` names the document for the second-document message. Always NUL-terminates out. */
void wsp_yaml_describe(const wsp_yaml_result *res, const char *what, char *out, size_t cap);

#endif
