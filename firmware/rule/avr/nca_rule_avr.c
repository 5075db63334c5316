/* The cell update for AVR: the reference algorithm (generated nca_rule.c) with its two dense
 * loops in assembly (nca_kernels.S). Same interface, same bits: the simavr tests check both. */
#include <avr/pgmspace.h>
#include "nca_rule.h"
#include "nca_weights.h"

#if NCA_PERCEPTION % 6 != 0 || NCA_W2_CHUNK != 4
#error "nca_kernels.S unrolls 6 layer-1 products and takes 4 hidden units per layer-2 chunk"
#endif
/* 24-bit accumulators: layer 1 |sum| <= 48 * 128 * 127; layer 2 adds the int16 bias */
#if NCA_PERCEPTION * 128L * 127L >= (1L << 23) || 32768L + NCA_HIDDEN * 127L * 255L >= (1L << 23)
#error "this rule's sums do not fit the AVR kernel's 24-bit accumulators: use nca_rule.c"
#endif

int32_t nca_avr_dot(const int8_t *p, const nca_w_t *w_flash, const int16_t *b_flash);
void nca_avr_chunk(uint8_t acc[3 * NCA_CHANNELS], const uint8_t h[NCA_W2_CHUNK], const nca_w_t *w_flash);
#if NCA_PALETTE
/* The palettes in RAM for the kernels, which or an index into the low address byte */
int8_t nca_avr_palette[2][NCA_PALETTE_SIZE] __attribute__((aligned(NCA_PALETTE_SIZE)));
#endif
void nca_avr_acc_init(uint8_t acc[3 * NCA_CHANNELS], const int16_t *b_flash);
int32_t nca_avr_acc_get(const uint8_t acc[3]);

void nca_fire(const int8_t self[NCA_CHANNELS], const int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS],
              int8_t out[NCA_CHANNELS])
{
    int8_t p[NCA_PERCEPTION];
    uint8_t acc24[3 * NCA_CHANNELS];
    int8_t nb = nca_neighbour_alpha(nbr);
    const nca_w_t *w1, *w2;
#if NCA_HIDDEN <= 252
    uint8_t j; /* AVR: 8-bit counters are half the code (j ends at NCA_HIDDEN rounded up to 4) */
#else
    uint16_t j;
#endif
    uint8_t k, c;

    if (self[NCA_ALPHA] <= NCA_ALIVE_THRESHOLD && nb <= NCA_ALIVE_THRESHOLD) {
        nca_clear(out);
        return;
    }
    nca_perceive(self, nbr, p);
#if NCA_PALETTE
    memcpy_P(nca_avr_palette, nca_palette, sizeof nca_avr_palette);
#endif
    nca_avr_acc_init(acc24, nca_b2);
    w1 = &nca_w1[0][0];
    w2 = &nca_w2q[0][0];
    for (j = 0; j < NCA_HIDDEN; w2 += NCA_W2_BYTES) {
        uint8_t h[NCA_W2_CHUNK], any = 0;
        for (k = 0; k < NCA_W2_CHUNK; k++, j++, w1 += NCA_W1_BYTES) {
#if NCA_HIDDEN % NCA_W2_CHUNK == 0
            h[k] = nca_hidden(nca_avr_dot(p, w1, &nca_b1[j]));
#else
            h[k] = j < NCA_HIDDEN ? nca_hidden(nca_avr_dot(p, w1, &nca_b1[j])) : 0;
#endif
            any |= h[k];
        }
        if (any) { /* ReLU zeros often: skip the chunk */
            nca_avr_chunk(acc24, h, w2);
        }
    }
    for (c = 0; c < NCA_CHANNELS; c++) {
        out[c] = nca_output(self[c], nca_avr_acc_get(acc24 + 3 * c), c);
    }
    nca_alive_after(out, nb);
}
