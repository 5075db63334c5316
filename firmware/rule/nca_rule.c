/* The reference cell update: plain C99, fixed-width types, no float, no malloc. Optimised
 * versions (firmware/avr/) keep this interface and must give the same bits. */
#include "nca_rule.h"
#include "nca_weights.h"

void nca_fire(const int8_t self[NCA_CHANNELS], const int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS],
              int8_t out[NCA_CHANNELS])
{
    int8_t p[NCA_PERCEPTION];
    int32_t acc[NCA_CHANNELS];
    int8_t nb = nca_neighbour_alpha(nbr);
    uint16_t j;
    uint8_t i, c;

    if (self[NCA_ALPHA] <= NCA_ALIVE_THRESHOLD && nb <= NCA_ALIVE_THRESHOLD) {
        nca_clear(out); /* dead before the update */
        return;
    }
    nca_perceive(self, nbr, p);
    for (c = 0; c < NCA_CHANNELS; c++) {
        acc[c] = NCA_READ_I16(&nca_b2[c]);
    }
    /* stream the hidden units: each is computed, added into the outputs, then forgotten */
    for (j = 0; j < NCA_HIDDEN; j++) {
        int32_t a = NCA_READ_I16(&nca_b1[j]);
        int16_t h;
        for (i = 0; i < NCA_PERCEPTION; i++) {
            a += (int16_t)nca_weight(nca_w1[j], i, 0) * (int16_t)p[i];
        }
        h = nca_hidden(a);
        if (h == 0) {
            continue;
        }
        for (c = 0; c < NCA_CHANNELS; c++) {
            acc[c] += (int16_t)nca_weight(nca_w2q[j / NCA_W2_CHUNK], (uint8_t)(c * NCA_W2_CHUNK + j % NCA_W2_CHUNK), 1) * h;
        }
    }
    for (c = 0; c < NCA_CHANNELS; c++) {
        out[c] = nca_output(self[c], acc[c], c);
    }
    nca_alive_after(out, nb);
}
