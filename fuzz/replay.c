/*
 * Runs fuzz_core inputs without libFuzzer, so any compiler (and CTest) can
 * replay the committed corpus:  fuzz_core_replay [-v] [--tables] FILE|DIR...
 * A violated invariant aborts, exactly as under the fuzzer.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_core.h"

static unsigned long files, bytes;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    if (buf == NULL)
        return 1;
    if (fuzz_core_verbose)
        fprintf(stderr, "== %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    files++;
    bytes += n;
    return 0;
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (d == NULL) {
        perror(path);
        return 1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *child = malloc(len);
        snprintf(child, len, "%s/%s", path, de->d_name);
        rc |= run_path(child);
        free(child);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            fuzz_core_verbose = 1;
            continue;
        }
        if (strcmp(argv[i], "--tables") == 0) {
            fuzz_core_print_tables(stdout);
            continue;
        }
        rc |= run_path(argv[i]);
    }
    fprintf(stderr, "fuzz_core_replay: %lu inputs, %lu bytes, no invariant violated\n", files, bytes);
    return rc;
}
