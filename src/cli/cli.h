/* cli.h - the command line: one entry point per command, and the helpers they share. Uses only
 * the library's public headers. */
#ifndef WSP_CLI_H
#define WSP_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Each command takes the arguments after its name (argv[0] is the command name) and returns
 * the process exit code. */
int wsp_cmd_probe(int argc, char **argv);
int wsp_cmd_token(int argc, char **argv);
int wsp_cmd_audit(int argc, char **argv);
int wsp_cmd_serve(int argc, char **argv);
int wsp_cmd_security(int argc, char **argv);
int wsp_cmd_wait(int argc, char **argv);
int wsp_cmd_run(int argc, char **argv);
int wsp_cmd_parity(int argc, char **argv);
int wsp_cmd_load(int argc, char **argv);
int wsp_cmd_load_merge(int argc, char **argv);
int wsp_cmd_hold(int argc, char **argv);
int wsp_cmd_exporter(int argc, char **argv);
int wsp_cmd_report(int argc, char **argv);
/* `wsprobe _gen man DIR [PLAN.yaml] | bash | zsh | fish` (cli/gen.c): not for people. */
int wsp_cmd_gen(int argc, char **argv);

/* The commands, in the order `wsprobe --help` lists them; ended by a NULL name (main.c). */
typedef struct wsp_cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} wsp_cli_command;
extern const wsp_cli_command wsp_cli_commands[];

/* Print "wsprobe: <cmd>: message" to stderr, and the hint on a second line if given.
 * Returns 2 (USAGE) for `return wsp_cli_usage_error(...)`. */
int wsp_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write a command's JSON report (consumed) through report.h's one writer to `path` (NULL or
 * "-": stdout). A write that fails is said on stderr. Returns 0 or -1. */
#include <jansson.h>
int wsp_cli_json_write(const char *cmd, json_t *report, const char *path);
/* The report of a run as the command line asked: JSON (--json[=FILE]) and HTML (--html FILE,
 * rendered from the same JSON: report/html.h). Takes `report`. 0, or -1 after saying on
 * stderr what could not be written (OUTPUT_FAILED). */
struct wsp_cli_out;
int wsp_cli_report(const char *cmd, json_t *report, const struct wsp_cli_out *out);

/* Whether `name` (len bytes, with its "--") is an option people type by habit that would carry
 * a secret as its value (--token, --jwt-secret, --password): refused with advice. */
bool wsp_cli_secret_option(const char *name, size_t len);

/* Whether colored output is allowed on `f` (a TTY and NO_COLOR unset). */
bool wsp_cli_color(FILE *f);
/* printf to f through the redactor (util/redact.h): for every human line that quotes a URL, a
 * verdict's message or a peer's bytes outside the report writers. */
void wsp_cli_say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a value given as TEXT or @FILE. Returns heap memory (caller frees) or NULL with a
 * message printed. */
char *wsp_cli_text_or_file(const char *cmd, const char *opt, const char *arg, size_t *len_out);

#endif
