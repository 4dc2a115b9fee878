/*
 * The text of an IPv6 address, plain C.
 */
#ifndef TCPSTATE_IPV6_TEXT_H
#define TCPSTATE_IPV6_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The longest text: eight groups of four digits and seven colons, or the
 * IPv4-mapped form, plus the NUL. */
#define TS_IPV6_TEXT_SIZE 46

/* Writes `addr` as RFC 5952 section 4 text (lower-case hex, no leading zeros,
 * the longest run of two or more zero groups as "::", the first of equal
 * runs), with the embedded IPv4 forms ::a.b.c.d and ::ffff:a.b.c.d, exactly as
 * glibc's inet_ntop() writes it, which is what Wireshark shows (ip6_to_str).
 * Returns the length, without the NUL. */
size_t ts_ipv6_text(char buf[TS_IPV6_TEXT_SIZE], const uint8_t addr[16]);

#endif /* TCPSTATE_IPV6_TEXT_H */
