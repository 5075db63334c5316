/* One board's main loop, portable: what the hardware layer calls with the bytes, commands and
 * milliseconds it has, and the few things it asks of the hardware. The AVR build (../avr/main.c)
 * and the grid twin (twin/twin.c) run this same code. */
#ifndef NODE_H
#define NODE_H

#include <stdint.h>

#include "cell.h"
#include "link.h"
#include "report.h"

#define NODE_EXPIRE_MS 16 /* timeouts, routes and reports are updated this often: coarse is fine */

struct node {
    struct cell cell;
    struct link_rx rx[LINK_COUNT];
    uint16_t expired;
    char line[REPORT_LINE_MAX];
};

/* Asked of the hardware layer (`n` tells a host with many boards which one). */
void hw_usb_write(struct node *n, const char *s, uint8_t len);  /* returns when sent */
void hw_led(struct node *n, const int8_t *state);
uint8_t *hw_tx_buffer(struct node *n);             /* LINK_MAX_WIRE bytes, read while sending */
uint8_t hw_tx_idle(struct node *n);                /* the last frame has left on all four links */
void hw_tx_start(struct node *n, uint8_t len);      /* send the buffer's first len bytes on all four links */

/* Boot: the cell with its random seed; says hello on the USB serial. */
void node_start(struct node *n, uint16_t seed, uint16_t now);
/* A byte a link received. */
void node_byte(struct node *n, uint8_t link, uint8_t byte, uint16_t now);
/* A command line from the USB serial, without its end of line (len > REPORT_COMMAND_MAX: it was
 * too long, and only the first REPORT_COMMAND_MAX bytes were kept). */
void node_command(struct node *n, const char *cmd, uint8_t len);
/* The rest of a pass of the main loop: timeouts, firing, the next frame, reports to the host. */
void node_poll(struct node *n, uint16_t now);

#endif
