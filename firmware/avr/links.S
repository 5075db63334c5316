/* The link interrupt (Timer1 compare A, 3x the link baud rate): one software UART receiver per
 * link and one transmitter driving all four TX pins with the same frame. Assembly because it
 * runs 28,800 times a second. The data lives in main.c (soft_rx, soft_tx_*), whose layout
 * main.c checks at compile time; the logic, in C terms:
 *
 *   for each link l (RX pin bit l of LINK_RX_PIN), r = &soft_rx[l]:
 *     idle (ticks == 0): a low line is a start bit: ticks = OVERSAMPLE + 1, bit = 0
 *     else if (--ticks == 0): bit < 8: byte = byte >> 1 | line << 7, bit++, ticks = OVERSAMPLE
 *                             else (stop bit): if line high and the ring is not full, push
 *                             byte and set soft_wake
 *   if (ticks_tx && --ticks_tx) return
 *   if (bits_tx) { TX pins = bits_tx & 1; bits_tx >>= 1; ticks_tx = OVERSAMPLE }
 *   else if (pos < len) { bits_tx = 1 << 9 | frame[pos++] << 1; ticks_tx = 1 }   (stop, data, start)
 */
#include "board.h"

#define RX_TICKS 0
#define RX_BIT 1
#define RX_BYTE 2
#define RX_HEAD 3
#define RX_TAIL 4
#define RX_RINGBUF 5
#define RX_SIZE (RX_RINGBUF + LINK_RX_RING)

    .text
    .global TIMER1_COMPA_vect
    .type TIMER1_COMPA_vect, @function
TIMER1_COMPA_vect:
    push r24
    in r24, _SFR_IO_ADDR(SREG)
    push r24
    push r18
    push r19
    push r25
    push r26
    push r27
    push r30
    push r31
    in r25, _SFR_IO_ADDR(LINK_RX_PIN)   ; the four RX lines, link l in bit l
    ldi r30, lo8(soft_rx)
    ldi r31, hi8(soft_rx)
    ldi r19, 4
1:
    ld r24, Z                   ; ticks
    tst r24
    brne 3f
    sbrc r25, 0                 ; idle: a low line is a start bit
    rjmp 9f
    ldi r24, LINK_OVERSAMPLE + 1 ; sample bit 0 in 4 ticks (1.33 bits)
    st Z, r24
    clr r24
    std Z + RX_BIT, r24
    rjmp 9f
3:
    dec r24
    breq 4f
    st Z, r24
    rjmp 9f
4:
    ldd r18, Z + RX_BIT
    cpi r18, 8
    brsh 5f
    ldd r24, Z + RX_BYTE        ; a data bit, LSB first
    lsr r24
    sbrc r25, 0
    ori r24, 0x80
    std Z + RX_BYTE, r24
    subi r18, -1
    std Z + RX_BIT, r18
    ldi r24, LINK_OVERSAMPLE
    st Z, r24
    rjmp 9f
5:
    st Z, r24                   ; the stop bit (r24 = 0: idle again)
    sbrs r25, 0                 ; stop bit low: framing error, drop the byte
    rjmp 9f
    ldd r18, Z + RX_HEAD
    mov r24, r18
    inc r24
    andi r24, LINK_RX_RING - 1  ; next head
    ldd r26, Z + RX_TAIL
    cp r24, r26
    breq 9f                     ; ring full: drop the byte
    movw r26, r30               ; X = &ring[head]
    adiw r26, RX_RINGBUF
    add r26, r18
    brcc 6f
    inc r27
6:
    ldd r18, Z + RX_BYTE
    st X, r18
    std Z + RX_HEAD, r24
    ldi r18, 1
    sts soft_wake, r18          ; wake the main loop
9:
    lsr r25                     ; the next link's line into bit 0
    adiw r30, RX_SIZE
    dec r19
    brne 1b

    lds r24, soft_tx_ticks      ; transmitter
    tst r24
    breq 10f
    dec r24
    sts soft_tx_ticks, r24
    brne 99f
10:
    lds r26, soft_tx_bits
    lds r27, soft_tx_bits + 1
    mov r24, r26
    or r24, r27
    breq 20f
    in r24, _SFR_IO_ADDR(LINK_TX_PORT)
    andi r24, ~(LINK_TX_MASK) & 0xFF
    sbrc r26, 0
    ori r24, LINK_TX_MASK
    out _SFR_IO_ADDR(LINK_TX_PORT), r24
    lsr r27
    ror r26
    sts soft_tx_bits + 1, r27
    sts soft_tx_bits, r26
    ldi r24, LINK_OVERSAMPLE
    sts soft_tx_ticks, r24
    rjmp 99f
20:
    lds r24, soft_tx_pos
    lds r18, soft_tx_len
    cp r24, r18
    brsh 99f                    ; nothing (more) to send
    ldi r30, lo8(soft_tx_frame)
    ldi r31, hi8(soft_tx_frame)
    add r30, r24
    brcc 21f
    inc r31
21:
    ld r26, Z
    inc r24
    sts soft_tx_pos, r24
    lsl r26                     ; bits = 1 << 9 | byte << 1: low = byte << 1,
    ldi r27, 1                  ; high = 2 | byte >> 7
    rol r27
    sts soft_tx_bits, r26
    sts soft_tx_bits + 1, r27
    ldi r24, 1
    sts soft_tx_ticks, r24
99:
    pop r31
    pop r30
    pop r27
    pop r26
    pop r25
    pop r19
    pop r18
    pop r24
    out _SFR_IO_ADDR(SREG), r24
    pop r24
    reti
    .size TIMER1_COMPA_vect, .-TIMER1_COMPA_vect
