/* One cell board in simavr, as harness.c (one board) and grid.c (a grid) set it up: the MCU and
 * clock the firmware is built for (-DBOARD_MCU, -DF_CPU from pio/boards/), UART 0 as the USB
 * serial, the link pins of wiring.h in link.h's order. */
#ifndef SIMAVR_BOARD_H
#define SIMAVR_BOARD_H

#include <simavr/avr_ioport.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_irq.h>

#include "link.h"
#include "wiring.h"

#define CYCLES_PER_MS (F_CPU / 1000)
#define BIT_CYCLES ((double)F_CPU / LINK_BAUD) /* one bit on a link wire */

static const int TX_BIT[LINK_COUNT] = LINK_TX_BITS;
static const int DX[LINK_COUNT] = LINK_DX;
static const int DY[LINK_COUNT] = LINK_DY;

/* A new board, nothing loaded yet; NULL if simavr lacks the MCU. `sleep`: simavr's default
 * sleeps in real time, the emulators let emulated time jump instead. */
static inline avr_t *board_new(void (*sleep)(avr_t *, avr_cycle_count_t))
{
    uint32_t flags = 0; /* UART: no host sleeping, no echo */
    avr_t *avr = avr_make_mcu_by_name(BOARD_MCU);
    if (!avr) {
        return NULL;
    }
    avr_init(avr);
    avr->frequency = F_CPU;
    avr->log = 0;
    avr->sleep = sleep;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    return avr;
}

/* The pin a link's line arrives on (link l on bit l of the RX port) / leaves from. */
static inline avr_irq_t *board_rx_pin(avr_t *avr, int link)
{
    return avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(LINK_RX_PORT_LETTER), link);
}

static inline avr_irq_t *board_tx_pin(avr_t *avr, int link)
{
    return avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(LINK_TX_PORT_LETTER), TX_BIT[link]);
}

/* Every link unplugged: the RX lines idle high (the firmware's pull-ups). */
static inline void board_links_idle(avr_t *avr)
{
    int l;
    for (l = 0; l < LINK_COUNT; l++) {
        avr_raise_irq(board_rx_pin(avr, l), 1);
    }
}

#endif
