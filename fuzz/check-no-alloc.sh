#!/bin/sh
# The core promises "no allocation" (include/tcpstate/tcpstate.h): its objects
# must not reference the malloc family. Usage: check-no-alloc.sh libtcpstate_core.a
lib=${1:?usage: check-no-alloc.sh LIBRARY}
bad=$(nm -u "$lib" | grep -wE 'malloc|calloc|realloc|free|reallocarray|aligned_alloc|posix_memalign|strdup|strndup|mmap|sbrk|brk|alloca|__builtin_alloca' || true)
if [ -n "$bad" ]; then
  echo "core references allocation functions:"; echo "$bad"; exit 1
fi
echo "core: no allocation functions referenced ($(nm -u "$lib" | awk '{print $2}' | sort -u | tr '\n' ' '))"
