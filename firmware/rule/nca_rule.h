#ifndef NCA_RULE_H
#define NCA_RULE_H

#include <stdint.h>
#include "nca_config.h"

/* Neighbour order: row-major over the 3x3 block, skipping the cell itself (y grows down):
 *   0 (-1,-1)  1 (0,-1)  2 (+1,-1)
 *   3 (-1, 0)    cell    4 (+1, 0)
 *   5 (-1,+1)  6 (0,+1)  7 (+1,+1)
 * A neighbour outside the grid, or silent, is passed as all zeros. */
enum { NCA_NW, NCA_N, NCA_NE, NCA_W, NCA_E, NCA_SW, NCA_S, NCA_SE };

/* One firing of one cell: out = rule(self, nbr). out may be the same buffer as self.
 * Implementations: nca_rule.c (reference, portable) and avr/nca_rule_avr.c (AVR,
 * optimised), both in firmware/rule/; docs/cell-rule.md lists every implementation and its test. */
void nca_fire(const int8_t self[NCA_CHANNELS], const int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS],
              int8_t out[NCA_CHANNELS]);

/* Shared by every nca_fire (nca_common.c). */
int8_t nca_neighbour_alpha(const int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS]); /* max of the 8 alphas */
void nca_perceive(const int8_t self[NCA_CHANNELS], const int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS],
                  int8_t p[NCA_PERCEPTION]);
int32_t nca_round_shift(int32_t v, uint8_t k); /* floor((v + 2^(k-1)) / 2^k), k >= 1 */
uint8_t nca_hidden(int32_t a1);                /* ReLU, round_shift by NCA_SHIFT1, saturate */
int8_t nca_output(int8_t s, int32_t acc2, uint8_t c); /* s + round_shift(acc2, channel c's shift), saturated */
int8_t nca_seed_value(uint8_t c);              /* channel c of the seed: 1.0 in its units, colour 0 */
void nca_alive_after(int8_t out[NCA_CHANNELS], int8_t nb); /* zero out unless still alive */
void nca_clear(int8_t out[NCA_CHANNELS]);

#endif
