/* The parts of a firing every nca_fire shares: alive check, perception, requantization.
 * Plain C99; every product fits 16 bits, so a 16-bit-int AVR computes what a 64-bit host does. */
#include "nca_rule.h"
#include "nca_weights.h"

/* Sobel kernels over the neighbours in nca_rule.h order; |sum| <= 4 * 128 + 4 * 127 = 1020 */
static const int8_t SOBEL_X[NCA_NEIGHBOURS] = {-1, 0, 1, -2, 2, -1, 0, 1};
static const int8_t SOBEL_Y[NCA_NEIGHBOURS] = {-1, -2, -1, 0, 0, 1, 2, 1};

static int8_t saturate8(int32_t v)
{
    return (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
}

/* round_shift(g, NCA_SOBEL_SHIFT) for |g| <= 1020, in 16 bits: the offset keeps the shifted
 * value non-negative, and floor((g + 4 + 1024) / 8) - 128 = floor((g + 4) / 8). */
static int16_t sobel_round(int16_t g)
{
    return (int16_t)((uint16_t)(g + (1 << (NCA_SOBEL_SHIFT - 1)) + 1024) >> NCA_SOBEL_SHIFT) - (1024 >> NCA_SOBEL_SHIFT);
}

/* Negative values are never shifted: in C99 that is implementation-defined. */
int32_t nca_round_shift(int32_t v, uint8_t k)
{
    int32_t t = v + ((int32_t)1 << (k - 1));
    if (t >= 0) {
        return t >> k;
    }
    return -(int32_t)((uint32_t)(-(t + 1)) >> k) - 1;
}

int8_t nca_neighbour_alpha(const int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS])
{
    int8_t nb = nbr[0][NCA_ALPHA];
    uint8_t i;
    for (i = 1; i < NCA_NEIGHBOURS; i++) {
        if (nbr[i][NCA_ALPHA] > nb) {
            nb = nbr[i][NCA_ALPHA];
        }
    }
    return nb;
}

void nca_perceive(const int8_t self[NCA_CHANNELS], const int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS],
                  int8_t p[NCA_PERCEPTION])
{
    uint8_t c, i;
    for (c = 0; c < NCA_CHANNELS; c++) {
        int16_t gx = 0, gy = 0;
        for (i = 0; i < NCA_NEIGHBOURS; i++) {
            gx += SOBEL_X[i] * (int16_t)nbr[i][c];
            gy += SOBEL_Y[i] * (int16_t)nbr[i][c];
        }
        p[3 * c] = self[c];
        p[3 * c + 1] = saturate8(sobel_round(gx));
        p[3 * c + 2] = saturate8(sobel_round(gy));
    }
}

uint8_t nca_hidden(int32_t a1)
{
    if (a1 <= 0) {
        return 0; /* ReLU */
    }
    a1 = (a1 + ((int32_t)1 << (NCA_SHIFT1 - 1))) >> NCA_SHIFT1; /* a1 > 0: round_shift */
    return (uint8_t)(a1 > NCA_HIDDEN_MAX ? NCA_HIDDEN_MAX : a1);
}

void nca_clear(int8_t out[NCA_CHANNELS])
{
    uint8_t c;
    for (c = 0; c < NCA_CHANNELS; c++) {
        out[c] = 0;
    }
}

int8_t nca_output(int8_t s, int32_t acc2, uint8_t c)
{
    uint8_t k = (uint8_t)(NCA_SHIFT2 + NCA_STATE_FRAC_BITS - NCA_READ_U8(&nca_state_frac[c]));
    return saturate8((int32_t)s + nca_round_shift(acc2, k));
}

int8_t nca_seed_value(uint8_t c)
{
    return (int8_t)(c < NCA_ALPHA ? 0 : 1 << NCA_READ_U8(&nca_state_frac[c]));
}

void nca_alive_after(int8_t out[NCA_CHANNELS], int8_t nb)
{
    if (out[NCA_ALPHA] <= NCA_ALIVE_THRESHOLD && nb <= NCA_ALIVE_THRESHOLD) {
        nca_clear(out); /* dead after the update */
    }
}
