#ifndef K2_CCURL_SHIM_H
#define K2_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic and do not import into Swift:
   typed inline wrappers, one per argument type. */
static inline CURLcode k2_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode k2_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode k2_curl_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode k2_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*k2_curl_write_cb)(char *, size_t, size_t, void *);
static inline CURLcode k2_curl_setopt_writefn(CURL *h, k2_curl_write_cb f) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode k2_curl_setopt_readfn(CURL *h, k2_curl_write_cb f) { return curl_easy_setopt(h, CURLOPT_READFUNCTION, f); }
static inline CURLcode k2_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode k2_curl_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
#endif
