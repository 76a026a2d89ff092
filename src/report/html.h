/* html.h - the HTML report: one self-contained polyglot XHTML file (inline CSS and SVG, no
 * script, no network: a Content-Security-Policy of default-src 'none'), light and dark,
 * printable, rendered from a command's JSON report (the same document --json writes), so the
 * figures of the page are the JSON's. `wsprobe report FILE.json --html OUT` renders a saved
 * one; `--html FILE` on load, hold, run, parity, security and audit renders the run's own.
 * Every text passes the redactor and is escaped (report/xmlw.h). */
#ifndef WSP_HTML_H
#define WSP_HTML_H

#include <stdio.h>

#include <jansson.h>

#include "util/error.h"

/* Whether `report` is a report this renderer knows: its `command` (load, load-merge, hold, run,
 * security, parity, audit) and `schema_version` 1. 0, or -1 with err (USAGE) naming what is
 * missing or unknown. */
int wsp_html_check(const json_t *report, wsp_err *err);

/* Render `report` to f. 0, or -1 with err (USAGE for a report it does not know, OUTPUT_FAILED
 * for a failed write). */
int wsp_html_write(FILE *f, const json_t *report, wsp_err *err);

/* Render to `path` (written whole: a temporary file renamed, util/files.h). 0, or -1 with err. */
int wsp_html_write_file(const char *path, const json_t *report, wsp_err *err);

#endif
