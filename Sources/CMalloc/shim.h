#ifndef K2_CMALLOC_SHIM_H
#define K2_CMALLOC_SHIM_H
/* glibc's allocator tuning (mallopt); part of libc, nothing to link. */
#include <malloc.h>
#endif
