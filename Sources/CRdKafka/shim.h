#ifndef K2_CRDKAFKA_SHIM_H
#define K2_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* rd_kafka_producev is variadic and does not import into Swift; produce_batch drops headers.
   This typed wrapper builds the rd_kafka_vu_t array for rd_kafka_produceva (the non-variadic
   API): topic handle, key, value copied (RD_KAFKA_MSG_F_COPY | flags), up to three headers,
   and the per-message opaque handed back in the delivery report. Returns the error code
   (0 = queued) and destroys the error object. */
static inline rd_kafka_resp_err_t k2_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int msgflags,
                                             const void *value, size_t value_len,
                                             const void *key, size_t key_len,
                                             const char *h1, const void *v1, ssize_t v1_len,
                                             const char *h2, const void *v2, ssize_t v2_len,
                                             const char *h3, const void *v3, ssize_t v3_len,
                                             void *opaque) {
    rd_kafka_vu_t vus[8];
    size_t n = 0;
    vus[n].vtype = RD_KAFKA_VTYPE_RKT; vus[n].u.rkt = rkt; n++;
    vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS; vus[n].u.i = msgflags; n++;
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE; vus[n].u.mem.ptr = (void *)value; vus[n].u.mem.size = value_len; n++;
    if (key) { vus[n].vtype = RD_KAFKA_VTYPE_KEY; vus[n].u.mem.ptr = (void *)key; vus[n].u.mem.size = key_len; n++; }
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE; vus[n].u.ptr = opaque; n++;
    if (h1) { vus[n].vtype = RD_KAFKA_VTYPE_HEADER; vus[n].u.header.name = h1; vus[n].u.header.val = v1; vus[n].u.header.size = v1_len; n++; }
    if (h2) { vus[n].vtype = RD_KAFKA_VTYPE_HEADER; vus[n].u.header.name = h2; vus[n].u.header.val = v2; vus[n].u.header.size = v2_len; n++; }
    if (h3) { vus[n].vtype = RD_KAFKA_VTYPE_HEADER; vus[n].u.header.name = h3; vus[n].u.header.val = v3; vus[n].u.header.size = v3_len; n++; }
    rd_kafka_error_t *e = rd_kafka_produceva(rk, vus, n);
    if (!e) return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    rd_kafka_error_destroy(e);
    return code;
}

/* Fields of a delivered message, read without touching the struct layout from Swift. */
static inline void *k2_message_opaque(const rd_kafka_message_t *m) { return m->_private; }
#endif
