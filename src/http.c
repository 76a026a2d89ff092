/* http.c - see http.h. */
#include "http.h"
