/* ATmega328P (Arduino Nano) wiring of a cell board: docs/firmware.md has the picture. */
#ifndef BOARD_H
#define BOARD_H

#include <avr/io.h>

#ifndef F_CPU
#define F_CPU 16000000UL
#endif

/* Neighbour links, software serial 8N1. RX: PC0..PC3 (A0..A3) = N, E, S, W.
 * TX: PB0, PB1, PB2, PB4 (D8, D9, D10, D12) = N, E, S, W. */
#define LINK_BAUD 9600UL
#define LINK_OVERSAMPLE 3
#define LINK_RX_PIN PINC
#define LINK_RX_DDR DDRC
#define LINK_RX_PORT PORTC
#define LINK_RX_MASK 0x0F
#define LINK_TX_PORT PORTB
#define LINK_TX_DDR DDRB
#define LINK_TX_MASK ((1 << PB0) | (1 << PB1) | (1 << PB2) | (1 << PB4))
#define LINK_RX_RING 32 /* bytes per link (a power of two): covers the longest rule update */

/* RGB LED, common cathode, PWM: R = PD6 (D6, OC0A), G = PD5 (D5, OC0B), B = PB3 (D11, OC2A). */

/* USB serial (hardware UART) for the state report and commands. */
#define REPORT_BAUD 115200UL

/* Floating analog input used as a noise source for the random-wait seed. */
#define NOISE_ADC_CHANNEL 7

#endif
