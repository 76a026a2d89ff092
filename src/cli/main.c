/* main.c - `wsprobe COMMAND ...`: dispatch to the commands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "report/trace.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "args.h"
#include "cli.h"
#include "wsp_config.h"

const wsp_cli_command wsp_cli_commands[] = {
    {"probe", wsp_cmd_probe, "one connection through every phase, timed and diagnosed"},
    {"token", wsp_cmd_token, "mint a JWT from a secret or key in the environment or a file"},
    {"audit", wsp_cmd_audit, "flag hollow tests in JUnit XML reports"},
    {"serve", wsp_cmd_serve, "a hardened reference endpoint whose defences can be switched off"},
    {"security", wsp_cmd_security, "the security suite: tokens, origins, framing, limits, TLS"},
    {"wait", wsp_cmd_wait, "the deploy gate: probe until N successes in a row or a deadline"},
    {"run", wsp_cmd_run, "run a verification plan on one environment (human, JSON, JUnit)"},
    {"parity", wsp_cmd_parity, "the same checks on several environments; exit 1 on drift"},
    {"load", wsp_cmd_load, "connections and message rates with honest latency percentiles"},
    {"load-merge", wsp_cmd_load_merge, "merge load reports from several agents, exactly"},
    {"hold", wsp_cmd_hold, "keep connections open and say when, how and why each one ended"},
    {"exporter", wsp_cmd_exporter, "WebSocket probes for Prometheus: /probe?target=&module="},
    {"report", wsp_cmd_report, "render a saved --json report as one self-contained HTML page"},
    {NULL, NULL, NULL},
};
#define commands wsp_cli_commands
static const size_t ncommands = sizeof wsp_cli_commands / sizeof wsp_cli_commands[0] - 1;

static void usage(FILE *f)
{
    fprintf(f,
            "wsprobe %s - verify WebSocket endpoints with evidence from the wire\n\n"
            "usage: wsprobe COMMAND [options]\n\ncommands:\n",
            WSP_VERSION);
    for (size_t i = 0; i < ncommands; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'wsprobe COMMAND --help' shows each command's options.\n"
               "Exit codes: docs/exit-codes.md.\n");
}

int main(int argc, char **argv)
{
    /* OpenSSL's cleanup at exit frees what the process is about to drop anyway: skip it. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    /* A peer that goes away while a frame is being written must cost a verdict (EPIPE, then
     * WS_DROPPED or the class of the phase), never the process: every command writes to
     * sockets through libuv, which uses write(2), so SIGPIPE is ignored for all of them. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "_gen") == 0) /* man pages and completions, for the build (cli/gen.c) */
        return wsp_cmd_gen(argc - 1, argv + 1);
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        wsp_cli_version(stdout);
        return 0;
    }
    for (size_t i = 0; i < ncommands; i++)
        if (strcmp(name, commands[i].name) == 0) {
            int rc = commands[i].run(argc - 1, argv + 1);
            wsp_err e;
            if (wsp_trace_close(&e) != 0) { /* --trace: the evidence is lost, this wins */
                fprintf(stderr, "wsprobe: %s: OUTPUT_FAILED: %s\n", name, e.msg);
                rc = wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED);
            }
            return rc;
        }
    wsp_cli_usage_error(name, "unknown command");
    usage(stderr);
    return 2;
}
