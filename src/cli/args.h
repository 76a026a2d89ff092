/* args.h - one command line for every command: options declared once in typed tables
 * (util/opt.h), parsed here with getopt_long, with the conventions of docs/cli.md that every
 * command follows:
 *   -h, --help       the usage and the options, generated from the tables (exit 0);
 *   --version        the version (exit 0);
 *   --json           the JSON report on stdout instead of the human view;
 *   --json=FILE      the JSON report to FILE, and the human view as usual;
 *   options spelled in full (no abbreviations: `--jwt-secret` must not become
 *   `--jwt-secret-env`); a secret-looking option gets the advice to use the environment;
 *   renamed options still parse for one release, with a warning naming the new form
 *   (CHANGELOG.md says when the old form goes). */
#ifndef WSP_CLI_ARGS_H
#define WSP_CLI_ARGS_H

#include <stdbool.h>

#include "util/opt.h"

/* An option's old spelling. */
typedef struct wsp_cli_alias {
    const char *old_name;   /* without "--" */
    const char *new_name;   /* an option of the command's tables */
    const char *removed_in; /* the release without it: "0.3.0" */
} wsp_cli_alias;

#define WSP_CLI_JSON 0x1u /* takes --json and --json=FILE */
/* also the old `--json FILE` (run, parity, audit before 0.2.0): a `--json` followed by "-" or
 * a word that does not start with '-' and is not an operand this command takes by its suffix
 * (`.yaml`, `.yml`, `.xml`, `.gz`) is read as --json=FILE, with a warning */
#define WSP_CLI_JSON_SPACED 0x2u
#define WSP_CLI_HTML 0x4u /* takes --html FILE (report/html.h) */

typedef struct wsp_cli_spec {
    const char *cmd;              /* "probe" */
    const char *usage;            /* the text --help prints before the options */
    const char *after;            /* the text after them, or NULL */
    const wsp_opt *const *tables; /* NULL-terminated */
    const char *const *omit;      /* options of the tables this command refuses; NULL-terminated */
    const wsp_cli_alias *aliases; /* ended by an entry whose old_name is NULL; may be NULL */
    unsigned flags;               /* WSP_CLI_* */
} wsp_cli_spec;

typedef struct wsp_cli_out {
    bool json;             /* --json or --json=FILE */
    const char *json_file; /* --json=FILE; NULL: stdout (and no human view) */
    const char *html_file; /* --html FILE, or NULL */
    char **operands;       /* what is not an option, in order (argv's) */
    int noperands;
} wsp_cli_out;

/* One option and its value, checked by type (v: the parsed value; arg NULL for a flag). Returns
 * 0, or -1 with the message printed. */
typedef int (*wsp_cli_take_fn)(void *ud, const wsp_opt *o, const char *arg, const wsp_opt_value *v);

/* Parse argv (argv[0] is the command's name). Returns 0 to go on, 1 when --help or --version
 * was printed (exit 0), 2 on a usage error (printed; exit 2). */
int wsp_cli_parse(const wsp_cli_spec *spec, int argc, char **argv, wsp_cli_take_fn take, void *ud,
                  wsp_cli_out *out);

/* Print the usage and the options of spec (what --help prints). */
void wsp_cli_help(const wsp_cli_spec *spec, FILE *f);

/* `wsprobe _gen` (cli/gen.c): while a hook is set, wsp_cli_parse hands the command's spec to it
 * instead of parsing, and returns 1 (the command ends as after --help). */
typedef void (*wsp_cli_spec_fn)(const wsp_cli_spec *spec, void *ud);
void wsp_cli_set_spec_hook(wsp_cli_spec_fn fn, void *ud);

/* Each option `spec` accepts, in --help order, headings included (the command's tables, then
 * --json, --html, --help, --version; those it omits and those shadowed left out). */
void wsp_cli_each_option(const wsp_cli_spec *spec, void (*fn)(const wsp_opt *o, void *ud),
                         void *ud);

/* `--version`: the version, the git revision, the libraries' versions (cli/version.c). */
void wsp_cli_version(FILE *f);

/* Open where the JSON report goes: stdout for --json, FILE for --json=FILE. The human view is
 * printed when wsp_cli_human(out). */
bool wsp_cli_human(const wsp_cli_out *out);

#endif
