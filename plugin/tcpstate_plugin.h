/*
 * tcpstate plugin shell: what the plugin's files share.
 *
 * Data flows one way: TCP fields -> ts_segment (extract.c) -> core step ->
 * per-frame record (store.c) -> tree, expert infos (render.c). Every
 * dissection after the first pass renders from the stored record only.
 */
#ifndef TCPSTATE_PLUGIN_H
#define TCPSTATE_PLUGIN_H

#include <epan/expert.h>
#include <epan/packet.h>
#include <stdint.h>

#include "tcpstate/tcpstate.h"
#include "tcpstate/conn_summary.h"

/* Every Wireshark version difference (4.0 .. 4.6) is bridged there. */
#include "ws_compat.h"

/* ---- the per-frame record: 8 bytes, one per frame of the file ----------- */

enum {
    TS_REC_HAS_EXTRA      = 1u << 0, /* details in the sparse extra table */
    TS_REC_ROLES_GUESSED  = 1u << 1,
    TS_REC_STATES_ASSUMED = 1u << 2,
    TS_REC_QUOTED         = 1u << 3, /* only a TCP header quoted in an ICMP error */
    TS_REC_INCOMPLETE     = 1u << 4, /* TCP header too short to annotate */
    TS_REC_UNPARSED       = 1u << 5, /* TCP under headers the byte reader does not know */
    TS_REC_OTHER_STREAM   = 1u << 6, /* in another tcp.stream's connection (store.c, route()) */
};

typedef struct ts_frame_record {
    uint32_t conn;   /* tcp.stream + 1; 0 when the frame is not an annotated segment */
    uint8_t  client; /* prev state << 4 | state after */
    uint8_t  server;
    uint8_t  shape;  /* sender (bit 0), phase (bits 1-3), step (bits 4-6) */
    uint8_t  flags;  /* TS_REC_* */
} ts_frame_record;

/* Details a third of the frames have (held_ns, handshake, TIME-WAIT), kept
 * compactly by store.c, and rare ones (corrections). ts_store_extra() fills
 * one of a few views like this one, valid until several later calls. */
typedef struct ts_frame_extra {
    uint32_t notes;          /* TS_NOTE_* */
    uint32_t expected_ack;   /* handshake check */
    uint32_t corrects;       /* the frame whose arrival this segment showed misjudged */
    GArray  *rewritten;      /* guint32 frames whose annotation this segment corrected */
    uint32_t corrected_by;   /* frame that showed this one's annotation was wrong */
    uint8_t  delivery;       /* ts_delivery learnt in hindsight */
    uint8_t  corrected_role; /* whose state was wrong (with corrects) */
    uint8_t  corrected_state;
    uint8_t  correction_kind; /* ts_delivery of the corrected frame, with corrects */
    int64_t  time_wait_end_ns;
    int64_t  held_ns[2];     /* by role: how long the previous state lasted (0: unknown) */
} ts_frame_extra;

/* What the tree needs of a connection. store.c keeps connections compactly
 * (most of them encoded, endpoints as addresses); ts_store_conn() fills one of
 * a few views like this one, valid until several later ts_store_conn() calls. */
typedef struct ts_conn_entry {
    const char *endpoint_text[2]; /* by role, "addr:port"; NULL before the first segment */
    uint32_t    incarnations;
    ts_summary  summary;     /* conn.c: Zeek conn_state/history, who closed first... */
    /* Zeek starts a new connection inside one tcp.stream now and then (port
     * reuse, its timers; conn_summary.h): the summaries of the earlier ones,
     * by zeek_index, and the frame where each later one began. NULL for the
     * usual stream that is one Zeek connection. */
    GArray     *earlier_summaries; /* ts_summary */
    GArray     *zeek_starts;       /* guint32: first frame of zeek_index i + 1 */
} ts_conn_entry;

/* A segment as read from one frame (extract.c). */
typedef struct ts_extracted {
    ts_segment seg;
    uint32_t   stream;
    uint8_t    src_addr[16];
    uint8_t    dst_addr[16];
    uint8_t    addr_len;     /* 4 or 16, 0 when the IP layer was not found */
    uint8_t    header_len;   /* TCP data offset in bytes */
    gboolean   quoted_only;  /* only TCP headers inside ICMP errors */
    gboolean   incomplete;   /* TCP present but fields missing */
    gboolean   unparsed;     /* TCP present under headers extract_bytes.c does not read */
} ts_extracted;

/* ---- preferences ---------------------------------------------------------- */
extern gint     ts_pref_spelling;     /* ts_spelling */
extern gint     ts_pref_time_wait_s;  /* TIME-WAIT length in seconds */
extern ts_pref_bool ts_pref_hindsight;
extern ts_pref_bool ts_pref_info_column; /* both states first in the Info column */
extern guint    ts_pref_hot_connections; /* connections kept uncompressed (conn_slots.c) */
/* A frame of this file was dissected again (tshark -2, GUI): records carry hindsight. */
extern gboolean ts_later_pass; /* both states appended to the Info column */

/* Where the TCP and IP headers are read from (the "headers" preference). */
enum { TS_HEADERS_FROM_BYTES, TS_HEADERS_FROM_FIELDS };
extern gint ts_pref_headers;

/* ---- extract.c, extract_bytes.c, extract_fields.c ----------------------------- */
void ts_extract_init(void);             /* after every protocol has registered */
GArray *ts_extract_wanted_fields(void); /* a new array each call; NULL: none wanted */
/* False when the frame has no TCP header; else fills out (zeroed first). */
gboolean ts_extract(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, ts_extracted *out);
/* The TCP header at `offset`: all but tcp.stream and the payload length.
 * False when the fixed header is not captured or its data offset is bogus. */
gboolean ts_extract_tcp_header(tvbuff_t *tvb, int offset, packet_info *pinfo, ts_extracted *out);
void ts_extract_bytes_init(void);
void ts_extract_bytes_new_file(void);    /* forgets the streams of the last file */
void ts_extract_bytes_shutdown(void);    /* frees what the files had in common */
gboolean ts_extract_from_bytes(tvbuff_t *tvb, packet_info *pinfo, ts_extracted *out);
/* extract_search.c: where the walk of extract_bytes.c does not know a layer,
 * the IP and TCP headers Wireshark dissected last, found by their addresses
 * and ports (pinfo) in the frame's buffers (pinfo->data_src). On FOUND: the
 * addresses in out, the buffer, the TCP header's offset in it and the
 * reported end of its IP payload. */
typedef enum {
    TS_SEARCH_FOUND,
    TS_SEARCH_CUT,       /* the TCP header is there, but the capture cut it */
    TS_SEARCH_FRAGMENT,  /* in the first fragment of a datagram not reassembled: length unknown */
    TS_SEARCH_NOT_FOUND, /* no IP header with pinfo's addresses carries one with its ports */
    TS_SEARCH_NO_IP,     /* pinfo names no IPv4/IPv6 addresses or no TCP ports */
} ts_search;
ts_search ts_extract_search(packet_info *pinfo, ts_extracted *out, tvbuff_t **tvb, int *tcp_offset,
                            int *payload_end);
GArray *ts_extract_fields_wanted(void);
gboolean ts_extract_from_fields(packet_info *pinfo, proto_tree *tree, ts_extracted *out);

/* ---- store.c ----------------------------------------------------------------- */
void ts_store_init(void);
void ts_store_cleanup(void);
/* Runs the core on a first-pass segment, records it, applies any correction. */
ts_frame_record *ts_store_segment(uint32_t frame, const ts_extracted *x);
void ts_store_mark(uint32_t frame, uint8_t flags);
const ts_frame_record *ts_store_record(uint32_t frame);
/* Every frame with a record is below this. */
uint32_t ts_store_frame_limit(void);
/* Views (see ts_frame_extra, ts_conn_entry): copy what must outlive a few calls. */
const ts_frame_extra *ts_store_extra(uint32_t frame);
const ts_conn_entry *ts_store_conn(uint32_t conn);
/* The summary of the Zeek connection `frame` belongs to in connection `conn`. */
const ts_summary *ts_store_summary(const ts_conn_entry *conn, uint32_t frame);

/* Record packing. */
static inline uint8_t ts_rec_prev(uint8_t v) { return (uint8_t)(v >> 4); }
static inline uint8_t ts_rec_next(uint8_t v) { return (uint8_t)(v & 0x0f); }
static inline uint8_t ts_rec_sender(const ts_frame_record *r) { return r->shape & 1u; }
static inline uint8_t ts_rec_phase(const ts_frame_record *r) { return (r->shape >> 1) & 7u; }
static inline uint8_t ts_rec_step(const ts_frame_record *r) { return (r->shape >> 4) & 7u; }

/* ---- render.c ---------------------------------------------------------------- */
void ts_render_register(int proto);
void ts_render(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, uint32_t frame,
               const ts_frame_record *rec);
/* "[client X, server Y] " at the start of the Info column (tcpstate.info_column). */
void ts_render_info_column(packet_info *pinfo, const ts_frame_record *rec);
/* Labels are worth formatting only in a visible tree. */
gboolean ts_labels_shown(proto_tree *tree);
/* The fields of one hf array (registered together, so with consecutive ids)
 * and, once per frame, which of them are asked for: a bit per field, all set
 * in a visible tree (as proto_field_is_referenced() answers for them). */
typedef struct ts_refs {
    int first;                    /* id of the first field */
    unsigned n;                   /* 0: ids not consecutive, every field counts as asked for */
    header_field_info *hfi[32];
} ts_refs;
void ts_refs_init(ts_refs *r, const hf_register_info *hf, size_t n); /* after proto_register_field_array */
guint32 ts_refs_wanted(const ts_refs *r, proto_tree *tree);          /* per frame: never keep it */
static inline gboolean ts_refs_has(const ts_refs *r, guint32 want, int hf)
{
    unsigned i = (unsigned)(hf - r->first);
    return i >= 32 || ((want >> i) & 1u) != 0;
}
/* A generated item for hf, or nothing (NULL) when it is not in `want`. */
proto_item *ts_add_string(proto_tree *tree, const ts_refs *r, guint32 want, int hf, tvbuff_t *tvb,
                          const char *value);
proto_item *ts_add_uint(proto_tree *tree, const ts_refs *r, guint32 want, int hf, tvbuff_t *tvb,
                        uint32_t value);

/* ---- anomalies.c: the expert infos, one table for the tree and the statistics -- */
typedef enum ts_anomaly {
    TS_ANOMALY_REFUSED, TS_ANOMALY_SIMULTANEOUS_OPEN, TS_ANOMALY_SIMULTANEOUS_CLOSE,
    TS_ANOMALY_INFERRED_LOST, TS_ANOMALY_CROSSED, TS_ANOMALY_CORRECTS, TS_ANOMALY_DATA_AFTER_FIN,
    TS_ANOMALY_RST_IGNORED, TS_ANOMALY_RST_CHALLENGE, TS_ANOMALY_SYNACK_BAD_ACK,
    TS_ANOMALY_REOPEN_TIME_WAIT, TS_ANOMALY_AFTER_CLOSE, TS_ANOMALY_UNEXPECTED, TS_ANOMALY_ASSUMED,
    TS_ANOMALY_QUOTED, TS_ANOMALY_INCOMPLETE, TS_ANOMALY_UNPARSED, TS_ANOMALY_TIME_WAIT_RESTART,
    TS_ANOMALY_COUNT
} ts_anomaly;
#define TS_ANOMALY_BIT(k) (1u << (k))
extern expert_field ts_anomaly_ei[TS_ANOMALY_COUNT];
void ts_anomalies_register(int proto);
/* The anomalies of one frame, a TS_ANOMALY_BIT each (extra: NULL when the record has none). */
uint32_t ts_anomalies(const ts_frame_record *rec, const ts_frame_extra *extra);
/* Raised by a note of the core (the tree adds these to its top item). */
gboolean ts_anomaly_is_note(ts_anomaly k);
/* Its display-filter name, "tcpstate.expert.refused". */
const char *ts_anomaly_filter(ts_anomaly k);

/* ---- text.c: short texts by plain copying -------------------------------------- */
typedef struct ts_text {
    char *p, *end; /* end: the buffer's last byte, kept for the terminating NUL */
} ts_text;
static inline ts_text ts_text_on(char *buf, size_t size)
{
    ts_text t = {buf, buf + size - 1};
    *buf = '\0';
    return t;
}
/* Like g_snprintf(), these stop at the buffer's end. */
void ts_text_put(ts_text *t, const char *s);
void ts_text_uint(ts_text *t, uint32_t v);
/* "192.0.2.1:80", "[2001:db8::1]:80", or "port 80" when addr_len is 0. */
void ts_text_endpoint(ts_text *t, const uint8_t *addr, uint8_t addr_len, uint16_t port);
/* The item's whole label (name included), replacing the one Wireshark would draw. */
void ts_item_set_label(proto_item *item, const char *label);

/* ---- conn.c, stats.c: connection summary fields, stats tree ----------------- */
void ts_conn_register(int proto); /* also registers the "tcpstate" tap */
void ts_conn_render(proto_tree *tree, tvbuff_t *tvb, uint32_t frame, const ts_frame_record *rec);
void ts_stats_register_tap(void);
void ts_stats_register_plugin(void);
void ts_stats_queue(packet_info *pinfo, const ts_frame_record *rec);

/* ---- sockets.c: the socket table at a moment (-z tcpstate,sockets; GUI table) -- */
void ts_sockets_register(void); /* from the tap plugin's registration */

#endif /* TCPSTATE_PLUGIN_H */
