/* cmd_token.c - `wsprobe token`. */
#include "cli.h"

int wsp_cmd_token(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return wsp_cli_usage_error("token", "this command is not in this build yet (see ROADMAP.md)");
}
