/*
 * tcpstate_sizes: the sizes of what the plugin keeps per frame and per connection.
 * Built by bench.py against plugin/tcpstate_plugin.h (needs the Wireshark SDK).
 *
 * What store.c keeps for the whole file: the 8-byte record per frame; per
 * frame with details (a third of them: held_ns, handshake, TIME-WAIT) a few
 * bytes of varints in a pool, found through a bit per frame; per connection a
 * 56-byte slot (addresses, ports, flags) and, once it has left the 2048 most
 * recently active connections, its summary (and state machine, until
 * TIME-WAIT is over) LZ-encoded: about 300 bytes on the bench captures. Only
 * the active connections are kept as plain ts_summary + ts_conn.
 * ts_frame_extra and ts_conn_entry are views filled on demand.
 */
#include <stdio.h>

#include "tcpstate_plugin.h"
#include "tcpstate_internal.h" /* sizeof(ts_conn): opaque to the plugin */

int main(void)
{
    printf("sizeof(ts_frame_record) = %zu\n", sizeof(ts_frame_record));
    printf("sizeof(ts_frame_extra)  = %zu (view)\n", sizeof(ts_frame_extra));
    printf("sizeof(ts_conn_entry)   = %zu (view)\n", sizeof(ts_conn_entry));
    printf("sizeof(ts_summary)      = %zu\n", sizeof(ts_summary));
    printf("sizeof(ts_conn)         = %zu\n", sizeof(ts_conn));
    printf("sizeof(ts_extracted)    = %zu\n", sizeof(ts_extracted));
    return 0;
}
