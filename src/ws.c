/* ws.c - see ws.h. */
#include "ws.h"
