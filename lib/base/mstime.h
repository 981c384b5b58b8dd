/*
 * mstime.h - a timeout in milliseconds as the struct timeval libevent
 * takes.  Owns the one conversion, so no caller multiplies in unsigned int
 * and widens afterwards; never reads a clock.
 */
#ifndef MX_MSTIME_H
#define MX_MSTIME_H

#include <sys/time.h>

static inline struct timeval
ms_timeval(unsigned ms)
{
	return (struct timeval){ .tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000 };
}

#endif
