/*
 * The frames' records and details (frames.c), as the connections' storage
 * (store.c) writes and corrects them. The rest reads them through
 * tcpstate_plugin.h (ts_store_record, ts_store_extra).
 */
#ifndef TCPSTATE_FRAMES_H
#define TCPSTATE_FRAMES_H

#include "tcpstate_plugin.h"

void ts_frames_init(void);
void ts_frames_cleanup(void);
/* The record of `frame`; NULL when it has none and `create` is FALSE. */
ts_frame_record *record_slot(uint32_t frame, gboolean create);
/* The full details of `frame`, for corrections (created on demand). */
ts_frame_extra *extra_for(uint32_t frame);
/* The first-pass details of `frame` (notes .. held_ns). */
void store_details(uint32_t frame, const ts_frame_extra *d);

#endif /* TCPSTATE_FRAMES_H */
