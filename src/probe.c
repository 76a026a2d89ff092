/* probe.c */
#include "error.h"
