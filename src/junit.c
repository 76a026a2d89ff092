/* junit.c - see junit.h. */
#include "junit.h"
