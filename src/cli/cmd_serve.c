/* cmd_serve.c - `wsprobe serve`. */
#include "cli.h"

int wsp_cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return wsp_cli_usage_error("serve", "this command is not in this build yet (see ROADMAP.md)");
}
