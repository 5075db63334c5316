/* The shared update schedule of the grid simulations (docs/cell-rule.md). Boards do not use it:
 * they fire after random waits. */
#ifndef NCA_SCHEDULE_H
#define NCA_SCHEDULE_H

#include <stdint.h>
#include "nca_config.h"

static inline uint32_t nca_hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= NCA_HASH_MUL1;
    x ^= x >> 15;
    x *= NCA_HASH_MUL2;
    x ^= x >> 16;
    return x;
}

/* threshold = round(fire_rate * 2^NCA_FIRE_BITS), in [0, 65536] */
static inline int nca_fires(uint32_t seed, uint32_t step, uint16_t x, uint16_t y, uint32_t threshold)
{
    uint32_t h = nca_hash32(nca_hash32(nca_hash32(seed) ^ step) ^ ((uint32_t)x | ((uint32_t)y << 16)));
    return (h >> NCA_FIRE_BITS) < threshold;
}

#endif
