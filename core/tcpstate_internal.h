/*
 * The core's entry points for its own tests, not part of the public interface.
 */
#ifndef TCPSTATE_INTERNAL_H
#define TCPSTATE_INTERNAL_H

#include "tcpstate/tcpstate.h"

/* ts_conn_step() without its fast path for the common ESTABLISHED data/ACK
 * segment: the general state machine, which the fast path must match. */
void ts_conn_step_general(ts_conn *conn, const ts_segment *seg, ts_annotation *out,
                          ts_correction *corrections);

/* The fast path alone: true when it handled the segment (as the general
 * path would have), false with nothing touched otherwise. */
bool ts_conn_step_established(ts_conn *conn, const ts_segment *seg, ts_annotation *out,
                              ts_correction *corrections);

#endif /* TCPSTATE_INTERNAL_H */
