/* Random-read latency of this machine's memory, by working-set size: a
 * pointer chase over one cache line per 64 bytes, in a random cycle, so
 * that every read waits for the one before. It says what one cache miss
 * costs here, which bounds a rule lookup (see README.md, "Rules").
 *
 *   gcc -O2 bench/memory_latency.c -o /tmp/memory_latency && /tmp/memory_latency
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void) {
    for (size_t mb = 1; mb <= 64; mb *= 2) {
        size_t n = mb * 1024 * 1024 / 64;
        uint64_t *a = aligned_alloc(4096, n * 64);
        size_t *perm = malloc(n * sizeof *perm);
        if (!a || !perm) return 1;
        for (size_t i = 0; i < n; i++) perm[i] = i;
        uint64_t s = 0x9e3779b97f4a7c15u;
        for (size_t i = n - 1; i > 0; i--) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            size_t j = s % (i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < n; i++) a[perm[i] * 8] = perm[(i + 1) % n] * 8;
        size_t p = 0;
        long iters = 5000000;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < iters; i++) p = a[p];
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / iters;
        printf("%3zu MB: %6.1f ns a read%s\n", mb, ns, p == 1 ? " " : "");
        free(a);
        free(perm);
    }
    return 0;
}
