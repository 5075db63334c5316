/* One board's main loop, portable (node.h). */
#include "node.h"

static void report(struct node *n)
{
    hw_led(n, n->cell.state);
    hw_usb_write(n, n->line, report_state(&n->cell, n->line));
}

void node_start(struct node *n, uint16_t seed, uint16_t now)
{
    cell_init(&n->cell, seed, now);
    n->expired = now;
    hw_usb_write(n, n->line, report_hello(n->line));
}

void node_byte(struct node *n, uint8_t link, uint8_t byte, uint16_t now)
{
    int16_t len = link_rx_byte(&n->rx[link], byte);
    if (len > 0) {
        if (cell_on_frame(&n->cell, link, n->rx[link].buf, len, now)) {
            report(n); /* a host command planted or cleared us */
        }
    } else if (len < 0) {
        cell_on_bad_frame(&n->cell);
    }
}

void node_command(struct node *n, const char *cmd, uint8_t len)
{
    if (len == 1 && cmd[0] == 'H') { /* a monitor attaching asks who we are */
        hw_usb_write(n, n->line, report_hello(n->line));
    } else if (len > REPORT_COMMAND_MAX || !report_command(&n->cell, cmd, len)) {
        hw_usb_write(n, n->line, report_bad_command(n->line));
    }
    report(n);
}

void node_poll(struct node *n, uint16_t now)
{
    uint8_t len, grid_report[CELL_REPORT_BYTES];
    if ((uint16_t)(now - n->expired) >= NODE_EXPIRE_MS) {
        cell_expire(&n->cell, now);
        n->expired = now;
    }
    if (cell_maybe_fire(&n->cell, now)) {
        report(n);
    }
    if (hw_tx_idle(n) && (len = cell_build_frame(&n->cell, hw_tx_buffer(n), now)) != 0) {
        hw_tx_start(n, len);
    }
    while (cell_take_report(&n->cell, grid_report)) { /* the gateway passes the grid to the host */
        hw_usb_write(n, n->line, report_grid(grid_report, n->line));
    }
}
