/* How a cell board is wired, as plain numbers (no <avr/io.h>): the firmware's board.h builds its
 * register names from these, and the emulated grid (avrsim/grid.c, avrsim/harness.c) wires its
 * simavr boards from the same file. docs/firmware.md has the picture. */
#ifndef WIRING_H
#define WIRING_H

/* F_CPU comes from the board's JSON (pio/boards/, -DF_CPU for every build, the host's too). */

/* Neighbour links N, E, S, W (link.h order), software serial 8N1 at LINK_BAUD, sampled
 * LINK_OVERSAMPLE times a bit. RX: port C, link l on bit l (A0..A3), as links.S reads all four
 * in one instruction. TX: port B bits 0, 1, 2, 4 (D8, D9, D10, D12), all four sent at once. */
#define LINK_BAUD 9600UL
#define LINK_OVERSAMPLE 3
#define LINK_RX_PORT_LETTER 'C'
#define LINK_RX_MASK 0x0F
#define LINK_TX_PORT_LETTER 'B'
#define LINK_TX_BIT_N 0
#define LINK_TX_BIT_E 1
#define LINK_TX_BIT_S 2
#define LINK_TX_BIT_W 4
#define LINK_TX_BITS {LINK_TX_BIT_N, LINK_TX_BIT_E, LINK_TX_BIT_S, LINK_TX_BIT_W}
#define LINK_TX_MASK ((1 << LINK_TX_BIT_N) | (1 << LINK_TX_BIT_E) | (1 << LINK_TX_BIT_S) | (1 << LINK_TX_BIT_W))
#define LINK_RX_RING 32 /* bytes the link interrupt buffers per link (a power of two): covers the longest rule update */

/* RGB LED, common cathode, PWM: R = PD6 (D6, OC0A), G = PD5 (D5, OC0B), B = PB3 (D11, OC2A). */

/* USB serial (hardware UART 0) for the state report and commands. */
#define REPORT_BAUD 115200UL

/* Floating analog input used as a noise source for the random-wait seed. */
#define NOISE_ADC_CHANNEL 7

/* Debug marks for the emulator, as data addresses: GPIOR0 (0x3E) takes the mark, GPIOR1:GPIOR2
 * (0x4A, 0x4B) the address of the data it is about. -DCELL_TRACE builds mark each rule update
 * (1: inputs ready, 2: output ready); avrsim/rule_bench.c marks its cases (1: next case,
 * 2: update starts, 3: update done). */
#define TRACE_MARK_ADDR 0x3E
#define TRACE_PTR_LO_ADDR 0x4A
#define TRACE_PTR_HI_ADDR 0x4B

#endif
