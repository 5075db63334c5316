/* Stand-alone driver (for the sanitizer run): reads a grid on stdin, steps it, and writes the
 * grid after every step to stdout.  usage: hostsim WIDTH HEIGHT SEED FIRST_STEP STEPS THRESHOLD */
#include <stdio.h>
#include <stdlib.h>

#include "nca_config.h"
#include "hostsim.h"

int main(int argc, char **argv)
{
    long width, height, steps, s;
    unsigned long seed, first, threshold;
    size_t n;
    int8_t *grid, *old;
    if (argc != 7) {
        fprintf(stderr, "usage: %s WIDTH HEIGHT SEED FIRST_STEP STEPS THRESHOLD < grid > grids\n", argv[0]);
        return 2;
    }
    width = strtol(argv[1], NULL, 10);
    height = strtol(argv[2], NULL, 10);
    seed = strtoul(argv[3], NULL, 10);
    first = strtoul(argv[4], NULL, 10);
    steps = strtol(argv[5], NULL, 10);
    threshold = strtoul(argv[6], NULL, 10);
    if (width < 1 || height < 1 || width > 65535 || height > 65535 || steps < 0) {
        fprintf(stderr, "bad grid size or step count\n");
        return 2;
    }
    n = (size_t)width * (size_t)height * NCA_CHANNELS;
    grid = malloc(n);
    old = malloc(n);
    if (!grid || !old || fread(grid, 1, n, stdin) != n) {
        fprintf(stderr, "could not read %lu grid bytes\n", (unsigned long)n);
        return 2;
    }
    for (s = 0; s < steps; s++) {
        hostsim_step(grid, old, (int32_t)width, (int32_t)height, (uint32_t)seed, (uint32_t)(first + (unsigned long)s),
                     (uint32_t)threshold);
        fwrite(grid, 1, n, stdout);
    }
    free(grid);
    free(old);
    return 0;
}
