/* cmd_probe.c */
#include "cli.h"
int wsp_cmd_probe(int argc, char **argv) { (void)argc; (void)argv; return 2; }
