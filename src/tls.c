/* tls.c */
#include "error.h"
