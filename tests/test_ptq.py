"""Post-training quantization of imported rules (trainer/ptq.py): state scales chosen from the
rule's own values, and rounding that keeps a layer's outputs on real inputs."""
import numpy as np

from rule import spec
from trainer.palette import palettize
from trainer.ptq import nearest, round_compensated, state_frac_for


def test_each_hidden_channel_gets_the_finest_scale_that_holds_its_values():
    rng = np.random.default_rng(0)
    values = rng.uniform(-1, 1, (50_000, spec.CHANNELS))
    peaks = [9.0, 9.0, 9.0, 9.0, 1.9, 2.0, 3.9, 4.1, 7.9, 15.0, 31.0, 100.0, 0.0, 0.01, 0.5, 1.0]
    values *= np.array(peaks)
    frac = state_frac_for(values)
    assert frac[:4] == (6, 6, 6, 6)   # RGBA keeps 1/64 whatever it holds
    # range 2^(7-f): 1.9 fits +-2 (f 6); 2.0 needs +-4 (5); 15 fits +-16 (3); beyond +-32 the floor is 2
    assert frac[4:] == (6, 5, 5, 4, 4, 3, 2, 2, 6, 6, 6, 6)
    assert state_frac_for(np.zeros((0, spec.CHANNELS))) == spec.DEFAULT_STATE_FRAC


def output_error(w, q, x):
    return float(np.square(x @ (w - q).T).mean())


def test_compensated_rounding_moves_the_outputs_less_than_plain_rounding():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(48, 48))
    x = rng.normal(size=(5000, 48)) @ mix * 3   # correlated inputs, as perception's are
    w = rng.normal(0, 20, (64, 48))
    for values in (np.arange(-127, 128.0), np.unique(palettize(w, 16))):
        q = round_compensated(w, x, values)
        plain = nearest(w, values)
        assert set(np.unique(q)) <= set(values)   # only allowed integers
        assert output_error(w, q, x) < 0.7 * output_error(w, plain, x)
    # integers already allowed come back as they are
    ints = np.round(w).clip(-127, 127)
    assert np.array_equal(round_compensated(ints, x, np.arange(-127, 128.0)), ints)
