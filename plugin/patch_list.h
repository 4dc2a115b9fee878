/*
 * The frames a correction may still rewrite, per connection (conn_slots.h):
 * those since the oldest receive the core can still take back
 * (ts_conn_correctable_since), usually a segment or two in flight. They sit
 * in the list itself and spill to the heap only past PATCH_LOCAL: as a GArray
 * they cost a malloc and free a connection and two dependent cache misses a
 * segment (perf and callgrind's cache simulation, bench/RESULTS.md).
 * tests/unit/test_patch_list.c tests both ways of keeping them.
 */
#ifndef TCPSTATE_PATCH_LIST_H
#define TCPSTATE_PATCH_LIST_H

#include <stdint.h>

#define PATCH_LOCAL 6u

typedef struct patch_list {
    uint32_t  len;
    uint32_t  cap;               /* of heap; 0: the frames are in local */
    uint32_t *heap;
    uint32_t  local[PATCH_LOCAL];
} patch_list;

/* The frames, in frame order (len of them). */
uint32_t *patch_frames(patch_list *p);
void patch_clear(patch_list *p);
void patch_append(patch_list *p, uint32_t frame);
/* Forget the frames before `since`. */
void patch_drop_before(patch_list *p, uint32_t since);

#endif /* TCPSTATE_PATCH_LIST_H */
