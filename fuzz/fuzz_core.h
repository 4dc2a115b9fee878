/* Shared between the libFuzzer target and its standalone replay driver. */
#ifndef TCPSTATE_FUZZ_CORE_H
#define TCPSTATE_FUZZ_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FUZZ_CORE_RECORD_SIZE 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print each decoded segment and its annotation to stderr. */
extern int fuzz_core_verbose;

/* The per-segment transition tables the target enforces, as text. */
void fuzz_core_print_tables(FILE *f);

#endif
