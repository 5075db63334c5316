/* Test firmware: runs the generated rule on cases the simavr harness (avrsim/harness.c) puts in
 * bench_io, and marks the update's start and end on GPIOR0 so the harness counts its cycles. */
#include <avr/io.h>
#include <stdint.h>

#include "nca_rule.h"

volatile int8_t bench_io[(1 + NCA_NEIGHBOURS + 1) * NCA_CHANNELS]; /* self, nbr[8], out */

int main(void)
{
    for (;;) {
        GPIOR0 = 1; /* harness: next case into bench_io */
        GPIOR0 = 2; /* update starts */
        nca_fire((const int8_t *)bench_io, (const int8_t(*)[NCA_CHANNELS])(bench_io + NCA_CHANNELS),
                 (int8_t *)bench_io + (1 + NCA_NEIGHBOURS) * NCA_CHANNELS);
        GPIOR0 = 3; /* update done */
    }
}
