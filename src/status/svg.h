/*
 * svg.h — a refresh drawn as a timeline (`pgrefresh history --svg ID`), from its record alone (pure):
 * the checks; one row per unit in plan order with its steps as the coordinator recorded them (relink,
 * stand-aside, restart, gate, and a pause after it); the switchover with the clients' write stall
 * (PgBouncer's PAUSE to RESUME, the upper bound of what they waited) marked across every row; the end
 * and the final state. Records from before the step times were kept show each unit as one bar.
 */
#ifndef PGR_STATUS_SVG_H
#define PGR_STATUS_SVG_H

#include "state/record.h"
#include "util/err.h"

/* The picture's colours, one per step (also what a test looks for in a screenshot). */
#define SVG_COLOR_RELINK "#3182bd"
#define SVG_COLOR_ASIDE "#fd8d3c"
#define SVG_COLOR_RESTART "#756bb1"
#define SVG_COLOR_GATE "#31a354"
#define SVG_COLOR_PAUSE "#bdbdbd"
#define SVG_COLOR_CHECKS "#969696"
#define SVG_COLOR_SWITCHOVER "#e6550d"
#define SVG_COLOR_STALL "#de2d26"
#define SVG_COLOR_UNTIMED "#9ecae1" /* a unit of an older record: started to done, no steps */

/* The SVG document of rec, into a heap string (caller frees). */
int svg_render_refresh(const refresh_record *rec, char **svg, pgr_err *err) __attribute__((warn_unused_result));

#endif
