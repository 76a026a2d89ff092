/* dns.c */
#include "error.h"
