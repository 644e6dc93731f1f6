"""A plain `inr fit` prints no third-party tips or deprecations; other warnings and log lines still print."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import pytest
from conftest import ROOT, TINY_MODEL, child_env


@pytest.mark.slow
def test_a_plain_fit_and_its_resume_print_no_third_party_notices(gray_png, tmp_path):
    for steps, resume in (("2", []), ("3", ["--ckpt_path", "last"])):
        done = subprocess.run([sys.executable, "-m", "inr.cli", "fit", "--config", "configs/image_siren.yaml",
                               "--data.path", str(gray_png), "--data.size", "null", "--trainer.max_steps", steps,
                               "--trainer.val_check_interval", "1", "--trainer.default_root_dir", str(tmp_path),
                               *TINY_MODEL, *resume], capture_output=True, text=True, cwd=ROOT, env=child_env(),
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        output = done.stdout + done.stderr
        for notice in ("litlogger", "anonymous setting", "LeafSpec", "Warning"):
            assert notice not in output, (notice, output[-3000:])
        assert "inr: W&B offline run in" in output  # inr's own lines remain


def test_only_the_named_notices_are_filtered(caplog):
    from lightning.pytorch.utilities.rank_zero import rank_zero_info

    from inr.training.quiet import quiet_third_party_notices

    quiet_third_party_notices()
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        rank_zero_info("💡 Tip: For seamless cloud logging and experiment tracking, try a product")
        rank_zero_info("GPU available: False, used: False")
    assert [record.getMessage() for record in caplog.records] == ["GPU available: False, used: False"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_third_party_notices()
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use another", FutureWarning, stacklevel=1)
        warnings.warn("some other deprecation", FutureWarning, stacklevel=1)
    assert [str(warning.message) for warning in caught] == ["some other deprecation"]
