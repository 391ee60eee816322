#ifndef K2_CJEMALLOC_SHIM_H
#define K2_CJEMALLOC_SHIM_H
/* jemalloc replaces malloc/free for the whole `k2` process by being linked into the executable
 * (it defines the standard names). Only its control interface is declared here: including
 * <jemalloc/jemalloc.h> would declare malloc & co. a second time next to Glibc's. */
#include <stddef.h>
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#endif
