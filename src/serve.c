/* serve.c - see serve.h. */
#include "serve.h"
