/* opt.h - typed options: each option is declared once, with its type, bounds, help and the
 * key it has in a plan, and its value is parsed and range-checked here, with one message per
 * type that names the option and shows an example. curl's tool_getparam.c is the model.
 *
 * A table is an array of wsp_opt ended by an entry whose name is NULL. A command's options are
 * several tables (a NULL-terminated list of them): the probe options of probe/setup.h, the
 * JWT options of probe/jwtconfig.h, the command's own. Headings (WSP_OPT_HEADING) only shape
 * the help. The command line (getopt) and plans both take their values through
 * wsp_opt_parse, so a value means the same thing wherever it is written. */
#ifndef WSP_UTIL_OPT_H
#define WSP_UTIL_OPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

typedef enum wsp_opt_type {
    WSP_OPT_HEADING,  /* not an option: a heading line of the help ("TLS:") */
    WSP_OPT_FLAG,     /* no value */
    WSP_OPT_TEXT,     /* one line of text */
    WSP_OPT_DURATION, /* 250ms, 2s, 1m: microseconds, > 0 */
    WSP_OPT_SIZE,     /* 64K, 16M: bytes */
    WSP_OPT_COUNT,    /* a whole number in [min, max] */
    WSP_OPT_NUMBER,   /* a decimal number > 0 (a rate) */
    WSP_OPT_ENUM,     /* one of values[] */
    WSP_OPT_PATH,     /* a file's path */
    WSP_OPT_ENV,      /* the NAME of an environment variable that holds a secret */
} wsp_opt_type;

#define WSP_OPT_OPTIONAL 0x1u /* the value may be left out (--jwt-jti[=FORMAT]) */
#define WSP_OPT_REPEAT 0x2u   /* may be given more than once */

typedef struct wsp_opt {
    const char *name; /* long name without "--"; a heading's text */
    int short_name;   /* 'H', or 0 */
    wsp_opt_type type;
    int id;              /* the owner's code for it (unique across a command's tables) */
    const char *metavar; /* "DUR", "PEM"; NULL for a flag */
    const char *help;    /* "\n" starts a continuation line; NULL: not in --help */
    uint64_t min, max;   /* COUNT and SIZE bounds (max 0: none) */
    /* ENUM: the values, NULL-terminated. Other types: the fixed set a shell completes (the
     * parser takes more, as query:NAME for --auth-in), or NULL */
    const char *const *values;
    const char *plan_key; /* its key in a plan's environment ("tls.cacert"), or NULL */
    unsigned flags;       /* WSP_OPT_* */
} wsp_opt;

typedef struct wsp_opt_value {
    const char *text; /* the value as written (NULL for a flag) */
    uint64_t u;       /* DURATION: microseconds; SIZE: bytes; COUNT: the number; ENUM: index */
    double d;         /* NUMBER */
} wsp_opt_value;

/* Parse and range-check `arg` for option o. On failure err gets class USAGE and a message
 * "LABEL 'ARG': expected ..., like ..." (label: how the option was written, "--timeout" or a
 * plan's key path; NULL: "--NAME"). The value of an ENV option is not repeated: a secret
 * given where its variable's name goes must not reach a log. Returns 0 or -1. */
int wsp_opt_parse(const wsp_opt *o, const char *label, const char *arg, wsp_opt_value *v,
                  wsp_err *err);

/* The option of `tables` (NULL-terminated list) with long name `name`, the short name `c`, the
 * id, or the plan key; NULL when none. */
const wsp_opt *wsp_opt_by_name(const wsp_opt *const *tables, const char *name);
const wsp_opt *wsp_opt_by_short(const wsp_opt *const *tables, int c);
const wsp_opt *wsp_opt_by_id(const wsp_opt *const *tables, int id);
const wsp_opt *wsp_opt_by_plan_key(const wsp_opt *const *tables, const char *key);

/* Whether o is hidden by an option of the same name earlier in `tables`: a command's own
 * option (wait's --deadline, the whole wait) shadows a shared one of that name (the probe's
 * --deadline) in lookups, getopt and the help. */
bool wsp_opt_shadowed(const wsp_opt *const *tables, const wsp_opt *o);

/* Print the help of `tables`: headings, then "  -H, --name META   help" in two columns.
 * Options named in `omit` (long names, NULL-terminated; may be NULL) are left out. */
void wsp_opt_help(FILE *f, const wsp_opt *const *tables, const char *const *omit);

#endif
