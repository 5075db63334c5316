/* Host simulator entry points (bound with ctypes by hostsim/clib.py). */
#ifndef HOSTSIM_H
#define HOSTSIM_H

#include <stdint.h>

const char *hostsim_model_hash(void);
int32_t hostsim_hidden(void);
/* self [16], nbr [8][16] in nca_rule.h's neighbour order, out [16] */
void hostsim_fire(const int8_t *self, const int8_t *nbr, int8_t *out);
void hostsim_fire_batch(int32_t n, const int8_t *selves, const int8_t *nbrs, int8_t *outs);
uint32_t hostsim_hash32(uint32_t x);
/* grid: int8 [height][width][16], stepped in place; old: scratch of the same size */
void hostsim_step(int8_t *grid, int8_t *old, int32_t width, int32_t height, uint32_t seed, uint32_t step,
                  uint32_t threshold);

#endif
