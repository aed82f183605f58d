/*
 * exitcodes.h — every exit code of pgrefresh, by name. Documented in `pgrefresh --help`.
 */
#ifndef PGR_UTIL_EXITCODES_H
#define PGR_UTIL_EXITCODES_H

enum pgr_exit {
	PGR_EXIT_OK = 0,          /* done */
	PGR_EXIT_ERROR = 1,       /* the command failed; the message says why */
	PGR_EXIT_USAGE = 2,       /* bad command line or bad value */
	PGR_EXIT_NOT_READY = 3,   /* pre-refresh-check found problems */
	PGR_EXIT_TIMEOUT = 4,     /* a bounded wait ran out */
	PGR_EXIT_HALTED = 5,      /* the refresh is failed or incompatible */
	PGR_EXIT_REFUSED = 6,     /* refused: another operation or a refresh is in progress */
	PGR_EXIT_UNREACHABLE = 7, /* etcd or a unit could not be reached */
	PGR_EXIT_MISSING_DEP = 8, /* a program the command needs is not installed */
	PGR_EXIT_ROLLED_BACK = 9, /* wait: the refresh ended rolled back, and rolled-back was not asked for */
};

#endif
