/* probeopts.h - the options every command that connects shares (probe, wait, security, load):
 * connection, TLS, credentials, conversation and output. One parser, so a flag means the same
 * thing everywhere.
 *
 * Use: wsp_probeopts_init; build the getopt_long table with wsp_probeopts_longopts (plus the
 * command's own options, with codes >= WSP_PROBEOPTS_OWN); for each option getopt returns, call
 * wsp_probeopts_take (it answers whether the option was one of these); then
 * wsp_probeopts_finish with the URL; wsp_probeopts_cleanup at the end. */
#ifndef WSP_CLI_PROBEOPTS_H
#define WSP_CLI_PROBEOPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "probe/setup.h"

#define WSP_PROBEOPTS_OWN WSP_PROBE_OPT_OWN /* option codes from here on are the command's */

typedef struct wsp_probeopts {
    const char *cmd;   /* for messages: "probe" */
    wsp_probe_setup s; /* the probe's configuration, built by probe/setup.h */
    const char *url;
    bool json, verbose, quiet;
    const char *json_file; /* --json=FILE (cli/args.h), or NULL: stdout */
    size_t connections;
} wsp_probeopts;

/* Short options of the shared set, for getopt_long's optstring: "H:46vq". */
#define WSP_PROBEOPTS_SHORT "H:46vq"

void wsp_probeopts_init(wsp_probeopts *o, const char *cmd);
void wsp_probeopts_cleanup(wsp_probeopts *o);

/* A table with the shared options followed by `own` (terminated by an all-zero entry). Heap;
 * caller frees. NULL when out of memory. */
struct option *wsp_probeopts_merge(const struct option *own);
/* The help lines of the shared options. */
const char *wsp_probeopts_help(void);
/* Print the help lines of the shared options to f, leaving out the options named in `omit`
 * (long names without "--", NULL-terminated): those a command defines differently or refuses. */
void wsp_probeopts_help_print(FILE *f, const char *const *omit);

/* The shared options' tables (the probe's, then -v, -q, --connections), for cli/args.h. */
const wsp_opt *const *wsp_probeopts_tables(void);
/* Apply one option of those tables: 1 when applied, -1 when its value is bad (printed). */
int wsp_probeopts_apply(wsp_probeopts *o, const wsp_opt *opt, const char *arg);

/* Take one option from getopt_long (its code, optarg and the long option's name or NULL).
 * Returns 1 when it was a shared option and was applied, 0 when it is not one of them, and -1
 * when its value is bad (the message is printed; exit with 2). */
int wsp_probeopts_take(wsp_probeopts *o, int code, const char *arg, const char *longname);

/* Finish after the last option: parse the URL (URL_INVALID: returns the class's exit code with
 * the failure printed, as JSON too when --json), apply --resolve pins, load the TLS context and
 * the credentials, check templates. Returns 0, or the exit code to return. */
int wsp_probeopts_finish(wsp_probeopts *o, const char *url);

/* Print a JSON object on stdout (and release it). */
int wsp_probeopts_print_json(const char *cmd, json_t *o);

#endif
