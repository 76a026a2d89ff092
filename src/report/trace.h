/* trace.h - --trace FILE (docs/cli.md, "Trace"): every handshake head and every frame of every
 * connection of the process, each way, one JSON object per line; the evidence a user attaches to
 * a bug report. Heads are redacted as -v redacts them (credential headers, token query values,
 * Proxy-Authorization); payload excerpts (the first 64 bytes, as text when they are printable
 * UTF-8, else hex) pass the redactor (util/redact.h).
 *
 * One trace per process: the command line opens it, net/conn.h's tracer hooks feed it from any
 * loop's thread (a lock serialises the lines), and main closes it, turning a failed write into
 * OUTPUT_FAILED. Line fields: docs/cli.md. */
#ifndef WSP_TRACE_H
#define WSP_TRACE_H

#include "net/conn.h"
#include "util/error.h"

/* Open (truncate) the trace file. USAGE when it cannot be opened, or is open already. */
int wsp_trace_open(const char *path, wsp_err *err);
/* The hooks for wsp_conn_opts.tracer; NULL when no trace is open. */
const wsp_conn_tracer *wsp_trace_hooks(void);
/* Flush and close. -1 with err (OUTPUT_FAILED) when any line could not be written; 0 when
 * all were, or no trace was open. */
int wsp_trace_close(wsp_err *err);

#endif
