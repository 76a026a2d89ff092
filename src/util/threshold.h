/* threshold.h - the grammar every --threshold shares (load, hold): METRIC OP NUMBER[UNIT],
 * OP one of < <= > >=, spaces allowed around the operator. A command gives the metric its
 * meaning and the unit its scale; this only splits the text and compares. */
#ifndef WSP_THRESHOLD_H
#define WSP_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef enum wsp_threshold_op { WSP_TH_LT, WSP_TH_LE, WSP_TH_GT, WSP_TH_GE } wsp_threshold_op;

typedef struct wsp_threshold_expr {
    char metric[48]; /* letters, digits, '_' and '.' */
    wsp_threshold_op op;
    double number; /* finite, >= 0 */
    char unit[16]; /* what follows the number, trailing spaces cut ("" when none) */
} wsp_threshold_expr;

/* Split `text`. 0, or -1 with err (USAGE, naming `flag` and an example). */
int wsp_threshold_split(const char *flag, const char *text, wsp_threshold_expr *x, wsp_err *err);
/* Whether `value OP limit` holds. */
bool wsp_threshold_holds(wsp_threshold_op op, double value, double limit);

#endif
