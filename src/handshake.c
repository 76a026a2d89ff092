/* handshake.c - see handshake.h. */
#include "handshake.h"
