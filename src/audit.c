/* audit.c - see audit.h. */
#include "audit.h"
