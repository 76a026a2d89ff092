/* probeopts.h - the options every command that connects shares (probe, wait, security, load):
 * connection, TLS, credentials, conversation and output. One parser, so a flag means the same
 * thing everywhere.
 *
 * Use: wsp_probeopts_init; give wsp_probeopts_tables() (after the command's own table, whose
 * options may shadow a shared one of the same name) to wsp_cli_parse (cli/args.h), and hand
 * each option that is not the command's own to wsp_probeopts_apply; set json and json_file
 * from the parse; then wsp_probeopts_finish with the URL; wsp_probeopts_cleanup at the end. */
#ifndef WSP_CLI_PROBEOPTS_H
#define WSP_CLI_PROBEOPTS_H

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
    bool each_address; /* --each-address (probe, wait) */
} wsp_probeopts;

void wsp_probeopts_init(wsp_probeopts *o, const char *cmd);
void wsp_probeopts_cleanup(wsp_probeopts *o);

/* The shared options' tables (the probe's, then -v, -q, --connections), for cli/args.h. */
const wsp_opt *const *wsp_probeopts_tables(void);
/* Apply one option of those tables: 1 when applied, -1 when its value is bad (printed). */
int wsp_probeopts_apply(wsp_probeopts *o, const wsp_opt *opt, const char *arg);

/* Finish after the last option: parse the URL (URL_INVALID: returns the class's exit code with
 * the failure printed, as JSON too when --json), apply --resolve pins, load the TLS context and
 * the credentials, check templates. Returns 0, or the exit code to return. */
int wsp_probeopts_finish(wsp_probeopts *o, const char *url);
/* The same for a command whose one operand is the URL: refuses none or several (exit 2), takes
 * --json/--json=FILE from the parse, then wsp_probeopts_finish. The URL is o->url after. */
struct wsp_cli_out;
int wsp_probeopts_finish_cli(wsp_probeopts *o, const struct wsp_cli_out *out);

#endif
