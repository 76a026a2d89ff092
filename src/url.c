/* url.c - see url.h. */
#include "url.h"
