/*
 * version.c - the running library's version (mx_version), so that a
 * program can tell which libmx it was linked with at run time, as c-ares'
 * ares_version does.  The numbers come from mx.h as the library was built.
 */
#include "mx.h"

const char *
mx_version(int *number)
{
	if (number != NULL)
		*number = MX_VERSION_NUMBER;
	return MX_VERSION;
}
