#ifndef K2_CZLIB_SHIM_H
#define K2_CZLIB_SHIM_H
#include <zlib.h>
#endif
