/* The rule's weights, kept in flash on AVR (NCA_STORAGE) and read through NCA_READ_*. */
#ifndef NCA_WEIGHTS_H
#define NCA_WEIGHTS_H

#include <stdint.h>
#include "nca_config.h"

#if defined(__AVR__)
#include <avr/pgmspace.h>
#define NCA_STORAGE PROGMEM
#define NCA_READ_I8(p) ((int8_t)pgm_read_byte(p))
#define NCA_READ_I16(p) ((int16_t)pgm_read_word(p))
#else
#define NCA_STORAGE
#define NCA_READ_I8(p) (*(p))
#define NCA_READ_I16(p) (*(p))
#endif

extern const int8_t nca_w1[NCA_HIDDEN][NCA_PERCEPTION] NCA_STORAGE;
extern const int16_t nca_b1[NCA_HIDDEN] NCA_STORAGE;
/* layer 2 in chunks of NCA_W2_CHUNK hidden units: nca_w2q[q][c][k] = W2[c][q * NCA_W2_CHUNK + k]
 * (zero for the padding past NCA_HIDDEN), so a chunk's weights for one output are adjacent */
extern const int8_t nca_w2q[NCA_W2_CHUNKS][NCA_CHANNELS][NCA_W2_CHUNK] NCA_STORAGE;
extern const int16_t nca_b2[NCA_CHANNELS] NCA_STORAGE;

#endif
