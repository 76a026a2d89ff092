/* cmd_audit.c - `wsprobe audit`. */
#include "cli.h"

int wsp_cmd_audit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return wsp_cli_usage_error("audit", "this command is not in this build yet (see ROADMAP.md)");
}
