/* conn.c */
#include "error.h"
