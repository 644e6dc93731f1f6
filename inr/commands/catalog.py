"""``inr list``: the shipped configs and the classes a config or option can name, one line each.

Read from the classes themselves (the first line of each docstring) and from each config's first comment line, so
the list follows the code. ``inr list networks`` shows one section; ``inr list`` all of them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: the configs folder beside the ``inr`` package (the repository's).
SHIPPED_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@dataclass(frozen=True)
class Family:
    """A kind of class a config names: where it goes, its base, and the bases of its family that are no choice."""

    name: str
    option: str
    base: type
    bases: tuple[type, ...] = ()
    extra: tuple[type, ...] = ()


def families() -> list[Family]:
    """Every family, with the modules imported that define its classes (those ``inr fit`` and ``inr meta`` know)."""
    import inr.cli  # noqa: F401  (imports every module a config may name)
    import inr.commands.meta  # noqa: F401  (the meta-learning methods)
    from datamodules.base import SignalDataModule
    from datamodules.crops import CropSetDataModule
    from datamodules.members import MembersDataModule, OwnPointsMembersDataModule
    from inr.losses import Loss
    from inr.losses.sdf import SDFLoss
    from inr.meta.functa import ModulatedSiren
    from inr.meta.learner import InnerLoopLearner, MetaLearner
    from inr.meta.maml import InitLearner
    from inr.metrics import ComparedWithValues, FrameMetric, MeanOverEvaluations, SignalMetric
    from inr.nn.encoders import Encoder, FourierFeatures
    from inr.nn.multiplicative_filters import MultiplicativeFilterNetwork
    from inr.nn.networks import CoordinateMLP, CoordinateNetwork

    return [
        Family("data", "--data NAME", SignalDataModule, (MembersDataModule, OwnPointsMembersDataModule,
                                                            CropSetDataModule)),
        Family("encoders", "--model.encoder NAME", Encoder, (FourierFeatures,)),
        Family("networks", "--model.network NAME", CoordinateNetwork, (CoordinateMLP, MultiplicativeFilterNetwork),
               (ModulatedSiren,)),
        Family("losses", "--model.losses (a list)", Loss, (SDFLoss,)),
        Family("metrics", "--model.metrics (a list)", SignalMetric, (MeanOverEvaluations, ComparedWithValues,
                                                                     FrameMetric)),
        Family("methods", "inr meta fit --model NAME", MetaLearner, (InnerLoopLearner, InitLearner)),
    ]


def subclasses(base: type) -> list[type]:
    """Every subclass of ``base``, depth first, each once."""
    found: list[type] = []
    for child in base.__subclasses__():
        for cls in (child, *subclasses(child)):
            if cls not in found:
                found.append(cls)
    return found


def choices(family: Family) -> list[type]:
    """The classes of a family a user chooses: its subclasses less its bases (and private ones), then its extras."""
    chosen = [cls for cls in subclasses(family.base) if cls not in family.bases and not cls.__name__.startswith("_")]
    return [*chosen, *family.extra]


def summary(cls: type) -> str:
    """The first line of a class's docstring."""
    lines = (cls.__doc__ or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def config_summary(path: Path) -> str:
    """The first comment line of a YAML config (its description), without the ``#``."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def rows_table(rows: Iterable[tuple[str, str]], width: int) -> list[str]:
    """``name  description`` rows, names padded to one column, each cut to ``width`` characters."""
    rows = list(rows)
    column = max((len(name) for name, _ in rows), default=0)
    lines = []
    for name, text in rows:
        line = f"  {name:<{column}}  {text}"
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    return lines


def config_section(folder: Path, width: int) -> list[str]:
    """The configs under ``folder`` with their descriptions."""
    files = sorted(folder.glob("**/*.yaml"))
    rows = [(str(file.relative_to(folder.parent)), config_summary(file)) for file in files]
    return ["configs (inr fit --config FILE; configs/meta/* with inr meta fit, configs/ntk/* with inr ntk "
            "or inr experiment):", *rows_table(rows, width)]


def family_section(family: Family, width: int) -> list[str]:
    """A family's classes by short name, with their summaries."""
    rows = [(cls.__name__, summary(cls)) for cls in choices(family)]
    return [f"{family.name} ({family.option}; short name or full path):", *rows_table(rows, width)]


OTHER = ["other classes configs name by full path:",
         "  inr.io.wandb_logger.WandbLogger  the default --trainer.logger (offline unless WANDB_MODE says otherwise)",
         "  torch.optim.*, torch.optim.lr_scheduler.*  --model.optimizer, --model.lr_scheduler (Adam, ExponentialLR)"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``inr list [SECTION ...]``."""
    known = ["configs", *(family.name for family in families()), "other"]
    parser = argparse.ArgumentParser(prog="inr list", description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"what to list: {', '.join(known)} "
                        "(default: all)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    unknown = [section for section in args.sections if section not in known]
    if unknown:
        parser.error(f"no section {unknown[0]!r}; choose from {', '.join(known)}")
    wanted = args.sections or known
    width = max(80, shutil.get_terminal_size((120, 24)).columns)
    blocks = []
    for section in wanted:
        if section == "configs":
            folder = Path("configs") if Path("configs").is_dir() else SHIPPED_CONFIGS
            blocks.append(config_section(folder, width))
        elif section == "other":
            blocks.append(OTHER)
        else:
            blocks.append(family_section(next(f for f in families() if f.name == section), width))
    print("\n\n".join("\n".join(block) for block in blocks))
