/* ATmega328P (Arduino Nano) registers of a cell board's wiring (wiring.h has the numbers). */
#ifndef BOARD_H
#define BOARD_H

#include <avr/io.h>

#include "wiring.h"

#ifndef F_CPU
#error "F_CPU: the board's clock comes from pio/boards/*.json (-DF_CPU)"
#endif

#define LINK_RX_PIN PINC   /* LINK_RX_PORT_LETTER */
#define LINK_RX_DDR DDRC
#define LINK_RX_PORT PORTC
#define LINK_TX_PORT PORTB  /* LINK_TX_PORT_LETTER */
#define LINK_TX_DDR DDRB

#define TRACE_MARK _SFR_MEM8(TRACE_MARK_ADDR)
#define TRACE_PTR_LO _SFR_MEM8(TRACE_PTR_LO_ADDR)
#define TRACE_PTR_HI _SFR_MEM8(TRACE_PTR_HI_ADDR)

#endif
