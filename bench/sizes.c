/*
 * tcpstate_sizes: the sizes of what the plugin keeps per frame and per connection.
 * Built by bench.py against plugin/tcpstate_plugin.h (needs the Wireshark SDK).
 */
#include <stdio.h>

#include "tcpstate_plugin.h"

int main(void)
{
    printf("sizeof(ts_frame_record) = %zu\n", sizeof(ts_frame_record));
    printf("sizeof(ts_frame_extra)  = %zu\n", sizeof(ts_frame_extra));
    printf("sizeof(ts_conn_entry)   = %zu\n", sizeof(ts_conn_entry));
    printf("sizeof(ts_conn)         = %zu\n", sizeof(ts_conn));
    printf("sizeof(ts_extracted)    = %zu\n", sizeof(ts_extracted));
    return 0;
}
