/*
 * Where the connections live between their segments (conn_slots.c): one slot
 * per tcp.stream. The most recently active connections are kept as plain
 * structs ("hot"); the others are compressed with liblz4 ("cold"), and made
 * hot again when a segment of theirs comes. store.c, the only user, sees the
 * same bytes either way.
 */
#ifndef TCPSTATE_CONN_SLOTS_H
#define TCPSTATE_CONN_SLOTS_H

#include "tcpstate_plugin.h"

#include "patch_list.h"

/* What a connection needs while its segments come. */
typedef struct conn_hot {
    patch_list patch;         /* frames a correction may rewrite */
    ts_summary summary;
    int64_t    entered_ns[2]; /* by role: when the current state began */
    int64_t    core[];        /* ts_conn_size() bytes: the state machine (with SLOT_HAS_CORE) */
} conn_hot;

static inline ts_conn *hot_core(conn_hot *hot)
{
    return (ts_conn *)(void *)hot->core;
}

enum {
    SLOT_HOT       = 1u << 0, /* data is a conn_hot, else compressed (or NULL) */
    SLOT_HAS_CORE  = 1u << 1, /* the core is live (not released) */
    SLOT_TEXT      = 1u << 2, /* endpoint texts set: from addr[] and SLOT_TEXT_CB */
    SLOT_TEXT_CB   = 1u << 3, /* endpoint B is the client in the texts */
    SLOT_RARE      = 1u << 4, /* has a conn_rare (slot_rare) */
    SLOT_ALIAS     = 1u << 5, /* a stream whose segments belong to another's connection (store.c) */
};

/* An address as a segment carried it (4 or 16 bytes; 0: the IP layer was not found). */
typedef struct slot_addr {
    uint8_t len;
    uint8_t bytes[16];
} slot_addr;

/* 32 bytes a connection: a capture has far fewer addresses than connections,
 * so the slot names its two addresses by number (conn_slots_addr_id), not by
 * their 32 bytes (a 56-byte slot was 13 MiB more at 10^7 packets, 603 304
 * connections and 65 538 addresses; bench/RESULTS.md). */
typedef struct conn_slot {
    void    *data;        /* conn_hot * (SLOT_HOT), compressed, or NULL: never had a segment */
    uint32_t incarnations;
    uint16_t port[2];     /* endpoint A (the sender of the first segment), B */
    uint32_t addr_id[2];  /* endpoint A's, B's address (conn_slots_addr) */
    uint8_t  flags;       /* SLOT_* */
} conn_slot;

/* The few connections with more. */
typedef struct conn_rare {
    GArray *earlier_summaries; /* see ts_conn_entry */
    GArray *zeek_starts;
    char   *text[2];           /* endpoint texts that the addresses cannot give */
} conn_rare;

/* For one file; `hot_max`: how many connections stay hot (at least 1). */
void conn_slots_init(guint hot_max);
void conn_slots_cleanup(void);
/* Slots 0 .. count - 1 exist; ensure makes `stream`'s (empty) if it does not. */
guint32 conn_slots_count(void);
void conn_slots_ensure(guint32 stream);
conn_slot *slot_at(guint32 stream);
/* The number of an address (the same for the same bytes, for the whole file). */
guint32 conn_slots_addr_id(const uint8_t *bytes, uint8_t len);
const slot_addr *conn_slots_addr(guint32 id);

/* The slot's conn_hot, decompressing it if it is cold; it stays hot until
 * hot_max other connections have been made hot after it. */
conn_hot *make_hot(guint32 stream);
/* The core as it is now without making it hot (NULL when released); valid
 * until the next call here. */
const ts_conn *peek_core(guint32 stream);
/* The summary as it is now, copied to `out`. */
void slot_summary(guint32 stream, ts_summary *out);
/* Frees the core and the patchable frames: both ends were closed long enough. */
void release_core(guint32 stream);
/* The slot's conn_rare: created (slot_rare_for) or NULL when it has none. */
conn_rare *slot_rare_for(guint32 stream);
const conn_rare *slot_rare(guint32 stream);

#endif /* TCPSTATE_CONN_SLOTS_H */
