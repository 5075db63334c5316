/* The rule's weights, kept in flash on AVR (NCA_STORAGE) and read through NCA_READ_*.
 * Two storages (docs/cell-rule.md, "Weight storage"), chosen by codegen: NCA_PALETTE 1 keeps
 * indices into a palette per layer, NCA_W1_BITS / NCA_W2_BITS bits each: 4 bits two per byte
 * (the even position in the low nibble); 5 bits in groups of 8 weights in 5 bytes (a byte of
 * their fifth bits, weight r at bit r, then their low 4 bits as 4 nibble bytes). NCA_PALETTE 0
 * keeps one int8 per weight. nca_weight reads any of them as int8. */
#ifndef NCA_WEIGHTS_H
#define NCA_WEIGHTS_H

#include <stdint.h>
#include "nca_config.h"

#if defined(__AVR__)
#include <avr/pgmspace.h>
#define NCA_STORAGE PROGMEM
#define NCA_READ_U8(p) ((uint8_t)pgm_read_byte(p))
#define NCA_READ_I8(p) ((int8_t)pgm_read_byte(p))
#define NCA_READ_I16(p) ((int16_t)pgm_read_word(p))
#else
#define NCA_STORAGE
#define NCA_READ_U8(p) (*(p))
#define NCA_READ_I8(p) (*(p))
#define NCA_READ_I16(p) (*(p))
#endif

#if NCA_PALETTE
typedef uint8_t nca_w_t;
#if (NCA_W1_BITS == 5 && NCA_PERCEPTION % 8 != 0) || (NCA_W2_BITS == 5 && (NCA_CHANNELS * NCA_W2_CHUNK) % 8 != 0)
#error "5-bit indices come in groups of 8: a layer-1 row and a layer-2 chunk must hold whole groups"
#endif
#define NCA_W1_BYTES (NCA_PERCEPTION * NCA_W1_BITS / 8)
#define NCA_W2_BYTES (NCA_CHANNELS * NCA_W2_CHUNK * NCA_W2_BITS / 8)
extern const int8_t nca_palette[2][NCA_PALETTE_SIZE] NCA_STORAGE;
#else
typedef int8_t nca_w_t;
#define NCA_W1_BYTES NCA_PERCEPTION
#define NCA_W2_BYTES (NCA_CHANNELS * NCA_W2_CHUNK)
#endif

extern const nca_w_t nca_w1[NCA_HIDDEN][NCA_W1_BYTES] NCA_STORAGE;
extern const int16_t nca_b1[NCA_HIDDEN] NCA_STORAGE;
/* layer 2 in chunks of NCA_W2_CHUNK hidden units: weight c * NCA_W2_CHUNK + k of chunk q is
 * W2[c][q * NCA_W2_CHUNK + k] (zero, or index 0, for the padding past NCA_HIDDEN), so a
 * chunk's weights for one output are adjacent */
extern const nca_w_t nca_w2q[NCA_W2_CHUNKS][NCA_W2_BYTES] NCA_STORAGE;
extern const int16_t nca_b2[NCA_CHANNELS] NCA_STORAGE;
extern const uint8_t nca_state_frac[NCA_CHANNELS] NCA_STORAGE;

/* Weight k of a row stored at `row` (palette `layer` when NCA_PALETTE), as int8 */
static inline int8_t nca_weight(const nca_w_t *row, uint8_t k, uint8_t layer)
{
#if NCA_PALETTE
    uint8_t i;
    if ((layer ? NCA_W2_BITS : NCA_W1_BITS) == 4) {
        uint8_t b = NCA_READ_U8(&row[k >> 1]);
        i = (uint8_t)((k & 1 ? b >> 4 : b) & 0x0F);
    } else {
        const nca_w_t *group = row + 5 * (k >> 3);
        uint8_t b = NCA_READ_U8(&group[1 + ((k & 7) >> 1)]);
        uint8_t fifth = (uint8_t)((NCA_READ_U8(&group[0]) >> (k & 7)) & 1);
        i = (uint8_t)(((k & 1 ? b >> 4 : b) & 0x0F) | (fifth << 4));
    }
    return NCA_READ_I8(&nca_palette[layer][i]);
#else
    (void)layer;
    return NCA_READ_I8(&row[k]);
#endif
}

#endif
