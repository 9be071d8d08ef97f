"""The divergence watch: which losses are a blow-up, when it reads them, what it saves."""

from __future__ import annotations

import math

import pytest
import torch

from torchbasics.training import distributed
from torchbasics.training.divergence import (
    BLOW_UP,
    CHECK_EVERY_DISTRIBUTED,
    PATIENCE,
    SPAN,
    Diverged,
    DivergenceWatch,
    guess_loss,
    watch_for,
)

TEN_CLASSES = math.log(10)


def feed(watch: DivergenceWatch, losses: list[float], epoch: int = 1) -> None:
    """Give the watch one loss a step, checking whenever it is due."""
    for step, loss in enumerate(losses, start=1):
        watch.step(torch.tensor(loss), TEN_CLASSES, epoch, step)
    watch.check(epoch, len(losses))


def test_a_falling_noisy_loss_is_not_a_divergence():
    generator = torch.Generator().manual_seed(0)
    losses = [2.3 * math.exp(-step / 50) * (1 + 0.5 * torch.rand((), generator=generator).item())
              for step in range(500)]
    feed(DivergenceWatch(), losses)


def test_late_spikes_below_a_guess_are_noise_not_a_divergence():
    """A trained model (loss 0.01) whose batches jump 50-fold but stay below ln 10."""
    feed(DivergenceWatch(), [0.01] * 100 + [0.5] * 20 + [0.01] * 10)


def test_a_loss_growing_past_the_guess_is_caught_within_a_few_steps():
    """The issue's run: learning (1.2), then 6.8 and climbing. The running mean is above
    the threshold (4 x 1.47, its lowest) from step 9 (20), so the divergence is certain at
    step 11."""
    losses = [2.3, 1.8, 1.5, 1.2, 1.2, 1.2, 6.8, 9.0, 20.0, 400.0, 2e3, 1e4, 1e5]
    with pytest.raises(Diverged) as caught:
        feed(DivergenceWatch(), losses, epoch=4)
    assert (caught.value.epoch, caught.value.step) == (4, 11)
    assert "diverged at epoch 4, step 11: its running mean" in str(caught.value)
    assert caught.value.first_step == 9


def test_a_trained_models_hard_batches_are_noise_not_a_divergence():
    """A few confident mistakes make a small batch's loss worse than a guess several steps
    in a row, while the model is fine: the mean of the last steps stays low."""
    feed(DivergenceWatch(), ([0.01] * 30 + [3.0] * PATIENCE) * 5 + [0.01] * 30)


def test_a_model_near_the_guess_needs_blow_up_times_its_lowest():
    """Before it has learned, 2-3x the guess is not yet a divergence; BLOW_UP x is."""
    feed(DivergenceWatch(), [2.3] * 10 + [2.3 * 0.9 * BLOW_UP] * 50)
    with pytest.raises(Diverged):
        feed(DivergenceWatch(), [2.3] * 10 + [2.3 * 1.1 * BLOW_UP] * 50)


def test_a_spike_the_running_mean_absorbs_is_forgiven():
    """One step at 30x lifts the mean above 4x its lowest for fewer than PATIENCE steps."""
    watch = DivergenceWatch()
    feed(watch, [1.0] * 20 + [30.0])
    assert watch.streak == 1
    feed(watch, [1.0] * 20)


def test_full_batch_training_judges_each_loss_itself():
    """One step an epoch: no batch noise to smooth, and no step to wait for."""
    watch = watch_for(torch.device("cpu"), steps_per_epoch=1)
    assert watch.span == 1
    with pytest.raises(Diverged) as caught:
        feed(watch, [1.0] * 5 + [50.0] * PATIENCE)
    assert caught.value.step == 5 + PATIENCE and caught.value.loss == 50.0


def test_only_full_batch_training_is_not_smoothed_and_processes_read_seldom(monkeypatch):
    """Three small batches an epoch are noisy too (a folder of 24 pictures, batch 8)."""
    cpu = torch.device("cpu")
    assert [watch_for(cpu, steps).span for steps in (1, 3, 1000)] == [1, SPAN, SPAN]
    assert watch_for(cpu, 1000).every == 1
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    assert watch_for(cpu, 1000).every == CHECK_EVERY_DISTRIBUTED


def test_a_nan_is_a_divergence_at_once_naming_its_step():
    with pytest.raises(Diverged, match="NaN or infinite at epoch 2, step 5"):
        feed(DivergenceWatch(), [1.0] * 4 + [math.nan], epoch=2)


def test_losses_kept_on_the_device_are_read_every_few_steps_in_order():
    """Read every 4 steps: a NaN at step 6 is found at the read after step 8, named 6."""
    watch = DivergenceWatch(every=4)
    for step in range(1, 6):
        watch.add(torch.tensor(1.0), TEN_CLASSES)
        if watch.due(step):
            watch.check(1, step)
    assert watch.seen == 4 and len(watch.pending) == 1
    watch.add(torch.tensor(math.nan), TEN_CLASSES)
    watch.add(torch.tensor(1.0), TEN_CLASSES)
    watch.add(torch.tensor(1.0), TEN_CLASSES)
    with pytest.raises(Diverged, match="step 6"):
        watch.check(1, 8)


def test_every_process_stops_when_one_diverged():
    """``anywhere`` answers for all processes: a quiet one raises too, at the same step."""
    watch = DivergenceWatch()
    watch.add(torch.tensor(1.0), TEN_CLASSES)
    with pytest.raises(Diverged) as caught:
        watch.check(3, 1, anywhere=lambda mine: True)
    assert (caught.value.epoch, caught.value.step) == (3, 1)


def test_the_state_continues_exactly():
    losses = [2.0, 1.5, 1.0, 0.8, 0.7]
    whole, split = DivergenceWatch(), DivergenceWatch()
    feed(whole, [*losses, 0.6, 0.5])
    feed(split, losses)
    resumed = DivergenceWatch()
    resumed.restore(split.state())
    feed(resumed, [0.6, 0.5])
    assert resumed.state() == whole.state()


def test_the_guess_is_ln_k_for_classes_and_one_for_a_standardized_target():
    assert guess_loss(10) == pytest.approx(2.302585) and guess_loss(None) == 1.0


def test_an_epoch_ending_on_a_blown_up_step_is_a_divergence():
    """Its end is where a run keeps the state to go back to: not a blown-up one."""
    watch = DivergenceWatch()
    feed(watch, [2.0, 1.0, 0.5, 0.4, 0.3])
    watch.step(torch.tensor(50.0), TEN_CLASSES, 2, 1)  # one step: no divergence yet
    with pytest.raises(Diverged, match=r"epoch 2, step 1: its running mean 11.3, above .* for "
                                       r"1 step in a row to the end of the epoch") as caught:
        watch.check(2, 1, ending=True)
    assert caught.value.first_step == 1


def test_first_step_is_where_the_streak_began():
    assert Diverged(3, 9, 40.0, 4.0).first_step == 9 - PATIENCE + 1
    assert Diverged(3, 9, math.nan, 4.0).first_step == 9
