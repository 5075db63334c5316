/* AVR inner loops of the optimised rule (nca_rule_avr.c), avr-gcc calling convention:
 * arguments in r25:r24, r23:r22, r21:r20; int32 result in r25..r22; r0, r18-r27, r30, r31
 * free; r1 must be zero on return; r2-r17, r28, r29 saved. Products are added into 24-bit
 * accumulators: |sum| < 2^23 holds for the sizes nca_rule_avr.c checks at compile time. */

#include "nca_config.h"

    .text

/* Both nca_avr_dot's start: accumulator r24:r23:r22 = the sign-extended bias read from b_flash
 * (r21:r20), then Z = w_flash (r23:r22). */
    .macro DOT_START
    movw r30, r20
    lpm r24, Z+
    lpm r25, Z
    movw r30, r22
    mov r22, r24
    mov r23, r25
    mov r24, r25
    lsl r24
    sbc r24, r24
    .endm

/* Both nca_avr_chunk's start: the 4 hidden units h (r23:r22) into r16..r19, Z = w_flash (r21:r20). */
    .macro CHUNK_START
    movw r26, r22
    ld r16, X+
    ld r17, X+
    ld r18, X+
    ld r19, X+
    movw r30, r20
    .endm

#if NCA_PALETTE
/* Palette storage (nca_weights.h): 4-bit indices two per byte (the even weight in the low
 * nibble); 5-bit ones in groups of 8 weights in 5 bytes, a byte of their fifth bits first. The
 * layers' palettes are copied to RAM (nca_avr_palette), aligned to their size, so that an index
 * is or-ed into the low address byte (X). */

/* r26 = the low address byte of palette `base`'s entry for the index in src's low nibble (and,
 * with 5-bit indices, bit `bit` of `fifth` as its fifth bit) */
    .macro INDEX src, base, fifth, bit, bits
    mov r26, \src
    andi r26, 0x0F
    .if \bits == 5
    sbrc \fifth, \bit
    ori r26, 0x10
    .endif
    ori r26, lo8(\base)
    .endm

/* Two layer-1 products from one index byte (fifth bits `lo` and `hi` of r16 with 5-bit indices),
 * summed in 16 bits (|sum| <= 2 * 127 * 128 < 2^15), then added into the 24-bit accumulator */
    .macro PAIR lo, hi
    lpm r20, Z+             ; two indices
    INDEX r20, nca_avr_palette, r16, \lo, NCA_W1_BITS
    ld r18, X               ; the even weight
    ld r21, Y+
    muls r18, r21
    movw r18, r0            ; r19:r18 = the even product
    swap r20
    INDEX r20, nca_avr_palette, r16, \hi, NCA_W1_BITS
    ld r20, X               ; the odd weight
    ld r21, Y+
    muls r20, r21
    add r18, r0
    adc r19, r1
    add r22, r18
    adc r23, r19
    adc r24, r25
    sbrc r19, 7             ; a negative pair sum: its sign extension adds 0xFF to the top byte
    dec r24
    .endm

/* int32_t nca_avr_dot(const int8_t *p, const uint8_t *w_flash, const int16_t *b_flash)
 * 33 cycles an index byte with 4-bit indices; with 5-bit ones two index bytes a pass, the group's
 * byte of fifth bits read before every other pass (bits 0-3 for the first, swapped for the
 * second). Not unrolled further: flash is scarcer than cycles. */
    .global nca_avr_dot
    .type nca_avr_dot, @function
nca_avr_dot:
#if NCA_W1_BITS == 5
    push r16
#endif
    push r17
    push r28
    push r29
    movw r28, r24           ; Y = p (RAM)
    DOT_START               ; Z = indices (flash)
    clr r25                 ; a zero (r1 is overwritten by MULS)
    ldi r27, hi8(nca_avr_palette)
#if NCA_W1_BITS == 5
    ldi r17, NCA_PERCEPTION / 4
1:
    sbrs r17, 0             ; an even count (it starts even): the next 8 weights' fifth bits
    lpm r16, Z+
    PAIR 0, 1
    PAIR 2, 3
    swap r16                ; the group's other 4 fifth bits to bits 0-3
    dec r17
    brne 1b
#else
    ldi r17, NCA_PERCEPTION / 2
1:
    PAIR 0, 1
    dec r17
    brne 1b
#endif
    clr r1
    sbrc r24, 7             ; sign-extend to 32 bits (r25 is 0)
    com r25
    pop r29
    pop r28
    pop r17
#if NCA_W1_BITS == 5
    pop r16
#endif
    ret
    .size nca_avr_dot, .-nca_avr_dot

/* void nca_avr_chunk(uint8_t acc[3 * NCA_CHANNELS], const uint8_t h[4], const uint8_t *w_flash)
 * acc[c] += sum over k < 4 of W2[c][k] * h[k]: two index bytes per output (with 5-bit indices a
 * byte of fifth bits before every two outputs: bits 0-3 the even output's, 4-7 the odd one's). */
    .macro CHUNK_PRODUCT h, bit
    INDEX r20, nca_avr_palette + NCA_PALETTE_SIZE, r14, \bit, NCA_W2_BITS
    ld r21, X
    mulsu r21, \h           ; r1:r0 = w (signed) * h (unsigned)
    add r22, r0
    adc r23, r1
    adc r24, r25
    sbrc r1, 7
    dec r24
    .endm
    .global nca_avr_chunk
    .type nca_avr_chunk, @function
nca_avr_chunk:
#if NCA_W2_BITS == 5
    push r14
#endif
    push r15
    push r16
    push r17
    push r28
    push r29
    CHUNK_START             ; the chunk's 4 hidden units in r16..r19, Z = w_flash
    movw r28, r24           ; Y = acc
    ldi r27, hi8(nca_avr_palette + NCA_PALETTE_SIZE)
    clr r25                 ; a zero
    ldi r20, NCA_CHANNELS
    mov r15, r20
2:
#if NCA_W2_BITS == 5
    sbrs r15, 0             ; an even output (the count starts even): the pair's fifth bits
    lpm r14, Z+
#endif
    ld r22, Y
    ldd r23, Y+1
    ldd r24, Y+2
    lpm r20, Z+
    CHUNK_PRODUCT r16, 0
    swap r20
    CHUNK_PRODUCT r17, 1
    lpm r20, Z+
    CHUNK_PRODUCT r18, 2
    swap r20
    CHUNK_PRODUCT r19, 3
#if NCA_W2_BITS == 5
    swap r14                ; the odd output's fifth bits to bits 0-3
#endif
    st Y+, r22
    st Y+, r23
    st Y+, r24
    dec r15
    brne 2b
    clr r1
    pop r29
    pop r28
    pop r17
    pop r16
    pop r15
#if NCA_W2_BITS == 5
    pop r14
#endif
    ret
    .size nca_avr_chunk, .-nca_avr_chunk

#else
/* int32_t nca_avr_dot(const int8_t *p, const int8_t *w_flash, const int16_t *b_flash)
 * b + sum of NCA_PERCEPTION products p[i] * w[i]: 12 cycles each (LPM 3, LD 2, MULS 2, add 5). */
    .global nca_avr_dot
    .type nca_avr_dot, @function
nca_avr_dot:
    movw r26, r24           ; X = p (RAM)
    DOT_START
    clr r19                 ; a zero (r1 is overwritten by MULS)
    ldi r18, NCA_PERCEPTION / 6
1:
    .rept 6
    lpm r20, Z+
    ld r21, X+
    muls r20, r21           ; r1:r0 = w * p (signed)
    add r22, r0
    adc r23, r1
    adc r24, r19
    sbrc r1, 7              ; negative product: its sign extension adds 0xFF to the top byte
    dec r24
    .endr
    dec r18
    brne 1b
    clr r1
    clr r25                 ; sign-extend to 32 bits
    sbrc r24, 7
    com r25
    ret
    .size nca_avr_dot, .-nca_avr_dot

/* void nca_avr_chunk(uint8_t acc[3 * NCA_CHANNELS], const uint8_t h[4], const int8_t *w_flash)
 * acc[c] += sum over k < 4 of w[4c + k] * h[k] (w signed, h unsigned, acc 24-bit LE). */
    .global nca_avr_chunk
    .type nca_avr_chunk, @function
nca_avr_chunk:
    push r16
    push r17
    CHUNK_START             ; the chunk's 4 hidden units in r16..r19, Z = w_flash
    movw r26, r24           ; X = acc
    clr r21                 ; a zero
    ldi r25, NCA_CHANNELS
2:
    ld r22, X+
    ld r23, X+
    ld r24, X
    .irp h, r16, r17, r18, r19
    lpm r20, Z+
    mulsu r20, \h           ; r1:r0 = w (signed) * h (unsigned)
    add r22, r0
    adc r23, r1
    adc r24, r21
    sbrc r1, 7
    dec r24
    .endr
    st X, r24
    st -X, r23
    st -X, r22
    adiw r26, 3
    dec r25
    brne 2b
    clr r1
    pop r17
    pop r16
    ret
    .size nca_avr_chunk, .-nca_avr_chunk

#endif

/* void nca_avr_acc_init(uint8_t acc[3 * NCA_CHANNELS], const int16_t *b_flash)
 * acc[c] = sign-extended b[c] (24-bit LE). */
    .global nca_avr_acc_init
    .type nca_avr_acc_init, @function
nca_avr_acc_init:
    movw r26, r24           ; X = acc
    movw r30, r22           ; Z = b (flash)
    ldi r25, NCA_CHANNELS
3:
    lpm r22, Z+
    lpm r23, Z+
    st X+, r22
    st X+, r23
    clr r24
    sbrc r23, 7
    com r24
    st X+, r24
    dec r25
    brne 3b
    ret
    .size nca_avr_acc_init, .-nca_avr_acc_init

/* int32_t nca_avr_acc_get(const uint8_t acc[3]): the 24-bit value, sign-extended */
    .global nca_avr_acc_get
    .type nca_avr_acc_get, @function
nca_avr_acc_get:
    movw r26, r24
    ld r22, X+
    ld r23, X+
    ld r24, X
    clr r25
    sbrc r24, 7
    com r25
    ret
    .size nca_avr_acc_get, .-nca_avr_acc_get
