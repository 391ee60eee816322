#ifndef K2_CRDKAFKA_SHIM_H
#define K2_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* rd_kafka_producev is variadic and does not import into Swift; produce_batch drops headers.
   This typed wrapper builds the rd_kafka_vu_t array for rd_kafka_produceva (the non-variadic
   API): topic handle, flags (RD_KAFKA_MSG_F_COPY, or 0 when the caller keeps the value's
   bytes unchanged until the delivery report), value, key (always copied by librdkafka), an
   optional header list (k2_headers3) and the per-message opaque handed back in the delivery
   report. Returns the error code (0 = queued) and destroys the error object. On success
   librdkafka owns `hdrs`; on an error it stays the caller's (to retry with, or destroy). */
static inline rd_kafka_resp_err_t k2_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int msgflags,
                                             const void *value, size_t value_len,
                                             const void *key, size_t key_len,
                                             rd_kafka_headers_t *hdrs, void *opaque) {
    rd_kafka_vu_t vus[6];
    size_t n = 0;
    vus[n].vtype = RD_KAFKA_VTYPE_RKT; vus[n].u.rkt = rkt; n++;
    vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS; vus[n].u.i = msgflags; n++;
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE; vus[n].u.mem.ptr = (void *)value; vus[n].u.mem.size = value_len; n++;
    if (key) { vus[n].vtype = RD_KAFKA_VTYPE_KEY; vus[n].u.mem.ptr = (void *)key; vus[n].u.mem.size = key_len; n++; }
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE; vus[n].u.ptr = opaque; n++;
    if (hdrs) { vus[n].vtype = RD_KAFKA_VTYPE_HEADERS; vus[n].u.headers = hdrs; n++; }
    rd_kafka_error_t *e = rd_kafka_produceva(rk, vus, n);
    if (!e) return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    rd_kafka_error_destroy(e);
    return code;
}

/* Three headers in a list sized for three (VTYPE_HEADER would size it for eight), names with
   their lengths (no strlen); librdkafka copies each value into the header's own allocation. */
static inline rd_kafka_headers_t *k2_headers3(const char *h1, size_t h1_len, const void *v1, size_t v1_len,
                                             const char *h2, size_t h2_len, const void *v2, size_t v2_len,
                                             const char *h3, size_t h3_len, const void *v3, size_t v3_len) {
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(3);
    rd_kafka_header_add(hdrs, h1, (ssize_t)h1_len, v1, (ssize_t)v1_len);
    rd_kafka_header_add(hdrs, h2, (ssize_t)h2_len, v2, (ssize_t)v2_len);
    rd_kafka_header_add(hdrs, h3, (ssize_t)h3_len, v3, (ssize_t)v3_len);
    return hdrs;
}

/* Fields of a delivered message, read without touching the struct layout from Swift. */
static inline void *k2_message_opaque(const rd_kafka_message_t *m) { return m->_private; }
#endif
