/* Host-side grid simulation around the generated cell rule: the shared schedule, every firing
 * cell reading its neighbours' states from before the step. Compiled with the generated C. */
#include <stddef.h>
#include <string.h>

#include "nca_rule.h"
#include "nca_schedule.h"
#include "hostsim.h"

static const int8_t NBR_DX[NCA_NEIGHBOURS] = {-1, 0, 1, -1, 1, -1, 0, 1};
static const int8_t NBR_DY[NCA_NEIGHBOURS] = {-1, -1, -1, 0, 0, 1, 1, 1};

const char *hostsim_model_hash(void)
{
    return NCA_MODEL_HASH;
}

int32_t hostsim_hidden(void)
{
    return NCA_HIDDEN;
}

void hostsim_fire(const int8_t *self, const int8_t *nbr, int8_t *out)
{
    nca_fire(self, (const int8_t(*)[NCA_CHANNELS])nbr, out);
}

void hostsim_fire_batch(int32_t n, const int8_t *selves, const int8_t *nbrs, int8_t *outs)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        hostsim_fire(selves + (size_t)i * NCA_CHANNELS, nbrs + (size_t)i * NCA_NEIGHBOURS * NCA_CHANNELS,
                     outs + (size_t)i * NCA_CHANNELS);
    }
}

uint32_t hostsim_hash32(uint32_t x)
{
    return nca_hash32(x);
}

void hostsim_step(int8_t *grid, int8_t *old, int32_t width, int32_t height, uint32_t seed, uint32_t step,
                  uint32_t threshold)
{
    int8_t nbr[NCA_NEIGHBOURS][NCA_CHANNELS];
    int32_t x, y;
    int k;
    memcpy(old, grid, (size_t)width * (size_t)height * NCA_CHANNELS);
    for (y = 0; y < height; y++) {
        for (x = 0; x < width; x++) {
            if (!nca_fires(seed, step, (uint16_t)x, (uint16_t)y, threshold)) {
                continue;
            }
            for (k = 0; k < NCA_NEIGHBOURS; k++) {
                int32_t nx = x + NBR_DX[k], ny = y + NBR_DY[k];
                if (nx < 0 || ny < 0 || nx >= width || ny >= height) {
                    memset(nbr[k], 0, NCA_CHANNELS);
                } else {
                    memcpy(nbr[k], old + ((size_t)ny * (size_t)width + (size_t)nx) * NCA_CHANNELS, NCA_CHANNELS);
                }
            }
            nca_fire(old + ((size_t)y * (size_t)width + (size_t)x) * NCA_CHANNELS, (const int8_t(*)[NCA_CHANNELS])nbr,
                     grid + ((size_t)y * (size_t)width + (size_t)x) * NCA_CHANNELS);
        }
    }
}
