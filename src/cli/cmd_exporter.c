/* cmd_exporter.c - `wsprobe exporter --config FILE`: WebSocket probes for Prometheus
 * (docs/exporter.md; the server is exporter/exporter.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "codec/url.h"
#include "exporter/exporter.h"

static const char exporter_usage[] =
    "usage: wsprobe exporter --config FILE [options]\n"
    "\n"
    "Serve WebSocket probes to Prometheus, in blackbox_exporter's multi-target pattern:\n"
    "GET /probe?target=wss://HOST/PATH&module=NAME runs one probe with the module's settings\n"
    "(a plan's environment keys without url, plus allowed_targets, health,\n"
    "expect_auth_required and a conversation) and answers its metrics, within Prometheus's\n"
    "scrape timeout. GET /metrics has the exporter's own; GET /-/healthy says it serves;\n"
    "POST /-/reload or SIGHUP reads the configuration again (a bad one keeps the old).\n"
    "\n"
    "Exit: 0 after SIGTERM or SIGINT (the probes in flight end first); 2 when the\n"
    "configuration, the web configuration or the listen address is bad at start.\n"
    "\n";

enum {
    OPT_CONFIG = 1,
    OPT_LISTEN,
    OPT_PORT_FILE,
    OPT_ANY,
    OPT_MAX_CONCURRENT,
    OPT_WEB_CONFIG,
};

#define NONE 0, 0, NULL, NULL, 0
static const wsp_opt exporter_opts[] = {
    {"config", 0, WSP_OPT_PATH, OPT_CONFIG, "FILE", "the modules (YAML, docs/exporter.md)", NONE},
    {"listen", 0, WSP_OPT_TEXT, OPT_LISTEN, "HOST:PORT",
     "where to serve (default " WSP_EXPORTER_DEFAULT_LISTEN
     ": loopback;\nport 0 picks a free port, said on stderr)",
     NONE},
    {"port-file", 0, WSP_OPT_PATH, OPT_PORT_FILE, "FILE",
     "write {\"port\": N} to FILE once listening", NONE},
    {"max-concurrent", 0, WSP_OPT_COUNT, OPT_MAX_CONCURRENT, "N",
     "probes at once (default 64); a scrape past it gets 503", 1, 4096, NULL, NULL, 0},
    {"allow-any-target", 0, WSP_OPT_FLAG, OPT_ANY, NULL,
     "let modules without allowed_targets probe any target\n(warned: anyone who reaches the "
     "exporter can aim it)",
     NONE},
    {"web.config.file", 0, WSP_OPT_PATH, OPT_WEB_CONFIG, "FILE",
     "TLS and basic auth for the web endpoints, in\nexporter-toolkit's format "
     "(tls_server_config, basic_auth_users)",
     NONE},
    {NULL, 0, 0, 0, NULL, NULL, NONE},
};

static int take(void *ud, const wsp_opt *o, const char *arg, const wsp_opt_value *v)
{
    wsp_exporter_config *c = ud;
    switch (o->id) {
    case OPT_CONFIG:
        c->config_path = arg;
        break;
    case OPT_LISTEN:
        if (wsp_hostport_parse(arg, c->host, sizeof c->host, &c->port) != 0)
            return wsp_cli_usage_error("exporter",
                                       "--listen '%s': expected HOST:PORT "
                                       "(127.0.0.1:9725, [::1]:9725)",
                                       arg);
        break;
    case OPT_PORT_FILE:
        c->port_file = arg;
        break;
    case OPT_ANY:
        c->allow_any_target = true;
        break;
    case OPT_MAX_CONCURRENT:
        c->max_concurrent = (unsigned)v->u;
        break;
    case OPT_WEB_CONFIG:
        c->web_config_path = arg;
        break;
    default:
        break;
    }
    return 0;
}

int wsp_cmd_exporter(int argc, char **argv)
{
    wsp_exporter_config c;
    memset(&c, 0, sizeof c);
    c.max_concurrent = WSP_EXPORTER_DEFAULT_MAX_CONCURRENT;
    wsp_hostport_parse(WSP_EXPORTER_DEFAULT_LISTEN, c.host, sizeof c.host, &c.port);
    const wsp_opt *tables[] = {exporter_opts, NULL};
    const wsp_cli_spec spec = {.cmd = "exporter", .usage = exporter_usage, .tables = tables};
    wsp_cli_out out;
    int rc = wsp_cli_parse(&spec, argc, argv, take, &c, &out);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (out.noperands > 0)
        return wsp_cli_usage_error("exporter",
                                   "unexpected argument '%s' (the targets come with "
                                   "each scrape: /probe?target=...)",
                                   out.operands[0]);
    if (!c.config_path)
        return wsp_cli_usage_error("exporter", "--config FILE is required (the modules)");
    wsp_err e;
    wsp_err_clear(&e);
    rc = wsp_exporter_run(&c, &e);
    if (rc != 0) {
        fprintf(stderr, "wsprobe: exporter: %s\n", e.msg);
        if (e.hint[0])
            fprintf(stderr, "  hint: %s\n", e.hint);
    }
    return rc;
}
