/* report.c */
#include "error.h"
