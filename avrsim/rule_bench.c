/* Test firmware: runs the generated rule on cases the simavr harness (avrsim/harness.c) puts in
 * bench_io, and marks the update's start and end (wiring.h's trace mark) so the harness counts
 * its cycles. */
#include <stdint.h>

#include "board.h"
#include "nca_rule.h"

volatile int8_t bench_io[(1 + NCA_NEIGHBOURS + 1) * NCA_CHANNELS]; /* self, nbr[8], out */

int main(void)
{
    for (;;) {
        TRACE_MARK = 1; /* harness: next case into bench_io */
        TRACE_MARK = 2; /* update starts */
        nca_fire((const int8_t *)bench_io, (const int8_t(*)[NCA_CHANNELS])(bench_io + NCA_CHANNELS),
                 (int8_t *)bench_io + (1 + NCA_NEIGHBOURS) * NCA_CHANNELS);
        TRACE_MARK = 3; /* update done */
    }
}
