/* cmd_report.c - `wsprobe report FILE.json --html OUT`: the HTML report of a saved --json report
 * (load, load-merge, hold, run, security, parity, audit: the kind is the report's `command`),
 * so CI can publish it after the fact. The same renderer as --html (report/html.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "cli.h"
#include "report/html.h"
#include "util/files.h"

#define CMD "report"
#define REPORT_MAX (256u << 20) /* a 1-hour load report with its histograms is a few MiB */

static const char usage[] =
    "usage: wsprobe report FILE.json --html OUT.html\n\n"
    "Render a saved report (--json of load, load-merge, hold, run, security, parity or audit;\n"
    "`-` reads standard input) as one self-contained HTML file: charts and tables, no\n"
    "network access, light and dark, printable (docs/reports.md).\n\n";

static const char after[] =
    "\nExit 0 when the page is written; 2 when FILE is not a wsprobe report (what it lacks is\n"
    "said) or --html is missing; 71 (OUTPUT_FAILED) when OUT cannot be written.\n";

static int take(void *ud, const wsp_opt *opt, const char *arg, const wsp_opt_value *v)
{
    (void)ud;
    (void)opt;
    (void)arg;
    (void)v;
    return 0; /* no options of its own: --html is the common one */
}

int wsp_cmd_report(int argc, char **argv)
{
    static const wsp_opt heading[] = {
        {"options:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
        {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    };
    const wsp_opt *const tables[] = {heading, NULL};
    const wsp_cli_spec spec = {
        .cmd = CMD, .usage = usage, .after = after, .tables = tables, .flags = WSP_CLI_HTML};
    wsp_cli_out out;
    int rc = wsp_cli_parse(&spec, argc, argv, take, NULL, &out);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (out.noperands != 1)
        return wsp_cli_usage_error(CMD, "give one report, like wsprobe report load.json --html "
                                        "load.html");
    if (!out.html_file)
        return wsp_cli_usage_error(CMD, "say where the page goes: --html OUT.html");
    wsp_err err;
    wsp_err_clear(&err);
    size_t len = 0;
    char *text = wsp_file_read("the report", out.operands[0], REPORT_MAX, 0, &len, &err);
    if (!text)
        return wsp_cli_usage_error(CMD, "%s", err.msg);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!j)
        return wsp_cli_usage_error(CMD, "%s: not JSON (line %d: %s)", out.operands[0], je.line,
                                   je.text);
    if (wsp_html_check(j, &err) != 0) {
        json_decref(j);
        return wsp_cli_usage_error(CMD, "%s: %s", out.operands[0], err.msg);
    }
    rc = 0;
    if (wsp_html_write_file(out.html_file, j, &err) != 0) {
        fprintf(stderr, "wsprobe: " CMD ": %s: %s\n", wsp_class_name(err.cls), err.msg);
        rc = wsp_class_exit_code(err.cls);
    }
    json_decref(j);
    return rc;
}
